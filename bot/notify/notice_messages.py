"""How scheduled notices reach people: a message per conversation through the
outbox, in the sweep's transaction (so a notice is queued exactly when its key is
claimed). Coalescible: a morning with many trials ending in one channel becomes a
digest there rather than a minute of posts; a notice about a customer carries it in
its message metadata, so the digest can list it with its next steps."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.domain.notices import NoticeKind
from bot.results.notices import NoticeInfo
from bot.services.alert_routing import AlertNotifier
from bot.services.audience import Recipient
from bot.views.scheduled import notice_message, notice_metadata

# A digest is a message of its own, never merged into a busy channel's digest.
_DIGESTS = frozenset({NoticeKind.DAILY_DIGEST, NoticeKind.WEEKLY_SUMMARY})


class OutboxNoticeNotifier:
    """The `NoticeNotifier` the scheduler's jobs and the command line hand in."""

    def __init__(self, *, alerts: AlertNotifier) -> None:
        # The alerts a sweep raises (max-MAU reached) go the alerts' way.
        self.alerts = alerts

    async def post(
        self,
        session: AsyncSession,
        *,
        notices: Sequence[tuple[int, NoticeInfo, Sequence[Recipient]]],
    ) -> None:
        by_msp: dict[int, list[outbox.Post]] = {}
        for msp_id, notice, recipients in notices:
            message = notice_message(notice)
            metadata = notice_metadata(notice)
            by_msp.setdefault(msp_id, []).extend(
                outbox.Post(
                    key=outbox.new_key(f"notice:{notice.kind.value}"),
                    channel=recipient.channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_key=recipient.thread_of,
                    metadata=metadata,
                    coalescible=notice.kind not in _DIGESTS,
                    hold=recipient.hold,
                )
                for recipient in recipients
            )
        for msp_id, posts in by_msp.items():
            await outbox.post_messages(session, msp_id=msp_id, posts=posts)
