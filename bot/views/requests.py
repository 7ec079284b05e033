"""Requests on screen: the request form of each type, the approval message with
its buttons (and, once decided, its outcome), the notices to the requester, the
denial and deletion-confirmation forms, refusals with "Schedule for", and lists.
Pure functions of the services' plain data."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.customers import PAID_PLANS, Plan, Status, plan_status_label
from bot.domain.mau import MAX_ORDER_QUANTITY
from bot.domain.requests import (
    ADD_ONS,
    DEFAULT_EXTENSION_DAYS,
    DELETION_DELAY_DAYS,
    MAX_EXTENSION_DAYS,
    MAX_REASON_LENGTH,
    RequestStatus,
    RequestType,
    add_on_key,
)
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import RequestFormState, RequestRef
from bot.results.requests import RequestForm, RequestInfo, RequestList, Submitted
from bot.sentences import Day, Sentence
from bot.views.fields import Typed, number_input, with_typed
from bot.views.message import Message
from bot.views.modal import modal
from bot.views.mrkdwn import (
    Mrkdwn,
    clip,
    escape,
    full_stop,
    join,
    mention,
    mrkdwn,
    number,
    plain_text,
    said,
    slack_date,
    slack_time,
)
from bot.views.request_history import (
    ended_at,
    outcome_line,
    request_heading,
    request_label,
    stamp,
)

UNPAID = (Status.ACTIVE_TRIAL, Status.EXPIRED_TRIAL, Status.FREE)
PLAN_ORDER = (Plan.TRIAL, Plan.FREE, Plan.ESSENTIALS, Plan.PROFESSIONAL, Plan.ENTERPRISE)
MAX_SHOWN_TEXT = 2900


def _who(info: RequestInfo) -> str:
    """The customer as plain text (a typed name must not format or ping)."""
    if info.kind == RequestType.MAU_ALLOWANCE_ORDER:
        return "The MSP's MAU allowance"
    number_part = f" · {info.account_number}" if info.account_number else ""
    return f"{info.customer_name}{number_part}"


def _when(info: RequestInfo) -> Mrkdwn:
    if info.effective_on is None:
        return mrkdwn("at once, when approved")
    return mrkdwn("on {day}", day=slack_date(info.effective_on))


# ---------------------------------------------------------------- the request form


def request_modal(
    form: RequestForm,
    state: RequestFormState,
    *,
    problem: str | None = None,
    typed: Typed | None = None,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """One modal per request type, with the fields that type needs and, below them,
    the preview: what the rules say the request would do for what is typed so far
    (`form.quote`), redrawn as the fields change; before anything is typed, the
    rules for this account (never a result for a figure nobody typed). `problem`:
    what is wrong with what is typed, which the preview says instead. `typed`: what
    was entered, kept. `plan`: the plan chosen so far, which decides whether the
    seat count is required (Enterprise)."""
    blocks: list[Block] = []
    if form.customer_id is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_account_line(form))))
    if form.mau_allowance is not None:
        intro = (
            f"The allowance is *{number(form.mau_allowance)}* MAU; this month so far: "
            f"*{number(form.mau_this_month or 0)}* MAU."
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=intro)))
    blocks += _fields(form, plan)
    blocks += _preview(form, state, problem)
    blocks.append(
        InputBlock(
            block_id=BlockId.REQUEST_REASON,
            label="Reason",
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.FIELD,
                multiline=True,
                max_length=MAX_REASON_LENGTH,
                placeholder="Why, for the approvers",
            ),
        )
    )
    view = modal(
        callback_id=CallbackId.REQUEST_FORM,
        title=form.kind.label,
        blocks=blocks,
        submit="Send for approval",
        metadata=state.encode(),
    )
    return with_typed(view, typed)


def _preview(form: RequestForm, state: RequestFormState, problem: str | None) -> list[Block]:
    """What the request would do, for what is typed so far (or, before anything is,
    the rules for this account as it stands), and the warnings that go with it."""
    verdict = form.quote or form.preview
    if problem:
        text = mrkdwn(":warning: {problem}", problem=problem)
    elif state.schedule and verdict.schedule_for is not None:
        text = mrkdwn(
            "Too late for this renewal, so this asks for the next one: it takes effect on "
            "{day}. {reason}",
            day=slack_date(verdict.schedule_for),
            reason=verdict.reason,
        )
    elif not verdict.allowed:
        text = mrkdwn(":warning: {reason}", reason=verdict.reason)
    else:
        text = said(verdict.reason)
    blocks: list[Block] = []
    if text:
        shown = MarkdownTextObject(text=clip(text, MAX_SHOWN_TEXT))
        blocks.append(SectionBlock(block_id=BlockId.REQUEST_PREVIEW, text=shown))
    blocks += [
        ContextBlock(elements=[MarkdownTextObject(text=mrkdwn(":warning: {w}", w=warning))])
        for warning in ([] if problem else verdict.warnings)
    ]
    return blocks


def _account_line(form: RequestForm) -> Mrkdwn:
    parts = [mrkdwn("{name} · {account}", name=form.customer_name, account=form.account_number)]
    if form.plan is not None and form.status is not None:
        parts.append(escape(plan_status_label(form.plan, form.status)))
    parts.append(escape(f"{form.licences:,} licences, {form.users:,} users"))
    if form.renewal_date:
        # A cancelled plan does not renew: it ends on its renewal date.
        ends = form.status is Status.PENDING_CANCELLATION
        parts.append(
            mrkdwn(
                "{verb} {day}", verb="ends" if ends else "renews", day=slack_date(form.renewal_date)
            )
        )
    if form.trial_end and form.status in _TRIAL_TENSES:
        tense = _TRIAL_TENSES[form.status]
        parts.append(mrkdwn("{tense} {day}", tense=tense, day=slack_date(form.trial_end)))
    return join(" · ", parts)


# A trial's end as the account line says it: still to come on an active trial,
# past on one that has ended; a paid or cancelled account's trial is history.
_TRIAL_TENSES = {
    Status.ACTIVE_TRIAL: "trial ends",
    Status.EXPIRED_TRIAL: "trial ended",
    Status.FREE: "trial ended",
}


def _fields(form: RequestForm, plan: Plan | None) -> list[Block]:
    kind = form.kind
    if kind == RequestType.TRIAL_EXTENSION:
        return [
            _whole_number(
                BlockId.REQUEST_DAYS,
                "Extend by (days)",
                initial=str(DEFAULT_EXTENSION_DAYS),
                maximum=MAX_EXTENSION_DAYS,
                hint=f"1 to {MAX_EXTENSION_DAYS} days, from the trial's end (or today if it "
                "has ended).",
            )
        ]
    if kind in (RequestType.UPGRADE, RequestType.DOWNGRADE) or (
        kind == RequestType.REACTIVATE and form.status == Status.FREE
    ):
        blocks: list[Block] = [_plan_select(form)]
        if kind in (RequestType.UPGRADE, RequestType.REACTIVATE):  # R11: Enterprise's seats
            blocks.append(_seats(form, plan))
        return blocks
    # The rules below each field (the preview) say when it applies, what it costs
    # and that nothing is refunded: a hint says only what the field itself means.
    if kind == RequestType.ADD_LICENCES:
        return [_whole_number(BlockId.REQUEST_LICENCES, "Additional licences")]
    if kind == RequestType.DECREASE_LICENCES:
        return [
            _whole_number(
                BlockId.REQUEST_LICENCES,
                "Licences for the next term",
                maximum=max(form.licences - 1, 1),
                hint="The new total, not how many to remove.",
            )
        ]
    if kind in (RequestType.ADD_ADDON, RequestType.REMOVE_ADDON):
        return [_add_on_select(form)]
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        return [
            _whole_number(
                BlockId.REQUEST_QUANTITY,
                "Additional MAU",
                maximum=MAX_ORDER_QUANTITY,
                hint=f"At most {MAX_ORDER_QUANTITY:,} in one order.",
            )
        ]
    return []


def _seats(form: RequestForm, plan: Plan | None) -> InputBlock:
    """R11: Enterprise is quoted for a number of seats, so once it is chosen the
    seats are required; for another plan they are the licences it starts with, and
    may be left out."""
    if plan == Plan.ENTERPRISE:
        return _whole_number(
            BlockId.REQUEST_LICENCES, "Seats", hint="Enterprise's quote is for this many seats."
        )
    left_out = (
        "for a licence for each user"
        if form.status in UNPAID
        else f"to keep its {form.licences:,} licences"
    )
    return _whole_number(
        BlockId.REQUEST_LICENCES,
        "Seats",
        optional=True,
        hint=f"For Enterprise, required: its quote is for this many seats. For another "
        f"plan, leave it empty {left_out}.",
    )


def _whole_number(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    maximum: int = 100_000,
    optional: bool = False,
    hint: str | None = None,
) -> InputBlock:
    """A request's figures are whole and at least 1; the preview follows them."""
    return number_input(
        block_id,
        label,
        optional=optional,
        initial=initial,
        minimum="1",
        maximum=str(maximum),
        hint=hint,
        dispatch=ActionId.REQUEST_FORM_INPUT,
    )


