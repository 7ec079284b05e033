"""What every endpoint of the ingest API (usage, alerts) shares: JSON error
answers, reading a bounded JSON body into a pydantic model (bot.api.body), field
errors named by their path in the body, a 503 while the database is away or
locked, and a 500 with an error id for anything else unexpected."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import ValidationError

from bot.api.body import NOW, ApiModel
from bot.deadlines import NotInTime, finished_by
from bot.domain.text import NotText, is_surrogate, not_text_message
from storage.engine import is_database_unavailable, root_cause, wait_for_locks_until

MAX_BODY_BYTES = 1024 * 1024
MAX_LISTED_ERRORS = 100
_READ_CHUNK = 64 * 1024
# A database restart takes seconds: a sender that waits this long before sending
# again usually gets through.
UNAVAILABLE_RETRY_AFTER_S = 5
# A request's SQLite lock waits, all its transactions together, end this long after
# it arrives (one statement alone could otherwise wait the whole busy timeout, and
# the next one as long again).
LOCK_WAITS_S = 5.0
# What is not answered this long after it arrives (a pool with every connection
# taken by writers waiting for a held lock) is answered 503: senders' HTTP clients
# commonly give up at 10 s, and a 503 tells them to send it again. The work is left
# to end on its own (its lock waits end at LOCK_WAITS_S), never cancelled in the
# middle of a statement: a task cancelled there once never ended, and its test's
# event loop never closed.
ANSWER_BUDGET_S = 8.0

Model = TypeVar("Model", bound=ApiModel)  # so every body gets its checks
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # where in the body, e.g. "usage[3].mau"
    message: str


class ApiError(Exception):
    """A refusal the caller can act on, answered as `{"ok": false, "error": ...}`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error": self.error, "message": self.message}
        if self.errors:
            body["errors"] = [
                {"field": item.field, "message": item.message}
                for item in self.errors[:MAX_LISTED_ERRORS]
            ]
            if len(self.errors) > MAX_LISTED_ERRORS:
                body["errors_not_listed"] = len(self.errors) - MAX_LISTED_ERRORS
        return web.json_response(body, status=self.status, headers=self.headers)


def invalid_request(errors: Sequence[FieldError]) -> ApiError:
    count = len(errors)
    return ApiError(
        422,
        "invalid_request",
        f"Nothing was recorded: the request has {count} problem{'s' if count != 1 else ''}, "
        "listed by field.",
        errors=errors,
    )


class ItemProblem(Protocol):
    """A service's reason to refuse one item of a batch (UsageProblem, AlertProblem)."""

    @property
    def index(self) -> int: ...

    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...


def items_refused(collection: str, problems: Sequence[ItemProblem]) -> ApiError:
    """The service's refusal of a batch, each problem named by its path in the
    body, like usage[3].customer."""
    return invalid_request(
        [
            FieldError(f"{collection}[{problem.index}].{problem.field}", problem.message)
            for problem in problems
        ]
    )


def recorded(result: Any) -> web.Response:
    """A 200 with a service's result (a dataclass) as its fields, after "ok": true."""
    return web.json_response({"ok": True, **asdict(result)})


def new_error_id() -> str:
    # The same shape as the Slack error handler's ids (handlers/errors.py), which
    # bot.api may not import.
    return secrets.token_hex(4)


