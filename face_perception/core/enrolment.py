"""Enrolment from a live camera: collect K good frames of one tracked face, then store them at once.

The frame loop offers every processed frame; the collector embeds the chosen track's face when it
is large, frontal and sharp enough, and after K such frames adds all K embeddings to the gallery
in one transaction. Waiting callers block on ``wait``; nothing is stored when it fails or times out.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from face_perception.core.errors import EnrolmentError, FacePerceptionError
from face_perception.core.gallery import check_name
from face_perception.core.identity import FaceIdentifier
from face_perception.core.types import FaceResult

DEFAULT_FRAMES = 5
DEFAULT_TIMEOUT_S = 10.0
# A frame whose embedding equals one already collected (the same image again) adds nothing: skipped.
MIN_EMBEDDING_CHANGE = 1e-4


@dataclass(frozen=True)
class EnrolmentOutcome:
    """How an enrolment ended: ``embeddings`` is how many the person has now (0 on failure)."""

    success: bool
    message: str
    embeddings: int = 0
    face_id: int = 0


class EnrolmentCollector:
    """One enrolment in progress. ``offer`` from the frame loop; ``wait`` from the requester."""

    def __init__(
        self, identifier: FaceIdentifier, name: str, face_id: int = 0, frames: int = 0, timeout_s: float = 0.0
    ) -> None:
        self.name = check_name(name)
        if frames < 0 or frames > 100:
            raise EnrolmentError(f"frames must be 1 to 100 (0: {DEFAULT_FRAMES}), got {frames}")
        if not timeout_s >= 0.0:
            raise EnrolmentError(f"timeout_s must be positive (0: {DEFAULT_TIMEOUT_S}), got {timeout_s}")
        self.identifier = identifier
        self.face_id = face_id
        self.frames = frames or DEFAULT_FRAMES
        self.deadline = time.monotonic() + (timeout_s or DEFAULT_TIMEOUT_S)
        self._embeddings: list[np.ndarray] = []
        self._rejected: Counter[str] = Counter()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.outcome: EnrolmentOutcome | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def offer(self, image_bgr: np.ndarray, faces: list[tuple[int, FaceResult]]) -> None:
        """One processed frame: (track id, this frame's face) of every face in view."""
        if self.done:
            return
        if time.monotonic() > self.deadline:
            self.expire()
            return
        target = self._target(faces)
        if target is None:
            self._rejected["the face is not in view"] += 1
            return
        face_id, face = target
        try:
            embedding = self.identifier.enrolment_embedding(image_bgr, face.detection)
        except EnrolmentError as error:
            self._rejected[str(error).split(" (")[0]] += 1
            return
        if any(np.linalg.norm(embedding - e) < MIN_EMBEDDING_CHANGE for e in self._embeddings):
            return  # the same frame again (a still camera): nothing new to learn from it
        self._embeddings.append(embedding)
        self.face_id = face_id
        if len(self._embeddings) >= self.frames:
            self._store()

    def _target(self, faces: list[tuple[int, FaceResult]]) -> tuple[int, FaceResult] | None:
        if self.face_id:
            return next(((i, f) for i, f in faces if i == self.face_id), None)
        if not faces:
            return None
        return max(faces, key=lambda item: item[1].detection.box.width * item[1].detection.box.height)

    def _store(self) -> None:
        try:
            model = self.identifier.embedder.entry.model_id
            total = self.identifier.gallery.add(self.name, np.stack(self._embeddings), model, source="camera")
        except FacePerceptionError as error:
            self._finish(EnrolmentOutcome(False, f"cannot store {self.name!r}: {error}"))
            return
        count = len(self._embeddings)
        message = f"enrolled {self.name}: {count} embedding(s) added, {total} in all"
        self._finish(EnrolmentOutcome(True, message, total, self.face_id))

    def expire(self) -> None:
        """End without storing anything (the deadline passed, or the frame loop stopped)."""
        reasons = ", ".join(f"{reason} ({count} frames)" for reason, count in self._rejected.most_common(3))
        got = len(self._embeddings)
        message = f"timed out with {got} of {self.frames} good frames; nothing stored"
        self._finish(EnrolmentOutcome(False, message + (f"; frames refused: {reasons}" if reasons else "")))

    def cancel(self, reason: str) -> None:
        self._finish(EnrolmentOutcome(False, f"{reason}; nothing stored"))

    def _finish(self, outcome: EnrolmentOutcome) -> None:
        with self._lock:
            if self.outcome is None:
                self.outcome = outcome
                self._done.set()

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s``; True when the enrolment has ended."""
        return self._done.wait(timeout_s)
