"""docs/RULES.md defines every rule the code cites, and names only code and tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "RULES.md"
PACKAGES = ("bot", "handlers", "storage", "scheduler")
CITATION = re.compile(r"\bR(\d{1,2})\b")
DEFINITION = re.compile(r"^\*\*R(\d{1,2})\.", re.MULTILINE)
NAMED_PATH = re.compile(r"`((?:bot|handlers|storage|scheduler|tests)/[\w/]+\.py)(?:::(\w+))?`")
NAMED_SYMBOL = re.compile(r"`((?:bot|storage)/[\w/]+\.py)` \(`(\w+)`")


def _defined() -> set[int]:
    return {int(number) for number in DEFINITION.findall(RULES.read_text())}


def test_rules_1_to_22_are_each_defined_once():
    numbers = [int(n) for n in DEFINITION.findall(RULES.read_text())]
    assert sorted(numbers) == list(range(1, 23))


def test_every_rule_cited_in_the_code_is_defined():
    cited = {
        (str(path.relative_to(ROOT)), int(number))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for number in CITATION.findall(path.read_text())
    }
    assert {(path, n) for path, n in cited if n not in _defined()} == set()


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_file_test_and_name_it_points_to_exists():
    text = RULES.read_text()
    missing = []
    for path, test in NAMED_PATH.findall(text):
        if not (ROOT / path).is_file():
            missing.append(path)
        elif test and test not in _top_level_names(ROOT / path):
            missing.append(f"{path}::{test}")
    for path, name in NAMED_SYMBOL.findall(text):
        source = (ROOT / path).read_text()
        if name not in _top_level_names(ROOT / path) and name not in source:
            missing.append(f"{path} ({name})")
    assert missing == []
