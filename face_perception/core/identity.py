"""Who is this: embeddings of aligned faces matched against the gallery (open set).

A face is the nearest enrolled person when its embedding lies within ``threshold`` (Euclidean
distance) of one of that person's embeddings, and unknown otherwise. The chip is cut as the
network was trained: dlib's alignment (150 px, padding 0.25) from the detector's five points
placed on dlib's mean face shape (eye centres, nose tip, mouth corners).
"""

from __future__ import annotations

import cv2
import numpy as np

from face_perception.core.config import IdentityConfig
from face_perception.core.errors import EnrolmentError, ModelError
from face_perception.core.gallery import Gallery
from face_perception.core.models.identity import FaceEmbedder
from face_perception.core.preprocess import align_faces
from face_perception.core.runtime import ModelStore
from face_perception.core.types import Detection, FaceResult, IdentityMatch

# What makes a face good enough to enrol (measured on ../shared/data/identity: see doc/identity.md).
MIN_ENROL_EYE_DISTANCE_PX = 24.0  # the chip's network input is 150 px for about 60 px between the eyes
MIN_ENROL_SHARPNESS = 20.0  # variance of the Laplacian of the gray 150 px chip
MAX_ENROL_TURN = 0.25  # nose offset from the eyes' midpoint, as a share of the eye distance


def eye_distance_px(detection: Detection) -> float:
    return float(np.linalg.norm(detection.landmarks[1] - detection.landmarks[0]))


def turn(detection: Detection) -> float:
    """How far the nose lies from the eyes' midpoint, along the eye line, in eye distances (0: frontal)."""
    left, right, nose = (detection.landmarks[i].astype(np.float64) for i in range(3))
    axis = right - left
    length = float(np.dot(axis, axis))
    if length == 0.0:
        return float("inf")
    return abs(float(np.dot(nose - (left + right) / 2, axis)) / length)


def sharpness(chip_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the gray chip: low for blurred faces."""
    gray = cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def enrolment_problem(detection: Detection, chip_bgr: np.ndarray) -> str:
    """Why this face is not good enough to enrol ("" when it is): too small, turned away or blurred."""
    eyes = eye_distance_px(detection)
    if not eyes >= MIN_ENROL_EYE_DISTANCE_PX:
        return f"the face is too small ({eyes:.0f} px between the eyes, at least {MIN_ENROL_EYE_DISTANCE_PX:.0f})"
    if turn(detection) > MAX_ENROL_TURN:
        return "the face is turned away (not frontal enough)"
    sharp = sharpness(chip_bgr)
    if sharp < MIN_ENROL_SHARPNESS:
        return f"the face is blurred (sharpness {sharp:.0f}, at least {MIN_ENROL_SHARPNESS:.0f})"
    return ""


def nearest(embeddings: np.ndarray, names: list[str], known: np.ndarray, threshold: float) -> list[IdentityMatch]:
    """For each embedding [N, D], the nearest of ``known`` [M, D] (named by ``names``): a name within ``threshold``."""
    if len(known) == 0:
        return [IdentityMatch(None, float("inf")) for _ in embeddings]
    distances = np.linalg.norm(embeddings[:, None, :] - known[None, :, :], axis=-1)
    best = distances.argmin(axis=1)
    matches = []
    for row, index in enumerate(best):
        distance = float(distances[row, index])
        matches.append(IdentityMatch(names[index] if distance < threshold else None, distance))
    return matches


def largest(detections: list[Detection]) -> Detection:
    return max(detections, key=lambda d: d.box.width * d.box.height)


class FaceIdentifier:
    """Embeds faces and names them from a gallery file; re-reads the gallery when another process changes it."""

    def __init__(self, config: IdentityConfig, store: ModelStore, gallery: Gallery | None = None) -> None:
        """``gallery``: an open gallery to use; None opens ``config.gallery``, or none when that is empty
        (then every face is unknown: for embeddings and verification only)."""
        self.config = config.validate()
        embedder = FaceEmbedder.from_store(store, config.model)
        if not isinstance(embedder, FaceEmbedder):
            raise ModelError(f"{config.model} is not an identity model")
        self.embedder: FaceEmbedder = embedder
        if gallery is None and config.gallery:
            gallery = Gallery(config.gallery)
        self.gallery = gallery
        self._version: tuple[int, int] | None = None
        self._names: list[str] = []
        self._known = np.empty((0, 0), np.float32)

    @property
    def every_n_frames(self) -> int:
        return self.config.every_n_frames

    def chips(self, image_bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
        spec = self.embedder.spec
        return align_faces(image_bgr, [d.landmarks for d in detections], spec.size, spec.crop_padding)

    def embed(self, image_bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
        """Embeddings [N, D] of the faces, in one network call."""
        return self.embedder.embed(self.chips(image_bgr, detections))

    def match(self, embeddings: np.ndarray) -> list[IdentityMatch]:
        self._refresh()
        return nearest(embeddings, self._names, self._known, self.config.threshold)

    def identify(self, image_bgr: np.ndarray, faces: list[FaceResult]) -> list[IdentityMatch]:
        """Who each face is (one batched embedding for all of them)."""
        if not faces:
            return []
        return self.match(self.embed(image_bgr, [f.detection for f in faces]))

    def enrolment_embedding(self, image_bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """The embedding [D] of a face good enough to enrol; raises EnrolmentError naming what is wrong."""
        chip = self.chips(image_bgr, [detection])
        problem = enrolment_problem(detection, chip[0])
        if problem:
            raise EnrolmentError(problem)
        return self.embedder.embed(chip)[0]

    def _refresh(self) -> None:
        if self.gallery is None:
            return
        version = self.gallery.version()
        if version != self._version:
            self._names, self._known = self.gallery.embeddings()
            self._version = version