def api_endpoint(handler: Handler) -> Handler:
    """Answer ApiError as JSON; the database being away as a 503 the sender may
    retry; anything else unexpected as a 500 with an error id that is also in the log
    (with the traceback, never the request's headers)."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        wait_for_locks_until(arrived + LOCK_WAITS_S)
        try:
            return await finished_by(arrived + ANSWER_BUDGET_S, handler(request), cancel_late=False)
        except NotInTime as late:
            return _database_unavailable(request, late)
        except ApiError as refusal:
            return refusal.response()
        except web.HTTPException:
            raise
        except Exception as error:
            if is_database_unavailable(error):
                return _database_unavailable(request, error)
            return _unexpected(request, error)

    return endpoint


def _unexpected(request: web.Request, error: Exception) -> web.Response:
    error_id = new_error_id()
    logger.error(
        "unexpected error %s while handling %s %s",
        error_id,
        request.method,
        request.path,
        exc_info=error,
        extra={"error_id": error_id},
    )
    return web.json_response(
        {
            "ok": False,
            "error": "internal",
            "error_id": error_id,
            "message": f"Something went wrong on our side (error id {error_id}). "
            "Nothing was recorded. If it happens again, give the operator this error id.",
        },
        status=500,
    )


def _database_unavailable(request: web.Request, error: Exception) -> web.Response:
    # One line per request, without the traceback or the statement: a restart
    # makes many, and the statement's parameters are the senders' data.
    logger.warning(
        "database unavailable (%s) while handling %s %s",
        root_cause(error),
        request.method,
        request.path,
    )
    return ApiError(
        503,
        "database_unavailable",
        "The database is not answering (it may be restarting, or busy with a long change), "
        "so this request was most likely not recorded. "
        f"Send it again in {UNAVAILABLE_RETRY_AFTER_S} seconds.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    ).response()


async def read_json(
    request: web.Request, model: type[Model], *, now: datetime, limit: int = MAX_BODY_BYTES
) -> Model:
    """The body as `model`: JSON only, at most `limit` bytes, every field valid
    (times checked against `now`, msp-bot's clock: bot.api.body)."""
    if request.content_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with the header Content-Type: application/json.",
        )
    raw = await _read_bounded(request, limit)
    try:
        return model.model_validate_json(raw, context={NOW: now})
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        json_problem = next((p for p in problems if p["type"] == "json_invalid"), None)
        if json_problem is not None:
            raise _lone_surrogates(raw) or ApiError(
                400, "invalid_json", f"The body is not valid JSON: {_message(json_problem)}"
            ) from None
        raise invalid_request(
            [FieldError(field_path(p["loc"]), _message(p)) for p in problems]
        ) from None


def _lone_surrogates(raw: bytes) -> ApiError | None:
    """A 422 naming the fields whose strings hold a lone surrogate (`"\\ud800"`):
    JSON allows the escape, but it is no character, and the JSON parser of the
    models refuses the whole body for it. None when the body has none (or is not
    JSON at all)."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    errors = [
        FieldError(field_path(location), not_text_message(found))
        for location, found in _not_text_strings(parsed, ())
    ]
    return invalid_request(errors) if errors else None


def _not_text_strings(
    value: Any, location: tuple[int | str, ...]
) -> Iterator[tuple[tuple[int | str, ...], NotText]]:
    """Where in a parsed body a string (a value, or a key) holds a lone surrogate."""
    if isinstance(value, str):
        found = _first_surrogate(value)
        if found is not None:
            yield location, found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _not_text_strings(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _first_surrogate(key)
            if found is not None:
                yield (*location, key), found
            yield from _not_text_strings(item, (*location, key))


def _first_surrogate(value: str) -> NotText | None:
    for index, character in enumerate(value):
        if is_surrogate(character):
            return NotText(character, index + 1)
    return None


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it is known to be too large: from
    Content-Length before reading, or from the bytes read (chunked or compressed
    bodies, or a Content-Length that lies)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"The body can be at most {_size(limit)} ({limit:,} bytes): send fewer items per request.",
    )


def _size(limit: int) -> str:
    """1048576 -> "1 MB", 262144 -> "256 KB"."""
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    return f"{limit // 1024} KB"


def field_path(location: Sequence[int | str]) -> str:
    """A pydantic error location as a path in the body: ("usage", 3, "mau") -> usage[3].mau."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
}


def _message(problem: Mapping[str, Any]) -> str:
    known = _MESSAGES.get(problem["type"])
    if known is not None:
        return known
    message = str(problem["msg"])
    return message.removeprefix("Value error, ")
