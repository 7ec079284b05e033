""" "Did you mean": the closest word the parser knows to one it does not."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # how alike a typo must be; "custmers" for "customers" is 0.94


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to `word` (compared lower-cased), if one is close enough."""
    matches = difflib.get_close_matches(word.strip().lower(), list(known), n=1, cutoff=CUTOFF)
    return matches[0] if matches else None
