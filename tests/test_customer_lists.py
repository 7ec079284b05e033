"""The Command Center's customer lists: sorting, each row's menu, and the lists the
Home tab opens in a modal (paged and sorted in place), within the roles and within
Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import insert

from bot.domain.customers import CustomerFilter, ListSort
from bot.domain.roles import Role
from bot.ids import ActionId, CallbackId
from bot.payloads import CustomerRef, ListState, RowAction, RowActionKind
from bot.views.limits import MAX_MESSAGE_BLOCKS, MAX_SURFACE_BLOCKS, MAX_TEXT_FALLBACK
from handlers.customers import PAGE_SIZE, ROW_ACTIONS, parse_list_arguments
from storage.models import Customer
from tests.drive import all_text, calls_to, day, post
from tests.fake_slack import FakeSlack
from tests.rows import msp_id_of
from tests.seed import grant, seed_customer
from tests.wait import settle_bot

TODAY = date(2026, 11, 22)  # tests.support.FakeClock's day
OVERFLOW = {"type": "overflow"}


@pytest.fixture
async def owner(db):
    await grant(db, "U0001", Role.OWNER)
    return "U0001"


# ---------------------------------------------------------------- reading what the bot drew


def _rows(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if (b.get("accessory") or {}).get("action_id") == ActionId.ROW_MENU]


def _names(blocks: list[dict[str, Any]]) -> list[str]:
    """The customers' names, in the order the rows show them."""
    return [row["fields"][0]["text"].split(" · ")[0] for row in _rows(blocks)]


def _totals(blocks: list[dict[str, Any]]) -> str:
    """The totals line under the title."""
    context = next(b for b in blocks if b["type"] == "context")
    return context["elements"][0]["text"]


