"""Distribution mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set): workspaces
install the app through /slack/install, and each one's bot token is kept by
slack_sdk's SQLAlchemy installation store on our own engine (the tables are in
storage/models.py and migration 0011), encrypted with MSPBOT_ENCRYPTION_KEY
(storage/installation_store.py).

Authorization is cached: a workspace's `auth.test` answer is remembered per token,
so a request costs one indexed read of the store, not a call to Slack. Tokens are
rotated before they expire (when the app has token rotation on), by Bolt for
requests and by the delivery worker for what it sends (bot/delivery/tokens.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.delivery.tokens import (
    ROTATE_MINUTES_BEFORE_EXPIRY,
    InstalledBotTokens,
    SharedTokenRotator,
)
from storage.encryption import TokenCipher
from storage.engine import Database
from storage.installation_store import EncryptedInstallationStore

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRATION_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Installs:
    store: EncryptedInstallationStore
    state_store: AsyncSQLAlchemyOAuthStateStore
    rotator: SharedTokenRotator  # shared by Bolt (requests) and the delivery worker
    tokens: InstalledBotTokens
    client_id: str
    client_secret: str


def build_installs(settings: Settings, db: Database, client: AsyncWebClient) -> Installs:
    client_id = settings.slack_client_id
    keys = settings.encryption_key
    assert client_id is not None and keys is not None, "only called in distribution mode"
    store = EncryptedInstallationStore(
        client_id=client_id,
        engine=db.engine,
        cipher=TokenCipher.from_setting(keys),
        logger=logging.getLogger("slack_sdk.oauth"),
    )
    state_store = AsyncSQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS,
        engine=db.engine,
        logger=logging.getLogger("slack_sdk.oauth"),
    )
    rotator = SharedTokenRotator(
        store=store, client_id=client_id, client_secret=settings.client_secret, client=client
    )
    return Installs(
        store=store,
        state_store=state_store,
        rotator=rotator,
        tokens=InstalledBotTokens(store=store, rotator=rotator),
        client_id=client_id,
        client_secret=settings.client_secret,
    )


def oauth_settings(
    settings: Settings, installs: Installs, callbacks: AsyncCallbackOptions
) -> AsyncOAuthSettings:
    return AsyncOAuthSettings(
        client_id=installs.client_id,
        client_secret=installs.client_secret,
        scopes=list(settings.slack_scopes),
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=settings.slack_authorize_url,
        callback_options=callbacks,
        installation_store=installs.store,
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE_EXPIRY,
        state_store=installs.state_store,
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        logger=logging.getLogger("slack_bolt.oauth"),
    )


def cached_authorize(installs: Installs, client: AsyncWebClient) -> AsyncInstallationStoreAuthorize:
    authorize = AsyncInstallationStoreAuthorize(
        installation_store=installs.store,
        client_id=installs.client_id,
        client_secret=installs.client_secret,
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE_EXPIRY,
        bot_only=True,
        cache_enabled=True,
        client=client,
        logger=logging.getLogger("slack_bolt.authorize"),
    )
    # Bolt's own rotator would fail a request that lost a rotation race to another
    # replica; ours takes the winner's token instead.
    authorize.token_rotator = installs.rotator
    return authorize
