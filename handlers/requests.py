"""Requests in Slack: `/msp request TYPE CUSTOMER`, `/msp requests`, the request
forms (their preview redrawn as they are filled in), "Schedule for DATE" on a
refusal, the card's and list rows' request menus, and the approvers' Approve / Deny
buttons (with the denial reason and the typed name that approves a deletion)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import mau as mau_rules
from bot.domain import requests as request_rules
from bot.domain.customers import Plan
from bot.domain.policy import Change
from bot.domain.requests import RequestType
from bot.domain.typos import closest
from bot.errors import InvalidInput, RuleBroken
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import CustomerRef, RequestFormState, RequestRef
from bot.results.requests import RequestInfo
from bot.services import customers as customer_service
from bot.services import requests as service
from bot.services.requests import AlreadyDecided
from bot.views import requests as views
from bot.views.message import Message
from handlers.deps import Deps
from handlers.forms import Form, errors_response, open_or_push, state_values
from handlers.kit import (
    Click,
    ClickAnswer,
    FollowUp,
    Invocation,
    call_service,
    click_routes,
    update_in_place,
)
from handlers.middleware import requester_of
from handlers.payload_types import ViewPayload
from handlers.registry import Route
from handlers.request_forms import form_or_refusal, open_request, redrawn_form

FEATURE = "Requests"  # the title of the small modals its clicks are answered in
REQUEST_USAGE = (
    "Usage: `/msp request TYPE CUSTOMER`, where TYPE is one of: "
    "extend, upgrade, add-licences, decrease-licences, downgrade, add-addon, remove-addon, "
    "cancel, reactivate, delete, remove-trial, or `/msp request mau` for more MAU allowance."
)
REQUESTS_USAGE = "Usage: `/msp requests [pending|scheduled|mine|all]`"
ENTERPRISE_SEATS = "Enterprise needs a quote: give the number of seats for it."
LIST_WORDS = ("pending", "scheduled", "mine", "all")

# The words people type for each type (besides its own name, with - or _).
TYPE_WORDS: dict[str, RequestType] = {
    "extend": RequestType.TRIAL_EXTENSION,
    "extension": RequestType.TRIAL_EXTENSION,
    "add-licenses": RequestType.ADD_LICENCES,
    "licences": RequestType.ADD_LICENCES,
    "licenses": RequestType.ADD_LICENCES,
    "decrease-licenses": RequestType.DECREASE_LICENCES,
    "decrease": RequestType.DECREASE_LICENCES,
    "add-on": RequestType.ADD_ADDON,
    "addon": RequestType.ADD_ADDON,
    "delete": RequestType.DELETE_ACCOUNT,
    "remove-trial": RequestType.REMOVE_EXPIRED_TRIAL,
    "mau": RequestType.MAU_ALLOWANCE_ORDER,
    "allowance": RequestType.MAU_ALLOWANCE_ORDER,
}
# The field a refusal of each type lands on in its modal (every modal has a reason).
MAIN_FIELD: dict[RequestType, str] = {
    RequestType.TRIAL_EXTENSION: BlockId.REQUEST_DAYS,
    RequestType.UPGRADE: BlockId.REQUEST_PLAN,
    RequestType.DOWNGRADE: BlockId.REQUEST_PLAN,
    RequestType.ADD_LICENCES: BlockId.REQUEST_LICENCES,
    RequestType.DECREASE_LICENCES: BlockId.REQUEST_LICENCES,
    RequestType.ADD_ADDON: BlockId.REQUEST_ADD_ON,
    RequestType.REMOVE_ADDON: BlockId.REQUEST_ADD_ON,
    RequestType.REACTIVATE: BlockId.REQUEST_PLAN,  # a free account's (a cancelled one has none)
    RequestType.MAU_ALLOWANCE_ORDER: BlockId.REQUEST_QUANTITY,
}


def parse_request_type(word: str) -> RequestType | None:
    key = word.strip().lower().replace("_", "-")
    if key in TYPE_WORDS:
        return TYPE_WORDS[key]
    for kind in RequestType:
        if kind.value.replace("_", "-") == key:
            return kind
    return None


def _unknown_type(word: str) -> str:
    known = [*TYPE_WORDS, *(kind.value.replace("_", "-") for kind in RequestType)]
    guess = closest(word.replace("_", "-"), known)
    said = f"I don't know the request type “{word[:40]}”."
    return f"{said} Did you mean `{guess}`? {REQUEST_USAGE}" if guess else f"{said} {REQUEST_USAGE}"


# ---------------------------------------------------------------- /msp subcommands


async def request_command(call: Invocation) -> Message | FollowUp:
    if not call.args:
        raise InvalidInput(REQUEST_USAGE)
    kind = parse_request_type(call.args[0])
    if kind is None:
        raise InvalidInput(_unknown_type(call.args[0]))
    requester = call.requester
    query = " ".join(call.args[1:]).strip()
    customer_id: int | None = None
    if kind != RequestType.MAU_ALLOWANCE_ORDER:
        if not query:
            raise InvalidInput(f"Name the customer: `/msp request {call.args[0]} CUSTOMER`.")
        found = await call_service(
            call.deps,
            customer_service.find_one,
            requester=requester,
            query=query,
            now=call.deps.clock(),
            example=f"request {call.args[0]}",
        )
        customer_id = found.id
    state = RequestFormState(
        kind=kind, customer_id=customer_id, channel=str(call.command.get("channel_id", ""))[:32]
    )
    view_or_refusal = await form_or_refusal(call.deps, requester, state)
    if isinstance(view_or_refusal, Message):
        return view_or_refusal
    trigger_id = call.command["trigger_id"]

    async def open_form() -> None:
        await call.client.views_open(trigger_id=trigger_id, view=view_or_refusal)

    return open_form


async def requests_command(call: Invocation) -> Message | FollowUp:
    which = call.args[0].lower() if call.args else "pending"
    if which not in LIST_WORDS or len(call.args) > 1:
        raise InvalidInput(REQUESTS_USAGE)
    listing = await call_service(
        call.deps, service.list_requests, requester=call.requester, which=which
    )
    return views.requests_list_message(listing)


# ---------------------------------------------------------------- reading the form


def _change(form: Form, kind: RequestType) -> Change:
    """The fields of a submitted request modal; errors are collected on the form."""
    days = count = quantity = None
    plan = add_on = None
    if kind == RequestType.TRIAL_EXTENSION:
        days = form.check(
            lambda: request_rules.parse_extension_days(
                form.text(BlockId.REQUEST_DAYS), field=BlockId.REQUEST_DAYS
            ),
            None,
        )
    if form.selected(BlockId.REQUEST_PLAN) is not None:
        plan = _plan(form)
    seats_given = not _blank(form.text(BlockId.REQUEST_LICENCES))  # optional there
    upgrading = kind in (RequestType.UPGRADE, RequestType.REACTIVATE)
    if upgrading and plan == Plan.ENTERPRISE and not seats_given:
        # R11: required once Enterprise is chosen (the form marks it so); a figure
        # not typed yet, so the preview waits for it rather than warning.
        form.errors[BlockId.REQUEST_LICENCES] = ENTERPRISE_SEATS
    if kind in (RequestType.ADD_LICENCES, RequestType.DECREASE_LICENCES) or (
        upgrading and seats_given
    ):
        count = form.check(
            lambda: request_rules.parse_licence_count(
                form.text(BlockId.REQUEST_LICENCES), field=BlockId.REQUEST_LICENCES
            ),
            None,
        )
    if kind in (RequestType.ADD_ADDON, RequestType.REMOVE_ADDON):
        add_on = form.check(
            lambda: request_rules.parse_add_on(
                form.selected(BlockId.REQUEST_ADD_ON), field=BlockId.REQUEST_ADD_ON
            ),
            None,
        )
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        quantity = form.check(
            lambda: mau_rules.parse_order_quantity(
                form.text(BlockId.REQUEST_QUANTITY), field=BlockId.REQUEST_QUANTITY
            ),
            None,
        )
    return Change(
        target_plan=plan,
        licence_count=count,
        add_on=add_on,
        extension_days=days,
        mau_quantity=quantity,
    )


def _refusal_field(view: ViewPayload, kind: RequestType) -> str:
    """Where a refusal of the rules lands: the type's main field if this modal has it
    (its blocks; its state when a view comes without them), else the reason (every
    request modal has one)."""
    blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
    shown = {block.get("block_id") for block in blocks if isinstance(block, dict)}
    if not shown:
        values = (view.get("state") or {}).get("values")
        shown = set(values) if isinstance(values, dict) else set()
    main = MAIN_FIELD.get(kind)
    return main if main in shown else BlockId.REQUEST_REASON


def _typed_problem(form: Form) -> str | None:
    """What is wrong with what is typed so far, for the preview to say: a figure not
    typed yet is not wrong (sending the form requires it), one typed badly is."""
    for field, message in form.errors.items():
        if field != BlockId.REQUEST_REASON and not _blank(form.text(field)):
            return message
    return None


def _complete(form: Form) -> bool:
    """Every figure and choice could be read (the reason is for the approvers)."""
    return all(field == BlockId.REQUEST_REASON for field in form.errors)


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _plan(form: Form) -> Plan | None:
    value = form.selected(BlockId.REQUEST_PLAN)
    try:
        return Plan(value or "")
    except ValueError:
        form.errors[BlockId.REQUEST_PLAN] = "There is no plan to move this account to."
        return None


# ---------------------------------------------------------------- clicks


async def schedule_instead(click: Click) -> None:
    """ "Schedule for DATE" on a refusal: the form again, for the later date."""
    state = RequestFormState.decode(click.value)
    await open_request(click.deps, click.client, click.body, click.respond, click.requester, state)


async def start_from_menu(click: Click) -> None:
    """The card's "Request…" menu: each option carries the type and the customer."""
    state = RequestFormState.decode(click.value)
    channel = str((click.body.get("channel") or {}).get("id", ""))[:32]
    state = state.model_copy(update={"channel": channel})
    await open_request(click.deps, click.client, click.body, click.respond, click.requester, state)