def _controls(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The navigation block's elements by action id."""
    [navigation] = [b for b in blocks if b["type"] == "actions"]
    return {element["action_id"]: element for element in navigation["elements"]}


def _sort_option(blocks: list[dict[str, Any]], sort: ListSort) -> dict[str, Any]:
    menu = _controls(blocks)[ActionId.LIST_SORT]
    [option] = [o for o in menu["options"] if ListState.decode(o["value"]).sort == sort]
    return option


def _view_card_option(row: dict[str, Any]) -> dict[str, Any]:
    [option] = [
        o
        for o in row["accessory"]["options"]
        if RowAction.decode(o["value"]).action == RowActionKind.VIEW
    ]
    return option


def _list_modal(fake_slack: FakeSlack) -> dict[str, Any]:
    """The list modal as Slack holds it now (with its id and latest hash)."""
    [view] = [v for v in fake_slack.views.values() if v["callback_id"] == CallbackId.CUSTOMER_LIST]
    return view


async def _open_from_home(
    client, slack, fake_slack: FakeSlack, which: CustomerFilter, *, user_id: str = "U0001"
) -> dict[str, Any]:
    """Click a list button on the Home tab; returns the modal as opened."""
    click = slack.block_actions(
        action_id=f"{ActionId.HOME_OPEN_LIST}:{which}",
        value=ListState(filter=which).encode(),
        user_id=user_id,
        channel_id=None,
        view={"type": "home"},
    )
    await post(client, click)
    [opened] = await calls_to(fake_slack, "views.open")
    assert opened.args["trigger_id"] == click.payload["trigger_id"]
    return opened.args["view"]


async def _click_in_modal(
    client, slack, fake_slack: FakeSlack, *, user_id: str = "U0001", **action: Any
) -> None:
    await post(client, slack.block_actions(view=_list_modal(fake_slack), user_id=user_id, **action))


# ---------------------------------------------------------------- seeding


def _mixed() -> list[tuple[str, int, date | None]]:
    """25 customers over two pages, as (name, users, trial end): 20 active trials ending
    on four days and with user counts that tie, then five paid customers without a
    trial end. Names in mixed case, to show A-Z ignores case."""
    words = ["delta", "Alpha", "charlie", "Bravo", "echo"]
    trials = [
        (f"{words[n % 5]}{n:02d}", n % 3, TODAY + timedelta(days=1 + n % 4)) for n in range(20)
    ]
    return trials + [(f"Paid{n}", 10 + n % 2, None) for n in range(5)]


async def _seed_mixed(db) -> None:
    for name, users, trial_end in _mixed():
        status = "paid" if trial_end is None else "active_trial"
        await seed_customer(db, name=name, status=status, users=users, trial_end=trial_end)


def _expected(sort: ListSort, seeded: list[tuple[str, int, date | None]]) -> list[str]:
    """The order each sort promises, worked out here independently of the database."""
    keys = {
        ListSort.NAME: lambda c: (c[0].casefold(),),
        ListSort.USERS: lambda c: (-c[1], c[0].casefold()),
        ListSort.TRIAL_END: lambda c: (c[2] is None, c[2] or date.max, c[0].casefold()),
    }
    return [c[0] for c in sorted(seeded, key=keys[sort])]


# ---------------------------------------------------------------- sorting


@pytest.mark.parametrize("sort", list(ListSort))
async def test_each_sort_holds_across_the_page_boundary(
    client, slack, db, owner, fake_slack, backend, sort
):
    await _seed_mixed(db)
    first = await post(client, slack.slash_command(f"customers sort:{sort}", user_id=owner))
    blocks = first.json["blocks"]
    assert "page 1 of 2" in all_text(blocks)
    menu = _controls(blocks)[ActionId.LIST_SORT]
    assert ListState.decode(menu["initial_option"]["value"]).sort == sort
    next_button = _controls(blocks)[ActionId.LIST_NEXT]
    await post(
        client, slack.block_actions(action_id=ActionId.LIST_NEXT, value=next_button["value"])
    )
    [second] = await calls_to(fake_slack, "response_url")
    assert second.args["replace_original"] is True
    assert "page 2 of 2" in all_text(second.args["blocks"])
    shown = _names(blocks) + _names(second.args["blocks"])
    assert len(_names(blocks)) == PAGE_SIZE
    assert shown == _expected(sort, _mixed())
    assert len(set(shown)) == 25  # nothing repeated or skipped at the boundary


async def test_trial_end_sort_puts_customers_without_one_last(client, slack, db, owner, backend):
    await seed_customer(db, name="No end", status="paid")
    await seed_customer(db, name="Later", status="active_trial", trial_end=TODAY + timedelta(9))
    await seed_customer(db, name="Sooner", status="active_trial", trial_end=TODAY + timedelta(2))
    reply = await post(client, slack.slash_command("customers sort:trial", user_id=owner))
    assert _names(reply.json["blocks"]) == ["Sooner", "Later", "No end"]


@pytest.mark.parametrize(
    ("text", "default"),
    [
        ("customers trials", ListSort.TRIAL_END),
        ("customers", ListSort.NAME),
        ("customers paid", ListSort.NAME),
        ("customers expired", ListSort.NAME),
    ],
)
async def test_default_sort_is_the_lists_old_order(client, slack, db, owner, text, default):
    await seed_customer(db, name="Zulu", status="active_trial", trial_end=TODAY + timedelta(1))
    await seed_customer(db, name="Alpha", status="active_trial", trial_end=TODAY + timedelta(5))
    await seed_customer(db, name="Paid", status="paid")
    await seed_customer(db, name="Gone", status="expired_trial", trial_end=TODAY - timedelta(3))
    reply = await post(client, slack.slash_command(text, user_id=owner))
    menu = _controls(reply.json["blocks"])[ActionId.LIST_SORT]
    assert ListState.decode(menu["initial_option"]["value"]).sort == default
    if text == "customers trials":
        assert _names(reply.json["blocks"]) == ["Zulu", "Alpha"]


async def test_choosing_a_sort_redraws_page_one_in_place(client, slack, db, owner, fake_slack):
    await _seed_mixed(db)
    first = await post(client, slack.slash_command("customers", user_id=owner))
    next_button = _controls(first.json["blocks"])[ActionId.LIST_NEXT]
    await post(
        client, slack.block_actions(action_id=ActionId.LIST_NEXT, value=next_button["value"])
    )
    [page_two] = await calls_to(fake_slack, "response_url")
    by_users = _sort_option(page_two.args["blocks"], ListSort.USERS)
    await post(client, slack.block_actions(action_id=ActionId.LIST_SORT, selected_option=by_users))
    resorted = (await calls_to(fake_slack, "response_url", 2))[1]
    assert resorted.args["replace_original"] is True
    blocks = resorted.args["blocks"]
    assert "page 1 of 2" in all_text(blocks)
    assert _names(blocks) == _expected(ListSort.USERS, _mixed())[:PAGE_SIZE]
    assert _controls(blocks)[ActionId.LIST_SORT]["initial_option"] == by_users
    # Paging on keeps the chosen order.
    assert ListState.decode(_controls(blocks)[ActionId.LIST_NEXT]["value"]).sort == ListSort.USERS


async def test_sort_keeps_the_list_and_its_search(client, slack, db, owner, fake_slack):
    await seed_customer(db, name="North big", status="paid", users=50)
    await seed_customer(db, name="North small", status="paid", users=5)
    await seed_customer(db, name="South", status="paid", users=99)
    await seed_customer(db, name="North trial", status="active_trial", users=70)
    reply = await post(client, slack.slash_command("customers paid north", user_id=owner))
    by_users = _sort_option(reply.json["blocks"], ListSort.USERS)
    await post(client, slack.block_actions(action_id=ActionId.LIST_SORT, selected_option=by_users))
    [resorted] = await calls_to(fake_slack, "response_url")
    assert _names(resorted.args["blocks"]) == ["North big", "North small"]
    assert "Paid Subscriptions matching “north”" in all_text(resorted.args["blocks"])


def test_the_sort_word_may_stand_anywhere():
    assert parse_list_arguments(["trials", "sort:users", "acme"]) == ListState(
        filter=CustomerFilter.TRIALS, text="acme", sort=ListSort.USERS
    )
    assert parse_list_arguments(["SORT:Name"]) == ListState(sort=ListSort.NAME)
    assert parse_list_arguments(["acme", "dental", "sort:trial"]) == ListState(
        text="acme dental", sort=ListSort.TRIAL_END
    )
    assert parse_list_arguments(["paid"]) == ListState(filter=CustomerFilter.PAID)


async def test_an_unknown_sort_word_is_refused_with_the_choices(client, slack, owner):
    reply = await post(client, slack.slash_command("customers sort:price", user_id=owner))
    assert "“sort:price” is not a way to sort" in reply.json["text"]
    assert "sort:users" in reply.json["text"]


async def test_an_empty_list_says_what_to_do(client, slack, db, owner):
    reply = await post(client, slack.slash_command("customers", user_id=owner))
    blocks = reply.json["blocks"]
    assert "No customers yet. Add the first one" in all_text(blocks)
    assert [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]] == [
        ActionId.HOME_ADD_CUSTOMER
    ]
    searched = await post(client, slack.slash_command("customers Acme", user_id=owner))
    assert "No customer matches “Acme”" in all_text(searched.json["blocks"])
    # Who may not add is not offered the button.
    await grant(db, "U0005", Role.VIEWER)
    viewer = await post(client, slack.slash_command("customers", user_id="U0005"))
    assert not [b for b in viewer.json["blocks"] if b["type"] == "actions"]


