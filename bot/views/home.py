"""The App Home tab."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain import subcommands
from bot.domain.roles import ROLE_DESCRIPTIONS
from bot.domain.subcommands import Subcommand
from bot.ids import ActionId, BlockId
from bot.results.dashboard import Dashboard
from bot.views.dashboard import TITLE, dashboard_blocks
from bot.views.help import command_line
from bot.views.limits import MAX_SURFACE_BLOCKS, checked_blocks
from bot.views.mrkdwn import clip, join, mrkdwn, slack_time
from bot.views.notices import NOT_STAFF_TEXT

MAX_SECTION_TEXT = 3000


def home_view(*, board: Dashboard | None, command: str) -> dict[str, Any]:
    """The Home tab: the dashboard for staff (`board`), how to get access for others."""
    blocks: list[Block] = [HeaderBlock(block_id=BlockId.HOME_HEADER, text=TITLE)]
    if board is None:
        blocks.append(
            SectionBlock(block_id=BlockId.HOME_BODY, text=MarkdownTextObject(text=NOT_STAFF_TEXT))
        )
    else:
        scope = "the whole MSP" if board.whole_msp else "the customers assigned to you"
        blocks.append(
            ContextBlock(
                block_id=BlockId.HOME_BODY,
                elements=[
                    MarkdownTextObject(
                        text=f"You are *{board.role.label}* "
                        f"({ROLE_DESCRIPTIONS[board.role]}) · figures for {scope} "
                        f"as of {slack_time(board.as_of)}"
                    )
                ],
            )
        )
        may_add = subcommands.may_use(board.role, Subcommand.ADD)
        blocks += dashboard_blocks(board, may_add_customers=may_add)
        lines = join("\n", (command_line(command, e) for e in subcommands.available_to(board.role)))
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                block_id=BlockId.HOME_ACTIONS,
                text=MarkdownTextObject(
                    text=clip(mrkdwn("*Commands*\n{lines}", lines=lines), MAX_SECTION_TEXT)
                ),
                accessory=ButtonElement(text="Refresh", action_id=ActionId.HOME_REFRESH),
            )
        )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Type these in any channel or in this app's Messages tab."
                    )
                ]
            )
        )
    view = View(type="home", blocks=blocks).to_dict()
    view["blocks"] = checked_blocks(view["blocks"], limit=MAX_SURFACE_BLOCKS)
    return view
