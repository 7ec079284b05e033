"""What counts as text in what other systems send: no control characters.

NUL cannot be stored in a PostgreSQL text column at all (the write fails), and the
other control characters (BEL, ESC, DEL, the C1 range) and lone surrogates are
never meant as text: they end up in Slack messages, logs and CSV exports. Tabs and
line breaks belong only in free text (an alert's details)."""

from __future__ import annotations

from dataclasses import dataclass

# Allowed in free text only; a carriage return is not (a line break is "\n").
_FREE_TEXT_WHITESPACE = frozenset("\t\n")


@dataclass(frozen=True, slots=True)
class NotText:
    """The first character that is not text, and where (counted from 1)."""

    character: str
    position: int

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.character):04X}"


def is_surrogate(character: str) -> bool:
    """Half of a UTF-16 surrogate pair, alone: JSON can escape one (`\\ud800`), but
    it is no character (a valid pair decodes to one character outside this range)."""
    return 0xD800 <= ord(character) <= 0xDFFF


def _is_control(character: str) -> bool:
    point = ord(character)
    return point < 0x20 or 0x7F <= point <= 0x9F or is_surrogate(character)  # C0, DEL, C1


def first_not_text(value: str, *, free_text: bool = False) -> NotText | None:
    """The first control character in `value` (tab and line break allowed in
    free text), or None when it is all text."""
    for index, character in enumerate(value):
        if _is_control(character) and not (free_text and character in _FREE_TEXT_WHITESPACE):
            return NotText(character, index + 1)
    return None


def not_text_message(found: NotText, *, free_text: bool = False) -> str:
    if is_surrogate(found.character):
        return (
            f"Character {found.position} is {found.code_point}, half of a surrogate pair "
            "and no character: send the text as UTF-8."
        )
    allowed = (
        "Only text, tabs and line breaks (\\n) are allowed here"
        if free_text
        else "Only text is allowed here: no control characters, tabs or line breaks"
    )
    return f"{allowed}; character {found.position} is the control character {found.code_point}."
