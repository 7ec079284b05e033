"""Where what to say lives, checked over the source tree: bot/delivery only carries
messages (it imports no services, views or bot.notify), and the notifiers are built
by the composition root and handed down, never kept by a module of their own."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPLICATION = ("bot", "handlers", "scheduler")
COMPOSITION_ROOTS = frozenset({"bot/app.py", "bot/cli.py"})
RECIPE = "bot/notify/notifiers.py"  # `outbox_notifiers`, which the roots call once
NOT_FOR_DELIVERY = ("bot.services", "bot.views", "bot.notify")
# The notifier classes (OutboxAlertNotifier, ...) and the bundle of them (Notifiers).
NOTIFIER_SUFFIXES = ("Notifier", "Notifiers")


def _sources(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported(tree: ast.Module) -> set[str]:
    """Every module imported, `from bot import views` counted as `bot.views`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _notifier_calls(node: ast.AST) -> Iterator[ast.Call]:
    """Calls, anywhere under `node`, of a class named like a notifier."""
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name.endswith(NOTIFIER_SUFFIXES):
            yield call


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when the module is imported (not those inside a function
    or a class), including those under a module-level if, try or with."""
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        yield statement
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from _module_level(handler.body)


def _module_level_notifiers(tree: ast.Module) -> list[int]:
    """Lines where a module-level name is bound to a new notifier."""
    lines = []
    for statement in _module_level(tree.body):
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            lines.extend(call.lineno for call in _notifier_calls(statement.value))
    return lines


def test_delivery_imports_no_services_views_or_notify():
    offenders = {
        _relative(path): sorted(
            name
            for name in _imported(_tree(path))
            if any(_is_within(name, package) for package in NOT_FOR_DELIVERY)
        )
        for path in _sources("bot/delivery")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_module_keeps_a_notifier_of_its_own():
    offenders = [
        f"{_relative(path)}:{line}"
        for path in _sources(*APPLICATION)
        for line in _module_level_notifiers(_tree(path))
    ]
    assert offenders == [], "build notifiers in bot/app.py or bot/cli.py and pass them down"


def test_one_recipe_builds_the_notifiers_and_only_the_composition_roots_call_it():
    built = {
        _relative(path): [call.lineno for call in _notifier_calls(_tree(path))]
        for path in _sources(*APPLICATION)
    }
    assert {path for path, lines in built.items() if lines} == {RECIPE}
    callers = {
        _relative(path)
        for path in _sources(*APPLICATION)
        for call in ast.walk(_tree(path))
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "outbox_notifiers"
    }
    assert callers == COMPOSITION_ROOTS, "take the notifiers handed down instead"


def test_the_checks_see_a_module_level_notifier_and_an_import_from_views():
    """The rules above would pass on anything if the parsing missed what they look for."""
    kept = ast.parse("from bot import views\nNOTIFIER = notify.OutboxAlertNotifier()\n")
    assert "bot.views" in _imported(kept)
    assert _module_level_notifiers(kept) == [2]
    inside = ast.parse("def build():\n    return OutboxAlertNotifier()\n")
    assert _module_level_notifiers(inside) == []
    assert [call.lineno for call in _notifier_calls(inside)] == [2]
