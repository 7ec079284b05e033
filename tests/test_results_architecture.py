"""Views render plain data: they import no services, storage or SQLAlchemy, and the
result types they render (bot/results) import nothing that would bring those in."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a view may not import: importing a view must not load the database layer,
# the use cases or anything that talks to Slack on its own.
NOT_FOR_VIEWS = (
    "bot.services",
    "storage",
    "sqlalchemy",
    "handlers",
    "scheduler",
    "bot.delivery",
    "bot.notify",
    "bot.api",
)
# Besides the standard library, all a result type may build on.
FOR_RESULTS = ("bot.domain", "bot.ids", "bot.results")


def _modules(package: str) -> list[Path]:
    paths = sorted((ROOT / package).rglob("*.py"))
    assert paths, f"no modules found in {package}"
    return paths


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
    return names


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def test_views_import_no_services_storage_or_transport():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if _within(n, NOT_FOR_VIEWS))
        for path in _modules("bot/views")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_results_import_only_the_standard_library_the_domain_ids_and_results():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path)
            if not _within(name, FOR_RESULTS) and name.split(".")[0] not in sys.stdlib_module_names
        )
        for path in _modules("bot/results")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
