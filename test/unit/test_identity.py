"""Identity decisions: nearest person (open set), the per-track vote, embedding every N frames, what can be enrolled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import SAMPLES

from face_perception.core.config import IdentityConfig, PipelineConfig
from face_perception.core.errors import ConfigError, EnrolmentError
from face_perception.core.gallery import Gallery
from face_perception.core.identity import FaceIdentifier, nearest
from face_perception.core.images import read_image
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.runtime import ModelStore
from face_perception.core.tracker import EventType, FaceTracker, TrackerConfig
from face_perception.core.types import Box, Detection, FaceResult, IdentityMatch


def _face(x: float) -> FaceResult:
    points = np.array([[x + 30, 40], [x + 70, 40], [x + 50, 60], [x + 35, 80], [x + 65, 80]], np.float32)
    return FaceResult(Detection(Box(x, 0.0, x + 100.0, 110.0), 0.99, points))


def test_nearest_names_within_the_threshold_only():
    known = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    names = ["ada", "ada", "grace"]
    got = nearest(np.array([[0.9, 0.1], [0.1, 0.8], [5.0, 5.0]], np.float32), names, known, 0.6)
    assert [m.name for m in got] == ["ada", "grace", None]
    assert got[0].distance == pytest.approx(np.hypot(0.1, 0.1), rel=1e-5)
    assert nearest(np.zeros((1, 2), np.float32), [], np.empty((0, 0)), 0.6) == [IdentityMatch(None, float("inf"))]


class _Script:
    """An identify function answering from a script of names (one per call per face), counting its calls."""

    def __init__(self, names):
        self.names = list(names)
        self.calls: list[int] = []

    def __call__(self, faces):
        self.calls.append(len(faces))
        return [IdentityMatch(self.names.pop(0), 0.3) for _ in faces]


def _run(script, frames: int, every: int = 1):
    tracker = FaceTracker(TrackerConfig(min_hits=1))
    names, events = [], []
    for index in range(frames):
        tracked, found = tracker.update([_face(2.0 * index)], 0.1 * index, script, every)
        names.append(tracked[0].smoothed.identity.name if tracked[0].smoothed.identity else "-")
        events += [e for e in found if e.type is EventType.RECOGNIZED]
    return names, events


def test_one_bad_frame_does_not_rename_a_person_and_recognized_comes_once():
    names, events = _run(_Script(["ada", "ada", "grace", "ada", None, "ada", "grace"]), 7)
    assert names == ["ada"] * 7
    assert [(e.identity, e.track_id) for e in events] == [("ada", 1)]
    assert events[0].identity_distance == pytest.approx(0.3)


def test_a_name_needs_a_majority_and_unknown_frames_never_remove_it():
    names, events = _run(_Script([None, "ada", None, "ada", "ada", None, None, None, None]), 9)
    assert names[:4] == [None, None, None, None]  # 1 of 2, 1 of 3, 2 of 4: no majority yet
    assert names[4:] == ["ada"] * 5
    assert [e.identity for e in events] == ["ada"]


def test_another_name_takes_over_only_with_a_majority_of_a_full_set_of_votes():
    names, events = _run(_Script(["ada"] * 3 + ["grace"] * 5), 8)
    assert names == ["ada"] * 5 + ["grace"] * 3  # grace holds 3 of the last 5 votes
    assert [e.identity for e in events] == ["ada", "grace"]


def test_each_track_is_embedded_on_its_first_frame_then_every_n_frames():
    script = _Script(["ada"] * 10)
    _run(script, 11, every=5)
    assert script.calls == [1, 1, 1]  # frames 0, 5 and 10
    tracker = FaceTracker(TrackerConfig(min_hits=2))
    two = _Script(["ada"] * 10)
    tracker.update([_face(0), _face(300)], 0.0, two, 3)  # tentative tracks are not embedded
    tracker.update([_face(2), _face(302)], 0.1, two, 3)
    assert two.calls == [2]  # both confirmed tracks in one batched call


def test_identity_parameters_are_checked():
    with pytest.raises(ConfigError, match="identity.threshold"):
        PipelineConfig.from_parameters({"identity.threshold": -0.1})
    with pytest.raises(ConfigError, match="identity.every_n_frames"):
        PipelineConfig.from_parameters({"identity.every_n_frames": 0})
    assert not PipelineConfig().identity.enabled


@pytest.fixture(scope="module")
def identifier(tmp_path_factory):
    store = ModelStore()
    gallery = Gallery(tmp_path_factory.mktemp("gallery") / "g.db")
    return FaceIdentifier(IdentityConfig(gallery=str(gallery.path)), store, gallery), store


def _astronaut(identifier):
    ident, store = identifier
    image = read_image(SAMPLES / "astronaut.jpg")
    detector = RetinaFaceDetector.from_store(PipelineConfig().detector, store)
    return ident, detector, image


def test_a_sharp_frontal_face_is_enrolled_a_blurred_or_tiny_one_is_refused(identifier):
    ident, detector, image = _astronaut(identifier)
    (face,) = detector.detect(image)
    embedding = ident.enrolment_embedding(image, face)
    assert embedding.shape == (128,) and 0.5 < np.linalg.norm(embedding) < 2.0
    blurred = cv2.GaussianBlur(image, (0, 0), 6)
    (soft,) = detector.detect(blurred)
    with pytest.raises(EnrolmentError, match="blurred"):
        ident.enrolment_embedding(blurred, soft)
    small = cv2.resize(image, (96, 96), interpolation=cv2.INTER_AREA)
    found = detector.detect(small)
    assert found, "the downscaled face is still detected"
    with pytest.raises(EnrolmentError, match="too small"):
        ident.enrolment_embedding(small, found[0])


def test_the_same_person_moved_is_near_and_a_mirror_of_the_gallery_is_named(identifier):
    ident, detector, image = _astronaut(identifier)
    (face,) = detector.detect(image)
    shifted = np.ascontiguousarray(np.roll(image, 40, axis=1))
    (moved,) = detector.detect(shifted)
    a, b = ident.embed(image, [face])[0], ident.embed(shifted, [moved])[0]
    assert np.linalg.norm(a - b) < 0.2
    ident.gallery.add("Eileen", a[None], ident.embedder.entry.model_id)
    (match,) = ident.identify(shifted, [FaceResult(moved)])
    assert match.name == "Eileen" and match.distance < 0.2


def test_the_debug_image_writes_a_known_name_only():
    from face_perception.core.viz import draw_faces

    blank = np.zeros((480, 640, 3), np.uint8)
    face = _face(200.0)
    named = draw_faces(blank, [FaceResult(face.detection, identity=IdentityMatch("Ada", 0.3))], [1])
    unknown = draw_faces(blank, [FaceResult(face.detection, identity=IdentityMatch(None, 0.9))], [1])
    plain = draw_faces(blank, [face], [1])
    assert (unknown == plain).all() and (named != plain).any()
