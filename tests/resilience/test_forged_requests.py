"""A few hundred forged Slack requests at the running bot (`python -m bot run`,
HTTP mode, as an operator runs it), each trying to make it call an address the
sender chose (a local server standing for it):

- unsigned or badly signed: every unparseable, non-canonical, stale or repeated
  timestamp, and every missing, malformed, wrong or repeated signature, on a
  click whose response_url is that address;
- signed, with a response_url off Slack's hosts (that address, spelt four ways);
- signed, with a response_url on the fake Slack that redirects (302, 307) there.

Counted: the answers, every call that reached the address or the fake Slack,
tracebacks and the longest line in the bot's log, and whether any body got into
it. The bot is stopped gracefully before counting, so whatever it would have
sent has been sent. Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.drive import calls_to
from tests.fake_slack import RESPONSE_URL_CALL, FakeSlack
from tests.forged_requests import (
    BAD_SIGNATURES,
    BAD_TIMESTAMPS,
    RawRequest,
    click,
    click_with_response_url,
    foreign_response_urls,
    marker,
    raw,
    running_target,
)
from tests.slack_requests import SlackRequests
from tests.support import SIGNING_SECRET, TEAM_ID
from tests.test_server import _process_env, _wait_until_up, free_port

pytestmark = pytest.mark.resilience
TOTAL = int(os.environ.get("MSPBOT_FORGED_REQUESTS", "400"))
AT_ONCE = 8
OWNER = "U0002"
REDIRECTS = (302, 307)


async def test_forged_requests_make_the_running_bot_call_nobody(
    tmp_path: Path, fake_slack: FakeSlack, record_property
):
    word = marker()
    slack = SlackRequests(
        signing_secret=SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake_slack.hooks_base_url
    )
    port = free_port()
    env = _process_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.base_url,
        HOST="127.0.0.1",
        PORT=str(port),
        MSPBOT_OWNERS=OWNER,
        LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "bot.log"
    base = f"http://127.0.0.1:{port}"
    statuses: Counter[tuple[str, int]] = Counter()
    async with running_target() as target:
        forger = SlackRequests(
            signing_secret=SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=target.url
        )
        foreign = foreign_response_urls(target)
        kinds = (
            [f"forged: timestamp {form}" for form in BAD_TIMESTAMPS]
            + [f"forged: signature {form}" for form in BAD_SIGNATURES]
            + [f"signed: response_url {name}" for name in foreign]
            + [f"signed: response_url redirecting {status}" for status in REDIRECTS]
        )

        def request_for(kind: str) -> RawRequest:
            forged = click(forger, user_id=OWNER, name=f"alice\n{word}")
            form = kind.partition(": ")[2]
            if form.startswith("timestamp "):
                return raw(BAD_TIMESTAMPS[form.removeprefix("timestamp ")](forged))
            if form.startswith("signature "):
                return raw(BAD_SIGNATURES[form.removeprefix("signature ")](forged))
            if form.startswith("response_url redirecting "):
                status = int(form.rsplit(" ", 1)[1])
                fake_slack.redirect(RESPONSE_URL_CALL, to=f"{target.url}redirected", status=status)
                return raw(click(slack, user_id=OWNER))
            url = foreign[form.removeprefix("response_url ")]
            return raw(click_with_response_url(slack, url, user_id=OWNER))

        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=log, stderr=log
            )
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_until_up(session, f"{base}/healthz", process)
                # One valid click first: Bolt's one-off auth.test, the MSP created.
                body, headers = raw(click(slack, user_id=OWNER))
                async with session.post(f"{base}/slack/events", data=body, headers=headers) as r:
                    assert r.status == 200
                assert await calls_to(fake_slack, RESPONSE_URL_CALL)
                warm_up_calls = len(fake_slack.calls)

                async def fire(kind: str) -> None:
                    body, headers = request_for(kind)
                    async with session.post(
                        f"{base}/slack/events", data=body.encode(), headers=headers
                    ) as response:
                        await response.read()
                        statuses[(kind, response.status)] += 1

                for start in range(0, TOTAL, AT_ONCE):
                    batch = [
                        kinds[n % len(kinds)] for n in range(start, min(start + AT_ONCE, TOTAL))
                    ]
                    await asyncio.gather(*(fire(kind) for kind in batch))
            process.send_signal(signal.SIGTERM)  # a graceful stop finishes in-flight work
            await asyncio.wait_for(process.wait(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        hits = list(target.hits)

    log_text = log_path.read_text(errors="replace")
    calls_after = Counter(call.method for call in fake_slack.calls[warm_up_calls:])
    redirected = sum(n for (kind, _), n in statuses.items() if "redirecting" in kind)
    forged = sum(n for (kind, _), n in statuses.items() if kind.startswith("forged"))
    figures = {
        "requests": sum(statuses.values()),
        "forged": forged,
        "forged answered 401": sum(
            n
            for (kind, status), n in statuses.items()
            if kind.startswith("forged") and status == 401
        ),
        "calls to the forger's address": len(hits),
        "calls to the fake Slack": dict(calls_after),
        "tracebacks in the log": log_text.count("Traceback"),
        "bodies in the log": log_text.count(word),
        "longest log line": max(len(line) for line in log_text.splitlines()),
    }
    record_property("forged_requests", figures)
    print(f"\n{figures}")
    for (kind, status), count in sorted(statuses.items()):
        print(f"  {kind:<48} HTTP {status}: {count}")

    assert process.returncode == 0, log_text[-2000:]
    assert figures["forged answered 401"] == forged
    assert {status for (kind, status) in statuses if kind.startswith("signed")} == {200}
    assert hits == []
    # The only calls out: the redirected clicks' answers, each to the fake and not
    # followed further.
    assert calls_after == Counter({RESPONSE_URL_CALL: redirected})
    assert figures["tracebacks in the log"] == 0
    assert figures["bodies in the log"] == 0
    assert figures["longest log line"] < 1000