async def follow_typing(click: Click) -> None:
    """A figure typed or a choice made in the request form (dispatch_action): the
    form again, its preview for what is there now, what was entered kept."""
    shown = click.body.get("view") or {}
    state = RequestFormState.decode(shown.get("private_metadata"))
    form = Form(shown)
    change = _change(form, state.kind)
    redrawn = await redrawn_form(
        click.deps,
        click.requester,
        state,
        change=change if _complete(form) else None,
        problem=_typed_problem(form),
        typed=state_values(shown),
        plan=change.target_plan,
    )
    if isinstance(redrawn, Message):  # someone else asked for it meanwhile
        await open_or_push(click.client, click.body, views.refusal_modal(redrawn))
        return
    await update_in_place(click.client, click.body, redrawn)


async def approve(click: Click) -> None:
    """Approve at once, or (a deletion) ask for the customer's typed name first."""
    ref = RequestRef.decode(click.value)
    requester = click.requester
    deps = click.deps
    info = await call_service(
        deps, service.get_info, requester=requester, request_id=ref.request_id
    )
    if info.needs_typed_name and info.status == request_rules.RequestStatus.PENDING:
        service.check_can_decide(requester)
        await open_or_push(click.client, click.body, views.confirm_deletion_modal(info))
        return
    try:
        decided = await call_service(
            deps,
            service.approve,
            requester=requester,
            request_id=ref.request_id,
            typed_name=None,
            now=deps.clock(),
            notifier=deps.notifiers.requests,
        )
    except AlreadyDecided as elsewhere:
        await click.say(views.decided_elsewhere_message(elsewhere.info))
        return
    deps.delivery.wake()
    if click.in_modal:  # the review modal: it says what became of the request
        await update_in_place(click.client, click.body, views.decided_modal(decided))