async def test_a_cancelled_plan_ends_on_its_renewal_date_rather_than_renewing(
    client, slack, db, owner
):
    """A cancelled plan does not renew: its row says when it ends."""
    ends, renews = date(2027, 1, 15), date(2027, 3, 1)
    await seed_customer(
        db, name="Leaving", status="pending_cancellation", licences=8, renewal_date=ends
    )
    await seed_customer(db, name="Staying", status="paid", licences=8, renewal_date=renews)
    listed = await post(client, slack.slash_command("customers paid", user_id=owner))
    details = {
        row["fields"][0]["text"].split(" · ")[0]: row["fields"][1]["text"]
        for row in _rows(listed.json["blocks"])
    }
    assert details["Leaving"].endswith(f"· ends {day(ends)}")
    assert "renews" not in details["Leaving"]
    assert details["Staying"].endswith(f"· renews {day(renews)}")


async def test_help_shows_the_sort_word(client, slack, owner):
    """In the command's own help (the overview lists names and what they do)."""
    reply = await post(client, slack.slash_command("help customers", user_id=owner))
    assert "[sort:name|trial|users]" in reply.text


# ---------------------------------------------------------------- each row's menu


async def test_view_card_from_a_message_answers_below_the_list(
    client, slack, db, owner, fake_slack
):
    customer_id = await seed_customer(db, name="Northwind", status="paid", users=4)
    reply = await post(client, slack.slash_command("customers", user_id=owner))
    [row] = _rows(reply.json["blocks"])
    menu = row["accessory"]
    assert menu["type"] == "overflow"
    assert [o["text"]["text"] for o in menu["options"]] == [
        "View card",
        "Request: Add licences",
        "Request: Upgrade plan",
        "Request: Cancel subscription",
    ]
    option = _view_card_option(row)
    assert RowAction.decode(option["value"]) == RowAction(
        customer_id=customer_id, action=RowActionKind.VIEW
    )
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.ROW_MENU, selected_option=option, extra_action=OVERFLOW
        ),
    )
    [card] = await calls_to(fake_slack, "response_url")
    assert card.args["response_type"] == "ephemeral"
    assert card.args["replace_original"] is False  # the list stays
    assert "Northwind" in all_text(card.args["blocks"])
    await settle_bot(client)
    assert fake_slack.calls_to("views.push") == []


