"""Settings: the only place that reads the environment (and `.env`).

Secrets are `SecretStr`, so printing or logging a `Settings` never shows them.
"""

from __future__ import annotations

import re
import zoneinfo
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.net_guard import allow_list, literal_address
from storage.encryption import invalid_keys, split_keys

README_CONFIG_HINT = "See the Configuration section of README.md."
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")

# The bot scopes of app-manifest.yml (tests/test_manifest.py keeps them in step): what
# an OAuth install asks for.
BOT_SCOPES = ("commands", "chat:write", "files:write", "im:write", "channels:join", "users:read")

ENCRYPTION_KEY_VARIABLE = "MSPBOT_ENCRYPTION_KEY"
NEW_KEY_HINT = "`msp-bot secrets new-key` prints a new key"
# The error type of a variable that is required only in some configurations.
_REQUIRED_HERE = "required_here"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # An error about the whole configuration would otherwise quote every value,
        # secrets included.
        hide_input_in_errors=True,
    )

    # Optional here so database and role commands work without Slack credentials;
    # `load_settings(require_slack=True)` insists on them for serving.
    slack_bot_token: SecretStr | None = Field(default=None, description="Bot token (xoxb-...)")
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Signing secret of the Slack app"
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="App-level token (xapp-...); set it to use Socket Mode"
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Web API base URL")
    # Distribution mode (several workspaces install the app through OAuth): both set.
    # Each workspace's bot token is then kept in the database, not in SLACK_BOT_TOKEN.
    slack_client_id: str | None = Field(
        default=None, description="Client ID of the Slack app; with the secret: OAuth install mode"
    )
    slack_client_secret: SecretStr | None = Field(
        default=None, description="Client secret of the Slack app (OAuth install mode)"
    )
    slack_scopes: Annotated[tuple[str, ...], NoDecode] = Field(
        default=BOT_SCOPES,
        description="Comma-separated bot scopes asked for at install (app-manifest.yml's)",
    )
    slack_redirect_uri: str | None = Field(
        default=None,
        description="Public https://.../slack/oauth_redirect (else the app's configured one)",
    )
    slack_authorize_url: str = Field(
        default="https://slack.com/oauth/v2/authorize",
        description="Where /slack/install sends people to approve the install",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./msp-bot.db",
        description="SQLAlchemy URL: SQLite (aiosqlite) or postgresql+asyncpg://user:pass@host/db",
    )
    host: str = Field(default="0.0.0.0", description="Address the HTTP server listens on")
    port: int = Field(default=3000, ge=0, le=65535, description="Port the HTTP server listens on")
    mspbot_owners: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated Slack user ids; the first to use the bot owns a new MSP",
    )
    mspbot_timezone: str = Field(
        default="UTC", description="IANA time zone for new MSPs and for the scheduler"
    )
    mspbot_role_cache_seconds: float = Field(
        default=10.0, ge=0, le=300, description="How long a replica remembers a person's role"
    )
    # How often each replica looks for MSPs whose Home tabs need redrawing.
    mspbot_home_refresh_seconds: float = Field(
        default=5.0, ge=1, le=3600, description="How often stale Home tabs are redrawn"
    )
    mspbot_request_sweep_seconds: float = Field(
        default=300.0,
        ge=1,
        le=86400,
        description="How often scheduled request changes are applied and requests expired",
    )
    # How often each replica looks for notices that are due (trials, renewals, MAU,
    # reminders, digests); each is sent once whatever the number of replicas.
    mspbot_notice_sweep_seconds: float = Field(
        default=300.0, ge=1, le=86400, description="How often due notices are looked for"
    )
    # Signs the outgoing webhooks: each MSP's key is HMAC-SHA256(this, team id), so
    # the database holds no secret. Unset: no MSP can set a webhook URL.
    mspbot_webhook_secret: SecretStr | None = Field(
        default=None, description="Master secret the webhooks' signing keys derive from"
    )
    # Webhooks go only to public addresses; these hosts (the operator's own, on
    # premises) may be at any address and may use plain http.
    mspbot_webhook_allow_hosts: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated hosts of the operator's own that webhooks may reach at "
        "any address, also over http",
    )
    # Distribution mode keeps each workspace's Slack tokens in the database, encrypted
    # with the first of these keys; any of them decrypts (so a key can be rotated).
    mspbot_encryption_key: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys encrypting the stored Slack tokens (the "
        "first encrypts, all decrypt); required with SLACK_CLIENT_ID",
    )
    # With it, GET /metrics wants `Authorization: Bearer <this>`; without, it is open.
    mspbot_metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token a Prometheus scrape must send"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: LogFormat = Field(
        default=LogFormat.TEXT,
        description="text for people, json (one object a line) for collectors",
    )

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("slack_client_id")
    @classmethod
    def _client_id_not_blank(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @field_validator(
        "slack_signing_secret",
        "slack_client_secret",
        "mspbot_webhook_secret",
        "mspbot_metrics_token",
        "mspbot_encryption_key",
    )
    @classmethod
    def _secret_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("mspbot_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        bad = invalid_keys(value.get_secret_value())
        if bad:
            raise ValueError(
                f"not a Fernet key: {', '.join(bad)} (a key is 32 random bytes in URL-safe "
                f"base64; {NEW_KEY_HINT})"
            )
        return value

    @model_validator(mode="after")
    def _distribution_mode_encrypts_tokens(self) -> Settings:
        if self.oauth_install and self.mspbot_encryption_key is None:
            raise PydanticCustomError(
                _REQUIRED_HERE,
                "{variable} is required when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set: "
                "it encrypts the workspaces' Slack tokens in the database",
                {"variable": ENCRYPTION_KEY_VARIABLE},
            )
        return self

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        # slack_sdk joins base_url and the method name without adding a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("mspbot_owners", mode="before")
    @classmethod
    def _split_owner_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(
                part.strip() for part in value.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("mspbot_webhook_allow_hosts", mode="before")
    @classmethod
    def _split_allowed_hosts(cls, value: object) -> object:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple | set | frozenset):
            return value
        hosts = [str(entry).strip() for entry in entries if str(entry).strip()]
        odd = [host for host in hosts if not _is_bare_host(host)]
        if odd:
            raise ValueError(
                f"host names only (no scheme, port, path or wildcard), comma-separated: {odd[0]!r}"
            )
        return allow_list(hosts)

    @field_validator("mspbot_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from error
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth_install(self) -> bool:
        """Distribution mode: workspaces install through /slack/install (OAuth)."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def client_secret(self) -> str:
        if self.slack_client_secret is None:
            raise ConfigError(describe_problems(missing=["SLACK_CLIENT_SECRET"], invalid=[]))
        return self.slack_client_secret.get_secret_value()

    @property
    def bot_token(self) -> str:
        if self.slack_bot_token is None:
            raise ConfigError(describe_problems(missing=["SLACK_BOT_TOKEN"], invalid=[]))
        return self.slack_bot_token.get_secret_value()

    @property
    def signing_secret(self) -> str:
        if self.slack_signing_secret is None:
            raise ConfigError(describe_problems(missing=["SLACK_SIGNING_SECRET"], invalid=[]))
        return self.slack_signing_secret.get_secret_value()

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret's value: the logs never show them."""
        secrets = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.mspbot_webhook_secret,
            self.mspbot_metrics_token,
            self.mspbot_encryption_key,
        )
        values = tuple(s.get_secret_value() for s in secrets if s is not None)
        return values + tuple(split_keys(self.encryption_key or ""))

    @property
    def encryption_key(self) -> str | None:
        """The comma-separated Fernet keys; None when unset (one workspace only)."""
        if self.mspbot_encryption_key is None:
            return None
        return self.mspbot_encryption_key.get_secret_value()

    @property
    def metrics_token(self) -> str | None:
        if self.mspbot_metrics_token is None:
            return None
        return self.mspbot_metrics_token.get_secret_value()

    @property
    def webhook_secret(self) -> str | None:
        if self.mspbot_webhook_secret is None:
            return None
        return self.mspbot_webhook_secret.get_secret_value()

    def missing_for_serving(self) -> list[str]:
        return _missing_credentials(
            bot_token=self.slack_bot_token,
            signing_secret=self.slack_signing_secret,
            client_id=self.slack_client_id,
            client_secret=self.slack_client_secret,
        )


def _missing_credentials(
    *, bot_token: object, signing_secret: object, client_id: object, client_secret: object
) -> list[str]:
    """What serving still needs: the signing secret, and either the bot token (one
    workspace) or the client id and secret (distribution mode, tokens from installs)."""
    required: dict[str, object] = {"SLACK_SIGNING_SECRET": signing_secret}
    if client_id or client_secret:
        required["SLACK_CLIENT_ID"] = client_id
        required["SLACK_CLIENT_SECRET"] = client_secret
    else:
        required = {"SLACK_BOT_TOKEN": bot_token, **required}
    return [name for name, value in required.items() if not value]


def _is_bare_host(host: str) -> bool:
    """A host name or IP address, as the allow list wants it: no `https://`, no
    `:port`, no path, no `*`."""
    text = host.strip("[]")
    if ":" in text:
        return literal_address(text) is not None
    return bool(_HOST_NAME.fullmatch(text))


class ConfigError(Exception):
    """Configuration is missing or invalid; `str()` is the message for the operator."""


def load_settings(*, require_slack: bool = True, **overrides: object) -> Settings:
    """Read settings; report every missing or invalid variable in one message."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        missing, invalid = _sort_validation_errors(error)
        if require_slack:
            missing = _slack_variables_missing(overrides) + missing
        raise ConfigError(describe_problems(missing=missing, invalid=invalid)) from None
    if require_slack and settings.missing_for_serving():
        raise ConfigError(describe_problems(missing=settings.missing_for_serving(), invalid=[]))
    return settings


def _sort_validation_errors(error: ValidationError) -> tuple[list[str], list[str]]:
    missing: list[str] = []
    invalid: list[str] = []
    for item in error.errors():
        variable = str(item["loc"][0]).upper() if item["loc"] else "?"
        if item["type"] == _REQUIRED_HERE:
            missing.append(str(item.get("ctx", {}).get("variable", variable)))
        elif item["type"] == "missing":
            missing.append(variable)
        else:
            invalid.append(f"{variable}: {item['msg'].removeprefix('Value error, ')}")
    return missing, invalid


class _SlackCredentialsPresent(BaseSettings):
    """The two serving credentials read without validation, so a message about some
    other invalid variable can still name the missing ones too."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_client_id: str = ""
    slack_client_secret: str = ""


def _slack_variables_missing(overrides: dict[str, object]) -> list[str]:
    present = _SlackCredentialsPresent(
        **{k: v for k, v in overrides.items() if k in _SlackCredentialsPresent.model_fields}
    )
    return _missing_credentials(
        bot_token=present.slack_bot_token.strip(),
        signing_secret=present.slack_signing_secret.strip(),
        client_id=present.slack_client_id.strip(),
        client_secret=present.slack_client_secret.strip(),
    )


def describe_problems(*, missing: list[str], invalid: list[str]) -> str:
    lines = ["msp-bot cannot start: the configuration is incomplete."]
    if missing:
        lines.append("Missing environment variables: " + ", ".join(missing))
    if ENCRYPTION_KEY_VARIABLE in missing:
        lines.append(
            f"{ENCRYPTION_KEY_VARIABLE} encrypts the workspaces' Slack tokens in the database "
            f"(SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set); {NEW_KEY_HINT}."
        )
    if invalid:
        lines.append("Invalid environment variables:")
        lines.extend(f"  {line}" for line in invalid)
    lines.append("Set them in the environment or in a .env file. " + README_CONFIG_HINT)
    return "\n".join(lines)
