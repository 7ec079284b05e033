"""Pure rules: the role policy, subcommands, argument parsing and mrkdwn escaping."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import subcommands
from bot.domain.roles import (
    ADMIN_GRANTABLE,
    Role,
    can_manage_roles,
    parse_role,
    why_role_change_refused,
)
from bot.errors import InvalidInput
from bot.views.mrkdwn import escape, mention
from handlers.msp_command import parse_role_arguments

ROLES_OR_NONE = [*Role, None]


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ROLES_OR_NONE, ROLES_OR_NONE)))
def test_owner_may_make_any_change(current, new):
    assert why_role_change_refused(actor=Role.OWNER, current=current, new=new) is None


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ROLES_OR_NONE, ROLES_OR_NONE)))
def test_admin_only_moves_people_among_lower_roles(current, new):
    allowed = (current is None or current in ADMIN_GRANTABLE) and (
        new is None or new in ADMIN_GRANTABLE
    )
    assert (why_role_change_refused(actor=Role.ADMIN, current=current, new=new) is None) is allowed


@pytest.mark.parametrize("actor", [Role.APPROVER, Role.MEMBER, Role.VIEWER, None])
@pytest.mark.parametrize(("current", "new"), list(itertools.product(ROLES_OR_NONE, ROLES_OR_NONE)))
def test_nobody_else_changes_roles(actor, current, new):
    assert why_role_change_refused(actor=actor, current=current, new=new) is not None
    assert not can_manage_roles(actor)


def test_parse_role_is_forgiving_about_case_and_space():
    assert parse_role("  Admin ") is Role.ADMIN
    assert parse_role("boss") is None


def test_help_and_role_subcommands_by_role():
    viewer = [s.name for s in subcommands.available_to(Role.VIEWER)]
    assert viewer == [
        "help",
        "dashboard",
        "customer",
        "customers",
        "export",
        "mau",
        "requests",
        "alerts",
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "whoami",
        "roles",
    ]
    assert "request" in [s.name for s in subcommands.available_to(Role.MEMBER)]
    assert "request" not in [s.name for s in subcommands.available_to(Role.APPROVER)]
    assert "settings" not in [s.name for s in subcommands.available_to(Role.APPROVER)]
    assert "licence" in [s.name for s in subcommands.available_to(Role.OWNER)]
    assert "licence" not in [s.name for s in subcommands.available_to(Role.APPROVER)]
    assert subcommands.parse_subcommand("license") is subcommands.Subcommand.LICENCE
    assert "add" in [s.name for s in subcommands.available_to(Role.MEMBER)]
    assert "add" not in [s.name for s in subcommands.available_to(Role.APPROVER)]
    assert "role" in [s.name for s in subcommands.available_to(Role.ADMIN)]
    assert subcommands.available_to(None) == []
    assert subcommands.parse_subcommand("") is subcommands.Subcommand.HELP
    assert subcommands.parse_subcommand("WHOAMI") is subcommands.Subcommand.WHOAMI
    assert subcommands.suggest("helo") is subcommands.Subcommand.HELP
    assert subcommands.suggest("xyzzy") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["<@U0002|bob>", "admin"], ("U0002", Role.ADMIN)),
        (["<@W0002>", "VIEWER"], ("W0002", Role.VIEWER)),
        (["<@U0002|bob>", "none"], ("U0002", None)),
        (["<@U0002|bob>", "remove"], ("U0002", None)),
    ],
)
def test_parse_role_arguments(args, expected):
    assert parse_role_arguments(args) == expected


@given(st.lists(st.text(max_size=40), max_size=4))
def test_parse_role_arguments_never_crashes(args):
    try:
        user_id, _role = parse_role_arguments(args)
    except InvalidInput as refusal:
        assert "Usage" in refusal.message
    else:
        assert user_id.isalnum()


@given(st.text())
def test_escaped_text_has_no_control_characters(text):
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").count("&") == 0


def test_mention_only_for_real_ids():
    assert mention("U0123ABC") == "<@U0123ABC>"
    assert mention("<!channel>") == "&lt;!channel&gt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("75", "75.00"), ("$1,250.50", "1250.50"), ("1,000", "1000.00"), ("", "75.00")],
)
def test_prices_read_commas_only_as_thousands(text, expected):
    from decimal import Decimal

    from bot.domain.customers import parse_price

    assert parse_price(text, field="p", default=Decimal("75")) == Decimal(expected)


@pytest.mark.parametrize("text", ["75,50", "1,5", "12,34,567"])
def test_a_decimal_comma_is_refused_not_misread(text):
    from decimal import Decimal

    from bot.domain.customers import parse_licences, parse_price

    with pytest.raises(InvalidInput, match="decimal point"):
        parse_price(text, field="p", default=Decimal("75"))
    with pytest.raises(InvalidInput, match="decimal point"):
        parse_licences(text, field="l")


# ---------------------------------------------------------------- found by tests/resilience
# (test_modal_fuzz.py): each was an unexpected error, or a value PostgreSQL refuses.


def test_free_text_with_a_nul_is_flagged_on_its_field():
    from bot.domain.customers import parse_contact_name, parse_locations, parse_notes
    from bot.domain.requests import parse_reason

    for parse in (
        lambda: parse_notes("call \x00 first", field="f"),
        lambda: parse_contact_name("Da\x00na", field="f"),
        lambda: parse_locations("HQ\nL\x00ab", field="f"),
        lambda: parse_reason("why\x00", field="f", required=False),
    ):
        with pytest.raises(InvalidInput, match="NUL") as refused:
            parse()
        assert refused.value.field == "f"


@pytest.mark.parametrize("email", ["a\x00@x.com", "a\u200b@x.com", "a@x.com\x07", "\u202ea@x.com"])
def test_an_email_with_invisible_characters_is_not_valid(email):
    from bot.domain.customers import parse_email

    with pytest.raises(InvalidInput, match="not a valid email"):
        parse_email(email, field="e")


def test_a_number_thousands_of_digits_long_is_out_of_range_not_a_crash():
    from bot.domain.customers import parse_whole_number

    def parse(text: str) -> int:
        return parse_whole_number(text, field="n", what="number", minimum=1, maximum=100)

    with pytest.raises(InvalidInput, match="at most 100"):
        parse("9" * 5000)  # int() refuses 4,300 digits and more
    with pytest.raises(InvalidInput, match="at least 1"):
        parse("-" + "9" * 5000)
    assert parse("0" * 5000 + "42") == 42


def test_name_keys_fit_their_column_however_normalising_lengthens_them():
    from bot.domain.customers import MAX_NAME_KEY_LENGTH, name_key

    assert name_key("Stra\u00dfe") == "strasse"
    assert len(name_key("\u00df" * 45)) == MAX_NAME_KEY_LENGTH  # 90 letters once "ss"
    assert len(name_key("\ufdfa" * 5)) == MAX_NAME_KEY_LENGTH  # 18 letters each, NFKC


def test_a_deletion_is_confirmed_by_the_name_however_its_accents_were_composed():
    from bot.domain.customers import confirms_name

    assert confirms_name(" Cafe\u0301 Noir ", "Caf\u00e9 Noir")  # NFD, as typed
    assert not confirms_name("CAF\u00c9 NOIR", "Caf\u00e9 Noir")  # R21: exactly as shown
