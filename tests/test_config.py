"""Configuration: every missing or invalid variable named at once; secrets never shown."""

from __future__ import annotations

import logging

import pytest

from bot.config import ConfigError, LogFormat, Settings, load_settings
from bot.logging_setup import JsonFormatter, RedactingFilter, redact


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "DATABASE_URL",
        "PORT",
        "MSPBOT_OWNERS",
        "MSPBOT_TIMEZONE",
        "LOG_LEVEL",
        "LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_missing_credentials_are_named_together():
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "Missing environment variables: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in message
    assert "README" in message


def test_invalid_and_missing_are_reported_in_one_message(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setenv("MSPBOT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN" in message and "SLACK_SIGNING_SECRET" in message
    assert "PORT:" in message
    assert "MSPBOT_TIMEZONE: unknown time zone 'Mars/Olympus'" in message


def test_wrong_token_kinds_are_refused(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-wrong-kind")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in message
    assert "SLACK_APP_TOKEN: must be an app-level token starting with xapp-" in message
    assert "xapp-wrong-kind" not in message


def test_environment_and_dotenv_are_read(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nSLACK_SIGNING_SECRET=shh\n")
    monkeypatch.setenv("MSPBOT_OWNERS", "U1, U2;U3")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = load_settings()
    assert settings.bot_token == "xoxb-from-dotenv"
    assert settings.mspbot_owners == frozenset({"U1", "U2", "U3"})
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.log_format is LogFormat.JSON
    assert settings.port == 3000
    assert settings.database_url == "sqlite+aiosqlite:///./msp-bot.db"
    assert not settings.socket_mode


def test_socket_mode_follows_the_app_token(monkeypatch):
    settings = load_settings(
        slack_bot_token="xoxb-1", slack_signing_secret="s", slack_app_token="xapp-1"
    )
    assert settings.socket_mode


def test_database_commands_need_no_slack_credentials():
    assert load_settings(require_slack=False).slack_bot_token is None


def test_secrets_never_appear_in_repr_or_str():
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-very-secret",
        slack_signing_secret="signing-very-secret",
        slack_app_token="xapp-very-secret",
    )
    for shown in (repr(settings), str(settings), str(settings.model_dump())):
        assert "very-secret" not in shown


def test_logs_redact_anything_shaped_like_a_token():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "token is %s", ("xoxb-123-abc",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "token is [redacted-token]"
    assert redact("xapp-1-A0-abc and xoxp-9") == "[redacted-token] and [redacted-token]"
    assert redact("webhook key " + "ab12" * 16) == "webhook key [redacted-key]"
    assert '"message": "token is [redacted-token]"' in JsonFormatter().format(record)


def test_the_configuration_reference_in_operations_md_is_generated_from_settings():
    from pathlib import Path

    from bot.config_reference import config_reference

    doc = (Path(__file__).parent.parent / "docs" / "OPERATIONS.md").read_text()
    assert config_reference() in doc, "run `msp-bot config-reference` and paste it into the doc"
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in config_reference()
