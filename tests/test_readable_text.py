"""Text people read. Every date and time is a Slack date token with a readable
fallback where Slack formats text (mrkdwn), and reads "1 Mar 2027" where it does
not (plain_text, a modal's field errors, a confirm dialog, logs): never ISO. A
person is a mention in mrkdwn and words in plain text, never a raw `<@U…>`. A
request is labelled once, by what it does ("Cancel subscription"), with what it
asks beyond that ("Essentials → Free"), never "Cancel: Cancel"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain import policy
from bot.domain.customers import Plan, Status, plan_change, plan_status_label
from bot.domain.policy import Account, Change
from bot.domain.requests import RequestStatus, RequestType
from bot.domain.roles import Role
from bot.domain.terms import Term
from bot.errors import RuleBroken
from bot.ids import ActionId
from bot.notify.notifiers import outbox_notifiers
from bot.results.requests import RequestInfo
from bot.sentences import Day, Moment, Person, Sentence, sentence
from bot.services import requests as request_service
from bot.services.requests import AlreadyDecided
from bot.services.tenancy import Requester
from bot.views import requests as request_views
from bot.views.customers import notice_modal
from bot.views.mrkdwn import plain_text, said, slack_date, slack_time
from bot.views.notices import refusal_message, refusal_modal
from bot.views.request_history import history_blocks
from handlers.forms import errors_response
from tests.drive import all_text, approve, ask, button, calls_to, click, lines, post
from tests.rows import msp_id_of
from tests.seed import APPROVER, MEMBER, grant_staff, paid, seed_customer
from tests.support import TEAM_ID, fast_bot

bot = pytest.fixture(fast_bot, name="bot")
staff = pytest.fixture(grant_staff, name="staff")

TODAY = date(2026, 11, 22)
RENEWAL = date(2027, 3, 1)
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
BOLD = re.compile(r"\*[^*\s][^*]*\*")


def account(**overrides: Any) -> Account:
    """A paid Essentials account: 10 licences, renewing on 1 Mar 2027."""
    values: dict[str, Any] = {
        "status": Status.PAID,
        "plan": Plan.ESSENTIALS,
        "today": TODAY,
        "trial_end": None,
        "renewal_date": RENEWAL,
        "contract_start": date(2026, 3, 1),
        "past_due": False,
        "licences": 10,
        "users": 2,
        "data_used_gb": 1.0,
        "add_ons": frozenset(),
        "unit_price": Decimal(75),
        "term": Term.ANNUAL,
    }
    return Account(**(values | overrides))


# ---------------------------------------------------------------- sentences


def test_a_sentence_keeps_its_dates_and_people_as_values():
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    said_ = sentence(
        "Approved by {who} {at}; takes effect on {day}, for {count:,} seats.",
        who=Person("U0003"),
        at=at,
        day=RENEWAL,
        count=1200,
    )
    assert said_.values == (Person("U0003"), Moment(at), Day(RENEWAL))
    assert said_.plain() == (
        "Approved by someone 22 Nov 2026 09:30 UTC; takes effect on 1 Mar 2027, for 1,200 seats."
    )
    assert said(said_) == (
        f"Approved by <@U0003> {slack_time(at)}; takes effect on {slack_date(RENEWAL)}, for "
        "1,200 seats."
    )


def test_a_sentences_words_are_escaped_and_its_braces_kept():
    named = sentence("{name} is in a paid term until {day}.", name="<!here> {x} & Co", day=RENEWAL)
    assert named.plain() == "<!here> {x} & Co is in a paid term until 1 Mar 2027."
    assert (
        said(named)
        == f"&lt;!here&gt; {{x}} &amp; Co is in a paid term until {slack_date(RENEWAL)}."
    )


def test_a_sentence_survives_a_json_column_and_anything_else_is_not_one():
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    said_ = sentence("by {who} {at} until {day}", who=Person("U1", "an approver"), at=at, day=TODAY)
    assert Sentence.from_json(said_.to_json()) == said_
    for stored in (None, "text", [{"day": "not a date"}], [{"weird": 1}], {"day": "2026-11-22"}):
        assert Sentence.from_json(stored) is None


def test_the_token_fallback_is_the_plain_texts_readable_date():
    assert slack_date(RENEWAL).endswith("|1 Mar 2027>")
    assert slack_time(datetime(2027, 1, 5, 14, 5, tzinfo=UTC)).endswith("|5 Jan 2027 14:05 UTC>")


# ---------------------------------------------------------------- refusals with dates


REFUSALS = {
    # R10: too late for this renewal; the next window and renewal are named.
    "renewal window": (
        RequestType.DECREASE_LICENCES,
        account(today=RENEWAL - timedelta(days=29)),
        Change(licence_count=5),
        ("1 Mar 2027", "31 Jan 2028", "1 Mar 2028"),
    ),
    # R12 on a cancelled plan: its paid plan ends at renewal anyway.
    "downgrade of a cancelled plan": (
        RequestType.DOWNGRADE,
        account(status=Status.PENDING_CANCELLATION, plan=Plan.PROFESSIONAL),
        Change(target_plan=Plan.ESSENTIALS),
        ("1 Mar 2027",),
    ),
    # R16: not during a paid term; the earliest date it could be asked.
    "deletion in a paid term": (
        RequestType.DELETE_ACCOUNT,
        account(),
        Change(),
        ("1 Mar 2027",),
    ),
    # R14: a cancelled plan is not cancelled twice.
    "cancellation of a cancelled plan": (
        RequestType.CANCEL,
        account(status=Status.PENDING_CANCELLATION),
        Change(),
        ("1 Mar 2027",),
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=str)
def test_a_refusal_shows_each_date_as_a_token_in_mrkdwn_and_readable_in_plain_text(case):
    kind, on, change, days = REFUSALS[case]
    verdict = policy.decide(kind, on, change)
    assert not verdict.allowed
    with pytest.raises(RuleBroken) as refused:
        policy.require(verdict)
    tokens = [slack_date(Day(d).day) for d in _days(verdict.reason)]
    assert [Day(d).plain() for d in _days(verdict.reason)] == list(days)
    # mrkdwn: the block and the notification text carry the tokens.
    shown = refusal_message(refused.value.sentence)
    [block] = shown.blocks
    assert block["text"]["type"] == "mrkdwn"
    for token in tokens:
        assert token in block["text"]["text"] and token in shown.text
    # plain text: the error's message, a modal's field error, a plain notice.
    plain = refused.value.message
    assert all(d in plain for d in days)
    assert errors_response({"field": plain})["errors"]["field"] == plain
    for text in (plain, *_plain_texts(notice_modal(title="Requests", text=plain))):
        assert "<!date" not in text
    _assert_no_iso(shown.as_kwargs(), refused.value.message)


def test_a_trial_extension_says_when_the_trial_ends_in_each_readers_own_way():
    on = account(status=Status.ACTIVE_TRIAL, plan=Plan.TRIAL, trial_end=date(2027, 1, 20))
    verdict = policy.decide(RequestType.TRIAL_EXTENSION, on, Change(extension_days=90))
    assert verdict.allowed
    assert verdict.reason.plain() == (
        "The trial is extended by 90 days: approved today, it ends on 20 Apr 2027."
    )
    assert said(verdict.reason).endswith(f"it ends on {slack_date(date(2027, 4, 20))}.")
    too_long = policy.decide(RequestType.TRIAL_EXTENSION, on, Change(extension_days=91))
    assert too_long.reason.plain() == "A trial can be extended by 1 to 90 days at a time."


def test_a_downgrade_says_its_renewal_date_as_a_token():
    on = account(plan=Plan.PROFESSIONAL)
    verdict = policy.decide(RequestType.DOWNGRADE, on, Change(target_plan=Plan.ESSENTIALS))
    assert verdict.allowed and verdict.effective == RENEWAL
    assert said(verdict.reason).startswith(
        f"The account moves from Professional to Essentials on {slack_date(RENEWAL)}, the "
        "renewal date"
    )
    assert "on 1 Mar 2027, the renewal date" in verdict.reason.plain()


def test_a_request_refused_for_now_offers_the_later_date_and_names_every_date_as_a_token():
    verdict = policy.preview(
        RequestType.DECREASE_LICENCES, account(today=RENEWAL - timedelta(days=29))
    )
    assert verdict.schedule_for == date(2028, 3, 1)
    message = request_views.refusal_message(verdict.reason, schedule=None, when=None)
    [block] = message.blocks
    assert block["text"]["type"] == "mrkdwn"
    assert f"renewal ({slack_date(RENEWAL)})" in block["text"]["text"]
    _assert_no_iso(message.as_kwargs())


# ---------------------------------------------------------------- request labels


def request_info(kind: RequestType, summary: str, **overrides: Any) -> RequestInfo:
    values: dict[str, Any] = {
        "id": 7,
        "kind": kind,
        "status": RequestStatus.PENDING,
        "customer_id": 1,
        "customer_name": "Northwind",
        "account_number": "AB12-CD34",
        "requested_by": MEMBER,
        "requested_at": datetime(2026, 11, 22, 9, tzinfo=UTC),
        "reason": "",
        "summary": summary,
        "explanation": sentence("The paid plan ends on {day}, the renewal date.", day=RENEWAL),
        "effective_on": RENEWAL,
        "expires_at": datetime(2026, 11, 29, 9, tzinfo=UTC),
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
        "applied_at": None,
        "needs_typed_name": False,
    }
    return RequestInfo(**(values | overrides))


def test_each_request_type_has_one_label_that_says_what_it_does():
    assert RequestType.CANCEL.label == "Cancel subscription"
    assert RequestType.UPGRADE.label == "Upgrade plan"
    assert plan_change(Plan.FREE, Plan.PROFESSIONAL) == "Free → Professional"
    assert plan_change(Plan.FREE, Plan.FREE) == "Free"


@pytest.mark.parametrize(
    ("plan", "status", "shown"),
    [
        (Plan.FREE, Status.FREE, "Free"),
        (Plan.TRIAL, Status.ACTIVE_TRIAL, "Active trial"),
        (Plan.FREE, Status.EXPIRED_TRIAL, "Expired trial"),
        (Plan.PROFESSIONAL, Status.PAID, "Professional"),
        (Plan.PROFESSIONAL, Status.PENDING_CANCELLATION, "Professional, pending cancellation"),
    ],
)
def test_a_plan_and_status_are_said_once(plan, status, shown):
    assert plan_status_label(plan, status) == shown


def test_the_approval_message_names_the_request_once_and_its_plan_change():
    message = request_views.approval_message(request_info(RequestType.CANCEL, "Essentials → Free"))
    shown = lines(message.blocks)
    assert shown[:5] == [
        "Request #7: Cancel subscription",
        "Northwind · AB12-CD34",
        f"*Asked by* <@{MEMBER}>",
        "*What* Essentials → Free",
        # When it takes effect, said once: by the explanation, not a field as well.
        f"The paid plan ends on {slack_date(RENEWAL)}, the renewal date.",
    ]
    assert message.text == "Request #7: Cancel subscription: Essentials → Free (pending)"


def test_a_request_that_asks_nothing_beyond_its_type_has_no_what():
    info = request_info(RequestType.DELETE_ACCOUNT, "")
    shown = all_text(request_views.approval_message(info).blocks)
    assert "*What*" not in shown and "Request #7: Delete account" in shown
    assert _history([info])[-1].startswith("#7 Delete account · ")


def test_the_review_modal_and_the_card_say_the_label_once():
    info = request_info(RequestType.CANCEL, "Essentials → Free")
    review = request_views.review_modal(info, viewer=APPROVER, can_decide=True)
    assert lines(review["blocks"])[0] == "Request #7: Cancel subscription"
    assert "Cancel: Cancel" not in all_text(review["blocks"])
    [line] = _history([info])[-1:]
    assert line.startswith("#7 Cancel subscription: Essentials → Free · ")


async def test_a_cancellation_is_labelled_once_on_its_message_the_home_tab_the_review_and_the_card(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "cancel Northwind")
    assert asked.view["title"]["text"] == "Cancel subscription"
    assert lines(asked.message["blocks"])[:4] == [
        f"Request #{asked.request_id}: Cancel subscription",
        lines(asked.message["blocks"])[1],
        f"*Asked by* <@{MEMBER}>",
        "*What* Essentials → Free",
    ]
    assert "(Cancel subscription: Essentials → Free)" in all_text(asked.sent["blocks"])

    before = len(fake_slack.calls_to("views.publish"))
    await post(client, slack.app_home_opened(user_id=APPROVER))
    home = (await calls_to(fake_slack, "views.publish", before + 1))[before].args["view"]
    row = f"*#{asked.request_id} Cancel subscription*: Essentials → Free · Northwind"
    assert row in all_text(home["blocks"])

    opened = len(fake_slack.calls_to("views.open"))
    review = button({"blocks": home["blocks"]}, ActionId.REQUEST_REVIEW)
    await click(client, slack, ActionId.REQUEST_REVIEW, review["value"], APPROVER)
    view = (await calls_to(fake_slack, "views.open", opened + 1))[opened].args["view"]
    assert lines(view["blocks"])[0] == f"Request #{asked.request_id}: Cancel subscription"

    card = await post(client, slack.slash_command("customer Northwind", user_id=MEMBER))
    assert f"#{asked.request_id} Cancel subscription: Essentials → Free · " in all_text(
        card.json["blocks"]
    )
    for text in (all_text(home["blocks"]), all_text(view["blocks"]), card.text):
        assert "Cancel: Cancel" not in text and "Free · Free" not in text


async def test_a_free_customers_row_says_free_once(client, slack, db, staff, fake_slack):
    await seed_customer(db, name="Freebie", status="free", assigned=[MEMBER])
    reply = await post(client, slack.slash_command("customers", user_id=MEMBER))
    shown = all_text(reply.json["blocks"])
    assert "Free · " in shown and "Free · Free" not in shown


# ---------------------------------------------------------------- people and plain text


async def test_a_request_decided_first_names_who_as_a_mention_and_in_words_in_plain_text(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db, assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "cancel Northwind")
    await approve(bot, client, slack, fake_slack, asked)
    requester = Requester(
        msp_id=await msp_id_of(db), team_id=TEAM_ID, user_id=MEMBER, role=Role.MEMBER
    )
    with pytest.raises(AlreadyDecided) as decided:
        async with db.unit_of_work() as session:
            await request_service.withdraw(
                session,
                requester=requester,
                request_id=asked.request_id,
                now=datetime.now(UTC),
                notifier=outbox_notifiers().requests,
            )
    refusal = decided.value
    assert "<@" not in refusal.message and "<!date" not in refusal.message
    assert refusal.message.startswith("This request was already approved by someone on 22 Nov 2026")
    shown = refusal_message(refusal.sentence)
    assert f"approved by <@{APPROVER}> on <!date^" in shown.blocks[0]["text"]["text"]
    assert f"approved by <@{APPROVER}> on <!date^" in shown.text
    for payload in (
        refusal_modal(refusal.sentence, title="Requests"),
        errors_response({"f": refusal.message}),
    ):
        _assert_plain_texts_clean(payload)


def test_no_markup_reaches_a_plain_text_element():
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    hostile = "<@U1> <!channel> *bold* `code`"
    info = request_info(
        RequestType.CANCEL,
        "Essentials → Free",
        reason=hostile,
        customer_name="Acme",
        status=RequestStatus.DENIED,
        decided_by=APPROVER,
        decided_at=at,
        decision_note=sentence("not applied on {day}: {why}", day=RENEWAL, why="gone"),
    )
    decided = sentence(
        "Already approved by {who} on {at}. Use `/msp requests`.", who=Person("U2"), at=at
    )
    payloads = [
        refusal_message(decided).as_kwargs(),
        refusal_message("Use `/msp request` to ask.").as_kwargs(),
        refusal_modal(decided, title="Requests"),
        notice_modal(title="Add customer", text="Use `/msp customers` first."),
        errors_response({"field": "Say it with `/msp settings self-approval on`."}),
        request_views.approval_message(replace(info, status=RequestStatus.PENDING)).as_kwargs(),
        request_views.review_modal(
            replace(info, status=RequestStatus.PENDING), viewer=MEMBER, can_decide=False
        ),
        request_views.requester_notice(info).as_kwargs(),
        request_views.decided_modal(info),
        request_views.deny_modal(info),
    ]
    for payload in payloads:
        _assert_plain_texts_clean(payload, allowed={hostile, f"Reason: {hostile}"})
    assert (
        plain_text(decided)
        == "Already approved by someone on 22 Nov 2026 09:30 UTC. Use /msp requests."
    )


# ---------------------------------------------------------------- helpers


def _history(infos: list[RequestInfo]) -> list[str]:
    return lines([block.to_dict() for block in history_blocks(infos)])


def _days(text: Sentence) -> list[date]:
    return [value.day for value in text.values if isinstance(value, Day)]


def _assert_no_iso(*payloads: object) -> None:
    for payload in payloads:
        assert not ISO_DATE.search(str(payload)), payload


def _plain_texts(payload: object) -> Iterator[str]:
    """Every plain_text element's text, and every modal field error (plain too)."""
    if isinstance(payload, dict):
        if payload.get("type") == "plain_text" and isinstance(payload.get("text"), str):
            yield payload["text"]
        if payload.get("response_action") == "errors":
            yield from payload["errors"].values()
        for value in payload.values():
            yield from _plain_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _plain_texts(item)


def _assert_plain_texts_clean(payload: object, *, allowed: set[str] = frozenset()) -> None:
    """No mention, date token, code or bold markup in plain text, where Slack would
    show it as typed: only what a person typed themselves may look like that (a
    line of its own, as in a confirm dialog that quotes the asker's reason)."""
    for text in _plain_texts(payload):
        for line in text.splitlines():
            if text in allowed or line in allowed:
                continue
            assert "<@" not in line and "<!date" not in line and "`" not in line, text
            assert not BOLD.search(line), text
            assert not ISO_DATE.search(line), text
