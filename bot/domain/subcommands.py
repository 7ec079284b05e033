"""The `/msp` subcommands, who may use each, and "did you mean" for typos."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.roles import Role
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
    SubcommandSpec(Subcommand.HELP, "help", "what you can do here", ALL_ROLES),
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
        "requests and their outcomes (approvers: Approve from the list)",
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
        "alerts [open|all] [CUSTOMER]",
        "alerts, worst first (Acknowledge, Resolve, Snooze from each row)",
        ALL_ROLES,
    ),
    SubcommandSpec(
        Subcommand.SUBSCRIBE,
        "subscribe [#channel|me] [alerts|trials|mau|requests|digest] [severity>=LEVEL] "
        "[customer=A,B] [not customer=C] [kind=X,Y] [quiet=22:00-07:00]",
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


def suggest(word: str) -> Subcommand | None:
    """The closest known subcommand to a mistyped word, if any is close enough."""
    match = closest(word, (spec.name.value for spec in CATALOG))
    return Subcommand(match) if match else None
