"""The MSP's settings. Its owners and admins decide where requests go for approval,
whether a person may approve their own (one-person MSPs), how long a request waits,
the webhook URL its decisions are POSTed to, when trial notices go out, its time
zone and the default monthly price of new customers (R18). What the vendor grants it
(maximum customers, seat allowance, trial length) is the operator's to set, from the
command line. Every change is audited (R22)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import msp_settings as setting_rules
from bot.domain import notices as notice_rules
from bot.domain.customers import (
    MAX_CUSTOMERS_OPTION,
    cents,
    from_cents,
)
from bot.domain.roles import Role
from bot.errors import InvalidInput, NotFound
from bot.net_guard import Destinations, Problem, Refusal
from bot.results.settings import Grants, MspSettings, SettingsChanged, SettingsOverview
from bot.services import audit
from bot.services.dashboard import billable_users
from bot.services.tenancy import Permission, Requester, msp_of, msp_of_team
from storage.models import Msp
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo

# Who may change the MSP's settings (the operator's grants are the CLI's).
CHANGE = Permission(
    frozenset({Role.OWNER, Role.ADMIN}),
    "Only owners and admins can change the MSP's settings.",
    "Only owners and admins can change the MSP's settings.",
)
MIN_EXPIRY_DAYS = 1
MAX_EXPIRY_DAYS = 90
MAX_WEBHOOK_URL_LENGTH = 500
WEBHOOK_EXAMPLE = "`/msp settings webhook https://psa.example.com/hooks/msp-bot`"
WEBHOOK_URL_NEEDED = (
    f"The webhook needs an https:// URL with a host, for example {WEBHOOK_EXAMPLE} "
    "(or `off` to stop it)."
)
PUBLIC_ONLY = "webhooks go only to public internet addresses."
WEBHOOK_SECRET_MISSING = (
    "Webhooks are off on this server: they are signed with MSPBOT_WEBHOOK_SECRET, which "
    "is not set. Ask the operator to set it and restart the bot, then try again."
)


TIMEZONE_EXAMPLE = "`/msp settings timezone Europe/Berlin`"
PRICE_EXAMPLE = "`/msp settings price 75`"


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None leaves a setting as it is. `clear_channel` removes the
    approvals channel (requests then go to the owners by DM); `clear_webhook` stops
    the webhook."""

    approvals_channel: str | None = None
    clear_channel: bool = False
    allow_self_approval: bool | None = None
    request_expiry_days: int | None = None
    webhook_url: str | None = None
    clear_webhook: bool = False
    trial_notice_days: tuple[int, ...] | None = None
    timezone: str | None = None
    default_monthly_price: Decimal | None = None

    @property
    def named(self) -> tuple[str, ...]:
        """The settings this change sets (MspSettings field names)."""
        given = {
            "approvals_channel": self.approvals_channel is not None or self.clear_channel,
            "allow_self_approval": self.allow_self_approval is not None,
            "request_expiry_days": self.request_expiry_days is not None,
            "webhook_url": self.webhook_url is not None or self.clear_webhook,
            "trial_notice_days": self.trial_notice_days is not None,
            "timezone": self.timezone is not None,
            "default_monthly_price": self.default_monthly_price is not None,
        }
        return tuple(name for name, set_here in given.items() if set_here)


@dataclass(frozen=True, slots=True)
class GrantsChange:
    """The operator's change; None leaves a grant as it is, `clear_seat_allowance`
    removes the seat allowance."""

    max_customers: int | None = None
    seat_allowance: int | None = None
    clear_seat_allowance: bool = False
    trial_days: int | None = None

    @property
    def empty(self) -> bool:
        return self == GrantsChange()


@dataclass(frozen=True, slots=True)
class GrantsChanged:
    before: Grants
    overview: SettingsOverview

    @property
    def changed(self) -> bool:
        return self.before != self.overview.grants


def _check_manager(requester: Requester) -> None:
    CHANGE.check(requester)


def _settings(msp: Msp) -> MspSettings:
    return MspSettings(
        approvals_channel=msp.approvals_channel,
        allow_self_approval=msp.allow_self_approval,
        request_expiry_days=msp.request_expiry_days,
        webhook_url=msp.webhook_url,
        trial_notice_days=msp.trial_notice_days,
        timezone=msp.timezone,
        default_monthly_price=from_cents(msp.default_monthly_price_cents),
    )


def _grants(msp: Msp) -> Grants:
    return Grants(
        max_customers=msp.max_customers,
        seat_allowance=msp.seat_allowance,
        trial_days=msp.trial_days,
    )


