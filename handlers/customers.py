"""Customer accounts in Slack: `/msp add|customer|customers`, the Add
customer shortcut and Home button, the card's Edit and Delete, the lists (paging,
sorting, each row's menu, and the lists the Home tab opens in a modal), the picker
and the customer type-ahead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import commercial as commercial_rules
from bot.domain import customers as customer_rules
from bot.domain import terms
from bot.domain.commercial import CommercialChange, CommercialField, CommercialRefused
from bot.domain.customers import CustomerField, CustomerFilter, ListSort, Plan
from bot.domain.customers import CustomerField as F
from bot.domain.terms import Term
from bot.errors import InvalidInput, NotAllowed, NotFound, RuleBroken
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import (
    CustomerRef,
    EditCustomerState,
    ListState,
    RequestFormState,
    RowAction,
    RowActionKind,
)
from bot.results.customers import CustomerCard, CustomerPage
from bot.services import commercial
from bot.services import customers as service
from bot.services.tenancy import Requester
from bot.views import billing as billing_views
from bot.views import customers as views
from bot.views.fields import Typed
from bot.views.message import Message
from handlers.deps import Deps
from handlers.forms import Form, errors_response, open_or_push, shown_inputs, state_values
from handlers.kit import (
    Click,
    ClickAnswer,
    FollowUp,
    Invocation,
    call_service,
    chosen_value,
    click_routes,
    update_in_place,
)
from handlers.middleware import requester_of
from handlers.payload_types import ActionPayload, InteractionBody, SuggestionPayload, ViewPayload
from handlers.registry import Route
from handlers.request_forms import open_request

FEATURE = "Customers"  # the title of the small modals its clicks are answered in
PAGE_SIZE = 20  # 20 rows + header, totals and navigation stay far below 50 blocks
SORT_PREFIX = "sort:"
SORT_USAGE = "Sort a list with sort:name, sort:trial (trial end) or sort:users."
LIST_ACTIONS = (ActionId.LIST_PREVIOUS, ActionId.LIST_NEXT, ActionId.LIST_SORT)
# The Home tab's list buttons share one actions block, where Slack wants each
# action_id to differ, so a button may carry its list as a suffix (home_open_list:paid).
HOME_LIST_ACTIONS = (
    ActionId.HOME_OPEN_LIST,
    *(f"{ActionId.HOME_OPEN_LIST}:{which}" for which in CustomerFilter),
)


# ---------------------------------------------------------------- /msp subcommands


async def add_command(call: Invocation) -> Message | FollowUp:
    requester = call.requester
    async with call.deps.db.unit_of_work() as session:
        await service.check_can_add(session, requester=requester)
        defaults = await service.add_form_defaults(
            session, requester=requester, now=call.deps.clock()
        )

    async def open_form() -> None:
        await call.client.views_open(
            trigger_id=call.command["trigger_id"],
            view=_add_form(defaults, Plan.TRIAL),
        )

    return open_form


async def customer_command(call: Invocation) -> Message | FollowUp:
    query = " ".join(call.args).strip()
    if not query:

        async def open_finder() -> None:
            await call.client.views_open(
                trigger_id=call.command["trigger_id"], view=views.find_modal()
            )

        return open_finder
    requester = call.requester
    async with call.deps.db.unit_of_work() as session:
        rows = await service.find(session, requester=requester, query=query, now=call.deps.clock())
        if len(rows) == 1:
            card = await service.show(
                session, requester=requester, customer_id=rows[0].id, now=call.deps.clock()
            )
            return views.card_message(card)
    if not rows:
        return views.no_match_message(query)
    return views.picker_message(query=query, rows=rows)


async def customers_command(call: Invocation) -> Message | FollowUp:
    state = parse_list_arguments(call.args)
    return views.list_message(await _list_page(call.deps, call.requester, state))


def field_error(error: InvalidInput) -> dict[str, Any]:
    """A service's refusal about one field, on that field (the name when it names none)."""
    return errors_response({error.field or CustomerField.NAME: error.message})


