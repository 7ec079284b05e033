"""room for encrypted slack tokens

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-15 09:00:00.000000

Distribution mode keeps each workspace's Slack tokens (and an incoming webhook URL,
which is a credential too) encrypted with MSPBOT_ENCRYPTION_KEY (storage/encryption.py).
A Fernet token is longer than the text it hides (a 200-character token becomes about
360 characters), so these columns become unbounded text. Encrypting the rows already
stored is not done here: the key is in the settings, not the migration's reach, so
`msp-bot run` and `msp-bot db upgrade` do it right after migrating.

Downgrading below this revision narrows the columns again, which PostgreSQL refuses
while encrypted tokens are stored (they are longer than 200 characters).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SECRET_COLUMNS = {
    "slack_bots": ("bot_token", "bot_refresh_token"),
    "slack_installations": (
        "bot_token",
        "bot_refresh_token",
        "user_token",
        "user_refresh_token",
        "incoming_webhook_url",
    ),
}
_PLAIN_TYPE = sa.String(length=200)


def upgrade() -> None:
    for table, columns in _SECRET_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=_PLAIN_TYPE, type_=sa.Text(), existing_nullable=True
                )


def downgrade() -> None:
    for table, columns in _SECRET_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=_PLAIN_TYPE, existing_nullable=True
                )
