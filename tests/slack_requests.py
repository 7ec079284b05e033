"""Builders for the signed HTTP requests Slack sends to an app's Request URLs.

Each builder returns a `SignedRequest` whose body and headers are what Slack would POST:
slash commands as a form body, interactivity as a form body with one `payload=<json>` field,
and Events API callbacks as JSON, all signed with Slack's v0 scheme:

    X-Slack-Signature: v0=hex(hmac_sha256(signing_secret, f"v0:{timestamp}:{body}"))

Pass `timestamp=` to sign at another time (e.g. six minutes ago, to get a stale request). To
tamper with a request, use `dataclasses.replace(request, body=...)` or `headers={...}`.

Ids that Slack generates (trigger_id, action_ts, event_id...) come from a per-builder counter,
so two runs of the same test produce the same requests apart from the signing time.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["SignedRequest", "SlackRequests", "sign"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class SignedRequest:
    body: str
    headers: dict[str, str]  # Content-Type, X-Slack-Signature, X-Slack-Request-Timestamp
    payload: dict[str, Any]  # the logical payload (form fields, interactivity payload or event)


def sign(body: str, *, secret: str, timestamp: int) -> str:
    """Slack's v0 request signature, "v0=<hex>"."""
    basestring = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class SlackRequests:
    """Builds Slack's requests for one workspace and app, signed with `signing_secret`."""

    def __init__(
        self,
        *,
        signing_secret: str,
        team_id: str = "T0001",
        team_domain: str = "acme-msp",
        clock: Callable[[], float] = time.time,
        api_app_id: str = "A0001",
        bot_user_id: str = "UBOT",
        verification_token: str = "legacy-verification-token",
        hooks_base_url: str = "https://hooks.slack.com/",
    ) -> None:
        """`hooks_base_url` prefixes generated response_urls: point it at
        `FakeSlack.hooks_base_url` to let `respond()` reach the fake instead of the real Slack."""
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.clock = clock
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.verification_token = verification_token
        self.hooks_base_url = (
            hooks_base_url if hooks_base_url.endswith("/") else hooks_base_url + "/"
        )
        self._counter = itertools.count(1)

    # ------------------------------------------------------------------ slash commands

    def slash_command(
        self,
        text: str = "",
        *,
        user_id: str = "U0001",
        user_name: str = "alice",
        command: str = "/msp",
        channel_id: str = "C0001",
        channel_name: str = "general",
        trigger_id: str | None = None,
        response_url: str | None = None,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        team = team_id or self.team_id
        fields = {
            "token": self.verification_token,
            "team_id": team,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._response_url("commands", team),
            "trigger_id": trigger_id or self._trigger_id(),
        }
        return self._signed(urlencode(fields), FORM_CONTENT_TYPE, fields, timestamp)

    # ------------------------------------------------------------------ interactivity

    def block_actions(
        self,
        *,
        action_id: str,
        value: str | None = None,
        block_id: str = "b",
        user_id: str = "U0001",
        user_name: str = "alice",
        channel_id: str | None = "C0001",
        channel_name: str = "general",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        selected_option: dict[str, Any] | None = None,
        extra_action: dict[str, Any] | None = None,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """A click on an interactive element, in a view (if `view` is given) or a message.

        The action is a button unless `selected_option` is given (then a static_select);
        `extra_action` is merged last to set any other element type or field.
        """
        team = team_id or self.team_id
        action = self._action(action_id, block_id, value, selected_option, extra_action)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, user_name, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(),
            "team": self._team(team),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            full_view = self._view(view, team)
            payload["container"] = {"type": "view", "view_id": full_view["id"]}
            payload["view"] = full_view
            payload["state"] = full_view["state"]
        elif channel_id is not None:
            full_message = self._message(message, team)
            payload["container"] = {
                "type": "message",
                "message_ts": full_message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": channel_name}
            payload["message"] = full_message
            payload["state"] = {"values": {}}
            payload["response_url"] = self._response_url("actions", team)
        else:
            raise ValueError("block_actions needs a view or a channel_id")
        payload["actions"] = [action]
        return self._interactive(payload, timestamp)

    def view_submission(
        self,
        *,
        callback_id: str,
        values: Mapping[str, Mapping[str, Any]],
        private_metadata: str = "",
        user_id: str = "U0001",
        user_name: str = "alice",
        view_id: str = "V0001",
        hash: str = "1700000000.abcd1234",
        blocks: list[dict[str, Any]] | None = None,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """A modal submitted with `values` in Slack's state shape:
        `{block_id: {action_id: {"type": ..., "value" | "selected_option" | ...: ...}}}`.

        As a shortcut, a plain string leaf means a plain_text_input with that value.
        """
        team = team_id or self.team_id
        view = self._view(
            {
                "id": view_id,
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "hash": hash,
                "blocks": blocks or [],
                "state": {"values": _state_values(values)},
            },
            team,
        )
        payload = {
            "type": "view_submission",
            "team": self._team(team),
            "user": self._user(user_id, user_name, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp)

    def view_closed(
        self,
        *,
        callback_id: str,
        private_metadata: str = "",
        user_id: str = "U0001",
        user_name: str = "alice",
        view_id: str = "V0001",
        is_cleared: bool = False,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """Sent when a user closes a modal opened with notify_on_close=true."""
        team = team_id or self.team_id
        view = self._view(
            {
                "id": view_id,
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "notify_on_close": True,
            },
            team,
        )
        payload = {
            "type": "view_closed",
            "team": self._team(team),
            "user": self._user(user_id, user_name, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp)

    def global_shortcut(
        self,
        *,
        callback_id: str,
        user_id: str = "U0001",
        user_name: str = "alice",
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        team = team_id or self.team_id
        payload = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(team),
            "user": {"id": user_id, "username": user_name, "team_id": team},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(),
        }
        return self._interactive(payload, timestamp)

    def block_suggestion(
        self,
        *,
        action_id: str,
        value: str,
        block_id: str = "b",
        user_id: str = "U0001",
        user_name: str = "alice",
        view: dict[str, Any] | None = None,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """An external_select asking for options; `value` is what the user typed so far.

        Without `view`, the select is in a default modal (where such menus usually live).
        """
        team = team_id or self.team_id
        full_view = self._view(view or {}, team)
        payload = {
            "type": "block_suggestion",
            "user": self._user(user_id, user_name, team),
            "container": {"type": "view", "view_id": full_view["id"]},
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": self._team(team),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": full_view,
        }
        return self._interactive(payload, timestamp)

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        event: dict[str, Any],
        *,
        team_id: str | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> SignedRequest:
        """An `event_callback` envelope around `event` (given `event_ts` if it has none).

        `retry_num` adds Slack's X-Slack-Retry-Num / X-Slack-Retry-Reason headers, as on a
        redelivery after the app failed to answer in 3 seconds.
        """
        team = team_id or self.team_id
        signed_at = self._timestamp(timestamp)
        inner = dict(event)
        inner.setdefault("event_ts", f"{signed_at}.{self._next():06d}")
        envelope = {
            "token": self.verification_token,
            "team_id": team,
            "context_team_id": team,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._next():010d}",
            "event_time": signed_at,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        extra_headers = {}
        if retry_num is not None:
            extra_headers = {
                "X-Slack-Retry-Num": str(retry_num),
                "X-Slack-Retry-Reason": retry_reason,
            }
        return self._signed(
            _compact_json(envelope), JSON_CONTENT_TYPE, envelope, signed_at, extra_headers
        )

    def app_home_opened(
        self,
        *,
        user_id: str = "U0001",
        tab: str = "home",
        view: dict[str, Any] | None = None,
        team_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """`app_home_opened`; `view` is absent the first time a user opens the Home tab."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": tab,
        }
        if view is not None:
            event["view"] = self._view({"type": "home", **view}, team_id or self.team_id)
        return self.event(event, team_id=team_id, timestamp=timestamp)

    def url_verification(self, challenge: str, *, timestamp: int | None = None) -> SignedRequest:
        payload = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self._signed(_compact_json(payload), JSON_CONTENT_TYPE, payload, timestamp)

    # ------------------------------------------------------------------ pieces

    def _signed(
        self,
        body: str,
        content_type: str,
        payload: dict[str, Any],
        timestamp: int | None,
        extra_headers: dict[str, str] | None = None,
    ) -> SignedRequest:
        signed_at = self._timestamp(timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(signed_at),
            "X-Slack-Signature": sign(body, secret=self.signing_secret, timestamp=signed_at),
            **(extra_headers or {}),
        }
        return SignedRequest(body=body, headers=headers, payload=payload)

    def _interactive(self, payload: dict[str, Any], timestamp: int | None) -> SignedRequest:
        # Slack sends interactivity as a form with a single, URL-encoded JSON `payload` field.
        body = "payload=" + quote(_compact_json(payload), safe="")
        return self._signed(body, FORM_CONTENT_TYPE, payload, timestamp)

    def _timestamp(self, timestamp: int | None) -> int:
        return int(self.clock()) if timestamp is None else int(timestamp)

    def _next(self) -> int:
        return next(self._counter)

    def _trigger_id(self) -> str:
        n = self._next()
        digest = hashlib.sha256(f"trigger-{n}".encode()).hexdigest()[:32]
        return f"{1_700_000_000 + n}.{self.team_id[1:] or '1'}.{digest}"

    def _action_ts(self) -> str:
        return f"{int(self.clock())}.{self._next():06d}"

    def _response_url(self, kind: str, team_id: str) -> str:
        n = self._next()
        token = hashlib.sha256(f"response-{n}".encode()).hexdigest()[:24]
        return f"{self.hooks_base_url}{kind}/{team_id}/{n}/{token}"

    def _team(self, team_id: str) -> dict[str, Any]:
        return {"id": team_id, "domain": self.team_domain}

    @staticmethod
    def _user(user_id: str, user_name: str, team_id: str) -> dict[str, Any]:
        return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}

    def _action(
        self,
        action_id: str,
        block_id: str,
        value: str | None,
        selected_option: dict[str, Any] | None,
        extra_action: dict[str, Any] | None,
    ) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": self._action_ts(),
        }
        if selected_option is not None:
            action["type"] = "static_select"
            action["selected_option"] = selected_option
        else:
            action["type"] = "button"
            action["text"] = {"type": "plain_text", "text": "Button", "emoji": True}
        if value is not None:
            action["value"] = value
        action.update(extra_action or {})
        return action

    def _message(self, message: dict[str, Any] | None, team_id: str) -> dict[str, Any]:
        """The message holding the clicked element: a bot message unless given."""
        full = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": "B0001",
            "app_id": self.api_app_id,
            "team": team_id,
            "text": "",
            "blocks": [],
            **(message or {}),
        }
        full.setdefault("ts", f"{1_700_000_000 + self._next()}.000100")
        return full

    def _view(self, view: dict[str, Any], team_id: str) -> dict[str, Any]:
        """A view as Slack echoes it back: the given fields over realistic defaults."""
        view_id = view.get("id") or f"V{self._next():010d}"
        defaults: dict[str, Any] = {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": "1700000000.abcd1234",
            "title": {"type": "plain_text", "text": "MSP", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": "B0001",
        }
        return {**defaults, **view}


def _state_values(values: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        block_id: {
            action_id: (
                {"type": "plain_text_input", "value": leaf} if isinstance(leaf, str) else dict(leaf)
            )
            for action_id, leaf in actions.items()
        }
        for block_id, actions in values.items()
    }
