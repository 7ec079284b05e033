"""Errors the services raise; one error handler turns them into friendly messages.

Each carries the sentence a person should read. Anything else that escapes a
listener is unexpected and gets a short error id instead (see handlers/errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.sentences import Sentence


class BotError(Exception):
    """A known, explainable refusal. `sentence` is what the person reads, its dates
    and people kept as values for the views to show in each reader's own way;
    `message` is its plain form (modal errors, logs, the command line, the API)."""

    def __init__(self, message: str | Sentence) -> None:
        said = message if isinstance(message, Sentence) else Sentence.literal(message)
        super().__init__(said.plain())
        self.sentence = said
        self.message = said.plain()


class NotAllowed(BotError):
    """The person's role does not permit this."""


class NotFound(BotError):
    """The thing asked for does not exist in this MSP."""


class InvalidInput(BotError):
    """The input is malformed; `field` names the modal block to flag, if any."""

    def __init__(self, message: str | Sentence, *, field: str | None = None) -> None:
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

    def __init__(self, message: str | Sentence, problems: list[ItemProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class RuleBroken(BotError):
    """A business rule (R1-R22) refuses the change."""

    def __init__(self, message: str | Sentence, *, rule: str, earliest: date | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.earliest = earliest
