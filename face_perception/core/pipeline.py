"""The face pipeline: detect, align, run every enabled head in one batch per head."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import as_bgr
from face_perception.core.models.base import ChipModel
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.preprocess import align_faces, resize_crops
from face_perception.core.registry import HEAD_CLASSES
from face_perception.core.runtime import ModelStore
from face_perception.core.timing import StageTimer, maybe_stage
from face_perception.core.types import Box, Detection, FaceResult, FrameResult, IdentityMatch

# Face crops smaller than this are enlarged before the detector looks for their landmarks.
CROP_MIN_SIDE_PX = 160
# Heads that run on every frame also when the detector only looks near known faces; the
# others are carried over from the face's last whole-frame pass (they change slowly).
EVERY_FRAME_HEADS = frozenset({"emotion"})
# With detector.full_frame_every > 1, a new view (unrelated images in a row, a cut, a fast turn of
# the camera) is searched whole at once: when the mean absolute difference of CUT_THUMB_PX gray
# thumbnails of this frame and the previous one exceeds CUT_MEAN_DIFF gray levels. On the blended
# stream (bench --hold) a 2 px pan gives at most 3.5, a cut between photos at least 44.
CUT_THUMB_PX = (32, 24)
CUT_MEAN_DIFF = 20.0


class FacePipeline:
    """Turns a BGR image into typed face results. Build once; call ``process`` per frame."""

    def __init__(self, config: PipelineConfig, store: ModelStore | None = None) -> None:
        self.config = config.validate()
        self.store = store or ModelStore(config.models_dir or None, config.num_threads)
        self.detector = RetinaFaceDetector.from_store(config.detector, self.store)
        self.heads: dict[str, ChipModel] = {
            name: HEAD_CLASSES[name].from_config(self.store, head)
            for name, head in config.heads.items()
            if head.enabled
        }
        # Who each face is (identity.gallery set): embedded per track by the tracker, or per face by identify().
        self.identifier = None
        if config.identity.enabled:
            from face_perception.core.identity import FaceIdentifier  # imports the embedding model

            self.identifier = FaceIdentifier(config.identity, self.store)
        # Sequence state for detector.full_frame_every > 1: the faces of the previous frame
        # and how many frames ago the whole frame was searched.
        self._previous: list[FaceResult] = []
        self._frames_since_full = 0
        self._thumbnail: np.ndarray | None = None

    def process(self, image: np.ndarray, timer: StageTimer | None = None) -> FrameResult:
        """Detect and classify every face of one image (gray, BGR or BGRA uint8).

        ``timer`` (benchmarks) records each stage: the detector's, then ``<head>_chips`` and ``<head>``.

        Raises:
            ImageError: the image is empty, too large or of an unsupported type.
        """
        start = time.perf_counter()
        image_bgr = as_bgr(image, self.config.max_image_side_px)

        def make_chips(found: list[Detection]) -> Callable[[int, float], np.ndarray]:
            return lambda size, padding: align_faces(image_bgr, [d.landmarks for d in found], size, padding)

        every = self.config.detector.full_frame_every
        between = every > 1 and bool(self._previous) and self._frames_since_full < every - 1
        new_view = between and self._new_view(image_bgr, timer)  # keeps this frame's thumbnail
        if between and not new_view:
            # Between whole-frame searches: look again near each known face only.
            again = self.detector.detect_near(image_bgr, [f.detection.box for f in self._previous], timer)
            kept = [(face, d) for face, d in zip(self._previous, again, strict=True) if d is not None]
            detections = [d for _, d in kept]
            faces = self._classify(detections, make_chips(detections), timer, [face for face, _ in kept])
            self._frames_since_full += 1
        else:
            detections = self.detector.detect(image_bgr, timer)
            faces = self._classify(detections, make_chips(detections), timer)
            self._frames_since_full = 0
        if every > 1:
            self._previous = faces
            if not between:  # searched whole on schedule: the view to compare the next frame with
                with maybe_stage(timer, "detector_cut"):
                    self._thumbnail = _thumbnail(image_bgr)
        height, width = image_bgr.shape[:2]
        return FrameResult(faces, width, height, time.perf_counter() - start)

    def identify(self, image: np.ndarray, result: FrameResult) -> FrameResult:
        """``result`` with every face's identity (one batched embedding); unchanged when identity is off."""
        if self.identifier is None or not result.faces:
            return result
        matches = self.identifier.identify(as_bgr(image, self.config.max_image_side_px), result.faces)
        faces = [dataclasses.replace(f, identity=m) for f, m in zip(result.faces, matches, strict=True)]
        return dataclasses.replace(result, faces=faces)

    def identify_tracks(self, image: np.ndarray) -> Callable[[list[FaceResult]], list[IdentityMatch]] | None:
        """For ``FaceTracker.update(identify=...)``: names the faces of ``image`` it is given (None: identity off)."""
        if self.identifier is None:
            return None
        identifier, image_bgr = self.identifier, as_bgr(image, self.config.max_image_side_px)
        return lambda faces: identifier.identify(image_bgr, faces)

    def reset(self) -> None:
        """Forget the faces of earlier frames (a new sequence starts); the next frame is searched whole."""
        self._previous = []
        self._frames_since_full = 0
        self._thumbnail = None

    def _new_view(self, image_bgr: np.ndarray, timer: StageTimer | None) -> bool:
        """Whether this frame differs from the previous one as a new view does (see CUT_MEAN_DIFF)."""
        with maybe_stage(timer, "detector_cut"):
            thumbnail = _thumbnail(image_bgr)
            previous, self._thumbnail = self._thumbnail, thumbnail
            if previous is None or previous.shape != thumbnail.shape:
                return True
            return float(np.abs(thumbnail - previous).mean()) > CUT_MEAN_DIFF

    def process_crops(self, crops: list[np.ndarray]) -> list[FaceResult]:
        """Classify images that are each one face crop already (FER2013, UTKFace style).

        The detector runs on each crop only to find the face's landmarks, so every head gets
        the same aligned chip it gets on camera frames; the most central face is used. Where
        no face is found, the whole crop is resized instead (box: the whole crop, score 0,
        landmarks NaN).
        """
        detections, make_chips = self._crop_faces(crops)
        return self._classify(detections, make_chips)

    def crop_chips(self, crops: list[np.ndarray], size: int, padding: float) -> np.ndarray:
        """The uint8 BGR chips [N, size, size, 3] that ``process_crops`` gives a head of this size and padding."""
        return self._crop_faces(crops)[1](size, padding)

    def _crop_faces(self, crops: list[np.ndarray]) -> tuple[list[Detection], Callable[[int, float], np.ndarray]]:
        """Each crop's central face (or a whole-crop stand-in) and a chip maker for them."""
        crops_bgr = [as_bgr(crop, self.config.max_image_side_px) for crop in crops]
        detections = [self.central_face(crop) for crop in crops_bgr]
        found = [i for i, d in enumerate(detections) if d is not None]
        missing = [i for i, d in enumerate(detections) if d is None]
        for index in missing:
            height, width = crops_bgr[index].shape[:2]
            detections[index] = Detection(
                box=Box(0.0, 0.0, float(width), float(height)),
                score=0.0,
                landmarks=np.full((5, 2), np.nan, dtype=np.float32),
            )

        def make_chips(size: int, padding: float) -> np.ndarray:
            chips = np.empty((len(crops_bgr), size, size, 3), dtype=np.uint8)
            for index in found:
                chips[index] = align_faces(crops_bgr[index], [detections[index].landmarks], size, padding)[0]
            if missing:
                chips[missing] = resize_crops([crops_bgr[i] for i in missing], size)
            return chips

        return detections, make_chips

    def central_face(self, crop: np.ndarray) -> Detection | None:
        """The detection nearest the crop's centre (small crops are enlarged to find it), or None."""
        scale = max(1.0, CROP_MIN_SIDE_PX / min(crop.shape[:2]))
        if scale > 1.0:
            enlarged = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            found = self.central_face(enlarged)
            if found is None:
                return None
            box = found.box
            return Detection(
                Box(box.x_min / scale, box.y_min / scale, box.x_max / scale, box.y_max / scale),
                found.score,
                found.landmarks / scale,
            )
        detections = self.detector.detect(crop)
        if not detections:
            return None
        centre = np.array([crop.shape[1] / 2, crop.shape[0] / 2])

        def distance(d: Detection) -> float:
            box = d.box
            return float(np.hypot((box.x_min + box.x_max) / 2 - centre[0], (box.y_min + box.y_max) / 2 - centre[1]))

        return min(detections, key=distance)

    def _classify(
        self,
        detections: list[Detection],
        make_chips: Callable[[int, float], np.ndarray],
        timer: StageTimer | None = None,
        carried: list[FaceResult] | None = None,
    ) -> list[FaceResult]:
        """Run every head on its chips (``make_chips(size, padding)``, cut once per chip spec).

        With ``carried`` (the same faces in an earlier frame, one per detection), only the
        EVERY_FRAME_HEADS run; the other heads' results are taken from ``carried``.
        """
        if carried is None:
            faces = [FaceResult(detection=d) for d in detections]
        else:
            faces = [dataclasses.replace(old, detection=d) for old, d in zip(carried, detections, strict=True)]
        if not faces:
            return faces
        chips_by_spec: dict[tuple[int, float], np.ndarray] = {}
        for name, head in self.heads.items():
            if carried is not None and name not in EVERY_FRAME_HEADS:
                continue
            key = (head.spec.size, head.spec.crop_padding)
            if key not in chips_by_spec:
                with maybe_stage(timer, f"{name}_chips"):
                    chips_by_spec[key] = make_chips(*key)
            with maybe_stage(timer, name):
                predictions = head.predict(chips_by_spec[key])
            faces = [
                dataclasses.replace(face, **head.result_fields(prediction))
                for face, prediction in zip(faces, predictions, strict=True)
            ]
        for head in self.heads.values():
            faces = head.complete(faces)
        return faces


def _thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    """A CUT_THUMB_PX gray thumbnail (int16, ready to subtract) for telling a new view from the last."""
    small = cv2.resize(image_bgr, CUT_THUMB_PX, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.int16)
