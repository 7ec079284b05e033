"""The request policy (R6-R17, R19): may this request be asked now, and if so what
happens and when. The statuses each type needs are data (`ALLOWED_STATUSES`); each
rule is one small function. Pure: `today` comes in on the account, nothing is read
or written, so a refusal can be shown before anything is stored.

Reasons are `Sentence`s with their dates as values (bot/sentences.py): the views
show each reader a date in their own format, and plain text (a log, an audit entry,
a modal's field error) reads "1 Mar 2027".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from bot.domain.customers import MAX_LICENCES, PAID_PLANS, Plan, Status, in_active_paid_term
from bot.domain.mau import MAX_ORDER_QUANTITY
from bot.domain.proration import (
    Proration,
    add_months,
    added_licences_charge,
    prorate,
    term_months,
)
from bot.domain.requests import (
    ADD_ONS,
    DEFAULT_EXTENSION_DAYS,
    DELETION_DELAY_DAYS,
    FREE_MAX_DATA_GB,
    FREE_MAX_USERS,
    MAX_EXTENSION_DAYS,
    NOTICE_DAYS,
    RequestType,
    add_on_key,
)
from bot.domain.terms import Term, next_renewal
from bot.errors import RuleBroken
from bot.sentences import Sentence, sentence


@dataclass(frozen=True, slots=True)
class Account:
    """What the policy needs to know about a customer, as of `today` (the MSP's date)."""

    status: Status
    plan: Plan
    today: date
    trial_end: date | None
    renewal_date: date | None
    contract_start: date | None
    past_due: bool
    licences: int
    users: int
    data_used_gb: float
    add_ons: frozenset[str]
    unit_price: Decimal  # a licence a month
    term: Term | None = None  # None: a paid account from before terms were stored


@dataclass(frozen=True, slots=True)
class Change:
    """What a request asks for; each type reads only its own fields.

    `licence_count` is how many more for ADD_LICENCES, the new total for the next term
    for DECREASE_LICENCES, and the seat count for an upgrade (required for Enterprise:
    the quote is for that many seats)."""

    target_plan: Plan | None = None
    licence_count: int | None = None
    add_on: str | None = None
    extension_days: int | None = None
    mau_quantity: int | None = None


class Timing(StrEnum):
    NOW = "now"
    AT_RENEWAL = "at_renewal"
    AFTER_DELAY = "after_delay"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer. `reason` is a sentence people read: why it is refused, or
    what will happen and when. `effective` None means applied when approved.

    On a refusal, `earliest` is the first date it could be asked or take effect, and
    `schedule_for` (with a notice rule) the later renewal it may be asked for now.
    `deadline` is the last day to ask for the renewal in question."""

    allowed: bool
    rule: str
    reason: Sentence
    timing: Timing | None = None
    effective: date | None = None
    earliest: date | None = None
    schedule_for: date | None = None
    deadline: date | None = None
    quote_needed: bool = False
    proration: Proration | None = None
    warnings: tuple[str, ...] = ()


_TRIALS = frozenset({Status.ACTIVE_TRIAL, Status.EXPIRED_TRIAL})
_PAYING = frozenset({Status.PAID, Status.PENDING_CANCELLATION})
_RENEWING = frozenset({Status.PAID})  # a cancelled plan ends at renewal: nothing to change then
_LIVE = _TRIALS | _PAYING | {Status.FREE}

ALLOWED_STATUSES: dict[RequestType, frozenset[Status]] = {
    RequestType.TRIAL_EXTENSION: _TRIALS,
    RequestType.UPGRADE: _LIVE,
    RequestType.ADD_LICENCES: _PAYING,
    RequestType.DECREASE_LICENCES: _RENEWING,
    RequestType.DOWNGRADE: _RENEWING,
    RequestType.ADD_ADDON: _PAYING,
    RequestType.REMOVE_ADDON: _RENEWING,
    RequestType.CANCEL: _RENEWING,
    RequestType.REACTIVATE: frozenset({Status.FREE, Status.PENDING_CANCELLATION}),
    RequestType.DELETE_ACCOUNT: _LIVE,
    RequestType.REMOVE_EXPIRED_TRIAL: frozenset({Status.EXPIRED_TRIAL}),
    # The MSP's own order: no customer's status is involved (decide() ignores it).
    RequestType.MAU_ALLOWANCE_ORDER: frozenset(Status),
}

# The first half of a status refusal: "<needs>; this account is <status>."
_NEEDS: dict[RequestType, str] = {
    RequestType.TRIAL_EXTENSION: "A trial extension needs an active or expired trial",
    RequestType.UPGRADE: "An upgrade needs a trial, free or paid account",
    RequestType.ADD_LICENCES: "Adding licences needs a paid plan",
    RequestType.DECREASE_LICENCES: "A licence decrease needs a paid plan that will renew",
    RequestType.DOWNGRADE: "A downgrade needs a paid plan that will renew",
    RequestType.ADD_ADDON: "An add-on needs a paid plan",
    RequestType.REMOVE_ADDON: "Removing an add-on needs a paid plan that will renew",
    RequestType.CANCEL: "A cancellation needs a paid plan",
    RequestType.REACTIVATE: "Reactivation needs a free account or a cancelled paid plan",
    RequestType.DELETE_ACCOUNT: "Deleting an account needs a trial, free or paid account",
    RequestType.REMOVE_EXPIRED_TRIAL: "Removing an expired trial needs an expired trial",
}

_STATUS_WORDS: dict[Status, str] = {
    Status.ACTIVE_TRIAL: "on an active trial",
    Status.EXPIRED_TRIAL: "an expired trial",
    Status.PAID: "paid",
    Status.FREE: "on the free plan",
    Status.PENDING_CANCELLATION: "pending cancellation",
    Status.SCHEDULED_DELETION: "scheduled for deletion",
    Status.DELETED: "deleted",
}

# Trials and free accounts rank alike: either may upgrade to any paid plan (R6, R17).
_PLAN_RANK: dict[Plan, int] = {
    Plan.TRIAL: 0,
    Plan.FREE: 0,
    Plan.ESSENTIALS: 1,
    Plan.PROFESSIONAL: 2,
    Plan.ENTERPRISE: 3,
}
_PAID_CHOICES = "Essentials, Professional or Enterprise"
_NO_REFUNDS = "there are no refunds for the current term"

# Upgrades from a trial are R6, from a free or cancelled account a reactivation (R17).
_UPGRADE_RULE: dict[Status, str] = {
    Status.ACTIVE_TRIAL: "R6",
    Status.EXPIRED_TRIAL: "R6",
    Status.FREE: "R17",
    Status.PENDING_CANCELLATION: "R17",
}


def decide(kind: RequestType, account: Account | None, change: Change) -> Verdict:
    """Whether `kind` may be asked now for `account`, and what approval would do.
    `account` may be None only for an MAU allowance order, which is the MSP's."""
    if kind is RequestType.MAU_ALLOWANCE_ORDER:
        return _order_mau(change)
    if account is None:
        raise ValueError(f"A {kind.label.lower()} request needs the customer's account.")
    if account.status not in ALLOWED_STATUSES[kind]:
        return _status_refusal(kind, account)
    return _DECIDERS[kind](account, change)


def preview(kind: RequestType, account: Account | None) -> Verdict:
    """The rules for `kind` on this account before its details are given (the
    request form shows them): refused when it cannot be asked at all (the status,
    the renewal date, a past-due balance, nothing left to change), or refused with
    `schedule_for` when only a later renewal is still open. `decide` checks the
    details once they are given."""
    if kind is RequestType.MAU_ALLOWANCE_ORDER:
        return _now("R19", "More MAU allowance for the MSP is ordered once approved.")
    if account is None:
        raise ValueError(f"A {kind.label.lower()} request needs the customer's account.")
    if account.status not in ALLOWED_STATUSES[kind]:
        return _status_refusal(kind, account)
    previews = _PREVIEWS.get(kind)
    if previews is None:
        return _DECIDERS[kind](account, Change())
    return previews(account)


def recheck(kind: RequestType, account: Account | None, *, effective: date | None) -> Verdict:
    """At approval: whether what was asked may still happen. The notice rules were
    met when it was asked (R10: asking in time is what counts, however long the
    approver takes); what can change meanwhile is the account's status (another
    request applied, the trial ended), a past-due balance (R14), and an effective
    date that went by while the request waited."""
    if kind is RequestType.MAU_ALLOWANCE_ORDER:
        return _still_allowed(kind)
    if account is None:
        return _refuse(kind.rule, "The customer of this request no longer exists.")
    if account.status not in ALLOWED_STATUSES[kind]:
        return _status_refusal(kind, account)
    if kind is RequestType.CANCEL and account.past_due:
        return _past_due_refusal()
    if kind is RequestType.DELETE_ACCOUNT:
        # Its 30 days count from the approval; but the account may have become paid.
        paid_term = in_active_paid_term(
            status=account.status, renewal_date=account.renewal_date, today=account.today
        )
        return _refuse_deletion_in_term(account) if paid_term else _still_allowed(kind)
    if effective is not None and effective < account.today:
        return _refuse(
            kind.rule,
            sentence(
                "This request was to take effect on {effective}, which has passed while it "
                "waited: deny it and ask again.",
                effective=effective,
            ),
        )
    return _still_allowed(kind)


def _still_allowed(kind: RequestType) -> Verdict:
    return Verdict(allowed=True, rule=kind.rule, reason=Sentence())


def require(verdict: Verdict) -> Verdict:
    """The verdict when allowed; otherwise `RuleBroken` with its reason and date."""
    if not verdict.allowed:
        raise RuleBroken(
            verdict.reason, rule=verdict.rule, earliest=verdict.earliest or verdict.schedule_for
        )
    return verdict


def extended_trial_end(trial_end: date | None, *, today: date, days: int) -> date:
    """R7: the new last active day (R4: `trial_end` is the last day). An extension
    adds `days` active days after the trial's last day, or from today (day 1) for a
    trial that has already ended, so an expired trial gets the days it was granted
    rather than days already past."""
    yesterday = today - timedelta(days=1)
    last = yesterday if trial_end is None else max(trial_end, yesterday)
    return last + timedelta(days=days)


def notice_deadline(renewal: date) -> date:
    """The last day to ask for a change at `renewal` (R10, R12, R13, R14)."""
    return renewal - timedelta(days=NOTICE_DAYS)


def free_limit_warnings(account: Account) -> tuple[str, ...]:
    """R15: what a person should know before the account becomes free."""
    if account.users <= FREE_MAX_USERS and account.data_used_gb <= FREE_MAX_DATA_GB:
        return ()
    return (
        f"Once free, the account will be over the free limits ({FREE_MAX_USERS} users, "
        f"{FREE_MAX_DATA_GB} GB): it has {_count(account.users, 'user')} and "
        f"{_gigabytes(account.data_used_gb)} of data. Remove users or data before the "
        "term ends, or it will stop showing data.",
    )


# ---------------------------------------------------------------- verdicts


def _refuse(
    rule: str,
    reason: Sentence | str,
    *,
    earliest: date | None = None,
    schedule_for: date | None = None,
    deadline: date | None = None,
    warnings: tuple[str, ...] = (),
) -> Verdict:
    return Verdict(
        allowed=False,
        rule=rule,
        reason=_sentence(reason),
        earliest=earliest,
        schedule_for=schedule_for,
        deadline=deadline,
        warnings=warnings,
    )


def _now(
    rule: str,
    reason: Sentence | str,
    *,
    quote_needed: bool = False,
    proration: Proration | None = None,
) -> Verdict:
    return Verdict(
        allowed=True,
        rule=rule,
        reason=_sentence(reason),
        timing=Timing.NOW,
        quote_needed=quote_needed,
        proration=proration,
    )


def _sentence(reason: Sentence | str) -> Sentence:
    """A reason without dates may be written as plain text; it is taken as it is."""
    return reason if isinstance(reason, Sentence) else Sentence.literal(reason)


def _count(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def _gigabytes(size: float) -> str:
    return f"{size:,.2f}".rstrip("0").rstrip(".") + " GB"


def _money(amount: Decimal | None) -> str:
    return f"${amount or 0:,.2f}"


def _on_renewal(account: Account) -> Sentence:
    if account.renewal_date is None:
        return Sentence.literal("at its renewal date")
    return sentence("on {day}", day=account.renewal_date)


# ---------------------------------------------------------------- shared checks


def _status_refusal(kind: RequestType, account: Account) -> Verdict:
    status = account.status
    if status is Status.DELETED:
        return _refuse(kind.rule, "This account is deleted: no request can change it.")
    if status is Status.SCHEDULED_DELETION:
        return _refuse(
            kind.rule,
            "This account is scheduled for deletion: reverse the scheduled deletion first.",
        )
    if status is Status.PENDING_CANCELLATION:
        ends = _on_renewal(account)
        if kind is RequestType.CANCEL:
            return _refuse(
                kind.rule,
                sentence(
                    "This account is already cancelled: its paid plan ends {ends} and it "
                    "becomes free then.",
                    ends=ends,
                ),
            )
        return _refuse(
            kind.rule,
            sentence(
                "{needs}; this account is pending cancellation, so its paid plan ends {ends} "
                "anyway.",
                needs=_NEEDS[kind],
                ends=ends,
            ),
        )
    return _refuse(kind.rule, f"{_NEEDS[kind]}; this account is {_STATUS_WORDS[status]}.")


def current_renewal(account: Account) -> date | None:
    """The renewal date ending the current term. A plan that renews moves on to its
    next renewal on the day it comes, so a renewal date that has come is read as
    the next one until the renewal job has stored it."""
    renewal = account.renewal_date
    renews = account.status is Status.PAID and account.term is not None
    if renewal is None or renewal > account.today or not renews:
        return renewal
    assert account.term is not None
    return next_renewal(account.contract_start or renewal, account.term, account.today)


# Commercial figures belong to the billing system or an owner's correction.
WHO_SETS_BILLING_DATA = (
    "the MSP's billing system sends it (POST /api/v1/accounts), or an owner corrects it "
    "with Correct billing data on the customer's card"
)


def _renewal(kind: RequestType, account: Account, *, future: bool) -> date | Verdict:
    """The renewal date, or the refusal when there is none to count from. Rules that
    prorate (`future`) need one that has not passed."""
    renewal = current_renewal(account)
    if renewal is None:
        return _refuse(
            kind.rule,
            f"This paid account has no renewal date: {WHO_SETS_BILLING_DATA}.",
        )
    if future and renewal <= account.today:
        return _refuse(
            kind.rule,
            sentence(
                "The renewal date on the customer ({renewal}) is not in the future: {who}.",
                renewal=renewal,
                who=WHO_SETS_BILLING_DATA,
            ),
        )
    return renewal


def _open_renewal(account: Account, renewal: date) -> date:
    """The first renewal from `renewal` on whose notice window is still open today:
    the next renewal when this one is too close, or further on when the renewal date
    on the customer is stale by more than a term."""
    if account.term is not None and account.contract_start is not None:
        while account.today > notice_deadline(renewal):
            renewal = next_renewal(account.contract_start, account.term, renewal)
        return renewal
    term = term_months(account.contract_start, renewal)
    terms = 0
    while account.today > notice_deadline(add_months(renewal, term * terms)):
        terms += 1
    return add_months(renewal, term * terms)


def _at_renewal(
    kind: RequestType,
    account: Account,
    *,
    asked: str,
    what: str,
    warnings: tuple[str, ...] = (),
) -> Verdict:
    """R10, R12, R13, R14: asked at least NOTICE_DAYS before the renewal (exactly
    NOTICE_DAYS is in time), taking effect on it, with no refund for the term.
    Too late, the change can only be for a later renewal, which the person may ask
    for now (`schedule_for`)."""
    renewal = _renewal(kind, account, future=False)
    if isinstance(renewal, Verdict):
        return renewal
    deadline = notice_deadline(renewal)
    if account.today <= deadline:
        return Verdict(
            allowed=True,
            rule=kind.rule,
            reason=sentence(
                "{what} on {renewal}, the renewal date; {no_refunds}.",
                what=what,
                renewal=renewal,
                no_refunds=_NO_REFUNDS,
            ),
            timing=Timing.AT_RENEWAL,
            effective=renewal,
            deadline=deadline,
            warnings=warnings,
        )
    later = _open_renewal(account, renewal)
    return _refuse(
        kind.rule,
        sentence(
            "{asked} must be asked for {notice} days before renewal ({renewal}); the next "
            "window closes on {deadline}, for the renewal on {later}.",
            asked=asked,
            notice=NOTICE_DAYS,
            renewal=renewal,
            deadline=notice_deadline(later),
            later=later,
        ),
        earliest=later,
        schedule_for=later,
        deadline=notice_deadline(later),
        warnings=warnings,
    )


def _add_ons_on(account: Account) -> set[str]:
    """The catalog keys of the add-ons on the account, stored by key or label."""
    return {key for name in account.add_ons if (key := add_on_key(name)) is not None}


def _asked_add_on(account: Account, change: Change, *, on_account: bool) -> str | Verdict:
    """The catalog key of the add-on asked for, or the refusal when it is unknown or
    is not (`on_account`) or is already on the account."""
    key = None if change.add_on is None else add_on_key(change.add_on)
    if key is None:
        return _refuse("R13", f"Choose an add-on: {' or '.join(ADD_ONS.values())}.")
    if (key in _add_ons_on(account)) is not on_account:
        where = "is not on" if on_account else "is already on"
        return _refuse("R13", f"{ADD_ONS[key]} {where} this account.")
    return key


def _current_rank(account: Account) -> int:
    """A free or trial account ranks lowest whatever plan its record still names."""
    return _PLAN_RANK[account.plan] if account.status in _PAYING else 0


# ---------------------------------------------------------------- the rules


def _extend_trial(account: Account, change: Change) -> Verdict:
    days = DEFAULT_EXTENSION_DAYS if change.extension_days is None else change.extension_days
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        return _refuse(
            "R7", f"A trial can be extended by 1 to {MAX_EXTENSION_DAYS} days at a time."
        )
    end = extended_trial_end(account.trial_end, today=account.today, days=days)
    return _now(
        "R7",
        sentence(
            "The trial is extended by {days}: approved today, it ends on {end}.",
            days=_count(days, "day"),
            end=end,
        ),
    )


def _move_up(account: Account, change: Change, *, rule: str) -> Verdict:
    """R6, R11, R17: to a higher paid plan, at once; Enterprise needs a quote."""
    target = change.target_plan
    if target is None or target not in PAID_PLANS:
        return _refuse(rule, f"Choose the paid plan to move to: {_PAID_CHOICES}.")
    if _PLAN_RANK[target] <= _current_rank(account):
        return _refuse(
            rule,
            f"{_compared(account, target, 'above')}: moving to a lower plan is a downgrade "
            f"request, which takes effect at renewal with {NOTICE_DAYS} days' notice.",
        )
    seats = change.licence_count
    if seats is not None and not 1 <= seats <= MAX_LICENCES:
        return _refuse(rule, f"The number of seats must be between 1 and {MAX_LICENCES:,}.")
    withdrawn = (
        " The cancellation is withdrawn too."
        if account.status is Status.PENDING_CANCELLATION
        else ""
    )
    if target is Plan.ENTERPRISE:
        if seats is None:
            return _refuse("R11", "Enterprise needs a quote: give the number of seats for it.")
        return _now(
            "R11",
            f"Enterprise needs a quote: the request asks for one for {_count(seats, 'seat')}; "
            f"approve it once the customer has accepted the quote, and the plan changes "
            f"then.{withdrawn}",
            quote_needed=True,
        )
    with_seats = f" with {_count(seats, 'licence')}" if seats else ""
    return _now(
        rule,
        f"The account moves to {target.label}{with_seats} as soon as the request is "
        f"approved.{withdrawn}",
    )


def _compared(account: Account, target: Plan, direction: str) -> str:
    """Why `target` is the wrong way: the same plan, or not `direction` the current one."""
    if target is account.plan:
        return f"This account is already on {target.label}"
    return f"{target.label} is not {direction} {account.plan.label}"


def _upgrade(account: Account, change: Change) -> Verdict:
    return _move_up(account, change, rule=_UPGRADE_RULE.get(account.status, "R11"))


def _reactivate(account: Account, change: Change) -> Verdict:
    """R17: a free account reactivates by upgrading; a cancelled one by withdrawing
    the cancellation (or by upgrading, which withdraws it too)."""
    cancelled = account.status is Status.PENDING_CANCELLATION
    if cancelled and change.target_plan in (None, account.plan):
        return _now(
            "R17",
            sentence(
                "The cancellation is withdrawn: the {plan} plan renews {renews} as before.",
                plan=account.plan.label,
                renews=_on_renewal(account),
            ),
        )
    return _move_up(account, change, rule="R17")


def _add_licences(account: Account, change: Change) -> Verdict:
    """R9: at any time, charged for the rest of the term so all licences co-term."""
    kind = RequestType.ADD_LICENCES
    renewal = _renewal(kind, account, future=True)
    if isinstance(renewal, Verdict):
        return renewal
    count = change.licence_count
    if count is None or count < 1:
        return _refuse(kind.rule, "Give how many licences to add (at least 1).")
    room = max(0, MAX_LICENCES - account.licences)
    if count > room:
        return _refuse(
            kind.rule,
            f"An account can have at most {MAX_LICENCES:,} licences; this one has "
            f"{account.licences:,}, so at most {room:,} more.",
        )
    charge = added_licences_charge(
        count=count,
        unit_price=account.unit_price,
        term=account.term,
        today=account.today,
        renewal=renewal,
        contract_start=account.contract_start,
    )
    return _now(
        kind.rule,
        sentence(
            "Adds {count} at once: {charge} for the {days} left of the term, so all "
            "licences renew on {renewal}.",
            count=_count(count, "licence"),
            charge=_money(charge.amount),
            days=_count(charge.days_left, "day"),
            renewal=renewal,
        ),
        proration=charge,
    )


def _decrease_licences(account: Account, change: Change) -> Verdict:
    """R10: only at renewal, with notice; no refunds."""
    kind = RequestType.DECREASE_LICENCES
    total = change.licence_count
    if total is None or total < 1:
        return _refuse(kind.rule, "Give the number of licences for the next term (at least 1).")
    if total >= account.licences:
        return _refuse(
            kind.rule,
            f"That is not a decrease: the account has {_count(account.licences, 'licence')} now.",
        )
    warnings: tuple[str, ...] = ()
    if total < account.users:
        warnings = (
            f"{_count(account.users, 'user')} are in use, more than the {total:,} licences "
            "asked for: remove users before the renewal.",
        )
    return _at_renewal(
        kind,
        account,
        asked="Licence decreases",
        what=f"The account goes from {account.licences:,} to {_count(total, 'licence')}",
        warnings=warnings,
    )


def _downgrade(account: Account, change: Change) -> Verdict:
    """R12: to a lower paid plan, only at renewal, with notice. Free is a cancellation."""
    kind = RequestType.DOWNGRADE
    target = change.target_plan
    if target is Plan.FREE:
        return _refuse(kind.rule, "Moving to the free plan is a cancellation: ask to cancel.")
    if target is None or target not in PAID_PLANS:
        return _refuse(kind.rule, f"Choose the paid plan to move down to: {_PAID_CHOICES}.")
    if _PLAN_RANK[target] >= _current_rank(account):
        return _refuse(
            kind.rule,
            f"{_compared(account, target, 'below')}: moving to a higher plan is an upgrade "
            "request, which applies at once.",
        )
    return _at_renewal(
        kind,
        account,
        asked="Downgrades",
        what=f"The account moves from {account.plan.label} to {target.label}",
    )


def _add_add_on(account: Account, change: Change) -> Verdict:
    """R13: for every user, at once, prorated by the vendor to co-term."""
    key = _asked_add_on(account, change, on_account=False)
    if isinstance(key, Verdict):
        return key
    return _add_on_from_now(account, ADD_ONS[key])


def _add_on_from_now(account: Account, label: str) -> Verdict:
    kind = RequestType.ADD_ADDON
    renewal = _renewal(kind, account, future=True)
    if isinstance(renewal, Verdict):
        return renewal
    share = prorate(
        today=account.today,
        renewal=renewal,
        contract_start=account.contract_start,
        term=account.term,
        monthly_amount=None,
    )
    return _now(
        kind.rule,
        sentence(
            "{label} applies to every user at once and co-terms with the plan: it is "
            "prorated for the {days} left of the term and renews with it on {renewal}.",
            label=label,
            days=_count(share.days_left, "day"),
            renewal=renewal,
        ),
        proration=share,
    )


def _remove_add_on(account: Account, change: Change) -> Verdict:
    """R13: only at renewal, with notice; no refunds."""
    key = _asked_add_on(account, change, on_account=True)
    if isinstance(key, Verdict):
        return key
    return _at_renewal(
        RequestType.REMOVE_ADDON,
        account,
        asked="Add-on removals",
        what=f"{ADD_ONS[key]} is removed",
    )


def _past_due_refusal() -> Verdict:
    return _refuse(
        RequestType.CANCEL.rule,
        "This account has a past-due balance: settle the past-due balance first, then "
        "ask to cancel.",
    )


def _cancel(account: Account, change: Change) -> Verdict:
    """R14: with notice, at the end of the term, then free (R15 limits); never while
    a balance is past due."""
    kind = RequestType.CANCEL
    if account.past_due:
        return _past_due_refusal()
    return _at_renewal(
        kind,
        account,
        asked="Cancellations",
        what="The paid plan ends with its term and the account becomes free",
        warnings=free_limit_warnings(account),
    )


def _delete_account(account: Account, change: Change) -> Verdict:
    """R16: never during a paid term (cancel, then ask after it ends); otherwise
    completed after a delay during which any admin can reverse it."""
    kind = RequestType.DELETE_ACCOUNT
    today = account.today
    if in_active_paid_term(status=account.status, renewal_date=account.renewal_date, today=today):
        return _refuse_deletion_in_term(account)
    on = today + timedelta(days=DELETION_DELAY_DAYS)
    return Verdict(
        allowed=True,
        rule=kind.rule,
        reason=sentence(
            "The account is deleted {delay} days after approval (approved today, on {on}); "
            "until then any admin can reverse it.",
            delay=DELETION_DELAY_DAYS,
            on=on,
        ),
        timing=Timing.AFTER_DELAY,
        effective=on,
    )


def _refuse_deletion_in_term(account: Account) -> Verdict:
    """The earliest a deletion can be asked is when the paid term can end: the
    renewal for a cancelled plan or one still in its notice window, else later."""
    kind = RequestType.DELETE_ACCOUNT
    renewal = _renewal(kind, account, future=False)
    if isinstance(renewal, Verdict):
        return renewal
    if account.status is Status.PENDING_CANCELLATION:
        return _refuse(
            kind.rule,
            sentence(
                "An account cannot be deleted during its paid term: it is already cancelled, "
                "so ask again once the term ends on {renewal}.",
                renewal=renewal,
            ),
            earliest=renewal,
        )
    ends = _open_renewal(account, renewal)
    return _refuse(
        kind.rule,
        sentence(
            "An account cannot be deleted during its paid term: cancel the plan first, then "
            "ask again after the term ends (on {ends} at the soonest).",
            ends=ends,
        ),
        earliest=ends,
    )


def _remove_expired_trial(account: Account, change: Change) -> Verdict:
    return _now("R8", "The expired trial is removed as soon as the request is approved.")


def _order_mau(change: Change) -> Verdict:
    """R19: the MSP's own allowance; who may order (owners) is the service's check."""
    quantity = change.mau_quantity
    if quantity is None or quantity < 1:
        return _refuse("R19", "Give how much MAU allowance to order (at least 1).")
    if quantity > MAX_ORDER_QUANTITY:
        return _refuse("R19", f"One order can be for at most {MAX_ORDER_QUANTITY:,} MAU.")
    return _now(
        "R19",
        f"Orders {quantity:,} more MAU allowance for the MSP as soon as the request is approved.",
    )


_DECIDERS: dict[RequestType, Callable[[Account, Change], Verdict]] = {
    RequestType.TRIAL_EXTENSION: _extend_trial,
    RequestType.UPGRADE: _upgrade,
    RequestType.ADD_LICENCES: _add_licences,
    RequestType.DECREASE_LICENCES: _decrease_licences,
    RequestType.DOWNGRADE: _downgrade,
    RequestType.ADD_ADDON: _add_add_on,
    RequestType.REMOVE_ADDON: _remove_add_on,
    RequestType.CANCEL: _cancel,
    RequestType.REACTIVATE: _reactivate,
    RequestType.DELETE_ACCOUNT: _delete_account,
    RequestType.REMOVE_EXPIRED_TRIAL: _remove_expired_trial,
}


# ---------------------------------------------------------------- previews (no details yet)


def _preview_move_up(account: Account) -> Verdict:
    rule = _UPGRADE_RULE.get(account.status, "R11")
    if _current_rank(account) >= _PLAN_RANK[Plan.ENTERPRISE]:
        return _refuse(rule, "This account is already on Enterprise, the highest plan.")
    return _now(
        rule,
        "The account moves to the plan chosen as soon as the request is approved "
        "(Enterprise once the customer has accepted its quote).",
    )


def _preview_reactivate(account: Account) -> Verdict:
    if account.status is Status.PENDING_CANCELLATION:
        return _reactivate(account, Change())
    return _preview_move_up(account)


def _preview_add_licences(account: Account) -> Verdict:
    """The rule and what one licence costs (its proration), not a quote for a count
    nobody has typed yet."""
    kind = RequestType.ADD_LICENCES
    if account.licences >= MAX_LICENCES:
        return _refuse(
            kind.rule, f"This account already has the most licences allowed ({MAX_LICENCES:,})."
        )
    one = _add_licences(account, Change(licence_count=1))
    renewal = current_renewal(account)
    if not one.allowed or one.proration is None or renewal is None:
        return one
    return replace(
        one,
        reason=sentence(
            "Licences are added as soon as the request is approved, at {charge} each for the "
            "{days} left of the term, so all licences renew together on {renewal}.",
            charge=_money(one.proration.amount),
            days=_count(one.proration.days_left, "day"),
            renewal=renewal,
        ),
    )


def _preview_decrease_licences(account: Account) -> Verdict:
    kind = RequestType.DECREASE_LICENCES
    if account.licences <= 1:
        return _refuse(kind.rule, "This account has 1 licence: there are none to decrease.")
    return _at_renewal(
        kind, account, asked="Licence decreases", what="The new number of licences applies"
    )


def _preview_downgrade(account: Account) -> Verdict:
    kind = RequestType.DOWNGRADE
    if _current_rank(account) <= _PLAN_RANK[Plan.ESSENTIALS]:
        return _refuse(
            kind.rule,
            "Essentials is the lowest paid plan: to move to the free plan, ask to cancel.",
        )
    return _at_renewal(kind, account, asked="Downgrades", what="The lower plan applies")


def _preview_add_add_on(account: Account) -> Verdict:
    if _add_ons_on(account) >= set(ADD_ONS):
        return _refuse("R13", "Every add-on is already on this account.")
    return _add_on_from_now(account, "The add-on")


def _preview_remove_add_on(account: Account) -> Verdict:
    if not _add_ons_on(account):
        return _refuse("R13", "This account has no add-ons to remove.")
    return _at_renewal(
        RequestType.REMOVE_ADDON, account, asked="Add-on removals", what="The add-on is removed"
    )


# The types whose details decide whether they can be asked at all; the others are
# previewed by deciding them with no details.
_PREVIEWS: dict[RequestType, Callable[[Account], Verdict]] = {
    RequestType.UPGRADE: _preview_move_up,
    RequestType.REACTIVATE: _preview_reactivate,
    RequestType.ADD_LICENCES: _preview_add_licences,
    RequestType.DECREASE_LICENCES: _preview_decrease_licences,
    RequestType.DOWNGRADE: _preview_downgrade,
    RequestType.ADD_ADDON: _preview_add_add_on,
    RequestType.REMOVE_ADDON: _preview_remove_add_on,
}


# ---------------------------------------------------------------- at renewal

AT_RENEWAL = frozenset(
    {
        RequestType.DECREASE_LICENCES,
        RequestType.DOWNGRADE,
        RequestType.REMOVE_ADDON,
        RequestType.CANCEL,
    }
)


def recheck_at_renewal(kind: RequestType, account: Account, change: Change) -> Verdict:
    """On the renewal date, just before a scheduled change applies: whether it still
    may. The notice was given when it was asked (R10, R12-R14); what can have
    changed since is the account itself (its status, plan, licences, add-ons, a
    past-due balance), by another change or a correction from billing."""
    if kind is RequestType.CANCEL:
        if account.status is not Status.PENDING_CANCELLATION:
            return _refuse(
                kind.rule,
                f"The account is {_STATUS_WORDS[account.status]}, no longer pending cancellation.",
            )
        return _past_due_refusal() if account.past_due else _still_allowed(kind)
    if account.status is not Status.PAID:
        return _status_refusal(kind, account)
    if kind is RequestType.DECREASE_LICENCES:
        total = change.licence_count or 0
        if not 1 <= total < account.licences:
            return _refuse(
                kind.rule,
                f"The account has {_count(account.licences, 'licence')} now, so "
                f"{total:,} is no longer a decrease.",
            )
    elif kind is RequestType.DOWNGRADE:
        target = change.target_plan
        if target is None or _PLAN_RANK[target] >= _current_rank(account):
            compared = _compared(account, target or account.plan, "below")
            return _refuse(kind.rule, f"{compared} any more.")
    elif kind is RequestType.REMOVE_ADDON:
        key = _asked_add_on(account, change, on_account=True)
        if isinstance(key, Verdict):
            return key
    return _still_allowed(kind)
