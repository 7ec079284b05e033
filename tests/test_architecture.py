"""Rules about where code may do what, checked over the source tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage", "scheduler")
# Web API calls that are not an immediate answer to a request: only the outbox sends them.
DEFERRED_METHODS = re.compile(
    r"\.(chat_postMessage|chat_update|chat_postEphemeral|chat_delete|views_publish|"
    r"files_upload(_v2)?|files_completeUploadExternal|conversations_join)\("
)


def _sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in (ROOT / package).rglob("*.py")]


def test_only_the_delivery_module_sends_messages_to_slack():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _sources(*PACKAGES)
        if "delivery" not in path.relative_to(ROOT).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DEFERRED_METHODS.search(line)
    ]
    assert offenders == [], "send through bot.delivery.outbox instead"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_services_domain_and_the_outbox_never_import_slack():
    paths = [*_sources("bot/services", "bot/domain"), ROOT / "bot/delivery/outbox.py"]
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.startswith("slack_"))
        for path in paths
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_storage_imports_nothing_from_the_rest():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n for n in _imports(path) if n.split(".")[0] in ("bot", "handlers", "scheduler")
        )
        for path in _sources("storage")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


OUTSIDE_THE_REPO = re.compile(r"""(\.\./shared|parent\s*/\s*["']shared["'])""")


def test_nothing_reads_outside_the_repository():
    """A fresh clone must run and pass its tests on its own: no path reaches beside it."""
    paths = [*_sources(*PACKAGES, "tests", "bench"), ROOT / ".ci" / "run"]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in paths
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE_THE_REPO.search(line)
    ]
    assert offenders == []