async def review(click: Click) -> None:
    """A list row's Review: the whole request in a modal, to decide from (or, for
    its asker, to withdraw)."""
    ref = RequestRef.decode(click.value)
    requester = click.requester
    info = await call_service(
        click.deps, service.get_info, requester=requester, request_id=ref.request_id
    )
    if info.status != request_rules.RequestStatus.PENDING:
        await click.say(views.request_outcome_message(info))
        return
    view = views.review_modal(
        info, viewer=requester.user_id, can_decide=service.DECIDE.allows(requester)
    )
    await open_or_push(click.client, click.body, view)


async def deny(click: Click) -> None:
    """Denying asks why, in a modal."""
    ref = RequestRef.decode(click.value)
    requester = click.requester
    service.check_can_decide(requester)
    info = await call_service(
        click.deps, service.get_info, requester=requester, request_id=ref.request_id
    )
    if info.status != request_rules.RequestStatus.PENDING:
        await click.say(views.request_outcome_message(info))
        return
    await open_or_push(click.client, click.body, views.deny_modal(info))


async def withdraw(click: Click) -> None:
    ref = RequestRef.decode(click.value)
    deps = click.deps
    try:
        info = await call_service(
            deps,
            service.withdraw,
            requester=click.requester,
            request_id=ref.request_id,
            now=deps.clock(),
            notifier=deps.notifiers.requests,
        )
    except AlreadyDecided as decided:
        info = decided.info
    deps.delivery.wake()
    if click.in_modal:  # the review modal: it says what became of the request
        await update_in_place(click.client, click.body, views.decided_modal(info))
        return
    await click.say(views.request_outcome_message(info))


