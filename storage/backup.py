"""Online backup of the SQLite database (`msp-bot db backup PATH`).

sqlite3's backup API copies page by page while other connections keep writing;
the copy is a consistent snapshot. PostgreSQL has pg_dump for that, so a
PostgreSQL URL is refused with that advice rather than half-supported."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 1024  # writers get the lock between steps


class BackupRefused(Exception):
    """The backup cannot be made; the message says why and what to do."""


def backup_sqlite(database_url: str, target: Path) -> Path:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        raise BackupRefused(
            "This database is PostgreSQL: back it up with pg_dump, e.g. "
            "`pg_dump --format=custom --file=mspbot.dump DBNAME` (docs/OPERATIONS.md)."
        )
    source = url.database
    if not source or source == ":memory:":
        raise BackupRefused("An in-memory database cannot be backed up.")
    if not Path(source).exists():
        raise BackupRefused(f"No database file at {source}.")
    target = target.expanduser()
    if target.exists():
        raise BackupRefused(f"{target} exists already: give a new file name.")
    if not target.parent.exists():
        raise BackupRefused(f"The folder {target.parent} does not exist.")
    partial = target.with_name(target.name + ".partial")
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer, pages=PAGES_PER_STEP)
        finally:
            writer.close()
    finally:
        reader.close()
    # Renamed only when complete, so a backup interrupted half-way is never
    # mistaken for a good one.
    partial.rename(target)
    return target
