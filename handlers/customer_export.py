"""`/msp export customers`: the customers the person may see, as CSV, sent to their
DM with the bot, never to the conversation it was typed in (guests from other
organisations and anyone else there could read it).

The ack says where it will arrive before anything is read; the file is then
written to a temporary file on disk a batch of customers at a time and streamed
to Slack, so neither the ack nor memory depends on the size of the MSP."""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import date
from typing import BinaryIO

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import direct_files
from bot.delivery.direct_files import NotDelivered, OutgoingFile, Step
from bot.delivery.limits import TierLimiter
from bot.errors import InvalidInput
from bot.services import customer_csv
from bot.services.tenancy import Requester
from bot.views import exports as views
from bot.views.message import Message
from handlers.kit import AnswerThen, Invocation
from storage.engine import Database

USAGE = "Usage: `/msp export customers`"
logger = logging.getLogger(__name__)


async def export_command(call: Invocation) -> AnswerThen:
    if not call.args or call.args[0].lower() != "customers":
        raise InvalidInput(USAGE)
    requester = call.requester

    async def send() -> None:
        await send_export(call, requester)

    return AnswerThen(views.export_preparing_message(), send)


async def send_export(call: Invocation, requester: Requester) -> None:
    """Build and send the export; if Slack refuses, tell the person why."""
    try:
        await export_to_dm(
            call.client,
            call.deps.delivery.sender.tiers,
            call.deps.db,
            requester,
            day=call.deps.clock().date(),
        )
    except NotDelivered as error:
        logger.warning("customer export not sent (%s: %s)", error.step, error.reason)
        if error.step == Step.OPEN_DM:
            await _tell(call, views.dm_unavailable_message(error.reason))
        else:
            await _tell(call, views.export_not_delivered_message(error.reason))


async def export_to_dm(
    client: AsyncWebClient, tiers: TierLimiter, db: Database, requester: Requester, *, day: date
) -> customer_csv.ExportSummary:
    """The DM is opened first (if it cannot be, nothing is read); the CSV is written
    to a temporary file, then streamed to Slack."""
    dm = await direct_files.open_direct_message(client, tiers, user_id=requester.user_id)
    with tempfile.TemporaryFile(prefix="msp-export-") as spool:
        summary = await _write_csv(db, requester, spool)
        outgoing = OutgoingFile(
            data=spool,
            length=spool.seek(0, io.SEEK_END),
            filename=views.export_filename(day),
            title=views.export_filename(day),
            initial_comment=views.export_comment(
                count=summary.count, day=day, whole_msp=summary.whole_msp
            ),
        )
        spool.seek(0)
        await direct_files.send_file(client, tiers, channel=dm, file=outgoing)
    return summary


async def _write_csv(
    db: Database, requester: Requester, spool: BinaryIO
) -> customer_csv.ExportSummary:
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    async with db.unit_of_work() as session:
        summary = await customer_csv.write_customers_csv(session, requester=requester, out=text)
    text.flush()
    text.detach()  # the spool stays open for the upload
    return summary


async def _tell(call: Invocation, message: Message) -> None:
    await call.respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
