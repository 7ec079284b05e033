"""Unexpected errors: the person gets a short error id, the log gets the traceback."""

from __future__ import annotations

import logging
import re

from bot.domain.roles import Role
from bot.errors import RuleBroken
from tests.support import grant, post


async def test_unexpected_error_shows_an_error_id_that_is_logged(
    client, slack, db, monkeypatch, caplog
):
    await grant(db, "U0001", Role.OWNER)

    async def explode(*_args, **_kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr("bot.services.staff.list_staff", explode)
    with caplog.at_level(logging.ERROR):
        reply = await post(client, slack.slash_command("roles", user_id="U0001"))
    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    match = re.search(r"error id `([0-9a-f]{8})`", body["text"])
    assert match, body["text"]
    assert "secret internals" not in reply.text
    assert "Traceback" not in reply.text
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == match.group(1)]
    assert logged and logged[0].exc_info is not None


async def test_known_errors_become_friendly_messages(client, slack, db, monkeypatch):
    await grant(db, "U0001", Role.OWNER)

    async def refuse(*_args, **_kwargs):
        raise RuleBroken("Not <today>.", rule="R0")

    monkeypatch.setattr("bot.services.staff.list_staff", refuse)
    reply = await post(client, slack.slash_command("roles", user_id="U0001"))
    assert reply.json["text"] == ":no_entry: Not &lt;today&gt;."


async def test_database_failure_in_the_middleware_gets_an_error_id(client, slack, db, monkeypatch):
    async def down(*_args, **_kwargs):
        raise ConnectionError("db down")

    monkeypatch.setattr("handlers.middleware.resolve_requester", down)
    reply = await post(client, slack.slash_command("help", user_id="U0001"))
    assert reply.status == 200
    assert "error id" in reply.json["text"]


async def test_log_lines_carry_request_team_user_and_error_ids_and_never_a_secret(
    client, slack, db, monkeypatch, settings
):
    """The real logging setup (JSON), an error whose message holds every secret the
    bot is configured with: the line has the ids, and no secret."""
    import io
    import json

    from pydantic import SecretStr

    from bot.config import LogFormat
    from bot.logging_setup import configure_logging

    configured = settings.model_copy(
        update={
            "mspbot_webhook_secret": SecretStr("webhook-master-secret-42"),
            "mspbot_metrics_token": SecretStr("metrics-scrape-token-42"),
            "slack_client_secret": SecretStr("oauth-client-secret-42"),
        }
    )
    configured_secrets = configured.secret_values()
    # bot token, signing secret, client secret, webhook secret, metrics token
    assert len(configured_secrets) == 5
    # Distribution mode's tokens live in the database, not in the settings: a rotated
    # bot token and its refresh token are redacted by their shape.
    installed = ("xoxe.xoxb-1-T0ACME-77-abcdef", "xoxe-1-T0ACME-77-refresh")
    secrets = (*configured_secrets, *installed)
    stream = io.StringIO()
    configure_logging(
        level="INFO", log_format=LogFormat.JSON, secrets=configured_secrets, stream=stream
    )
    try:
        await grant(db, "U0001", Role.OWNER)

        async def explode(*_args, **_kwargs):
            raise RuntimeError("leaked: " + " | ".join(secrets))

        monkeypatch.setattr("bot.services.staff.list_staff", explode)
        reply = await post(client, slack.slash_command("roles", user_id="U0001"))
        error_id = re.search(r"error id `([0-9a-f]{8})`", reply.json["text"]).group(1)
    finally:
        logging.getLogger().handlers[:] = []
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [entry for entry in lines if entry.get("error_id") == error_id]
    assert line["team_id"] == slack.team_id and line["user_id"] == "U0001"
    assert re.fullmatch(r"[0-9a-f]{12}", line["request_id"])
    assert "[redacted-secret]" in line["traceback"] or "[redacted-token]" in line["traceback"]
    everything = stream.getvalue()
    for secret in secrets:
        assert secret not in everything