def _plan_select(form: RequestForm) -> InputBlock:
    current = PLAN_ORDER.index(form.plan) if form.plan in PLAN_ORDER else 0
    if form.kind == RequestType.DOWNGRADE:
        plans = [p for p in PLAN_ORDER[:current] if p in PAID_PLANS]
    else:
        plans = [p for p in PLAN_ORDER[current + 1 :] if p in PAID_PLANS]
        if form.status in UNPAID:  # a trial or free account may go to any paid plan
            plans = [p for p in PLAN_ORDER if p in PAID_PLANS]
    options = [Option(text=plan.label, value=plan.value) for plan in plans] or [
        Option(text="No plan to move to", value="none")
    ]
    return InputBlock(
        block_id=BlockId.REQUEST_PLAN,
        label="New plan",
        dispatch_action=True,  # the preview follows the plan chosen
        element=StaticSelectElement(action_id=ActionId.REQUEST_FORM_INPUT, options=options),
    )


def _add_on_select(form: RequestForm) -> InputBlock:
    present = {add_on_key(name) for name in form.add_ons}  # stored by label or key
    if form.kind == RequestType.ADD_ADDON:
        keys = [key for key in ADD_ONS if key not in present]
    else:
        keys = [key for key in ADD_ONS if key in present]
    options = [Option(text=ADD_ONS[key], value=key) for key in keys] or [
        Option(text="No add-on to choose", value="none")
    ]
    return InputBlock(
        block_id=BlockId.REQUEST_ADD_ON,
        label="Add-on",
        dispatch_action=True,  # the preview follows the add-on chosen
        element=StaticSelectElement(action_id=ActionId.REQUEST_FORM_INPUT, options=options),
    )


