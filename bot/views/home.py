"""The App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
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
from bot.domain.roles import article, what_you_can_do
from bot.domain.subcommands import Subcommand
from bot.ids import ActionId, BlockId
from bot.results.dashboard import Dashboard
from bot.views.dashboard import TITLE, dashboard_blocks
from bot.views.limits import MAX_SURFACE_BLOCKS, checked_blocks
from bot.views.mrkdwn import join, mrkdwn, slack_time
from bot.views.notices import not_staff_text

MAX_SECTION_TEXT = 3000


def _first_steps(command: str, *, may_add: bool) -> list[Block]:
    """What a new MSP does first, in order, each a click or one command away."""
    steps = [
        mrkdwn(
            "*1. Add your customers*: one at a time with *Add customer*, or a whole book "
            "from a CSV file (your operator runs `msp-bot customers import`)."
        ),
        mrkdwn(
            "*2. Get alerts where you work*: `{command} subscribe #channel alerts` in a "
            "channel, or *Subscribe to alerts*.",
            command=command,
        ),
        mrkdwn(
            "*3. Choose who approves requests*: `{command} settings approvals #channel`.",
            command=command,
        ),
    ]
    buttons = [ButtonElement(text="Subscribe to alerts", action_id=ActionId.SUBSCRIPTION_NEW)]
    if may_add:
        buttons.insert(
            0,
            ButtonElement(
                text="Add customer", action_id=ActionId.HOME_ADD_CUSTOMER, style="primary"
            ),
        )
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=mrkdwn(":wave: *First steps*\n{steps}", steps=join("\n", steps))
            )
        ),
        ActionsBlock(elements=buttons),
    ]


def home_view(
    *,
    board: Dashboard | None,
    command: str,
    ask: Sequence[str] = (),
    viewer: str | None = None,
) -> dict[str, Any]:
    """The Home tab: the dashboard for staff (`board`), how to get access for others
    (`ask`: the owners and admins to ask). `viewer`: whose tab it is (their own
    requests say "you" and offer Withdraw)."""
    blocks: list[Block] = [HeaderBlock(block_id=BlockId.HOME_HEADER, text=TITLE)]
    if board is None:
        blocks.append(
            SectionBlock(
                block_id=BlockId.HOME_BODY, text=MarkdownTextObject(text=not_staff_text(ask))
            )
        )
    else:
        scope = "the whole MSP" if board.whole_msp else "the customers assigned to you"
        blocks.append(
            ContextBlock(
                block_id=BlockId.HOME_BODY,
                elements=[
                    MarkdownTextObject(
                        text=f"You are {article(board.role)} *{board.role.label}*: "
                        f"{what_you_can_do(board.role)} · Figures for {scope} "
                        f"as of {slack_time(board.as_of)}"
                    )
                ],
            )
        )
        may_add = subcommands.may_use(board.role, Subcommand.ADD)
        new_msp = board.customers == 0 and board.whole_msp
        if new_msp:
            blocks += _first_steps(command, may_add=may_add)
        # Add customer once: in the first steps while there are none.
        blocks += dashboard_blocks(board, may_add_customers=may_add and not new_msp, viewer=viewer)
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                block_id=BlockId.HOME_ACTIONS,
                text=MarkdownTextObject(
                    text=mrkdwn(
                        "Everything else is a command, in any channel or in this app's Messages "
                        "tab: `{command} help` lists what you can do, by task.",
                        command=command,
                    )
                ),
                accessory=ButtonElement(text="Refresh", action_id=ActionId.HOME_REFRESH),
            )
        )
    view = View(type="home", blocks=blocks).to_dict()
    view["blocks"] = checked_blocks(view["blocks"], limit=MAX_SURFACE_BLOCKS)
    return view
