"""The `/msp` subcommands, who may use each, and "did you mean" for typos."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.roles import Role, a_role, roles_in_words
from bot.domain.typos import closest

ALL_ROLES = frozenset(Role)
ROLE_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
CUSTOMER_ADDERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
LICENCE_READERS = frozenset({Role.OWNER, Role.ADMIN})
REQUESTERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})


class Subcommand(StrEnum):
    HELP = "help"
    WHOAMI = "whoami"
    ROLES = "roles"
    ROLE = "role"
    ADD = "add"
    CUSTOMER = "customer"
    CUSTOMERS = "customers"
    EXPORT = "export"
    DELIVERY = "delivery"
    DASHBOARD = "dashboard"
    LICENCE = "licence"
    MAU = "mau"
    REQUEST = "request"
    REQUESTS = "requests"
    SETTINGS = "settings"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SUBSCRIPTIONS = "subscriptions"
    ALERTS = "alerts"


@dataclass(frozen=True, slots=True)
class SubcommandSpec:
    name: Subcommand
    usage: str
    summary: str
    allowed: frozenset[Role]


CATALOG: tuple[SubcommandSpec, ...] = (
    SubcommandSpec(
        Subcommand.HELP,
        "help [NAME]",
        "what you can do here; NAME: one command's whole syntax",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.DASHBOARD,
        "dashboard [share]",
        "the Command Center summary (share: preview it, then post it here with a click)",
        ALL_ROLES,
    ),
    SubcommandSpec(Subcommand.CUSTOMER, "customer NAME-OR-ACCOUNT", "a customer's card", ALL_ROLES),
    SubcommandSpec(
        Subcommand.CUSTOMERS,
        "customers [paid|trials|expired|free|all] [sort:name|trial|users] [TEXT]",
        "list customers, with totals",
        ALL_ROLES,
    ),
    SubcommandSpec(Subcommand.ADD, "add", "add a customer", CUSTOMER_ADDERS),
    SubcommandSpec(
        Subcommand.EXPORT,
        "export customers",
        "the customers you can see, as CSV, sent to your DM with me",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.MAU,
        "mau [CUSTOMER]",
        "monthly active users over 12 months, for you (post the chart here with a click)",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.LICENCE,
        "licence",
        "MAU allowance, overage, history and allowance orders",
        LICENCE_READERS,
    ),
    SubcommandSpec(
        Subcommand.REQUEST,
        "request TYPE CUSTOMER",
        "ask for a trial extension, upgrade, licence or plan change, cancellation or deletion",
        REQUESTERS,
    ),
    SubcommandSpec(
        Subcommand.REQUESTS,
        "requests [pending|scheduled|mine|all]",
        "requests and their outcomes (approvers review and decide from the list)",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.SETTINGS,
        "settings [approvals #channel|none] [self-approval on|off] [expiry DAYS] "
        "[webhook URL|off] [trial-notices 7,3,1] [timezone Europe/Berlin] [price 75]",
        "every setting of the MSP and how to change it: approvals, expiry, webhook, trial "
        "notices, time zone, new customers' price per licence",
        ROLE_MANAGERS,
    ),
    SubcommandSpec(
        Subcommand.ALERTS,
        "alerts [open|firing|acknowledged|snoozed|resolved|all] [severity>=LEVEL] [CUSTOMER]",
        "alerts, worst first, ten a page, filtered by status and severity; act on each "
        "row, or Acknowledge all / Resolve all",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.SUBSCRIBE,
        "subscribe [#channel|me] [alerts|trials|mau|requests|digest] [severity>=LEVEL] "
        "[customer=A,B] [not customer=C] [kind=X,Y] [quiet=22:00-07:00] [group=kind,10m]",
        "get alerts and notices here, in a channel or by DM, with filters",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.UNSUBSCRIBE,
        "unsubscribe #ID | the same words",
        "stop a subscription",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.SUBSCRIPTIONS,
        "subscriptions",
        "who gets which alerts and notices (Remove, New subscription)",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.DELIVERY, "delivery", "messages waiting and failed deliveries", ROLE_MANAGERS
    ),
    SubcommandSpec(Subcommand.WHOAMI, "whoami", "your role and what it lets you do", ALL_ROLES),
    SubcommandSpec(Subcommand.ROLES, "roles", "who has which role in this MSP", ALL_ROLES),
    SubcommandSpec(
        Subcommand.ROLE,
        "role @person owner|admin|approver|member|viewer|none",
        "give someone a role, change it, or remove them (none)",
        ROLE_MANAGERS,
    ),
)


class Task(StrEnum):
    """What people come to do; `/msp help` groups the commands by it."""

    CUSTOMERS = "Customers"
    REQUESTS = "Requests and approvals"
    ALERTS = "Alerts and notices"
    TEAM = "Your team and settings"


TASK_OF: dict[Subcommand, Task] = {
    Subcommand.DASHBOARD: Task.CUSTOMERS,
    Subcommand.CUSTOMERS: Task.CUSTOMERS,
    Subcommand.CUSTOMER: Task.CUSTOMERS,
    Subcommand.ADD: Task.CUSTOMERS,
    Subcommand.EXPORT: Task.CUSTOMERS,
    Subcommand.MAU: Task.CUSTOMERS,
    Subcommand.LICENCE: Task.CUSTOMERS,
    Subcommand.REQUEST: Task.REQUESTS,
    Subcommand.REQUESTS: Task.REQUESTS,
    Subcommand.ALERTS: Task.ALERTS,
    Subcommand.SUBSCRIBE: Task.ALERTS,
    Subcommand.SUBSCRIPTIONS: Task.ALERTS,
    Subcommand.UNSUBSCRIBE: Task.ALERTS,
    Subcommand.SETTINGS: Task.TEAM,
    Subcommand.ROLES: Task.TEAM,
    Subcommand.ROLE: Task.TEAM,
    Subcommand.WHOAMI: Task.TEAM,
    Subcommand.DELIVERY: Task.TEAM,
}

# Whole commands as people type them (after `/msp `), shown under their task and
# under their command's own help; each is shown only to whom may run it.
EXAMPLES: tuple[str, ...] = (
    "customer Acme",
    "customers trials sort:trial",
    "request extend Acme",
    "request add-licences Acme",
    "requests pending",
    "alerts open",
    "subscribe #noc alerts severity>=high",
    "subscribe me trials quiet=22:00-07:00",
    "role @ann approver",
    "settings approvals #approvals",
)


def examples_for(
    role: Role | None, *, task: Task | None = None, name: Subcommand | None = None
) -> list[str]:
    """The examples this role may run, of one task or one command."""
    shown = []
    for example in EXAMPLES:
        subcommand = Subcommand(example.split()[0])
        if not may_use(role, subcommand):
            continue
        if example.startswith("subscribe #") and role not in ROLE_MANAGERS:
            continue  # everyone subscribes themselves; only managers route a channel
        if task is not None and TASK_OF.get(subcommand) is not task:
            continue
        if name is not None and subcommand is not name:
            continue
        shown.append(example)
    return shown


def by_task(entries: list[SubcommandSpec]) -> list[tuple[Task, list[SubcommandSpec]]]:
    """The commands given, under their tasks, in the tasks' order (help itself is
    not listed: it is where the list is)."""
    return [
        (task, [entry for entry in entries if TASK_OF.get(entry.name) is task])
        for task in Task
        if any(TASK_OF.get(entry.name) is task for entry in entries)
    ]


def spec_of(subcommand: Subcommand) -> SubcommandSpec:
    return next(spec for spec in CATALOG if spec.name is subcommand)


# Words people type that mean a subcommand.
ALIASES: dict[str, Subcommand] = {
    "": Subcommand.HELP,
    "?": Subcommand.HELP,
    "me": Subcommand.WHOAMI,
    "license": Subcommand.LICENCE,
    "home": Subcommand.DASHBOARD,
    "alert": Subcommand.ALERTS,
}


def parse_subcommand(word: str) -> Subcommand | None:
    word = word.strip().lower()
    if word in ALIASES:
        return ALIASES[word]
    try:
        return Subcommand(word)
    except ValueError:
        return None


def available_to(role: Role | None) -> list[SubcommandSpec]:
    return [spec for spec in CATALOG if role in spec.allowed]


def may_use(role: Role | None, subcommand: Subcommand) -> bool:
    return any(spec.name == subcommand for spec in available_to(role))


def not_allowed_reason(role: Role | None, subcommand: Subcommand, *, what: str) -> str:
    """Why `role` may not use `what` (the command as the sentence names it), and who
    may: "You are a viewer, so you cannot use it: only owners and admins can."."""
    you = f"You are {a_role(role)}" if role is not None else "You have no role in this MSP"
    who = roles_in_words(spec_of(subcommand).allowed)
    return f"{you}, so you cannot use {what}: only {who} can."


def suggest(word: str) -> Subcommand | None:
    """The closest known subcommand to a mistyped word, if any is close enough."""
    match = closest(word, (spec.name.value for spec in CATALOG))
    return Subcommand(match) if match else None
