"""slack_sdk's SQLAlchemy installation store, with the credential columns encrypted.

The store's own tables get a column type that encrypts what is written and decrypts
what is read (storage/encryption.py), so every path through the store (saving an
install, Bolt's authorize finding a bot or an installation, the token rotators
saving and re-reading a rotated token) sees plain tokens and the database only
ciphertext. Nothing else reads these columns: storage/repositories/installs.py
only deletes rows, and storage/token_encryption.py works on the raw values.
"""

from __future__ import annotations

import logging

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.encryption import EncryptedText, TokenCipher
from storage.models import secret_columns


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    def __init__(
        self,
        *,
        client_id: str,
        engine: AsyncEngine,
        cipher: TokenCipher,
        logger: logging.Logger,
    ) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=logger)
        # The tables were just built in the store's own metadata and no statement
        # uses them yet: changing the columns' type here is seen by every query.
        for table in (self.bots, self.installations):
            for column in secret_columns(table):
                column.type = EncryptedText(cipher)
