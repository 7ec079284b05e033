"""Text logs are one line per record whatever a request carries: control characters
in any field are escaped, so no input can forge a log line. Tracebacks keep their
own lines. JSON lines are safe by their encoding. Secrets stay redacted."""

from __future__ import annotations

import io
import json
import logging
import re
import traceback
from collections.abc import Iterator

import pytest

from bot.config import LogFormat
from bot.domain.roles import Role
from bot.logging_setup import configure_logging
from tests.drive import post
from tests.seed import grant
from tests.wait import settle

FORGED = "\n2026-12-07 INFO forged"
HEADER = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: "
)
# Everything str.splitlines() breaks on, and the other control characters.
CONTROLS = ["\n", "\r", "\r\n", "\t", "\x00", "\x0b", "\x0c", "\x1b", "\x1c", "\x1d", "\x1e"]
CONTROLS += ["\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def configured(caplog: pytest.LogCaptureFixture, log_format: LogFormat) -> Iterator[io.StringIO]:
    """The bot's own logging set-up writing to a string, with pytest's capture after it."""
    root, bolt = logging.getLogger(), logging.getLogger("slack_bolt")
    saved = (root.level, list(root.handlers), bolt.level, list(bolt.filters))
    stream = io.StringIO()
    configure_logging(level="INFO", log_format=log_format, secrets=("s3cret-value",), stream=stream)
    root.addHandler(caplog.handler)
    try:
        yield stream
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        bolt.setLevel(saved[2])
        bolt.filters[:] = saved[3]


@pytest.fixture
def text_log(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    yield from configured(caplog, LogFormat.TEXT)


@pytest.fixture
def json_log(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    yield from configured(caplog, LogFormat.JSON)


def physical_lines(text: str) -> list[str]:
    return text.splitlines()  # splits on every Unicode line boundary, as a viewer may


# ---------------------------------------------------------------- from a request


@pytest.mark.parametrize(
    "forged_field",
    ["command", "team_id"],  # the slash command's name (Bolt's "unhandled" warning);
    # another workspace's id (the refusal's warning, and the ids of every line)
)
async def test_a_command_carrying_a_forged_line_logs_one_line(
    text_log, caplog, client, slack, db, bot, forged_field
):
    await grant(db, "U0001", Role.OWNER)
    fields = (
        {"command": "/msp" + FORGED} if forged_field == "command" else {"team_id": "T1" + FORGED}
    )
    reply = await post(client, slack.slash_command("whoami" + FORGED, user_id="U0001", **fields))
    assert reply.status in (200, 404)  # an unknown command: Bolt's 404
    await settle(bot)

    written = text_log.getvalue()
    assert "forged" in written, written
    for line in physical_lines(written):
        assert HEADER.match(line), line
    assert "\\n2026-12-07 INFO forged" in written  # shown, escaped
    # pytest's own capture gets the records the bot's filter made safe.
    [record] = [r for r in caplog.records if "forged" in r.getMessage()]
    assert not LINE_BREAKS.search(record.getMessage())
    assert not any(line.startswith("2026-12-07 INFO") for line in caplog.text.splitlines())


# ---------------------------------------------------------------- every control character


@pytest.mark.parametrize(
    "control", CONTROLS, ids=["+".join(f"U+{ord(ch):04X}" for ch in c) for c in CONTROLS]
)
def test_each_control_character_is_escaped_in_message_args_and_ids(text_log, caplog, control):
    logger = logging.getLogger("tests.forgery")
    logger.warning(
        "message%s with %s",
        control,
        f"an arg{control}2026-12-07 INFO forged",
        extra={"error_id": f"e1{control}x", "team_id": f"T1{control}y"},
    )
    [line] = physical_lines(text_log.getvalue())
    assert HEADER.match(line)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", line)
    assert "forged" in line and "error_id=e1" in line and "team_id=T1" in line


def test_secrets_are_still_redacted_next_to_escapes(text_log):
    logging.getLogger("tests.forgery").warning("xoxb-1-2-abc\ns3cret-value\r\n")
    [line] = physical_lines(text_log.getvalue())
    assert line.endswith("[redacted-token]\\n[redacted-secret]\\r\\n")


# ---------------------------------------------------------------- tracebacks


def _raise_chained(inner: str, outer: str) -> None:
    try:
        raise KeyError(inner)
    except KeyError as error:
        raise ValueError(outer) from error


def test_a_traceback_keeps_its_lines_and_escapes_the_messages_in_it(text_log, caplog):
    try:
        _raise_chained("inner\u20282026-12-07 INFO forged", "outer" + FORGED)
    except ValueError:
        logging.getLogger("tests.forgery").exception("handling failed")
    lines = physical_lines(text_log.getvalue())
    assert HEADER.match(lines[0]) and lines[0].endswith("handling failed")
    assert lines.count("Traceback (most recent call last):") == 2
    assert any(line.startswith('  File "') for line in lines)
    assert "The above exception was the direct cause of the following exception:" in lines
    assert "KeyError: 'inner\\u20282026-12-07 INFO forged'" in lines
    assert "ValueError: outer\\n2026-12-07 INFO forged" in lines
    assert not any(line.startswith("2026-12-07 INFO") for line in lines)
    assert not any(line.startswith("2026-12-07 INFO") for line in caplog.text.splitlines())


def test_a_traceback_without_control_characters_is_pythons_own(text_log):
    try:
        try:
            _raise_chained("inner", "outer")
        except ValueError as error:
            raise RuntimeError("while cleaning up") from error.__context__
    except RuntimeError as error:
        expected = "".join(traceback.format_exception(error)).rstrip("\n")
        logging.getLogger("tests.forgery").exception("failed")
    written = text_log.getvalue().rstrip("\n")
    assert written.split("\n", 1)[1] == expected


# ---------------------------------------------------------------- JSON lines


def test_json_lines_are_one_line_each_and_keep_the_text_exactly(json_log):
    logger = logging.getLogger("tests.forgery")
    every = "".join(CONTROLS)
    logger.warning("a%sb", every, extra={"team_id": f"T1{every}"})
    try:
        raise ValueError("outer" + FORGED)
    except ValueError:
        logger.exception("boom%s", FORGED)
    lines = physical_lines(json_log.getvalue())
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == f"a{every}b" and first["team_id"] == f"T1{every}"
    assert second["message"] == "boom" + FORGED
    assert "ValueError: outer" + FORGED in second["traceback"]