def parse_list_arguments(args: list[str]) -> ListState:
    """`[paid|trials|expired|free|all] [sort:name|trial|users] [TEXT]`: a first word
    that is not a list's name is text; the sort word may stand anywhere."""
    sort, words = _take_sort_word(args)
    which = CustomerFilter.ALL
    if words:
        try:
            which = CustomerFilter(words[0].lower())
            words = words[1:]
        except ValueError:
            pass  # not a list's name: the search starts here
    return ListState(filter=which, text=" ".join(words).strip()[:200], sort=sort)


def _take_sort_word(args: list[str]) -> tuple[ListSort | None, list[str]]:
    """The `sort:` word (the last one, if several) and the other words, in order."""
    sort: ListSort | None = None
    words = []
    for word in args:
        if not word.lower().startswith(SORT_PREFIX):
            words.append(word)
            continue
        try:
            sort = ListSort(word[len(SORT_PREFIX) :].lower())
        except ValueError:
            raise InvalidInput(f"“{word[:30]}” is not a way to sort. {SORT_USAGE}") from None
    return sort, words


async def _list_page(deps: Deps, requester: Requester, state: ListState) -> CustomerPage:
    return await call_service(
        deps,
        service.list_page,
        requester=requester,
        now=deps.clock(),
        which=state.filter,
        text=state.text,
        page=state.page,
        sort=state.sort,
        page_size=PAGE_SIZE,
    )


async def _card_of(deps: Deps, requester: Requester, customer_id: int) -> CustomerCard:
    """A customer's card, as this person may see it."""
    return await call_service(
        deps, service.show, requester=requester, customer_id=customer_id, now=deps.clock()
    )


# ---------------------------------------------------------------- clicks


async def show_list_page(click: Click) -> None:
    """Previous, Next and the sort menu: the list again, in place (message or modal)."""
    page = await _list_page(click.deps, click.requester, ListState.decode(click.value))
    if click.in_modal:
        await update_in_place(click.client, click.body, views.list_modal(page))
    elif click.respond is not None:
        message = views.list_message(page)
        await click.respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())


async def open_home_list(click: Click) -> None:
    """A list button of the Home tab (or of `/msp dashboard`): the list in a modal."""
    page = await _list_page(click.deps, click.requester, ListState.decode(click.value))
    await open_or_push(click.client, click.body, views.list_modal(page))


async def act_on_row(click: Click) -> None:
    chosen = RowAction.decode(click.value)
    await ROW_ACTIONS[chosen.action](click, chosen)


async def view_card(click: Click, chosen: RowAction) -> None:
    await show_card(click, chosen.customer_id)


async def show_card(click: Click, customer_id: int) -> None:
    """The card: as a message under the message clicked (a list, an alert), or, where
    there is no message to answer below, in a modal: stacked on the modal the click
    came from, or opened over the Home tab."""
    card = await _card_of(click.deps, click.requester, customer_id)
    if click.respond is not None:
        await click.respond(
            response_type="ephemeral",
            replace_original=False,
            **views.card_message(card).as_kwargs(),
        )
    else:
        await open_or_push(click.client, click.body, views.card_modal(card))


async def start_request(click: Click, chosen: RowAction) -> None:
    """A request from a row's menu: its form, or why the rules refuse it."""
    if chosen.request is None:
        raise InvalidInput("That menu option is out of date. Please start again.")
    channel = str((click.body.get("channel") or {}).get("id", ""))[:32]
    state = RequestFormState(kind=chosen.request, customer_id=chosen.customer_id, channel=channel)
    await open_request(click.deps, click.client, click.body, click.respond, click.requester, state)


# What each option of a row's menu does.
ROW_ACTIONS: dict[RowActionKind, Callable[[Click, RowAction], Awaitable[None]]] = {
    RowActionKind.VIEW: view_card,
    RowActionKind.REQUEST: start_request,
}