async def test_view_card_inside_the_modal_is_pushed_on_top(client, slack, db, owner, fake_slack):
    await seed_customer(db, name="Southwind", status="paid", users=4)
    view = await _open_from_home(client, slack, fake_slack, CustomerFilter.PAID)
    [row] = _rows(view["blocks"])
    await _click_in_modal(
        client,
        slack,
        fake_slack,
        action_id=ActionId.ROW_MENU,
        selected_option=_view_card_option(row),
        extra_action=OVERFLOW,
    )
    [pushed] = await calls_to(fake_slack, "views.push")
    assert pushed.args["trigger_id"]
    assert "Southwind" in all_text(pushed.args["view"]["blocks"])
    await settle_bot(client)
    assert fake_slack.calls_to("response_url") == []


def test_every_row_action_has_a_handler():
    assert set(ROW_ACTIONS) == set(RowActionKind)


# ---------------------------------------------------------------- lists from the Home tab


async def _seed_home_lists(db) -> None:
    await seed_customer(db, name="Trial A", status="active_trial", users=3, trial_end=TODAY)
    await seed_customer(
        db, name="Trial B", status="active_trial", users=4, trial_end=TODAY + timedelta(3)
    )
    await seed_customer(db, name="Paid A", status="paid", users=40)
    await seed_customer(db, name="Leaving", status="pending_cancellation", users=2)
    await seed_customer(
        db, name="Expired A", status="expired_trial", users=1, trial_end=TODAY - timedelta(5)
    )


@pytest.mark.parametrize(
    ("which", "title", "names", "totals"),
    [
        # R5: the trial users' total shows in Active Trials, never as billed users...
        (
            CustomerFilter.TRIALS,
            "Active Trials",
            ["Trial A", "Trial B"],
            "*2* customers · *7* trial users · page 1 of 1",
        ),
        # ...and Paid Subscriptions shows the users the MSP is billed for.
        (
            CustomerFilter.PAID,
            "Paid Subscriptions",
            ["Leaving", "Paid A"],
            "*2* customers · *42* active (billed) users · page 1 of 1",
        ),
        (CustomerFilter.EXPIRED, "Expired Trials", ["Expired A"], "*1* customer · page 1 of 1"),
    ],
)
async def test_home_list_button_opens_the_list_in_a_modal(
    client, slack, db, owner, fake_slack, which, title, names, totals
):
    await _seed_home_lists(db)
    view = await _open_from_home(client, slack, fake_slack, which)
    assert view["type"] == "modal"
    assert view["callback_id"] == CallbackId.CUSTOMER_LIST
    assert view["title"]["text"] == title
    assert _names(view["blocks"]) == names
    assert _totals(view["blocks"]) == totals
    assert not view.get("submit")


