"""The README's table of commands names exactly the commands `/msp help` knows."""

from __future__ import annotations

import re
from pathlib import Path

from bot.domain.subcommands import CATALOG

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^\| `/msp (\w+)")


def test_the_readme_lists_every_command_and_no_other():
    listed = [match[1] for line in README.read_text().splitlines() if (match := _ROW.match(line))]
    assert sorted(set(listed)) == sorted(spec.name.value for spec in CATALOG)
    assert len(listed) == len(set(listed)), "a command listed twice"
