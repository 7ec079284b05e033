"""Unexpected errors: the person gets a short error id, the log gets the traceback.
The database away (a restart): a message saying so, a 503 from the API."""

from __future__ import annotations

import logging
import re
import time
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.domain.alerts import AlertAction
from bot.domain.roles import Role
from bot.errors import RuleBroken
from bot.ids import ActionId, CallbackId
from bot.payloads import AlertChoice
from bot.views.customers import add_modal
from handlers.errors import DATABASE_UNAVAILABLE_IN_MODAL
from storage.engine import Database, DatabaseUnavailable, is_database_unavailable
from tests.drive import calls_to, post, post_json
from tests.fake_slack import RESPONSE_URL_CALL
from tests.forms import FORM_OPENED_ON, add_values
from tests.seed import grant, make_tenant


@pytest.fixture
def failing_command(client, slack, db, monkeypatch, caplog):
    """An owner's `/msp COMMAND` whose service raises `error`; logs captured."""

    async def run(error: Exception, command: str, service: str):
        await grant(db, "U0001", Role.OWNER)

        async def fail(*_args, **_kwargs):
            raise error

        monkeypatch.setattr(service, fail)
        with caplog.at_level(logging.WARNING):
            return await post(client, slack.slash_command(command, user_id="U0001"))

    return run


async def test_unexpected_error_shows_an_error_id_that_is_logged(failing_command, caplog):
    reply = await failing_command(
        ZeroDivisionError("secret internals"), "roles", "bot.services.staff.list_staff"
    )
    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    match = re.search(r"error id ([0-9a-f]{8})", body["text"])
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
        error_id = re.search(r"error id ([0-9a-f]{8})", reply.json["text"]).group(1)
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


# ---------------------------------------------------------------- the database away


class _Orig(Exception):
    """A driver error carrying a SQLSTATE, as asyncpg's do."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def _dbapi_error(sqlstate: str | None = None, *, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, _Orig(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (DatabaseUnavailable("cannot connect"), True),
        (_dbapi_error(invalidated=True), True),  # the connection died mid-statement
        (_dbapi_error("57P03"), True),  # the database system is starting up
        (_dbapi_error("57P01"), True),  # terminating connection (server shutting down)
        (_dbapi_error("08006"), True),  # connection failure
        (_dbapi_error("23505"), False),  # a unique violation is the statement's fault
        (_dbapi_error(None), False),
        (ConnectionError("a Slack call failed"), False),
        (ZeroDivisionError(), False),
    ],
)
def test_what_counts_as_the_database_being_away(error, unavailable):
    assert is_database_unavailable(error) is unavailable


async def test_a_refused_connection_says_the_database_is_unavailable():
    database = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # nothing listens
    try:
        with pytest.raises(DatabaseUnavailable):
            async with database.unit_of_work() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()


async def test_a_command_while_the_database_is_away_says_so(failing_command, caplog):
    reply = await failing_command(
        _dbapi_error("57P03"), "customers", "bot.services.customers.list_page"
    )
    assert reply.status == 200
    assert reply.json["response_type"] == "ephemeral"
    assert "The database is not answering" in reply.json["text"]
    error_id = re.search(r"error id ([0-9a-f]{8})", reply.json["text"]).group(1)
    [logged] = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert logged.levelno == logging.WARNING and logged.exc_info is None  # a line, no traceback
    assert "SELECT" not in logged.getMessage()


async def test_a_modal_submitted_while_the_database_is_away_keeps_what_was_typed(
    client, slack, db, monkeypatch
):
    await grant(db, "U0001", Role.OWNER)

    async def away(*_args, **_kwargs):
        raise _dbapi_error(invalidated=True)

    monkeypatch.setattr("bot.services.customers.add_form_defaults", away)
    blocks = add_modal(default_price=Decimal(75), today=FORM_OPENED_ON)["blocks"]
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER, values=add_values(), blocks=blocks
        ),
    )
    assert reply.status == 200
    first_input = next(block["block_id"] for block in blocks if block["type"] == "input")
    assert reply.json == {
        "response_action": "errors",
        "errors": {first_input: DATABASE_UNAVAILABLE_IN_MODAL},
    }


async def test_a_click_whose_work_fails_at_once_after_its_ack_is_still_acked(
    client, slack, db, fake_slack, monkeypatch
):
    """Bolt (1.30) forgets the ack of a listener that raises after acking; when the
    error comes before Bolt's next look for the ack (a refused connection fails in a
    millisecond), Slack got a 404 after 3 s instead (tests/resilience)."""
    await grant(db, "U0002", Role.ADMIN)

    async def away(*_args, **_kwargs):
        raise DatabaseUnavailable("cannot connect to the database")

    monkeypatch.setattr("bot.services.alert_actions.act", away)
    value = AlertChoice(alert_id=1, action=AlertAction.ACKNOWLEDGE).encode()
    started = time.monotonic()
    reply = await post(
        client,
        slack.block_actions(action_id=ActionId.ALERT_ACKNOWLEDGE, value=value, user_id="U0002"),
    )
    assert (reply.status, reply.text) == (200, "")
    assert time.monotonic() - started < 2.0
    [said] = await calls_to(fake_slack, RESPONSE_URL_CALL)
    assert "The database is not answering" in said.args["text"]


async def test_the_api_answers_503_while_the_database_is_away(client, db, clock, monkeypatch):
    tenant = await make_tenant(db, clock)

    async def away(*_args, **_kwargs):
        raise DatabaseUnavailable("cannot connect to the database")

    monkeypatch.setattr("bot.services.api_tokens.authenticate", away)
    alert = {"customer": "x", "kind": "disk", "severity": "high", "title": "Disk"}
    answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": [alert]})
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["ok"] is False and answer.json["error"] == "database_unavailable"
