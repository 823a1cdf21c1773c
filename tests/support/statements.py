"""The SQL a database runs in a block: to count statements and commits in tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event

from ils.domain.db import Database


@contextlib.contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements ``db`` runs in the block, and its commits (as ``"COMMIT"``)."""
    seen: list[str] = []
    engine = db.engine.sync_engine

    def executed(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    def committed(_conn) -> None:  # type: ignore[no-untyped-def]
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)