def card_form_opener(
    allowed: Callable[[CustomerCard], bool],
    refusal: str,
    build: Callable[[CustomerCard], dict[str, Any]],
) -> ClickAnswer:
    """A button on a card that opens a form about that customer (Edit, Correct),
    after checking the person may (the services check again on submit)."""

    async def open_form(click: Click) -> None:
        customer_id = CustomerRef.decode(click.action.get("value")).customer_id
        card = await _card_of(click.deps, click.requester, customer_id)
        if not allowed(card):
            raise NotAllowed(refusal)
        await open_or_push(click.client, click.body, build(card))

    return open_form


open_edit_form = card_form_opener(
    lambda card: card.can_edit,
    "You can edit only the customers assigned to you.",
    views.edit_modal,
)


async def open_delete_form(click: Click) -> None:
    """Delete on a card: the form that asks for the name, unless the rules refuse the
    deletion anyway (a paid term, R16), which is said before anything is typed."""
    customer_id = CustomerRef.decode(click.action.get("value")).customer_id
    card = await call_service(
        click.deps,
        service.deletion_form,
        requester=click.requester,
        customer_id=customer_id,
        now=click.deps.clock(),
    )
    await open_or_push(click.client, click.body, views.delete_modal(card))


open_correction_form = card_form_opener(
    lambda card: card.can_correct_billing,
    service.CORRECT_BILLING.refusal,
    billing_views.correction_modal,
)


# ---------------------------------------------------------------- listeners


async def open_add_form(
    ack: AsyncAck,
    body: InteractionBody,
    context: AsyncBoltContext,
    client: AsyncWebClient,
    *,
    deps: Deps,
) -> None:
    await ack()
    requester = requester_of(context)
    async with deps.db.unit_of_work() as session:
        try:
            await service.check_can_add(session, requester=requester)
        except (RuleBroken, NotAllowed) as refusal:
            view = views.notice_modal(title="Add customer", text=refusal.message)
        else:
            defaults = await service.add_form_defaults(
                session, requester=requester, now=deps.clock()
            )
            view = _add_form(defaults, Plan.TRIAL)
    await open_or_push(client, body, view)  # pushed when clicked inside a modal (a list)


def _add_form(
    defaults: service.AddFormDefaults, plan: Plan, typed: Typed | None = None
) -> dict[str, Any]:
    return views.add_modal(
        default_price=defaults.default_price,
        today=defaults.today,
        trial_days=defaults.trial_days,
        plan=plan,
        typed=typed,
    )


async def choose_plan(click: Click) -> None:
    """The Add form's plan changed: the form again for that plan (a paid plan's
    contract fields added or removed), with what was entered kept."""
    service.ADD.check(click.requester)
    defaults = await call_service(
        click.deps, service.add_form_defaults, requester=click.requester, now=click.deps.clock()
    )
    typed = state_values(click.body.get("view") or {})
    view = _add_form(defaults, _plan_chosen(chosen_value(click.action)), typed)
    await update_in_place(click.client, click.body, view)


def _plan_chosen(value: str | None) -> Plan:
    """A plan the form offers; a forged one is taken as the trial the form opens with
    (the submission refuses it on the field)."""
    return next((plan for plan in views.NEW_PLANS if plan.value == value), Plan.TRIAL)


def _paid_plan_without_its_fields(view: ViewPayload, form: Form) -> Plan | None:
    """The paid plan chosen, when the form shown did not ask for its contract yet."""
    shown = shown_inputs(view)
    plan = _plan_chosen(form.selected(CustomerField.PLAN))
    if plan.is_paid and shown and CustomerField.LICENCES not in shown:
        return plan
    return None


