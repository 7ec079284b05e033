"""What every benchmark shares: the repository on the import path, the machine a
figure was measured on, percentiles, and the command-line types.

Each script imports it first (`import _harness as harness`), run as
`python bench/NAME.py` from anywhere: the repository then comes before bench/ on the
import path, so `import scheduler` is the package, not bench/scheduler.py, and `tests`
(the fake Slack, signed requests) can be imported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def _repository_first() -> None:
    for path in (str(BENCH_DIR), str(REPO_ROOT)):
        while path in sys.path:
            sys.path.remove(path)
    sys.path[0:0] = [str(REPO_ROOT), str(BENCH_DIR)]


_repository_first()

PACKAGES = ("slack_bolt", "slack_sdk", "aiohttp", "SQLAlchemy", "aiosqlite")


def load_average() -> str | None:
    """1/5/15-minute load averages: other work on the machine skews the figures."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return None


def machine_info(packages: tuple[str, ...] = PACKAGES) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": usable or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "event_loop": type(asyncio.get_event_loop_policy()).__module__,
        "packages": versions,
        "load_average_before": load_average(),
    }


def print_started(started_at: str, machine: dict[str, Any], settings: dict[str, Any]) -> None:
    """The first lines of a benchmark's output: when, on what machine, with what settings."""
    print(
        f"{started_at}  {machine['cpu_model']}  nproc={machine['nproc']}  "
        f"{machine['python']}  load {machine['load_average_before']}"
    )
    print(f"settings: {settings}")


def percentile_ms(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), seconds in, ms out."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return value * 1000.0


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process, from /proc (Linux); None elsewhere."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def positive(text: str) -> int:
    """A whole number >= 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def whole_numbers(text: str) -> list[int]:
    """A comma-separated list of whole numbers >= 1 (argparse type)."""
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of whole numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("numbers >= 1")
    return values


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("slack_bolt", "slack_sdk", "aiohttp", "sqlalchemy", "alembic", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
