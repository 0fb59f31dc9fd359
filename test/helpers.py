"""Paths and helpers shared by the tests (importable as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "face_perception" / "data" / "samples"
SOURCE_WHEELS = ROOT / ".venv" / "source-wheels"


def shared(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (see ../shared/data/README.md)")
    return path


def utkface_files(split: str, limit: int | None = None) -> list[Path]:
    files = sorted(shared("utkface", split).glob("*.jpg"))
    return files[:limit] if limit else files
