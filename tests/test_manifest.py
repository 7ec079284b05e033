"""app-manifest.yml is valid for Slack and matches the listeners, both ways."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.app import Bot
from bot.domain.roles import Role
from tests.drive import post
from tests.seed import grant

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "app-manifest.yml"
# Slack's schema, vendored with its licence so the tests need nothing outside the repo.
SCHEMA = ROOT / "tests" / "vendor" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_is_valid_against_slacks_schema(manifest):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_schema_check_would_catch_a_broken_manifest(manifest):
    schema = json.loads(SCHEMA.read_text())
    broken = {
        **manifest,
        "features": {**manifest["features"], "slash_commands": [{"command": "msp"}]},
    }
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def _manifest_commands(manifest: dict) -> set[str]:
    return {c["command"] for c in manifest["features"].get("slash_commands", [])}


def _manifest_events(manifest: dict) -> set[str]:
    return set(manifest["settings"].get("event_subscriptions", {}).get("bot_events", []))


def _manifest_shortcuts(manifest: dict) -> set[str]:
    return {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}


def test_every_listener_is_in_the_manifest_and_back(bot: Bot, manifest):
    listeners = bot.listeners
    assert listeners.names("command") == _manifest_commands(manifest)
    assert listeners.names("event") == _manifest_events(manifest)
    assert listeners.names("shortcut") == _manifest_shortcuts(manifest)


def test_commands_escape_mentions(manifest):
    for command in manifest["features"]["slash_commands"]:
        assert command.get("should_escape") is True, command["command"]


def test_interactive_listeners_need_interactivity(bot: Bot, manifest):
    interactive = {"action", "view", "shortcut", "options"}
    if any(kind in interactive for kind, _ in bot.listeners.registered):
        assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_home_tab_is_enabled_when_home_is_drawn(bot: Bot, manifest):
    if "app_home_opened" in bot.listeners.names("event"):
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True


async def test_each_manifest_command_and_event_is_routed(client, slack, db, manifest):
    """Bolt answers 404 to requests no listener matches: none of ours may get one."""
    await grant(db, "U0001", Role.OWNER)
    for command in _manifest_commands(manifest):
        reply = await post(client, slack.slash_command("help", command=command, user_id="U0001"))
        assert reply.status == 200, command
    for event in _manifest_events(manifest):
        reply = await post(client, slack.event({"type": event, "user": "U0001", "tab": "home"}))
        assert reply.status == 200, event


async def test_an_unlisted_command_is_not_routed(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("help", command="/not-ours", user_id="U0001"))
    assert reply.status == 404


def test_an_oauth_install_asks_for_the_manifests_bot_scopes(manifest):
    from bot.config import BOT_SCOPES

    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    redirects = manifest["oauth_config"]["redirect_urls"]
    assert [url.rsplit("/", 2)[-2:] for url in redirects] == [["slack", "oauth_redirect"]]
