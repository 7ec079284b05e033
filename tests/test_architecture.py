"""Rules about where code may do what, checked over the source tree."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

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


def _imports(path: Path, package: str | None = None) -> set[str]:
    """Every module `path` imports, relative imports made absolute (from `package`,
    by default its own), and `from bot import views` counted as `bot.views` too."""
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, packages: Iterable[str]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


OURS = ("bot", "handlers", "storage", "scheduler")
# Plain modules every layer may use: errors, the sentences they carry, ids, payloads
# and clocks, no I/O.
PLAIN = ("bot.errors", "bot.sentences", "bot.ids", "bot.payloads", "bot.clock", "bot.expiring")
# The dependency direction (docs/ARCHITECTURE.md), bottom up: what of ours each layer
# may import besides itself and PLAIN. Anything of ours not listed is refused, so a
# new package has to be placed here.
ABOVE_NOTIFY = (
    "bot.notify",
    "bot.services",
    "bot.results",
    "bot.views",
    "bot.domain",
    "bot.delivery",
    "storage.engine",
    "bot.config",
    "bot.deadlines",
    "bot.home_workspace",
    "bot.inflight",
    "bot.log_context",
    "bot.metrics",
    "bot.net_guard",
)
LAYERS: dict[str, tuple[str, ...]] = {
    "storage": (),
    "bot/domain": (),
    "bot/results": ("bot.domain",),
    "bot/views": ("bot.results", "bot.domain"),
    "bot/services": ("bot.results", "bot.domain", "bot.net_guard", "storage"),
    # Transport owns the outbox's tables; it knows nothing of what is said.
    "bot/delivery": ("bot.net_guard", "storage"),
    "bot/notify": (
        "bot.services",
        "bot.results",
        "bot.views",
        "bot.domain",
        "bot.delivery",
        "storage.engine",
        "storage.models",
    ),
    "handlers": (*ABOVE_NOTIFY, "handlers"),
    "bot/api": (*ABOVE_NOTIFY, "storage.migrate"),  # /healthz says the schema's revision
    "scheduler": ABOVE_NOTIFY,
}


def _layer_offences(
    layer: str, allowed: tuple[str, ...], paths: list[Path] | None = None
) -> dict[str, list[str]]:
    own = layer.replace("/", ".")
    offences = {
        path.name if paths else str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path, own if paths else None)
            # `from bot import x` also names the package itself, which holds nothing
            if _within(name, OURS)
            and name not in OURS
            and not _within(name, (own, *PLAIN, *allowed))
        )
        for path in paths or _sources(layer)
    }
    return {path: names for path, names in offences.items() if names}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_what_is_below_it(layer: str):
    assert _layer_offences(layer, LAYERS[layer]) == {}


def test_only_the_entry_points_import_the_composition_roots():
    importers = {
        str(path.relative_to(ROOT))
        for path in _sources(*PACKAGES)
        if _within_any(_imports(path), ("bot.app", "bot.cli"))
    }
    assert importers <= {"bot/cli.py", "bot/server.py", "bot/__main__.py"}


def _within_any(names: set[str], packages: tuple[str, ...]) -> bool:
    return any(_within(name, packages) for name in names)


def test_views_and_results_load_no_database_layer_or_slack_client():
    """Importing a view loads neither SQLAlchemy nor a Slack client: views are pure."""
    heavy = ("sqlalchemy", "slack_bolt", "aiohttp")
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if _within(n, heavy))
        for path in _sources("bot/views", "bot/results")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_results_build_only_on_the_standard_library_and_the_domain():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path)
            if not _within(name, OURS) and name.split(".")[0] not in sys.stdlib_module_names
        )
        for path in _sources("bot/results")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_layer_check_sees_a_forbidden_import(tmp_path: Path):
    """The table would pass on anything if the parsing missed what it looks for."""
    view = tmp_path / "probe.py"  # read as a module of bot/views
    view.write_text("from bot.services import customers\nfrom ..notify import digest\n")
    assert _layer_offences("bot/views", LAYERS["bot/views"], [view]) == {
        "probe.py": ["bot.notify", "bot.notify.digest", "bot.services", "bot.services.customers"]
    }


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


# ---------------------------------------------------------------- notifiers
# Built once by the composition roots and handed down: no module keeps its own.
APPLICATION = ("bot", "handlers", "scheduler")
COMPOSITION_ROOTS = frozenset({"bot/app.py", "bot/cli.py"})
RECIPE = "bot/notify/notifiers.py"  # `outbox_notifiers`, which the roots call once
NOTIFIER_SUFFIXES = ("Notifier", "Notifiers")  # OutboxAlertNotifier, ..., the bundle


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


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


def test_the_checks_see_a_module_level_notifier():
    """The rules above would pass on anything if the parsing missed what they look for."""
    kept = ast.parse("NOTIFIER = notify.OutboxAlertNotifier()\n")
    assert _module_level_notifiers(kept) == [1]
    inside = ast.parse("def build():\n    return OutboxAlertNotifier()\n")
    assert _module_level_notifiers(inside) == []
    assert [call.lineno for call in _notifier_calls(inside)] == [2]