def submitted_modal(submitted: Submitted) -> dict[str, Any]:
    info = submitted.info
    # The rules' explanation below says when it takes effect; said here only without one.
    when = "" if info.explanation else mrkdwn(" It takes effect {when}.", when=_when(info))
    text = mrkdwn(
        ":outbox_tray: Request #{id} ({label}) was sent to {routed_to}.{when} "
        "You will get a message when it is decided.",
        id=info.id,
        label=request_label(info),
        routed_to=submitted.routed_to,
        when=when,
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)), *_explained(info)]
    return modal(callback_id=None, title="Request sent", blocks=blocks, submit=None, close="Done")


# ---------------------------------------------------------------- refusals


def refusal_message(
    reason: Sentence, *, schedule: RequestFormState | None, when: date | None
) -> Message:
    """A request the rules refuse now, and, where the rule allows, a button to ask
    for the later date instead (the dates in the text, where each reader sees them
    in their own way: a button's label cannot hold a date token)."""
    refused = clip(mrkdwn("Not allowed: {reason}", reason=reason), MAX_SHOWN_TEXT)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=refused))]
    if schedule is not None and when:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=mrkdwn(
                            "You can ask for it to take effect on {day} instead.",
                            day=slack_date(when),
                        )
                    )
                ]
            )
        )
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Ask for that date",
                        action_id=ActionId.REQUEST_SCHEDULE,
                        value=schedule.encode(),
                        style="primary",
                    )
                ]
            )
        )
    return Message.of(refused, blocks)


