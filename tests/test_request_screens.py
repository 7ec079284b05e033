"""What the request screens say, end to end: Approve asks first wherever approving
costs money or removes something (the same buttons on the message, the review and
the reminder); each fact is said once (a date, "no refunds", "waiting"); a form
untouched shows the rules, not a result for a figure nobody typed; a sentence that
ends with someone's words gets no second full stop; an empty list says what it lists
and what to do next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.ids import ActionId, BlockId, CallbackId
from storage.engine import Database
from tests.drive import (
    all_text,
    approve,
    approve_deletion,
    ask,
    button,
    calls_to,
    click,
    day,
    lines,
    messages_in,
    open_form,
    outcome,
    post,
    request_ref,
    shown_message,
)
from tests.forms import typed
from tests.seed import APPROVER, MEMBER, RENEWAL, grant_staff, paid, seed_customer
from tests.support import NOW_SHOWN, TODAY, fast_bot
from tests.wait import settle

bot = pytest.fixture(fast_bot, name="bot")  # Slack's pacing of a channel lifted


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)


# ---------------------------------------------------------------- Approve asks first


async def test_approving_a_charge_asks_first_with_the_amount_the_effect_and_the_reason(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, assigned=[MEMBER])
    reason = "Five new hires start in January."
    asked = await ask(
        client,
        slack,
        fake_slack,
        "add-licences Northwind",
        **{BlockId.REQUEST_LICENCES: "5", BlockId.REQUEST_REASON: reason},
    )
    approve_button = button(asked.message, ActionId.REQUEST_APPROVE)
    assert approve_button["style"] == "primary"
    assert approve_button["confirm"] == {
        "title": {"type": "plain_text", "text": "Approve request #1?", "emoji": True},
        "text": {
            "type": "plain_text",
            "text": "Add licences: +5 licences (Northwind). Adds 5 licences at once: $1,220.55 "
            "for the 99 days left of the term, so all licences renew on 1 Mar 2027.\n"
            f"Reason: {reason}",
        },
        "confirm": {"type": "plain_text", "text": "Approve", "emoji": True},
        "deny": {"type": "plain_text", "text": "Not yet", "emoji": True},
    }
    # Deny… asks why in a form of its own: no warning colour beside Approve.
    assert "style" not in button(asked.message, ActionId.REQUEST_DENY)

    # The review on the Home tab approves with the very same button.
    await post(client, slack.app_home_opened(user_id=APPROVER))
    [published] = await calls_to(fake_slack, "views.publish")
    review = button(published.args["view"], ActionId.REQUEST_REVIEW)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_REVIEW,
            value=review["value"],
            user_id=APPROVER,
            channel_id=None,
            view={"type": "home"},
        ),
    )
    opened = (await calls_to(fake_slack, "views.open", 2))[-1].args["view"]
    assert opened["title"]["text"] == "Review request"
    assert button(opened, ActionId.REQUEST_APPROVE) == approve_button


async def test_a_long_reason_is_cut_short_before_the_amount_is(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, assigned=[MEMBER])
    fields = {BlockId.REQUEST_LICENCES: "5", BlockId.REQUEST_REASON: "More staff. " * 40}
    asked = await ask(client, slack, fake_slack, "add-licences Northwind", **fields)
    said = button(asked.message, ActionId.REQUEST_APPROVE)["confirm"]["text"]["text"]
    assert len(said) <= 300  # Slack's longest
    effect, why = said.split("\n")
    assert "$1,220.55" in effect and effect.endswith("renew on 1 Mar 2027.")
    assert why.startswith("Reason: More staff.") and why.endswith("…")


async def test_approving_a_removal_asks_first_and_an_extension_does_not(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, name="Tailspin", users=2, assigned=[MEMBER])  # within the free limits
    cancel = await ask(client, slack, fake_slack, "cancel Tailspin")
    confirm = button(cancel.message, ActionId.REQUEST_APPROVE)["confirm"]
    assert confirm["text"]["text"] == (
        "Cancel subscription: Essentials → Free (Tailspin). The paid plan ends with its term "
        "and the account becomes free on 1 Mar 2027, the renewal date; there are no refunds "
        "for the current term."
    )
    await seed_customer(
        db,
        name="Trial Co",
        status="active_trial",
        trial_end=TODAY + timedelta(days=3),
        assigned=[MEMBER],
    )
    extend = await ask(client, slack, fake_slack, "extend Trial Co", **{BlockId.REQUEST_DAYS: "14"})
    assert "confirm" not in button(extend.message, ActionId.REQUEST_APPROVE)


# ---------------------------------------------------------------- each fact once


async def test_a_change_at_renewal_says_its_day_and_no_refunds_once(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, licences=10, users=4, assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "decrease-licences Northwind")
    assert all_text(view["blocks"]).count("refund") == 1
    assert input_block_hint(view, BlockId.REQUEST_LICENCES) == (
        "The new total, not how many to remove."
    )
    asked = await ask(
        client, slack, fake_slack, "decrease-licences Northwind", **{BlockId.REQUEST_LICENCES: "6"}
    )
    sent = all_text(asked.sent["blocks"])
    assert sent.count(day(RENEWAL)) == 1 and "It takes effect" not in sent
    assert all_text(asked.message["blocks"]).count(day(RENEWAL)) == 1
    decided = await approve(bot, client, slack, fake_slack, asked)
    assert all_text(decided.message["blocks"]).count(day(RENEWAL)) == 1
    assert outcome(decided.message) == (
        f":calendar: Approved by <@{APPROVER}> {NOW_SHOWN}; scheduled for the day above"
    )
    # The DM has no explanation to lean on: it names the day.
    assert decided.notice["text"].endswith(f"; takes effect on {day(RENEWAL)}.")


async def test_a_deletion_approved_later_than_asked_says_its_own_day(
    client, slack, db, staff, fake_slack, bot, clock
):
    """R16's 30 days run from the approval: a day the explanation (written when it
    was asked) does not name, so the outcome names it."""
    await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "delete Old Free")
    clock.advance(days=2)
    await approve_deletion(bot, client, slack, fake_slack, asked, "Old Free")
    approved_at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert outcome(shown_message(fake_slack, asked.request_id)).endswith(
        f"; takes effect on {day(approved_at.date() + timedelta(days=30))}"
    )


async def test_the_list_of_waiting_requests_says_waiting_once(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, assigned=[MEMBER])
    await paid(db, name="Tailspin", assigned=[MEMBER])
    for name in ("Northwind", "Tailspin"):
        await ask(
            client, slack, fake_slack, f"add-licences {name}", **{BlockId.REQUEST_LICENCES: "1"}
        )
    pending = await post(client, slack.slash_command("requests", user_id=APPROVER))
    shown = lines(pending.json["blocks"])
    assert shown[0] == "Requests waiting for approval (2)"
    assert not [line for line in shown if "Waiting for approval" in line]
    # A list of every status says which rows are still waiting.
    mine = await post(client, slack.slash_command("requests mine", user_id=MEMBER))
    assert len([line for line in lines(mine.json["blocks"]) if "Waiting for approval" in line]) == 2


def input_block_hint(view: dict, block_id: str) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return block["hint"]["text"]


# ---------------------------------------------------------------- one full stop


async def deny(client, slack, fake_slack, bot, request_id: int, note: str) -> None:
    """Deny… on the approval message, then Deny with `note`, as the approver."""
    opened = len(fake_slack.calls_to("views.open"))
    await click(client, slack, ActionId.REQUEST_DENY, request_ref(request_id), APPROVER)
    form = (await calls_to(fake_slack, "views.open", opened + 1))[opened].args["view"]
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DENY_REQUEST,
            private_metadata=form["private_metadata"],
            values={BlockId.REQUEST_DENY_NOTE: {ActionId.FIELD: typed(note)}},
            user_id=APPROVER,
        ),
    )
    assert reply.json["response_action"] == "update", reply.text
    await settle(bot)


@pytest.mark.parametrize(
    ("note", "ends"),
    [
        ("Their contract runs to June: talk to them first.", "talk to them first."),
        ("Why now?", "Why now?"),
        ("no budget", "no budget."),
        ('They said "not before June."', 'They said "not before June."'),
    ],
)
async def test_a_denial_note_ends_the_dm_with_one_full_stop(
    client, slack, db, staff, fake_slack, bot, note, ends
):
    await seed_customer(
        db,
        name="Trial Co",
        status="active_trial",
        trial_end=TODAY + timedelta(days=3),
        assigned=[MEMBER],
    )
    asked = await ask(client, slack, fake_slack, "extend Trial Co", **{BlockId.REQUEST_DAYS: "7"})
    await deny(client, slack, fake_slack, bot, asked.request_id, note)
    [dm] = messages_in(fake_slack, "D" + MEMBER[1:])
    assert dm["text"].endswith(f": {ends}"), dm["text"]


# ---------------------------------------------------------------- empty lists


HOW_TO_ASK = (
    "To ask for a change, open a customer (`/msp customers`) or use `/msp request TYPE CUSTOMER`."
)


@pytest.mark.parametrize(
    ("words", "user", "title", "said"),
    [
        (
            "requests",
            MEMBER,
            "Requests waiting for approval (0)",
            f"No requests are waiting for approval. {HOW_TO_ASK}",
        ),
        (
            "requests",
            APPROVER,
            "Requests waiting for approval (0)",
            "No requests are waiting for approval. `/msp requests all` shows every request "
            "and what became of it.",
        ),
        (
            "requests mine",
            MEMBER,
            "Your requests (0)",
            f"You have not asked for any changes. {HOW_TO_ASK}",
        ),
        (
            "requests scheduled",
            APPROVER,
            "Scheduled changes (0)",
            "No approved changes are waiting for their date. Licence decreases, downgrades, "
            "add-on removals and cancellations wait here once approved, until the renewal they "
            "take effect at; so do deletions, for their 30 days.",
        ),
        ("requests all", APPROVER, "Requests (0)", "No requests yet."),
    ],
)
async def test_an_empty_request_list_says_what_it_lists_and_what_to_do(
    client, slack, db, staff, words, user, title, said
):
    reply = await post(client, slack.slash_command(words, user_id=user))
    assert lines(reply.json["blocks"]) == [title, said]