async def test_the_plain_home_action_id_opens_the_list_too(client, slack, db, owner, fake_slack):
    await _seed_home_lists(db)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.HOME_OPEN_LIST,
            value=ListState(filter=CustomerFilter.PAID).encode(),
            channel_id=None,
            view={"type": "home"},
        ),
    )
    [opened] = await calls_to(fake_slack, "views.open")
    assert opened.args["view"]["title"]["text"] == "Paid Subscriptions"


async def test_paging_and_sorting_inside_the_modal_update_it(client, slack, db, owner, fake_slack):
    for n in range(25):
        await seed_customer(
            db,
            name=f"Trial{n:02d}",
            status="active_trial",
            users=n,
            trial_end=TODAY + timedelta(days=25 - n),
        )
    view = await _open_from_home(client, slack, fake_slack, CustomerFilter.TRIALS)
    assert _names(view["blocks"])[:2] == ["Trial24", "Trial23"]  # soonest trial end first
    shown = _list_modal(fake_slack)
    next_button = _controls(view["blocks"])[ActionId.LIST_NEXT]
    await _click_in_modal(
        client, slack, fake_slack, action_id=ActionId.LIST_NEXT, value=next_button["value"]
    )
    [update] = await calls_to(fake_slack, "views.update")
    assert update.args["view_id"] == shown["id"]
    assert update.args["hash"] == shown["hash"]
    page_two = update.args["view"]
    assert page_two["callback_id"] == CallbackId.CUSTOMER_LIST
    assert "page 2 of 2" in all_text(page_two["blocks"])
    assert _names(page_two["blocks"]) == [f"Trial{n:02d}" for n in range(4, -1, -1)]
    # Sorting from page 2 redraws page 1 of the new order, in the same modal.
    by_name = _sort_option(page_two["blocks"], ListSort.NAME)
    await _click_in_modal(
        client, slack, fake_slack, action_id=ActionId.LIST_SORT, selected_option=by_name
    )
    updates = await calls_to(fake_slack, "views.update", 2)
    assert updates[1].args["view_id"] == shown["id"]
    assert updates[1].args["hash"] != shown["hash"]  # the hash of the redrawn modal
    resorted = updates[1].args["view"]["blocks"]
    assert "page 1 of 2" in all_text(resorted)
    assert _names(resorted) == [f"Trial{n:02d}" for n in range(20)]
    await settle_bot(client)
    assert len(fake_slack.calls_to("views.open")) == 1
    assert fake_slack.calls_to("response_url") == []


async def test_a_click_on_an_outdated_copy_of_the_modal_is_dropped(
    client, slack, db, owner, fake_slack, bot, caplog
):
    for n in range(25):
        await seed_customer(db, name=f"Paid{n:02d}", status="paid")
    view = await _open_from_home(client, slack, fake_slack, CustomerFilter.PAID)
    stale = _list_modal(fake_slack)
    next_value = _controls(view["blocks"])[ActionId.LIST_NEXT]["value"]
    for _ in range(2):  # a double click: both from the same copy of the modal
        await post(
            client, slack.block_actions(view=stale, action_id=ActionId.LIST_NEXT, value=next_value)
        )
        await bot.in_flight.drain(5)
    assert len(fake_slack.calls_to("views.update")) == 2  # the second one got hash_conflict
    assert "page 2 of 2" in all_text(_list_modal(fake_slack)["blocks"])
    assert fake_slack.calls_to("views.push") == []  # and nobody is told of an error
    assert "unexpected error" not in caplog.text


async def test_a_member_sees_only_assigned_customers_in_the_modal(
    client, slack, db, owner, fake_slack
):
    await grant(db, "U0003", Role.MEMBER)
    await seed_customer(db, name="Mine", status="paid", users=5, assigned=["U0003"])
    others = await seed_customer(db, name="Others", status="paid", users=50)
    view = await _open_from_home(client, slack, fake_slack, CustomerFilter.PAID, user_id="U0003")
    assert _names(view["blocks"]) == ["Mine"]
    assert _totals(view["blocks"]) == "*1* customer · *5* active (billed) users · page 1 of 1"
    assert "Others" not in json.dumps(view)
    # A forged menu choice for someone else's customer shows no card.
    forged = {
        "text": {"type": "plain_text", "text": "View card"},
        "value": RowAction(customer_id=others, action=RowActionKind.VIEW).encode(),
    }
    await _click_in_modal(
        client,
        slack,
        fake_slack,
        user_id="U0003",
        action_id=ActionId.ROW_MENU,
        selected_option=forged,
        extra_action=OVERFLOW,
    )
    [pushed] = await calls_to(fake_slack, "views.push")
    notice = all_text(pushed.args["view"]["blocks"])
    assert "not assigned to you" in notice and "Others" not in notice