def refusal_modal(message: Message) -> dict[str, Any]:
    """The refusal where there is no conversation to answer in (Home tab, modals)."""
    return notice_modal(message, title="Not allowed")


def notice_modal(message: Message, *, title: str = "Requests") -> dict[str, Any]:
    """A message's blocks in a small modal, for clicks on the Home tab or in modals."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": message.blocks,
    }


def already_open_message(info: RequestInfo) -> Message:
    """A request of a type its customer already has open: said before the form is
    filled in, with the way to that request (one of a type at a time)."""
    if info.status == RequestStatus.PENDING or info.effective_on is None:
        state = mrkdwn("waiting for approval")
    else:
        state = mrkdwn("scheduled for {day}", day=slack_date(info.effective_on))
    text = mrkdwn(
        "{customer} already has request #{id} ({kind}{summary}) {state}, asked by {who} "
        "{when}. Review that one rather than asking again.",
        customer=info.customer_name,
        id=info.id,
        kind=info.kind.label,
        summary=f", {info.summary}" if info.summary else "",
        state=state,
        who=mention(info.requested_by),
        when=stamp(info.requested_at),
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SHOWN_TEXT))),
        ActionsBlock(elements=[review_button(info)]),
    ]
    return Message.of(text, blocks)


def review_button(info: RequestInfo) -> ButtonElement:
    """A list row's way to a decision: the whole request first (what it costs, why,
    when it takes effect), with Approve and Deny beside it, never one blind click."""
    return ButtonElement(
        text="Review",
        action_id=ActionId.REQUEST_REVIEW,
        value=RequestRef(request_id=info.id).encode(),
    )


def withdraw_button(info: RequestInfo) -> ButtonElement:
    """The asker's way to take back a request still waiting, asked once more first:
    a request withdrawn is asked again only by filling in its form again."""
    return ButtonElement(
        text="Withdraw",
        action_id=ActionId.REQUEST_WITHDRAW,
        value=RequestRef(request_id=info.id).encode(),
        confirm=ConfirmObject(
            title=f"Withdraw request #{info.id}?"[:100],
            text=PlainTextObject(text=_withdraw_confirm_text(info)),
            confirm="Withdraw",
            deny="Keep it",
        ),
    )


def _withdraw_confirm_text(info: RequestInfo) -> str:
    """Plain text: the request and its customer as typed, nothing formatted."""
    about = f" for {info.customer_name}" if info.customer_name else ""
    said = f"{request_label(info)}{about}. The approvers will no longer see it."
    return said if len(said) <= 300 else said[:299] + "…"


def review_modal(info: RequestInfo, *, viewer: str, can_decide: bool) -> dict[str, Any]:
    """The approval message in a modal. Its asker gets Withdraw instead of Approve
    and Deny: nobody decides their own request; whoever may not decide gets neither."""
    blocks = approval_message(info).blocks
    if not can_decide and info.requested_by != viewer:
        blocks = [block for block in blocks if block.get("type") != "actions"]
    elif info.requested_by == viewer and info.status == RequestStatus.PENDING:
        blocks = [block for block in blocks if block.get("type") != "actions"] + [
            ContextBlock(
                elements=[
                    MarkdownTextObject(text="You asked for this, so someone else decides it.")
                ]
            ),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Withdraw",
                        action_id=ActionId.REQUEST_WITHDRAW,
                        value=RequestRef(request_id=info.id).encode(),
                    )
                ]
            ),
        ]
    return modal(
        callback_id=None,
        title="Review request",
        blocks=blocks,
        submit=None,
        close="Close",
    )


# ---------------------------------------------------------------- the approval message


def approval_message(info: RequestInfo) -> Message:
    """The message approvers see; updated in place when the request is decided.

    Each fact once: the rules' explanation says what it does and when (a verdict's
    reason always does), so "Takes effect" is a field only for a request stored
    without one, and only while it waits; the outcome does not repeat a day the
    explanation names."""
    title = f"Request #{info.id}: {info.kind.label}"
    fields: list[Any] = [
        PlainTextObject(text=_who(info)),
        MarkdownTextObject(text=f"*Asked by* {mention(info.requested_by)}"),
        # What it asks beyond its type, which the title says: never "Cancel" twice.
        *([MarkdownTextObject(text=f"*What* {escape(info.summary)}")] if info.summary else []),
    ]
    if not info.explanation and info.status == RequestStatus.PENDING:
        fields.append(MarkdownTextObject(text=f"*Takes effect* {_when(info)}"))
    blocks: list[Block] = [
        HeaderBlock(text=title[:150]),
        SectionBlock(fields=fields),
        *_explained(info),
    ]
    if info.reason:
        blocks.append(SectionBlock(text=PlainTextObject(text=f"Reason: {info.reason}"[:2900])))
    if info.status == RequestStatus.PENDING:
        blocks.append(
            ActionsBlock(
                block_id=f"{BlockId.REQUEST_ACTIONS}.{info.id}", elements=decision_buttons(info)
            )
        )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Expires {stamp(info.expires_at)} if nobody decides it."
                    )
                ]
            )
        )
    else:
        outcome = outcome_line(info, day_said=_names_effective_day(info))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=outcome)]))
        again = ask_again_button(info)
        if again is not None:
            blocks.append(
                ActionsBlock(block_id=f"{BlockId.REQUEST_ACTIONS}.{info.id}", elements=[again])
            )
    text = mrkdwn(
        "Request #{id}: {label} ({status})",
        id=info.id,
        label=request_label(info),
        status=info.status.value,
    )
    return Message.of(text, blocks)


def _names_effective_day(info: RequestInfo) -> bool:
    """Whether the explanation shown names the day the request takes effect."""
    return info.effective_on is not None and Day(info.effective_on) in info.explanation.values


# Approving these costs money (a charge now, a dearer plan, more allowance) or takes
# something away (licences, a plan, an add-on, the subscription, the trial's data),
# so Approve asks first; an extension does neither, and a deletion asks for the
# customer's typed name instead.
_COSTS_MONEY = frozenset(
    {
        RequestType.UPGRADE,
        RequestType.ADD_LICENCES,
        RequestType.ADD_ADDON,
        RequestType.REACTIVATE,
        RequestType.MAU_ALLOWANCE_ORDER,
    }
)
_REMOVES = frozenset(
    {
        RequestType.DECREASE_LICENCES,
        RequestType.DOWNGRADE,
        RequestType.REMOVE_ADDON,
        RequestType.CANCEL,
        RequestType.DELETE_ACCOUNT,
        RequestType.REMOVE_EXPIRED_TRIAL,
    }
)
CONFIRM_TEXT_LIMIT = 300  # Slack's longest confirm dialog text
_REASON_SHOWN = 120  # of the confirm's text, so the effect and the amount come first


def decision_buttons(info: RequestInfo) -> list[ButtonElement]:
    """Approve and Deny…, wherever a request is decided (its message, the review, the
    reminder). Approving what costs money or removes something asks first, with the
    amount, the effect and the reason; Deny… asks why in a form of its own, so it
    needs no warning colour."""
    ref = RequestRef(request_id=info.id).encode()
    confirm = None
    if not info.needs_typed_name and info.kind in _COSTS_MONEY | _REMOVES:
        confirm = ConfirmObject(
            title=f"Approve request #{info.id}?",
            text=PlainTextObject(text=_approval_confirm_text(info)),
            confirm="Approve",
            deny="Not yet",
        )
    return [
        ButtonElement(
            text="Approve…" if info.needs_typed_name else "Approve",
            action_id=ActionId.REQUEST_APPROVE,
            value=ref,
            style="primary",
            confirm=confirm,
        ),
        ButtonElement(text="Deny…", action_id=ActionId.REQUEST_DENY, value=ref),
    ]


def _approval_confirm_text(info: RequestInfo) -> str:
    """What approving does, in plain text (a confirm dialog formats nothing): what and
    for whom, then the rules' explanation (the effect, the amount, the date), then
    the asker's reason, each cut short rather than pushed out by the others."""
    about = f" ({info.customer_name})" if info.customer_name else ""
    what = full_stop(f"{request_label(info)}{about}")
    reason = _clipped(f"Reason: {info.reason}", _REASON_SHOWN) if info.reason else ""
    room = CONFIRM_TEXT_LIMIT - len(reason) - (1 if reason else 0)
    head = _clipped(" ".join(filter(None, (what, plain_text(info.explanation)))), room)
    return "\n".join(filter(None, (head, reason)))