async def _overview(session: AsyncSession, msp: Msp) -> SettingsOverview:
    return SettingsOverview(
        team_id=msp.team_id,
        settings=_settings(msp),
        grants=_grants(msp),
        customers=await customer_repo.count_active(session, msp_id=msp.id),
        billable_users=await billable_users(session, msp_id=msp.id),
        mau_allowance=msp.mau_allowance,
    )


async def msp_settings(session: AsyncSession, *, requester: Requester) -> SettingsOverview:
    _check_manager(requester)
    return await _overview(session, await msp_of(session, requester))


def parse_trial_notice_days(text: str) -> tuple[int, ...]:
    try:
        return notice_rules.parse_trial_notice_days(text)
    except ValueError as error:
        raise InvalidInput(f"{error} For example `/msp settings trial-notices 7,3,1`.") from None


def parse_timezone(text: str) -> str:
    try:
        return setting_rules.parse_timezone(text, field="timezone")
    except InvalidInput as error:
        raise InvalidInput(f"{error.message} For example {TIMEZONE_EXAMPLE}.") from None


def parse_default_price(text: str) -> Decimal:
    try:
        return setting_rules.parse_default_price(text, field="price")
    except InvalidInput as error:
        raise InvalidInput(f"{error.message} For example {PRICE_EXAMPLE}.") from None


def parse_expiry_days(text: str) -> int:
    if not text.isdigit() or not MIN_EXPIRY_DAYS <= int(text) <= MAX_EXPIRY_DAYS:
        raise InvalidInput(
            f"Requests may wait {MIN_EXPIRY_DAYS} to {MAX_EXPIRY_DAYS} days; "
            "for example `/msp settings expiry 7`."
        )
    return int(text)


def parse_webhook_url(text: str) -> str:
    """An http(s) URL with a host, at most 500 characters. Where it may point (https
    to a public address, or a host the operator allows) is checked when it is set."""
    url = text.strip()
    if len(url) > MAX_WEBHOOK_URL_LENGTH:
        raise InvalidInput(
            f"That URL is {len(url):,} characters long; a webhook URL may have at most "
            f"{MAX_WEBHOOK_URL_LENGTH}."
        )
    if not _is_webhook_url(url):
        raise InvalidInput(WEBHOOK_URL_NEEDED)
    return url


def _is_webhook_url(url: str) -> bool:
    if any(character.isspace() for character in url):
        return False
    try:
        parts = urlsplit(url)
        host, _port = (parts.hostname or "").lower(), parts.port  # a bad port raises
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host)


async def change_settings(
    session: AsyncSession,
    *,
    requester: Requester,
    change: SettingsChange,
    now: datetime,
    webhooks_enabled: bool = False,
    webhook_destinations: Destinations | None = None,
) -> SettingsChanged:
    """`webhooks_enabled`: the server can sign webhooks (MSPBOT_WEBHOOK_SECRET is
    set); without it a webhook URL is refused, so none is set that cannot be sent.
    `webhook_destinations`: where a webhook may point (its host is looked up here,
    before the database is touched)."""
    _check_manager(requester)
    if change.webhook_url is not None and not webhooks_enabled:
        raise InvalidInput(WEBHOOK_SECRET_MISSING)
    if change.webhook_url is not None:
        await check_webhook_destination(change.webhook_url, webhook_destinations or Destinations())
    msp = await msp_of(session, requester)
    before = _settings(msp)
    if change.clear_channel:
        msp.approvals_channel = None
    elif change.approvals_channel is not None:
        msp.approvals_channel = change.approvals_channel
    if change.allow_self_approval is not None:
        msp.allow_self_approval = change.allow_self_approval
    if change.request_expiry_days is not None:
        msp.request_expiry_days = change.request_expiry_days
    if change.trial_notice_days is not None:
        msp.trial_notice_days = ",".join(str(days) for days in change.trial_notice_days)
    if change.clear_webhook:
        msp.webhook_url = None
    elif change.webhook_url is not None:
        msp.webhook_url = change.webhook_url
    if change.timezone is not None:
        msp.timezone = change.timezone
    if change.default_monthly_price is not None:
        msp.default_monthly_price_cents = cents(change.default_monthly_price)
    msp.updated_at = now
    after = _settings(msp)
    if after != before:
        await _audit(session, msp, requester.user_id, _plain(before), _plain(after), now)
    return SettingsChanged(
        before=before, overview=await _overview(session, msp), named=change.named
    )


async def _audit(
    session: AsyncSession,
    msp: Msp,
    actor: str,
    before: dict[str, object],
    after: dict[str, object],
    now: datetime,
) -> None:
    """R22: a settings change of the MSP, who made it, the settings before and after."""
    await audit_repo.append(
        session,
        msp_id=msp.id,
        actor=actor,
        action=audit.AuditAction.SETTINGS_UPDATED,
        entity_type="msp",
        entity_id=msp.team_id,
        before=before,
        after=after,
        at=now,
    )