# ---------------------------------------------------------------- forged values


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        (ActionId.LIST_SORT, '{"sort": "price"}'),
        (ActionId.ROW_MENU, '{"customer_id": 1, "action": "delete"}'),
        (ActionId.ROW_MENU, "not json"),
    ],
)
async def test_a_forged_value_in_a_message_is_refused_politely(
    client, slack, owner, fake_slack, action_id, value
):
    option = {"text": {"type": "plain_text", "text": "x"}, "value": value}
    await post(client, slack.block_actions(action_id=action_id, selected_option=option))
    [answer] = await calls_to(fake_slack, "response_url")
    assert "out of date" in answer.args["text"]
    assert "Traceback" not in json.dumps(answer.args)


@pytest.mark.parametrize(
    "where",
    ["home", "modal"],
)
async def test_a_forged_value_on_the_home_tab_or_in_a_modal_is_refused_in_a_modal(
    client, slack, owner, fake_slack, where
):
    if where == "home":
        click = slack.block_actions(
            action_id=ActionId.HOME_OPEN_LIST,
            value='{"filter": "paid", "page": 0}',
            channel_id=None,
            view={"type": "home"},
        )
        method = "views.open"
    else:
        click = slack.block_actions(
            action_id=ActionId.LIST_PREVIOUS,
            value='{"sort": "cheapest"}',
            view={"type": "modal", "callback_id": CallbackId.CUSTOMER_LIST},
        )
        method = "views.push"
    await post(client, click)
    [shown] = await calls_to(fake_slack, method)
    assert shown.args["trigger_id"] == click.payload["trigger_id"]
    assert shown.args["view"]["title"]["text"] == "Customers"
    assert "out of date" in all_text(shown.args["view"]["blocks"])
    await settle_bot(client)
    assert fake_slack.calls_to("views.update") == []


async def test_a_refused_edit_on_a_card_inside_a_modal_is_shown_there(
    client, slack, db, owner, fake_slack
):
    await grant(db, "U0004", Role.VIEWER)
    customer_id = await seed_customer(db, name="Acme", status="paid")
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.EDIT_CUSTOMER,
            value=CustomerRef(customer_id=customer_id).encode(),
            user_id="U0004",
            view={"type": "modal", "title": {"type": "plain_text", "text": "Customer"}},
        ),
    )
    [pushed] = await calls_to(fake_slack, "views.push")
    assert "edit only the customers assigned to you" in all_text(pushed.args["view"]["blocks"])


# ---------------------------------------------------------------- Slack's limits


async def _seed_many(db, count: int) -> None:
    """`count` customers with 80-character names and huge figures, in one insert."""
    msp_id = await msp_id_of(db)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    statuses = ["active_trial", "paid", "expired_trial", "free", "pending_cancellation"]
    rows = []
    for n in range(count):
        name = f"{n:05d} <&> “Wide” {'W' * 80}"[:80]
        status = statuses[n % len(statuses)]
        rows.append(
            {
                "msp_id": msp_id,
                "account_number": f"{n // 10000:04d}-{n % 10000:04d}",
                "name": name,
                "name_key": name.casefold(),
                "admin_email": f"admin{n}@big.example",
                "admin_email_key": f"admin{n}@big.example",
                "plan": {"active_trial": "trial", "expired_trial": "free", "free": "free"}.get(
                    status, "enterprise"
                ),
                "status": status,
                "trial_end": TODAY + timedelta(days=n % 60 - 30) if "trial" in status else None,
                "users": 1_000_000_000 - n,
                "licences": 1_000_000_000,
                "renewal_date": TODAY + timedelta(days=365) if status == "paid" else None,
                "created_by": "U0001",
                "created_at": at,
                "updated_at": at,
            }
        )
    async with db.unit_of_work() as session:
        await session.execute(insert(Customer), rows)