def _clipped(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word and ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def ask_again_button(info: RequestInfo) -> ButtonElement | None:
    """A request that expired undecided is asked again with the same form, for the
    same customer (the form's rules answer whoever may not ask, or a customer gone)."""
    if info.status != RequestStatus.EXPIRED:
        return None
    if info.customer_id is None and info.kind != RequestType.MAU_ALLOWANCE_ORDER:
        return None
    return ButtonElement(
        text="Ask again",
        action_id=ActionId.REQUEST_START,
        value=RequestFormState(kind=info.kind, customer_id=info.customer_id).encode(),
    )


def _explained(info: RequestInfo) -> list[Block]:
    """What the rules said when it was asked, its dates in each reader's own way."""
    if not info.explanation:
        return []
    text = clip(said(info.explanation), 2000)
    return [ContextBlock(elements=[MarkdownTextObject(text=text)])]


def requester_notice(info: RequestInfo) -> Message:
    """The DM that tells the requester what became of their request, with the way to
    ask again for one that expired."""
    text = full_stop(
        mrkdwn(
            "Your request #{id} ({label}) for {who}: {outcome}",
            id=info.id,
            label=request_label(info),
            who=_who(info),
            outcome=outcome_line(info),
        )
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SHOWN_TEXT)))]
    again = ask_again_button(info)
    if again is not None:
        blocks.append(ActionsBlock(elements=[again]))
    return Message.of(text, blocks)


