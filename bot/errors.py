"""Errors the services raise; one error handler turns them into friendly messages.

Each carries the sentence a person should read. Anything else that escapes a
listener is unexpected and gets a short error id instead (see handlers/errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


class BotError(Exception):
    """A known, explainable refusal. `message` is safe to show to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(BotError):
    """The person's role does not permit this."""


class NotFound(BotError):
    """The thing asked for does not exist in this MSP."""


class InvalidInput(BotError):
    """The input is malformed; `field` names the modal block to flag, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """Why the item at `index` of a batch (an API request's list) was refused;
    `field` is the name of its field."""

    index: int
    field: str
    message: str


class ItemsRejected(BotError):
    """Some items of a batch cannot be accepted, so none were written."""

    def __init__(self, message: str, problems: list[ItemProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class RuleBroken(BotError):
    """A business rule (R1-R22) refuses the change."""

    def __init__(self, message: str, *, rule: str, earliest: date | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.earliest = earliest
