"""The falls photos: labels read, the split by clip and source photo, and turning photos upright."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from helpers import shared

from face_perception.core.errors import DataError
from face_perception.core.images import read_image
from face_perception.core.models.objects import NanoDetDetector
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.people import rotate_image, unrotate_box
from face_perception.core.types import Box
from face_perception.evaluation.falls_photos import FALLS_LABELS, falls_photos, turn_box, upright_turns


def test_turn_box_and_unrotate_box_undo_each_other():
    box = Box(10.0, 20.0, 110.0, 220.0)
    for turns in range(4):
        height, width = (640, 480) if turns % 2 else (480, 640)
        turned = turn_box(box, turns, height, width)
        back = unrotate_box(turned, turns, 480, 640)
        np.testing.assert_allclose(back.as_list(), box.as_list())


def test_every_photo_is_labeled_and_no_clip_is_split():
    photos = falls_photos(shared("falls").parent)
    assert len(photos) == 1081
    assert Counter(p.kind for p in photos) == {"staged": 482, "room": 395, "web": 204}
    assert all(person.label in FALLS_LABELS for p in photos for person in p.people)
    splits_of_group: dict[str, set[str]] = {}
    for photo in photos:
        splits_of_group.setdefault(photo.group, set()).add(photo.split)
    assert all(len(splits) == 1 for splits in splits_of_group.values())
    for kind in ("staged", "room", "web"):
        share = np.mean([p.split == "test" for p in photos if p.kind == kind])
        assert 0.15 <= share <= 0.45, (kind, share)
    assert falls_photos(shared("falls").parent) == photos  # the same split every time


def test_a_bad_label_line_is_a_data_error(tmp_path):
    folder = tmp_path / "falls"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "images" / "fall001.jpg").write_bytes(b"")
    (folder / "labels" / "fall001.txt").write_text("7 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError, match="class 7"):
        falls_photos(tmp_path)
    (folder / "labels" / "fall001.txt").unlink()
    with pytest.raises(DataError, match="without labels"):
        falls_photos(tmp_path)


def test_a_web_photo_turned_by_a_quarter_is_turned_back():
    photos = [p for p in falls_photos(shared("falls").parent) if p.path.name.startswith("not-fallen")][:3]
    detector = NanoDetDetector.from_store(ModelStore(num_threads=1))
    found = upright_turns(photos, detector, read_image)
    turned_photos = [
        replace(p, people=tuple(replace(q, box=turn_box(q.box, 1, 640, 640)) for q in p.people)) for p in photos
    ]
    turned = upright_turns(turned_photos, detector, lambda path: rotate_image(read_image(path), 1))
    assert all(turned[p.path] == (found[p.path] - 1) % 4 for p in photos)