def already_decided_message(text: str | Mrkdwn) -> Message:
    """What a click found already done: `text` is escaped unless it is already `Mrkdwn`."""
    shown = mrkdwn("{text}", text=text)
    return Message.of(shown, [SectionBlock(text=MarkdownTextObject(text=shown))])


def decided_elsewhere_message(info: RequestInfo) -> Message:
    """A click on a request that someone decided (or withdrew, or that expired) first."""
    match info.status:
        case RequestStatus.WITHDRAWN:
            what = mrkdwn("This request was withdrawn by the person who asked")
        case RequestStatus.EXPIRED:
            what = mrkdwn("This request expired without a decision")
        case RequestStatus.REVERSED:
            what = mrkdwn("This scheduled change was reversed")
        case _:
            what = mrkdwn(
                "This request was already {verb} by {who}",
                verb="denied" if info.status == RequestStatus.DENIED else "approved",
                who=mention(info.decided_by) if info.decided_by else "someone",
            )
    ended = ended_at(info)
    when = mrkdwn(" {at}", at=slack_time(ended)) if ended else ""
    return already_decided_message(
        mrkdwn("{what}{when}. Nothing was changed.", what=what, when=when)
    )


def request_outcome_message(info: RequestInfo) -> Message:
    """`Request #12: Approved by @ann …` for a click on a request that is already decided."""
    return already_decided_message(
        full_stop(mrkdwn("Request #{id}: {outcome}", id=info.id, outcome=outcome_line(info)))
    )


def deletion_reversed_message(info: RequestInfo) -> Message:
    return already_decided_message(
        mrkdwn(
            "The deletion of {customer} was reversed (request #{id}).",
            customer=info.customer_name,
            id=info.id,
        )
    )


# ---------------------------------------------------------------- deciding forms


def deny_modal(info: RequestInfo) -> dict[str, Any]:
    blocks: list[Block] = [
        SectionBlock(text=PlainTextObject(text=f"#{info.id} {info.kind.label}: {_who(info)}")),
        InputBlock(
            block_id=BlockId.REQUEST_DENY_NOTE,
            label="Why is it denied?",
            element=PlainTextInputElement(
                action_id=ActionId.FIELD, multiline=True, max_length=MAX_REASON_LENGTH
            ),
            hint="The requester sees this.",
        ),
    ]
    return modal(
        callback_id=CallbackId.DENY_REQUEST,
        title="Deny request",
        blocks=blocks,
        submit="Deny",
        metadata=RequestRef(request_id=info.id).encode(),
    )