async def reverse_deletion(click: Click) -> None:
    """R16: an admin takes back a scheduled deletion from the card."""
    ref = CustomerRef.decode(click.value)
    deps = click.deps
    info = await call_service(
        deps,
        service.reverse_deletion,
        requester=click.requester,
        customer_id=ref.customer_id,
        now=deps.clock(),
        notifier=deps.notifiers.requests,
    )
    await click.say(views.deletion_reversed_message(info))
    deps.delivery.wake()


CLICKS: dict[str, ClickAnswer] = {
    ActionId.REQUEST_SCHEDULE: schedule_instead,
    ActionId.REQUEST_START: start_from_menu,
    ActionId.REQUEST_FORM_INPUT: follow_typing,
    ActionId.REQUEST_APPROVE: approve,
    ActionId.REQUEST_DENY: deny,
    ActionId.REQUEST_WITHDRAW: withdraw,
    ActionId.REQUEST_REVIEW: review,
    ActionId.REVERSE_DELETION: reverse_deletion,
}


# ---------------------------------------------------------------- the modals


async def submit_request(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    state = RequestFormState.decode(view.get("private_metadata"))
    form = Form(view)
    change = _change(form, state.kind)
    reason = form.check(
        lambda: request_rules.parse_reason(
            form.text(BlockId.REQUEST_REASON), field=BlockId.REQUEST_REASON, required=False
        ),
        "",
    )
    if form.errors:
        await ack(**errors_response(form.errors))
        return
    field = _refusal_field(view, state.kind)
    try:
        submitted = await call_service(
            deps,
            service.submit,
            requester=requester_of(context),
            kind=state.kind,
            customer_id=state.customer_id,
            change=change,
            reason=reason,
            schedule=state.schedule,
            now=deps.clock(),
            notifier=deps.notifiers.requests,
        )
    except (RuleBroken, InvalidInput) as refusal:
        where = getattr(refusal, "field", None) or field
        await ack(**errors_response({where: refusal.message}))
        return
    await ack(response_action="update", view=views.submitted_modal(submitted))
    deps.delivery.wake()


async def submit_denial(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    ref = RequestRef.decode(view.get("private_metadata"))
    form = Form(view)
    note = form.check(
        lambda: request_rules.parse_reason(
            form.text(BlockId.REQUEST_DENY_NOTE), field=BlockId.REQUEST_DENY_NOTE, required=True
        ),
        "",
    )
    if form.errors:
        await ack(**errors_response(form.errors))
        return
    await _decide_in_modal(
        ack,
        deps,
        lambda session: service.deny(
            session,
            requester=requester_of(context),
            request_id=ref.request_id,
            note=note,
            now=deps.clock(),
            notifier=deps.notifiers.requests,
        ),
    )


async def submit_deletion(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    ref = RequestRef.decode(view.get("private_metadata"))
    typed = Form(view).text(BlockId.REQUEST_CONFIRM_NAME) or ""
    await _decide_in_modal(
        ack,
        deps,
        lambda session: service.approve(
            session,
            requester=requester_of(context),
            request_id=ref.request_id,
            typed_name=typed,
            now=deps.clock(),
            notifier=deps.notifiers.requests,
        ),
    )


async def _decide_in_modal(
    ack: AsyncAck, deps: Deps, decide: Callable[[AsyncSession], Awaitable[RequestInfo]]
) -> None:
    """Run a decision from a modal: a field error stays on its field, a request
    decided by someone else meanwhile is said on the modal."""
    try:
        async with deps.db.unit_of_work() as session:
            info = await decide(session)
    except AlreadyDecided as decided:
        await ack(response_action="update", view=views.decided_modal(decided.info))
        return
    except InvalidInput as refusal:
        if refusal.field is None:
            raise
        await ack(**errors_response({refusal.field: refusal.message}))
        return
    await ack(response_action="update", view=views.decided_modal(info))
    deps.delivery.wake()


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("view", CallbackId.REQUEST_FORM, submit_request),
    Route("view", CallbackId.DENY_REQUEST, submit_denial),
    Route("view", CallbackId.CONFIRM_DELETION, submit_deletion),
    *click_routes(FEATURE, CLICKS),
)
