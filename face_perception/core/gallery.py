"""The people known to this robot: names and face embeddings in one SQLite file.

One file, created private to the user (mode 0600), in write-ahead-log mode so that a reader
(the node) and a writer (the command line) can use it at once. Every change is one transaction:
a crash in the middle of an enrolment loses nothing already saved and leaves no half person.
``forget`` removes a person with every embedding and compacts the file (VACUUM), so the
removed vectors do not linger in free pages.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_perception.core.errors import EnrolmentError, GalleryError

SCHEMA_VERSION = 1
MAX_NAME_LENGTH = 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embedding (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    added_s REAL NOT NULL,
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS embedding_person ON embedding(person_id);
"""


@dataclass(frozen=True)
class Person:
    """One enrolled person: how many embeddings, and when the first and last were added (Unix time, s)."""

    name: str
    embeddings: int
    first_added_s: float
    last_added_s: float


def check_name(name: str) -> str:
    """The name as stored (surrounding spaces removed); raises EnrolmentError when it is empty or unprintable."""
    cleaned = name.strip()
    if not cleaned:
        raise EnrolmentError("the name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise EnrolmentError(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise EnrolmentError(f"the name {cleaned!r} holds control characters")
    return cleaned


class Gallery:
    """A gallery file. Open once and keep; every method is one transaction.

    Raises:
        GalleryError: the file cannot be created or read, is not a gallery, or is corrupt.
    """

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()  # one connection, shared by the node's threads: one use at a time
        self._own_changes = 0  # data_version counts other connections' commits only
        if not self.path.exists():
            if not create:
                raise GalleryError(f"gallery {self.path} does not exist")
            self._create_private()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise GalleryError(f"gallery {self.path}: cannot use write-ahead logging (journal mode {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise GalleryError(f"gallery {self.path} has schema version {row[0]}, expected {SCHEMA_VERSION}")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise GalleryError(f"gallery {self.path} is corrupt: {check}")
        except sqlite3.DatabaseError as error:
            raise GalleryError(
                f"gallery {self.path} is not a readable gallery (corrupt or another file): {error}"
            ) from error

    def _create_private(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as error:
            raise GalleryError(f"cannot create gallery {self.path}: {error}") from error

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, name: str, embeddings: np.ndarray, model: str, source: str = "") -> int:
        """Add embeddings [K, D] to ``name`` (created when new), all or none; returns how many the person has."""
        name = check_name(name)
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0 or not np.isfinite(vectors).all():
            raise EnrolmentError(f"no usable embeddings for {name!r}")
        now = time.time()
        try:
            with self._transaction():
                stored = self._db.execute(
                    "SELECT DISTINCT model FROM embedding WHERE model != ? LIMIT 1", (model,)
                ).fetchone()
                if stored is not None:
                    raise GalleryError(
                        f"gallery {self.path} holds embeddings of model {stored[0]!r}, not {model!r}: use another file"
                    )
                self._db.execute("INSERT OR IGNORE INTO person (name, created_s) VALUES (?, ?)", (name, now))
                person_id = self._db.execute("SELECT id FROM person WHERE name = ?", (name,)).fetchone()[0]
                self._db.executemany(
                    "INSERT INTO embedding (person_id, model, vector, added_s, source) VALUES (?, ?, ?, ?, ?)",
                    [(person_id, model, v.tobytes(), now, source) for v in vectors],
                )
                self._own_changes += 1
                count_sql = "SELECT COUNT(*) FROM embedding WHERE person_id = ?"
                return self._db.execute(count_sql, (person_id,)).fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"gallery {self.path}: cannot add {name!r}: {error}") from error

    def forget(self, name: str) -> int:
        """Remove ``name`` and every embedding of it, then compact the file; returns how many embeddings went.

        Raises:
            GalleryError: nobody of that name is enrolled.
        """
        name = name.strip()
        try:
            with self._transaction():
                row = self._db.execute("SELECT id FROM person WHERE name = ?", (name,)).fetchone()
                if row is None:
                    raise GalleryError(f"nobody named {name!r} is in gallery {self.path}")
                count = self._db.execute("SELECT COUNT(*) FROM embedding WHERE person_id = ?", row).fetchone()[0]
                self._db.execute("DELETE FROM embedding WHERE person_id = ?", row)
                self._db.execute("DELETE FROM person WHERE id = ?", row)
                self._own_changes += 1
            with self._lock:
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return count
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"gallery {self.path}: cannot forget {name!r}: {error}") from error

    def people(self) -> list[Person]:
        """Every enrolled person, by name."""
        rows = self._query(
            "SELECT p.name, COUNT(e.id), MIN(e.added_s), MAX(e.added_s) FROM person p "
            "JOIN embedding e ON e.person_id = p.id GROUP BY p.id ORDER BY p.name"
        )
        return [Person(name, count, first, last) for name, count, first, last in rows]

    def embeddings(self) -> tuple[list[str], np.ndarray]:
        """Each stored embedding's person name and the embeddings [M, D] (M may be 0)."""
        rows = self._query("SELECT p.name, e.vector FROM embedding e JOIN person p ON p.id = e.person_id ORDER BY e.id")
        if not rows:
            return [], np.empty((0, 0), np.float32)
        sizes = {len(vector) for _, vector in rows}
        if len(sizes) != 1:
            raise GalleryError(f"gallery {self.path} mixes embeddings of different sizes")
        return [name for name, _ in rows], np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])

    def version(self) -> tuple[int, int]:
        """A value that changes whenever this or another connection commits a change (cheap; poll it)."""
        return int(self._query("PRAGMA data_version")[0][0]), self._own_changes

    def _query(self, sql: str) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql).fetchall()
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"gallery {self.path} cannot be read: {error}") from error


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, kind, error, trace) -> None:
        try:
            self._db.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self._lock.release()
