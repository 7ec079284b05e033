"""What every API body model shares, checked in one place for every field of every
model: strict types, no unknown fields, strings trimmed and made of text only
(bot.domain.text), and times within bounds.

A field annotated `FreeText` (an alert's details) may also hold tabs and line
breaks. Times must lie between EARLIEST_TIME and MAX_AHEAD after msp-bot's clock,
which `read_json` passes in the validation context as "now": a year-1 or year-9999
time cannot be converted to UTC or stored, and one far ahead is a sender's bug."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from bot.domain.text import first_not_text, not_text_message

EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
# A sender's clock a little ahead of msp-bot's is no error; a day ahead is.
MAX_AHEAD = timedelta(days=1)
NOW = "now"  # the key of msp-bot's clock's reading in the validation context


class FreeText:
    """Marks a string field where tabs and line breaks are text too."""


class ApiModel(BaseModel):
    """The base of every model that reads a request body."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _text_and_times_only(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            free_text = _is_free_text(cls, info.field_name)
            found = first_not_text(value, free_text=free_text)
            if found is not None:
                raise ValueError(not_text_message(found, free_text=free_text))
        elif isinstance(value, datetime):
            _check_time(value, info)
        return value


def _is_free_text(model: type[BaseModel], field_name: str | None) -> bool:
    field = model.model_fields.get(field_name or "")
    return field is not None and any(isinstance(item, FreeText) for item in field.metadata)


def _check_time(value: datetime, info: ValidationInfo) -> None:
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get(NOW)
    if not isinstance(now, datetime):
        raise RuntimeError("read the body with read_json, which passes msp-bot's clock")
    latest = now + MAX_AHEAD
    # Aware datetimes compare by their instant, without converting (which overflows
    # for year 1 with a positive offset, or year 9999 with a negative one).
    if value.tzinfo is not None and not EARLIEST_TIME <= value <= latest:
        raise ValueError(
            f"Give a time from {_shown(EARLIEST_TIME)} to {_shown(latest)} (one day "
            "after msp-bot's clock) with its offset."
        )


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
