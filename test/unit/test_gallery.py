"""The gallery file: private, atomic, compacted on forget, clear errors for bad files and names."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from face_perception.core.errors import EnrolmentError, GalleryError
from face_perception.core.gallery import Gallery

MODEL = "identity_dlib_resnet_v1"


def _vectors(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, 128)).astype(np.float32)


def test_a_new_gallery_is_private_and_in_write_ahead_log_mode(tmp_path):
    path = tmp_path / "home" / "gallery.db"
    with Gallery(path) as gallery:
        gallery.add("Ada", _vectors(2, 0), MODEL)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_people_embeddings_and_forget_with_compaction(tmp_path):
    path = tmp_path / "gallery.db"
    secret = _vectors(3, 1)
    with Gallery(path) as gallery:
        assert gallery.add("  Ada ", secret, MODEL) == 3
        assert gallery.add("Ada", _vectors(1, 2), MODEL) == 4
        gallery.add("Grace", _vectors(2, 3), MODEL)
        people = gallery.people()
        assert [(p.name, p.embeddings) for p in people] == [("Ada", 4), ("Grace", 2)]
        assert people[0].first_added_s <= people[0].last_added_s
        names, vectors = gallery.embeddings()
        assert names.count("Ada") == 4 and vectors.shape == (6, 128)
        np.testing.assert_array_equal(vectors[:3], secret)
        assert gallery.forget("Ada") == 4
        assert [p.name for p in gallery.people()] == ["Grace"]
        with pytest.raises(GalleryError, match="nobody named 'Ada'"):
            gallery.forget("Ada")
    # compacted: the forgotten vectors are nowhere in the file (nor in a log beside it)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("gallery.db"))
    assert secret[0].tobytes() not in stored and secret[2].tobytes() not in stored


def test_another_connection_sees_a_commit(tmp_path):
    path = tmp_path / "gallery.db"
    reader, writer = Gallery(path), Gallery(path)
    before = reader.version()
    writer.add("Ada", _vectors(1, 0), MODEL)
    assert reader.version() != before
    assert [p.name for p in reader.people()] == ["Ada"]


def test_a_failed_addition_stores_nothing(tmp_path):
    path = tmp_path / "gallery.db"
    with Gallery(path) as gallery:
        gallery.add("Ada", _vectors(2, 0), MODEL)
        bad = _vectors(3, 1)
        bad[2, 5] = np.nan
        with pytest.raises(EnrolmentError, match="no usable embeddings"):
            gallery.add("Grace", bad, MODEL)
        with pytest.raises(GalleryError, match="holds embeddings of model"):
            gallery.add("Grace", _vectors(1, 2), "another_model")
        assert [(p.name, p.embeddings) for p in gallery.people()] == [("Ada", 2)]


def test_a_crash_in_the_middle_of_an_enrolment_leaves_no_half_person(tmp_path):
    """A process killed inside the transaction (after some rows) loses nothing saved before."""
    path = tmp_path / "gallery.db"
    with Gallery(path) as gallery:
        gallery.add("Ada", _vectors(2, 0), MODEL)
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from face_perception.core.gallery import Gallery
        gallery = Gallery({str(path)!r})
        class Dying:  # writes the person and the first embedding, then the process dies
            def __init__(self, db):
                self.db = db
            def __getattr__(self, name):
                return getattr(self.db, name)
            def executemany(self, sql, rows):
                self.db.execute(sql, list(rows)[0])
                os._exit(9)
        gallery._db = Dying(gallery._db)
        gallery.add("Grace", np.ones((3, 128), np.float32), {MODEL!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    with Gallery(path) as gallery:
        assert [(p.name, p.embeddings) for p in gallery.people()] == [("Ada", 2)]
        assert gallery._query("SELECT name FROM person") == [("Ada",)]
        assert gallery._query("SELECT COUNT(*) FROM embedding") == [(2,)]


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 65])
def test_bad_names_are_refused(tmp_path, name):
    with Gallery(tmp_path / "gallery.db") as gallery, pytest.raises(EnrolmentError, match="name"):
        gallery.add(name, _vectors(1, 0), MODEL)


def test_a_corrupt_or_foreign_file_is_a_named_error_and_is_left_as_it_is(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    with pytest.raises(GalleryError, match="corrupt.db"):
        Gallery(corrupt)
    text = tmp_path / "notes.txt"
    text.write_text("not a gallery\n" * 100)
    with pytest.raises(GalleryError, match="not a readable gallery"):
        Gallery(text)
    assert text.read_text() == "not a gallery\n" * 100
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                                           "INSERT INTO meta VALUES ('schema_version', '99');")  # fmt: skip
    with pytest.raises(GalleryError, match="schema version 99"):
        Gallery(foreign)
    with pytest.raises(GalleryError, match="does not exist"):
        Gallery(tmp_path / "missing.db", create=False)