def _limits_broken(blocks: list[dict[str, Any]]) -> list[str]:
    """What slack_sdk's models do not check for us: field, option and value lengths."""
    problems = []
    for block in blocks:
        for field in block.get("fields") or []:
            if len(field["text"]) > 2000:
                problems.append(f"field of {len(field['text'])} characters")
        if len(block.get("block_id", "")) > 255:
            problems.append("block_id over 255 characters")
        elements = [*(block.get("elements") or []), block.get("accessory") or {}]
        for element in elements:
            if len(str(element.get("value", ""))) > 2000:
                problems.append(f"{element['action_id']}: value over 2000 characters")
            options = element.get("options") or []
            if element.get("type") == "overflow" and not 1 <= len(options) <= 5:
                problems.append(f"overflow with {len(options)} options")
            for option in options:
                if len(option["value"]) > 150 or len(option["text"]["text"]) > 75:
                    problems.append(f"{element['action_id']}: option too long")
            if element.get("type") == "mrkdwn" and len(element["text"]) > 3000:
                problems.append("context text over 3000 characters")
    return problems


def _check_message(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert len(message["text"]) <= MAX_TEXT_FALLBACK
    # A modal of the same blocks makes slack_sdk check every text object's length.
    View(type="modal", title="Check", blocks=blocks).to_dict()
    assert _limits_broken(blocks) == []


def _check_modal(view: dict[str, Any]) -> None:
    assert len(view["blocks"]) <= MAX_SURFACE_BLOCKS
    assert len(view["title"]["text"]) <= 24
    View(**view).to_dict()  # slack_sdk validates the view and its blocks
    assert _limits_broken(view["blocks"]) == []


async def test_lists_of_ten_thousand_long_named_customers_stay_within_slacks_limits(
    client, slack, db, owner, fake_slack
):
    await _seed_many(db, 10_000)
    for which in CustomerFilter:
        for sort in ListSort:
            reply = await post(
                client, slack.slash_command(f"customers {which} sort:{sort}", user_id=owner)
            )
            _check_message(reply.json)
            assert len(_rows(reply.json["blocks"])) == PAGE_SIZE
    everyone = await post(client, slack.slash_command("customers", user_id=owner))
    assert "*10,000* customers" in all_text(everyone.json["blocks"])
    assert "page 1 of 500" in all_text(everyone.json["blocks"])
    # The last page, reached by a forged page number far past the end.
    last = ListState(filter=CustomerFilter.ALL, page=10**9, sort=ListSort.USERS).encode()
    await post(client, slack.block_actions(action_id=ActionId.LIST_NEXT, value=last))
    [answer] = await calls_to(fake_slack, "response_url")
    _check_message(answer.args)
    assert "page 500 of 500" in all_text(answer.args["blocks"])
    for n, which in enumerate((CustomerFilter.PAID, CustomerFilter.TRIALS, CustomerFilter.EXPIRED)):
        await post(
            client,
            slack.block_actions(
                action_id=f"{ActionId.HOME_OPEN_LIST}:{which}",
                value=ListState(filter=which).encode(),
                channel_id=None,
                view={"type": "home"},
            ),
        )
        opened = (await calls_to(fake_slack, "views.open", n + 1))[n]
        _check_modal(opened.args["view"])
        assert len(_rows(opened.args["view"]["blocks"])) == PAGE_SIZE


async def test_a_search_too_long_to_sort_by_still_lists(client, slack, db, owner):
    name = '"' * 60 + "Q" * 20  # 80 characters; each quote takes two in an option's value
    await seed_customer(db, name=name, status="paid")
    reply = await post(client, slack.slash_command(f"customers {name}", user_id=owner))
    _check_message(reply.json)
    blocks = reply.json["blocks"]
    assert _names(blocks) == [name]
    assert "Shorten the search to sort this list." in all_text(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]  # one page, nothing to sort by
    short = await post(client, slack.slash_command('customers ""QQ', user_id=owner))
    assert _names(short.json["blocks"]) == [name]
    assert ActionId.LIST_SORT in _controls(short.json["blocks"])
