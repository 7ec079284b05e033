"""The grammar of `/msp subscribe`, `matches` and quiet hours (pure)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alert_groups import GroupBy, Grouping
from bot.domain.subscriptions import (
    EXAMPLE,
    HERE,
    ME,
    SEVERITIES,
    SubscriptionSpec,
    Topic,
    in_quiet_hours,
    is_channel_id,
    matches,
    parse_subscription,
    severity_rank,
    tokenize,
)
from bot.errors import InvalidInput


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        parse_subscription(text)
    assert raised.value.message.endswith(EXAMPLE)
    return raised.value.message


# ---------------------------------------------------------------- targets and topics


def test_nothing_means_alerts_here():
    assert parse_subscription("") == SubscriptionSpec(target=HERE, topics=(Topic.ALERTS,))


def test_a_channel_mention_is_its_id_with_or_without_a_name():
    assert parse_subscription("<#C0NOC|noc>").target == "C0NOC"
    assert parse_subscription("<#G0PRIV>").target == "G0PRIV"


def test_channel_ids():
    assert is_channel_id("C0NOC") and is_channel_id("G0PRIV")
    assert not is_channel_id("D0DM") and not is_channel_id("C1>|<!channel")


def test_me_and_here():
    assert parse_subscription("me").target == ME
    assert parse_subscription("ME alerts").target == ME
    assert parse_subscription("here").target == HERE


def test_an_unlinked_channel_name_is_explained():
    assert "pick it from the list" in refusal("#noc alerts")


def test_two_targets_are_refused():
    assert "only once" in refusal("me <#C0NOC|noc>")


def test_topics_in_any_order_without_repeats():
    spec = parse_subscription("trials ALERTS digest trials mau requests")
    assert spec.topics == (Topic.TRIALS, Topic.ALERTS, Topic.DIGEST, Topic.MAU, Topic.REQUESTS)


def test_an_unknown_word_is_named_with_the_example():
    message = refusal("alerts bananas")
    assert "“bananas”" in message


# ---------------------------------------------------------------- severity


@pytest.mark.parametrize("level", SEVERITIES)
def test_every_severity(level):
    assert parse_subscription(f"severity>={level.upper()}").min_severity == level


def test_slack_escapes_the_greater_than_sign():
    assert parse_subscription("severity&gt;=high").min_severity == "high"


def test_severity_equals_means_at_least():
    assert parse_subscription("severity=medium").min_severity == "medium"


@pytest.mark.parametrize("word", ["severity>=urgent", "severity>high", "severity", "severity>="])
def test_bad_severities(word):
    refusal(word)


def test_severities_rank_critical_first():
    assert [severity_rank(level) for level in SEVERITIES] == [5, 4, 3, 2, 1]
    assert severity_rank("urgent") is None
    assert severity_rank(None) is None


# ---------------------------------------------------------------- customers


def test_customers_included_and_excluded():
    spec = parse_subscription("customer=Acme,Globex not customer=Initech")
    assert spec.include == ("Acme", "Globex")
    assert spec.exclude == ("Initech",)


def test_quoted_names_have_spaces_and_commas():
    spec = parse_subscription('customer="Acme Corp",Globex not customer="Big, Co"')
    assert spec.include == ("Acme Corp", "Globex")
    assert spec.exclude == ("Big, Co",)


def test_curly_quotes_from_phones():
    assert parse_subscription("customer=“Acme Corp”").include == ("Acme Corp",)


def test_unclosed_quote():
    assert "not closed" in refusal('customer="Acme Corp')


@pytest.mark.parametrize("word", ["customer=", "customer=Acme,", "customer=,Acme", 'customer=""'])
def test_empty_names(word):
    refusal(word)


def test_not_needs_a_customer():
    refusal("not")
    refusal("not alerts")


def test_the_same_customer_cannot_be_in_and_out():
    assert "both included and excluded" in refusal("customer=Acme not customer=acme")


def test_customer_given_twice():
    refusal("customer=Acme customer=Globex")


def test_too_many_or_too_long_names():
    refusal("customer=" + ",".join(f"c{n}" for n in range(51)))
    refusal("customer=" + "x" * 101)


# ---------------------------------------------------------------- kinds and quiet hours


def test_kinds_are_lowercased_and_unique():
    assert parse_subscription("kind=Agent_Offline,max_mau,max_mau").kinds == (
        "agent_offline",
        "max_mau",
    )


@pytest.mark.parametrize("word", ["kind=", "kind=bad kind", "kind=" + "x" * 41, "kind=a,,b"])
def test_bad_kinds(word):
    refusal(word)


def test_quiet_hours_for_me():
    spec = parse_subscription("me quiet=22:00-07:00")
    assert (spec.quiet_start, spec.quiet_end) == ("22:00", "07:00")


def test_quiet_hours_only_for_people():
    assert "Quiet hours are for people" in refusal("quiet=22:00-07:00")
    refusal("<#C0NOC|noc> quiet=22:00-07:00")


@pytest.mark.parametrize(
    "value",
    [
        "22-07",
        "24:00-07:00",
        "22:00",
        "22:00-7:00",
        "22:00-22:00",
        "ab:cd-07:00",
        # Other scripts' digits: \d took them, time.fromisoformat() does not, so the
        # subscription failed when its quiet hours were read (tests/resilience).
        "1\u0662:00-07:00",
        "\uff12\uff12:00-07:00",
    ],
)
def test_bad_quiet_hours(value):
    refusal(f"me quiet={value}")


def test_everything_at_once():
    spec = parse_subscription(
        '<#C0NOC|noc> alerts trials severity&gt;=high customer="Acme Corp",Globex '
        "not customer=Initech kind=agent_offline"
    )
    assert spec == SubscriptionSpec(
        target="C0NOC",
        topics=(Topic.ALERTS, Topic.TRIALS),
        min_severity="high",
        include=("Acme Corp", "Globex"),
        exclude=("Initech",),
        kinds=("agent_offline",),
    )


def test_tokenize_keeps_quoted_spaces():
    assert tokenize('a  customer="x y",z  b') == ["a", 'customer="x y",z', "b"]


def test_too_long():
    refusal("alerts " * 400)


WORDS = st.sampled_from(
    [
        "me",
        "here",
        "not",
        "alerts",
        "digest",
        "customer=",
        'customer="',
        "severity>=",
        "severity&gt;=high",
        "kind=",
        "quiet=",
        "<#C1|x>",
        "#",
        ",",
        '"',
        "“",
        "”",
        "=",
        "-",
        "22:00",
    ]
)


@given(st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12))
def test_random_words_raise_nothing_but_invalid_input(words):
    try:
        spec = parse_subscription(" ".join(words))
    except InvalidInput as error:
        assert error.message.endswith(EXAMPLE)
    else:
        assert spec.topics


@given(st.text(max_size=300))
def test_random_text_raises_nothing_but_invalid_input(text):
    with contextlib.suppress(InvalidInput):
        parse_subscription(text)


# ---------------------------------------------------------------- matches


@dataclass
class Sub:
    topics: list[str] = field(default_factory=lambda: ["alerts"])
    min_severity: str | None = None
    customers_included: list[int] = field(default_factory=list)
    customers_excluded: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def test_topic_must_match():
    assert matches(Sub(), topic="alerts", severity="info", customer_id=1)
    assert not matches(Sub(), topic="trials", customer_id=1)
    assert matches(Sub(topics=["trials", "alerts"]), topic="trials", customer_id=1)


def test_minimum_severity():
    high = Sub(min_severity="high")
    assert matches(high, topic="alerts", severity="critical", customer_id=1)
    assert matches(high, topic="alerts", severity="high", customer_id=1)
    assert not matches(high, topic="alerts", severity="medium", customer_id=1)
    assert not matches(high, topic="alerts", severity=None, customer_id=1)
    assert not matches(high, topic="alerts", severity="bogus", customer_id=1)


def test_empty_include_means_every_customer():
    assert matches(Sub(), topic="alerts", customer_id=42)


def test_include_keeps_only_those():
    sub = Sub(customers_included=[1, 2])
    assert matches(sub, topic="alerts", customer_id=2)
    assert not matches(sub, topic="alerts", customer_id=3)


def test_excluded_wins_over_included():
    sub = Sub(customers_included=[1, 2], customers_excluded=[2])
    assert not matches(sub, topic="alerts", customer_id=2)
    assert matches(sub, topic="alerts", customer_id=1)
    assert not matches(Sub(customers_excluded=[5]), topic="alerts", customer_id=5)


def test_notices_about_no_customer_reach_subscriptions_to_all():
    assert matches(Sub(topics=["mau"]), topic="mau")
    assert matches(Sub(topics=["mau"], customers_excluded=[1]), topic="mau")
    assert not matches(Sub(topics=["mau"], customers_included=[1]), topic="mau")


def test_kinds():
    sub = Sub(kinds=["agent_offline"])
    assert matches(sub, topic="alerts", customer_id=1, kind="AGENT_OFFLINE")
    assert not matches(sub, topic="alerts", customer_id=1, kind="max_mau")
    assert not matches(sub, topic="alerts", customer_id=1)
    assert matches(Sub(), topic="alerts", customer_id=1, kind="anything")


# ---------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 59, 59), True),
        (time(0, 0), True),
        (time(6, 59), True),
        (time(7, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_across_midnight(moment, quiet):
    assert in_quiet_hours("22:00", "07:00", moment) is quiet


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [(time(12, 59), False), (time(13, 0), True), (time(16, 59), True), (time(17, 0), False)],
)
def test_quiet_hours_within_a_day(moment, quiet):
    assert in_quiet_hours("13:00", "17:00", moment) is quiet


def test_no_quiet_hours():
    assert not in_quiet_hours(None, None, time(3, 0))
    assert not in_quiet_hours("08:00", "08:00", time(8, 0))


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("me alrets", "Did you mean alerts?"),
        ("me custmer=Acme", "Did you mean customer=?"),
        ("me quite=22:00-07:00", "Did you mean quiet=?"),
        ("severty>=high", "Did you mean severity>=?"),
        ("kinds:backup_failed", None),
        ("xyzzy", None),
    ],
)
def test_a_mistyped_word_gets_the_closest_known_one(typed: str, suggested: str | None):
    with pytest.raises(InvalidInput) as refused:
        parse_subscription(typed)
    if suggested is None:
        assert "Did you mean" not in refused.value.message
    else:
        assert suggested in refused.value.message, refused.value.message


# ---------------------------------------------------------------- grouping


@pytest.mark.parametrize(
    ("text", "grouping"),
    [
        ("#C0NOC|noc alerts", Grouping(GroupBy.CUSTOMER, 5)),
        ("alerts group=kind", Grouping(GroupBy.KIND, 5)),
        ("alerts group=15m", Grouping(GroupBy.CUSTOMER, 15)),
        ("alerts group=kind,20m", Grouping(GroupBy.KIND, 20)),
        ("alerts group=30,customer", Grouping(GroupBy.CUSTOMER, 30)),
        ("alerts GROUP=Off", Grouping(GroupBy.OFF, 5)),
    ],
)
def test_how_alerts_are_grouped(text: str, grouping: Grouping):
    assert parse_subscription(text.replace("#C0NOC|noc", "<#C0NOC|noc>")).grouping == grouping


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alerts group=banana", "not a way to group alerts"),
        ("alerts group=90m", "within 1 to 60 minutes, not 90"),
        ("alerts group=0m", "within 1 to 60 minutes, not 0"),
        ("alerts group=off,10m", "group=off takes no window"),
        ("alerts group=kind,customer", "not a way to group alerts"),
        ("alerts group=kind group=off", "Give group= only once"),
        ("trials group=kind", "group= is for alerts"),
        ("alerts grop=kind", "Did you mean group=?"),
    ],
)
def test_a_grouping_that_cannot_be_read_is_refused(text: str, says: str):
    assert says in refusal(text)
