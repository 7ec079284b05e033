"""The App Home tab."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.roles import ROLE_DESCRIPTIONS, Role
from bot.domain.subcommands import SubcommandSpec
from bot.ids import ActionId, BlockId
from bot.views.limits import MAX_SURFACE_BLOCKS, checked_blocks
from bot.views.notices import NOT_STAFF_TEXT


def home_view(
    *,
    role: Role | None,
    command: str,
    entries: list[SubcommandSpec],
    may_add_customers: bool = False,
) -> dict[str, Any]:
    blocks: list[Block] = [HeaderBlock(block_id=BlockId.HOME_HEADER, text="MSP Command Center")]
    if role is None:
        blocks.append(
            SectionBlock(block_id=BlockId.HOME_BODY, text=MarkdownTextObject(text=NOT_STAFF_TEXT))
        )
    else:
        lines = [f"`{command} {entry.usage}` — {entry.summary}" for entry in entries]
        blocks.append(
            SectionBlock(
                block_id=BlockId.HOME_BODY,
                text=MarkdownTextObject(
                    text=f"You are *{role.label}*: {ROLE_DESCRIPTIONS[role]}.\n\n"
                    + "\n".join(lines)
                ),
            )
        )
        if may_add_customers:
            blocks.append(
                ActionsBlock(
                    block_id=BlockId.HOME_ACTIONS,
                    elements=[
                        ButtonElement(
                            text="Add customer",
                            action_id=ActionId.HOME_ADD_CUSTOMER,
                            style="primary",
                        )
                    ],
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