async def submit_add(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    requester = requester_of(context)
    form = Form(view)
    defaults = await call_service(
        deps, service.add_form_defaults, requester=requester, now=deps.clock()
    )
    paid = _paid_plan_without_its_fields(view, form)
    if paid is not None:
        # Add was clicked as a paid plan was chosen, before the form was redrawn with
        # the plan's contract: the form is shown with it, what was entered kept.
        await ack(response_action="update", view=_add_form(defaults, paid, state_values(view)))
        return
    new = read_new_customer(form, default_price=defaults.default_price, today=defaults.today)
    if form.errors or new is None:
        await ack(**errors_response(form.errors))
        return
    try:
        card = await call_service(
            deps, service.create_customer, requester=requester, new=new, now=deps.clock()
        )
    except InvalidInput as error:
        await ack(**field_error(error))
        return
    intro = f":white_check_mark: Added {card.name}, account {card.account_number}."
    await ack(response_action="update", view=views.card_modal(card, intro=intro))


async def submit_edit(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    state = EditCustomerState.decode(view.get("private_metadata"))
    form = Form(view)
    changes = read_changes(form)
    if form.errors or changes is None:
        await ack(**errors_response(form.errors))
        return
    try:
        card = await call_service(
            deps,
            service.update_customer,
            requester=requester_of(context),
            customer_id=state.customer_id,
            expected_version=state.version,
            changes=changes,
            now=deps.clock(),
        )
    except service.StaleEdit as stale:
        await ack(**errors_response({CustomerField.NAME: stale.message}))
        return
    except InvalidInput as error:
        await ack(**field_error(error))
        return
    await ack(
        response_action="update", view=views.card_modal(card, intro=":white_check_mark: Saved.")
    )


async def submit_delete(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    ref = CustomerRef.decode(view.get("private_metadata"))
    typed = Form(view).text(CustomerField.CONFIRM_NAME) or ""
    try:
        deleted = await call_service(
            deps,
            service.delete_customer,
            requester=requester_of(context),
            customer_id=ref.customer_id,
            typed_name=typed,
            now=deps.clock(),
        )
    except (InvalidInput, RuleBroken) as refusal:
        await ack(**errors_response({CustomerField.CONFIRM_NAME: refusal.message}))
        return
    await ack(
        response_action="update",
        view=views.deleted_modal(name=deleted.name, account_number=deleted.account_number),
    )


async def show_picked(
    ack: AsyncAck,
    action: ActionPayload,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    """A customer chosen in the "several match" picker: its card in the picker's place."""
    await ack()
    ref = CustomerRef.decode(chosen_value(action))
    card = await _card_of(deps, requester_of(context), ref.customer_id)
    await respond(
        response_type="ephemeral", replace_original=True, **views.card_message(card).as_kwargs()
    )


async def view_customer(click: Click) -> None:
    """View on a row (a list, the Home tab, the dashboard, a notice): the card below
    the message, or in a modal where there is no message (the Home tab)."""
    await show_card(click, CustomerRef.decode(click.value).customer_id)


async def suggest_customers(
    ack: AsyncAck, payload: SuggestionPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    rows = await call_service(
        deps,
        service.find,
        requester=requester_of(context),
        query=str(payload.get("value", ""))[:100],
        now=deps.clock(),
    )
    await ack(options=views.picker_options(rows))


async def submit_find(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    try:
        ref = CustomerRef.decode(Form(view).selected(BlockId.CUSTOMER_FIND))
        card = await _card_of(deps, requester_of(context), ref.customer_id)
    except (InvalidInput, NotFound) as refusal:
        await ack(**errors_response({BlockId.CUSTOMER_FIND: refusal.message}))
        return
    await ack(response_action="update", view=views.card_modal(card))


async def submit_correction(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    state = EditCustomerState.decode(view.get("private_metadata"))
    form = Form(view)
    change, reason = read_correction(form)
    if form.errors or reason is None:
        await ack(**errors_response(form.errors))
        return
    try:
        corrected = await call_service(
            deps,
            commercial.correct_billing,
            requester=requester_of(context),
            customer_id=state.customer_id,
            expected_version=state.version,
            change=change,
            reason=reason,
            now=deps.clock(),
        )
    except CommercialRefused as refused:
        await ack(**errors_response({p.field: p.message for p in refused.problems}))
        return
    except (service.StaleEdit, NotAllowed) as refusal:
        await ack(**errors_response({BlockId.BILLING_REASON: refusal.message}))
        return
    intro = (
        ":white_check_mark: Corrected."
        if corrected.changed
        else "Nothing changed: the figures were already these."
    )
    await ack(response_action="update", view=views.card_modal(corrected.card, intro=intro))


# ---------------------------------------------------------------- reading the forms


@dataclass(frozen=True, slots=True)
class _Shared:
    """The fields the Add and Edit modals have in common, read the same way."""

    name: str
    email: str | None
    contact_name: str | None
    contact_email: str | None
    locations: list[str]
    threshold: int | None
    assigned: list[str]


def _read_shared(form: Form) -> _Shared:
    def text(field: CustomerField) -> str | None:
        return form.text(field)

    return _Shared(
        name=form.check(lambda: customer_rules.parse_name(text(F.NAME), field=F.NAME), ""),
        email=form.check(
            lambda: customer_rules.parse_email(text(F.ADMIN_EMAIL), field=F.ADMIN_EMAIL), None
        ),
        contact_name=form.check(
            lambda: customer_rules.parse_contact_name(text(F.CONTACT_NAME), field=F.CONTACT_NAME),
            None,
        ),
        contact_email=form.check(
            lambda: customer_rules.parse_email(
                text(F.CONTACT_EMAIL), field=F.CONTACT_EMAIL, required=False
            ),
            None,
        ),
        locations=form.check(
            lambda: customer_rules.parse_locations(text(F.LOCATIONS), field=F.LOCATIONS), []
        ),
        threshold=form.check(
            lambda: customer_rules.parse_threshold_choice(
                text(F.THRESHOLD),
                never=customer_rules.NEVER_BLOCK in form.options(F.NEVER_BLOCK),
                field=F.THRESHOLD,
            ),
            None,
        ),
        assigned=_assigned(form),
    )


def read_new_customer(
    form: Form, *, default_price: Decimal, today: date
) -> service.NewCustomer | None:
    shared = _read_shared(form)
    plan = _plan(form)
    licences = 0
    term: Term | None = None
    start: date | None = None
    if plan is not None and plan.is_paid:
        licences = _paid_licences(form)
        term, start = _paid_term_inputs(form, today=today)
    price = form.check(
        lambda: customer_rules.parse_price(
            form.text(F.PRICE), field=F.PRICE, default=default_price
        ),
        default_price,
    )
    if form.errors or shared.email is None or plan is None:
        return None
    return service.NewCustomer(
        name=shared.name,
        admin_email=shared.email,
        plan=plan,
        licences=licences,
        term=term,
        contract_start=start,
        max_mau_threshold=shared.threshold,
        unit_price=price,
        locations=shared.locations,
        contact_name=shared.contact_name,
        contact_email=shared.contact_email,
        assigned=shared.assigned,
    )


def _paid_licences(form: Form) -> int:
    """A paid plan's licences, required: the form asks for them once the plan is
    chosen, but a submission may carry any state."""
    typed = form.text(F.LICENCES)
    if not (typed or "").strip():
        form.errors[F.LICENCES] = "Enter the number of licences of the paid plan."
        return 0
    return form.check(lambda: customer_rules.parse_licences(typed, field=F.LICENCES), 0)


def _paid_term_inputs(form: Form, *, today: date) -> tuple[Term | None, date | None]:
    """A paid plan's term and contract start, both required: the renewal date
    follows from them (bot.domain.terms)."""
    chosen = form.selected(F.TERM)
    if chosen is None:
        form.errors[F.TERM] = "Pick the term of the paid plan: monthly or annual."
        term = None
    else:
        term = form.check(lambda: terms.parse_term(chosen, field=F.TERM), None)
    picked = form.date(F.CONTRACT_START)
    if picked is None:
        form.errors.setdefault(F.CONTRACT_START, "Pick the day the paid contract started.")
        return term, None
    start = form.check(
        lambda: terms.check_contract_start(picked, today=today, field=F.CONTRACT_START), None
    )
    return term, start


def read_changes(form: Form) -> service.CustomerChanges | None:
    shared = _read_shared(form)
    price = form.check(
        lambda: customer_rules.parse_price(form.text(F.PRICE), field=F.PRICE, default=Decimal(-1)),
        Decimal(0),
    )
    if price < 0:
        form.errors[F.PRICE] = "Enter the monthly price."
    notes = form.check(lambda: customer_rules.parse_notes(form.text(F.NOTES), field=F.NOTES), "")
    if form.errors or shared.email is None:
        return None
    return service.CustomerChanges(
        name=shared.name,
        admin_email=shared.email,
        locations=shared.locations,
        contact_name=shared.contact_name,
        contact_email=shared.contact_email,
        max_mau_threshold=shared.threshold,
        unit_price=price,
        assigned=shared.assigned,
        notes=notes,
    )


def read_correction(form: Form) -> tuple[CommercialChange, str | None]:
    """The correction form's figures (an empty one is left as it is) and its reason."""
    plan = form.selected(CommercialField.PLAN)
    term = form.selected(CommercialField.TERM)
    change = CommercialChange(
        plan=form.check(lambda: _choice(Plan, plan, CommercialField.PLAN), None),
        licences=form.check(
            lambda: commercial_rules.parse_licences(
                form.text(CommercialField.LICENCES), field=CommercialField.LICENCES
            ),
            None,
        ),
        term=form.check(lambda: _choice(Term, term, CommercialField.TERM), None),
        contract_start=form.date(CommercialField.CONTRACT_START),
        renewal_date=form.date(CommercialField.RENEWAL_DATE),
        unit_price=form.check(
            lambda: commercial_rules.parse_unit_price(
                form.text(CommercialField.UNIT_PRICE), field=CommercialField.UNIT_PRICE
            ),
            None,
        ),
        past_due=billing_views.PAST_DUE in form.options(CommercialField.PAST_DUE),
    )
    reason = form.check(
        lambda: commercial_rules.parse_reason(
            form.text(BlockId.BILLING_REASON), field=BlockId.BILLING_REASON
        ),
        None,
    )
    return change, reason


Choice = TypeVar("Choice", Plan, Term)


def _choice(kind: type[Choice], value: str | None, field: str) -> Choice | None:
    """An option picked from a select (a forged value is refused on its field)."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput("Pick one of the options.", field=field) from None


def _plan(form: Form) -> Plan | None:
    raw = form.selected(CustomerField.PLAN) or Plan.TRIAL.value
    try:
        plan = Plan(raw)
    except ValueError:
        plan = None
    if plan not in views.NEW_PLANS:
        form.errors[CustomerField.PLAN] = "Pick a trial or a paid plan."
        return None
    return plan


def _assigned(form: Form) -> list[str]:
    users = form.users(CustomerField.ASSIGNED)
    if len(users) > customer_rules.MAX_ASSIGNED_STAFF:
        form.errors[CustomerField.ASSIGNED] = (
            f"Assign at most {customer_rules.MAX_ASSIGNED_STAFF} people."
        )
    elif not all(customer_rules.SLACK_USER_ID.match(user) for user in users):  # a forged value
        form.errors[CustomerField.ASSIGNED] = "Pick the people from the list."
    return users


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("shortcut", CallbackId.ADD_CUSTOMER_SHORTCUT, open_add_form),
    Route("action", ActionId.HOME_ADD_CUSTOMER, open_add_form),
    Route("view", CallbackId.ADD_CUSTOMER, submit_add),
    Route("view", CallbackId.EDIT_CUSTOMER, submit_edit),
    Route("view", CallbackId.DELETE_CUSTOMER, submit_delete),
    Route("view", CallbackId.CORRECT_BILLING, submit_correction),
    Route("view", CallbackId.FIND_CUSTOMER, submit_find),
    Route("action", ActionId.PICK_CUSTOMER, show_picked),
    Route("options", ActionId.CUSTOMER_SEARCH, suggest_customers),
    *click_routes(
        FEATURE,
        {
            ActionId.VIEW_CUSTOMER: view_customer,
            ActionId.EDIT_CUSTOMER: open_edit_form,
            ActionId.DELETE_CUSTOMER: open_delete_form,
            ActionId.CORRECT_BILLING: open_correction_form,
            ActionId.ROW_MENU: act_on_row,
            ActionId.ADD_CUSTOMER_PLAN: choose_plan,
            **dict.fromkeys(LIST_ACTIONS, show_list_page),
            **dict.fromkeys(HOME_LIST_ACTIONS, open_home_list),
        },
    ),
)