def confirm_deletion_modal(info: RequestInfo) -> dict[str, Any]:
    blocks: list[Block] = [
        SectionBlock(
            text=PlainTextObject(
                text=f"Approving schedules {info.customer_name} ({info.account_number}) for "
                f"deletion {DELETION_DELAY_DAYS} days from now; any admin can reverse it "
                "until then."
            )
        ),
        InputBlock(
            block_id=BlockId.REQUEST_CONFIRM_NAME,
            label="Type the customer's name to confirm",
            element=PlainTextInputElement(action_id=ActionId.FIELD, max_length=100),
        ),
    ]
    return modal(
        callback_id=CallbackId.CONFIRM_DELETION,
        title="Approve deletion",
        blocks=blocks,
        submit="Approve",
        metadata=RequestRef(request_id=info.id).encode(),
    )


def decided_modal(info: RequestInfo) -> dict[str, Any]:
    text = full_stop(mrkdwn("Request #{id}: {outcome}", id=info.id, outcome=outcome_line(info)))
    return modal(
        callback_id=None,
        title="Done",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
        submit=None,
        close="Close",
    )


# ---------------------------------------------------------------- lists


LIST_TITLES = {
    "pending": "Requests waiting for approval",
    "scheduled": "Scheduled changes",
    "mine": "Your requests",
    "all": "Requests",
}


# What an empty list says: what it would list, then the next step.
_NONE = {
    "pending": "No requests are waiting for approval.",
    "scheduled": "No approved changes are waiting for their date.",
    "mine": "You have not asked for any changes.",
    "all": "No requests yet.",
}
HOW_TO_ASK = (
    "To ask for a change, open a customer (`/msp customers`) or use `/msp request TYPE CUSTOMER`."
)
SCHEDULED_HINT = (
    "Licence decreases, downgrades, add-on removals and cancellations wait here once "
    f"approved, until the renewal they take effect at; so do deletions, for their "
    f"{DELETION_DELAY_DAYS} days."
)


def requests_list_message(listing: RequestList) -> Message:
    title = LIST_TITLES.get(listing.which, "Requests")
    blocks: list[Block] = [HeaderBlock(text=f"{title} ({listing.total:,})")]
    if not listing.requests:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_empty_list_text(listing))))
    for info in listing.requests:
        blocks.append(_list_row(info, listing))
    hidden = listing.total - len(listing.requests)
    if hidden > 0:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=f"…and {hidden:,} older (newest shown).")]
            )
        )
    return Message.of(mrkdwn("{title}: {total:,}", title=title, total=listing.total), blocks)


def _empty_list_text(listing: RequestList) -> str:
    none = _NONE.get(listing.which, _NONE["all"])
    if listing.which == "scheduled":
        return f"{none} {SCHEDULED_HINT}"
    if listing.can_request:
        return f"{none} {HOW_TO_ASK}"
    if listing.which == "pending":
        return f"{none} `/msp requests all` shows every request and what became of it."
    return none


def _list_row(info: RequestInfo, listing: RequestList) -> SectionBlock:
    text = (
        f"{request_heading(info)} · "
        f"{escape(_who(info))} · asked by {mention(info.requested_by)} "
        f"{stamp(info.requested_at)}"
    )
    # The list of waiting requests says so in its title, once, not on every row.
    if not (listing.which == "pending" and info.status == RequestStatus.PENDING):
        text += f"\n{outcome_line(info)}"
    accessory = None
    if info.status == RequestStatus.PENDING:
        if info.requested_by == listing.viewer:
            accessory = ButtonElement(
                text="Withdraw",
                action_id=ActionId.REQUEST_WITHDRAW,
                value=RequestRef(request_id=info.id).encode(),
            )
        elif listing.can_decide:
            accessory = review_button(info)
    return SectionBlock(text=MarkdownTextObject(text=text[:MAX_SHOWN_TEXT]), accessory=accessory)
