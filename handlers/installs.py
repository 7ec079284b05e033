"""A workspace installing the app (distribution mode's OAuth callback) and
uninstalling it or revoking its token (events, in either mode)."""

from __future__ import annotations

import logging

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.response import BoltResponse

from bot.ids import EventType
from bot.services import installs
from handlers.deps import Deps
from handlers.payload_types import TokensRevokedEvent
from handlers.registry import Route

logger = logging.getLogger(__name__)

ORG_INSTALL_REFUSED = (
    "MSP Command Center is installed into one workspace at a time (each workspace is "
    "one MSP): install it into a workspace of your organisation, not organisation-wide."
)


INSTALL_NOT_RECORDED = "The install could not be recorded just now: please try again in a minute."


async def on_uninstalled(context: AsyncBoltContext, *, deps: Deps) -> None:
    await _uninstalled(deps, context, installs.APP_UNINSTALLED)


async def on_tokens_revoked(
    event: TokensRevokedEvent, context: AsyncBoltContext, *, deps: Deps
) -> None:
    # Only the bot's token matters: the app asks for no user tokens.
    if (event.get("tokens") or {}).get("bot"):
        await _uninstalled(deps, context, installs.TOKENS_REVOKED)


async def _uninstalled(deps: Deps, context: AsyncBoltContext, reason: str) -> None:
    team_id = context.team_id
    if not team_id:
        return
    async with deps.db.unit_of_work() as session:
        disabled = await installs.record_uninstall(
            session, team_id=team_id, reason=reason, now=deps.clock()
        )
    if deps.delivery.tokens is not None:
        deps.delivery.tokens.forget(team_id)
    if disabled:
        logger.info("workspace %s: %s, its MSP is disabled (data kept)", team_id, reason)


def install_callbacks(deps: Deps) -> AsyncCallbackOptions:
    """What happens after Slack hands the install back (slack_sdk has already saved
    the installation): the MSP, its new owner, Slack's success or failure page."""

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        if installation.team_id is None or installation.is_enterprise_install:
            return await _failure_page(args, ORG_INSTALL_REFUSED, status=400)
        try:
            async with deps.db.unit_of_work() as session:
                installed = await installs.record_install(
                    session,
                    team_id=installation.team_id,
                    team_name=installation.team_name,
                    installer_id=installation.user_id,
                    timezone=deps.default_timezone,
                    now=deps.clock(),
                )
        except Exception:  # the page must not be a traceback; installing again is safe
            logger.exception("recording the install of workspace %s failed", installation.team_id)
            return await _failure_page(args, INSTALL_NOT_RECORDED, status=500)
        deps.requesters.forget(installation.team_id, installation.user_id)
        if deps.delivery.tokens is not None:
            deps.delivery.tokens.forget(installation.team_id)
        logger.info(
            "workspace %s installed the app (MSP %d%s)",
            installation.team_id,
            installed.msp_id,
            ", enabled again" if installed.reenabled else "",
        )
        return await args.default.success(args)

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        # Slack's own page (status and a "try again" link); the reason is logged, as
        # it may be a state mismatch worth knowing about, never a token.
        logger.warning("an install did not complete: %s", args.reason)
        return await args.default.failure(args)

    return AsyncCallbackOptions(success=success, failure=failure)


async def _failure_page(args: AsyncSuccessArgs, reason: str, *, status: int) -> BoltResponse:
    """Slack's failure page ("try again") for an install slack_sdk itself accepted."""
    return await args.default.failure(
        AsyncFailureArgs(
            request=args.request,
            reason=reason,
            suggested_status_code=status,
            settings=args.settings,
            default=args.default,
        )
    )


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("event", EventType.APP_UNINSTALLED, on_uninstalled),
    Route("event", EventType.TOKENS_REVOKED, on_tokens_revoked),
)