async def check_webhook_destination(url: str, destinations: Destinations) -> None:
    """Refuse a webhook URL that points anywhere but a public address (every
    address its host resolves to now), unless the operator allows its host."""
    refusal = await destinations.refusal(url)
    if refusal is not None:
        raise InvalidInput(webhook_refusal_text(refusal))


def webhook_refusal_text(refusal: Refusal) -> str:
    host = f"`{refusal.host[:100]}`"
    allow_hint = (
        " If it is your own system on your premises, ask the operator of this bot to add "
        f"{host} to MSPBOT_WEBHOOK_ALLOW_HOSTS."
    )
    match refusal.problem:
        case Problem.NOT_HTTPS:
            return (
                f"{WEBHOOK_URL_NEEDED} Plain http:// goes only to hosts the operator allows "
                "(MSPBOT_WEBHOOK_ALLOW_HOSTS)."
            )
        case Problem.NOT_PUBLIC:
            what = _an(refusal.kind or "non-public")
            verb = "is" if refusal.literal else "resolves to"
            return f"The webhook URL's host {host} {verb} {what} address: {PUBLIC_ONLY}{allow_hint}"
        case Problem.ODD_SPELLING:
            return (
                f"The webhook URL's host {host} is an IP address in an unusual spelling: write "
                "it as four numbers from 0 to 255 separated by dots, or use the host's name."
            )
        case Problem.DOES_NOT_RESOLVE:
            return (
                f"The webhook URL's host {host} does not resolve to any address: check the "
                "name and try again."
            )
        case Problem.LOOKUP_TIMED_OUT:
            return f"Looking up the webhook URL's host {host} took too long: try again in a moment."
    return WEBHOOK_URL_NEEDED


def _an(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _plain(settings: MspSettings) -> dict[str, object]:
    return {
        "approvals_channel": settings.approvals_channel,
        "allow_self_approval": settings.allow_self_approval,
        "request_expiry_days": settings.request_expiry_days,
        "webhook_url": settings.webhook_url,
        "trial_notice_days": settings.trial_notice_days,
        "timezone": settings.timezone,
        "default_monthly_price": str(settings.default_monthly_price),
    }


async def webhook_of(session: AsyncSession, msp_id: int) -> tuple[str, str] | None:
    """The MSP's team id and the URL its request decisions are POSTed to, if it set one."""
    msp = await session.get(Msp, msp_id)
    if msp is None or not msp.webhook_url:
        return None
    return msp.team_id, msp.webhook_url


async def webhook_url_as_operator(session: AsyncSession, *, team_id: str) -> str | None:
    """For `msp-bot webhooks secret`: the MSP must exist (a mistyped team id would
    otherwise hand out a key nothing is signed with)."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(f"Workspace {team_id} has no MSP yet.")
    return msp.webhook_url


# ---------------------------------------------------------------- the operator's grants


async def settings_as_operator(session: AsyncSession, *, team_id: str) -> SettingsOverview:
    """For `msp-bot msp show`: every setting, the MSP must exist."""
    return await _overview(session, await msp_of_team(session, team_id))


async def change_grants_as_operator(
    session: AsyncSession, *, team_id: str, change: GrantsChange, now: datetime
) -> GrantsChanged:
    """For `msp-bot msp set`. The MSP's row is held first, as adding a customer holds
    it (`lock_customer_count`), so no customer is added between counting them and
    lowering the maximum: R3 holds after the change as before it."""
    msp = await msp_of_team(session, team_id)
    await msp_repo.lock_customer_count(session, msp_id=msp.id)
    await session.refresh(msp)  # as it stands now that it is held
    before = _grants(msp)
    if change.max_customers is not None:
        used = await customer_repo.count_active(session, msp_id=msp.id)
        setting_rules.check_max_customers(
            change.max_customers, used=used, field=MAX_CUSTOMERS_OPTION
        )
        msp.max_customers = change.max_customers
    if change.clear_seat_allowance:
        msp.seat_allowance = None
    elif change.seat_allowance is not None:
        msp.seat_allowance = change.seat_allowance
    if change.trial_days is not None:
        msp.trial_days = change.trial_days
    after = _grants(msp)
    if after != before:
        msp.updated_at = now
        await _audit(
            session, msp, audit.OPERATOR_ACTOR, _plain_grants(before), _plain_grants(after), now
        )
    return GrantsChanged(before=before, overview=await _overview(session, msp))


def _plain_grants(grants: Grants) -> dict[str, object]:
    return {
        "max_customers": grants.max_customers,
        "seat_allowance": grants.seat_allowance,
        "trial_days": grants.trial_days,
    }
