"""RetinaFace (MobileNet-0.25) face detector: boxes, scores and five landmarks."""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from face_perception.core.config import DetectorConfig
from face_perception.core.nms import nms
from face_perception.core.runtime import ModelStore, check_session_io
from face_perception.core.timing import StageTimer, maybe_stage
from face_perception.core.types import Box, Detection

_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_CENTER_VARIANCE = 0.1
_SIZE_VARIANCE = 0.2
_OUTPUTS = ("loc", "conf", "landmarks")
# Looking again near known faces: a square of ROI_SCALE times the face's longer side around
# its last box, seen at ROI_PX x ROI_PX (the face then spans about ROI_PX / ROI_SCALE pixels).
ROI_SCALE = 2.0
ROI_PX = 192


@lru_cache(maxsize=8)
def prior_boxes(height: int, width: int) -> np.ndarray:
    """Anchors [A, 4] as (cx, cy, w, h) in pixels, in the network's output order."""
    per_stride = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES, strict=True):
        rows, cols = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        centers = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        centers = np.repeat(centers, len(sizes), axis=0)
        wh = np.tile(np.array([[s, s] for s in sizes], dtype=np.float64), (rows * cols, 1))
        per_stride.append(np.hstack([centers, wh]))
    anchors = np.vstack(per_stride).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def decode(loc: np.ndarray, landmarks: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode regressions against anchors: boxes [A, 4] (x1, y1, x2, y2) and landmarks [A, 5, 2], pixels."""
    centers = anchors[:, :2] + loc[:, :2] * _CENTER_VARIANCE * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * _SIZE_VARIANCE)
    boxes = np.hstack([centers - sizes / 2, centers + sizes / 2])
    offsets = landmarks.reshape(-1, 5, 2)
    points = anchors[:, None, :2] + offsets * _CENTER_VARIANCE * anchors[:, None, 2:]
    return boxes, points


def _iou(a: Box, b: Box) -> float:
    width = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    height = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a.width * a.height + b.width * b.height - inter)


class RetinaFaceDetector:
    """Finds faces in a BGR image; boxes and landmarks come back in the image's pixels.

    One instance serves one thread at a time (it reuses its input buffer between calls).
    """

    def __init__(
        self,
        config: DetectorConfig,
        session: ort.InferenceSession,
        mean_bgr: tuple[float, float, float] = (104.0, 117.0, 123.0),
        model_id: str = "detector",
    ) -> None:
        check_session_io(session, model_id, inputs=1, outputs=_OUTPUTS)
        self.config = config
        self.mean_bgr = np.asarray(mean_bgr, dtype=np.float32)
        self._mean_scalar = tuple(float(m) for m in self.mean_bgr)
        self._input_buffer: np.ndarray | None = None  # reused input tensor (a detector serves one thread)
        self._session = session
        self._input_name = session.get_inputs()[0].name

    @classmethod
    def from_store(cls, config: DetectorConfig, store: ModelStore) -> RetinaFaceDetector:
        entry = store.entry(config.model)
        return cls(config, store.session(config.model), tuple(entry.raw["input"]["mean"]), config.model)

    def detect(self, image_bgr: np.ndarray, timer: StageTimer | None = None) -> list[Detection]:
        """Faces of one uint8 BGR image [H, W, 3], highest score first.

        ``timer`` (benchmarks) records the stages ``detector_resize``, ``detector_input``, ``detector_net``
        and ``detector_post``.
        """
        with maybe_stage(timer, "detector_resize"):
            resized, scale = self._resize(image_bgr)
        with maybe_stage(timer, "detector_input"):
            tensor = self._to_tensor(resized)
        with maybe_stage(timer, "detector_net"):
            loc, conf, landmarks = self._session.run(list(_OUTPUTS), {self._input_name: tensor})
        with maybe_stage(timer, "detector_post"):
            return self._postprocess(loc[0], conf[0], landmarks[0], tensor.shape[2:], scale)

    def detect_near(
        self, image_bgr: np.ndarray, boxes: list[Box], timer: StageTimer | None = None
    ) -> list[Detection | None]:
        """For each known face box, the face found again near it in this image, or None.

        All regions go through the network in one batch of ROI_PX x ROI_PX inputs, much less
        work than the whole frame. Only faces near the given boxes can be found.
        """
        if not boxes:
            return []
        with maybe_stage(timer, "detector_input"):
            origins, scales, regions = [], [], []
            for box in boxes:
                side = ROI_SCALE * max(box.width, box.height, 1.0)
                x0 = (box.x_min + box.x_max - side) / 2
                y0 = (box.y_min + box.y_max - side) / 2
                scale = ROI_PX / side
                matrix = np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])
                regions.append(
                    cv2.warpAffine(
                        image_bgr,
                        matrix,
                        (ROI_PX, ROI_PX),
                        flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT,
                        borderValue=self._mean_scalar,  # zero after the mean is taken off
                    )
                )
                origins.append((x0, y0))
                scales.append(scale)
            tensor = cv2.dnn.blobFromImages(regions, scalefactor=1.0, mean=self._mean_scalar, swapRB=False, crop=False)
        with maybe_stage(timer, "detector_net"):
            loc, conf, landmarks = self._session.run(list(_OUTPUTS), {self._input_name: tensor})
        with maybe_stage(timer, "detector_post"):
            found: list[Detection | None] = []
            for index, box in enumerate(boxes):
                candidates = self._postprocess(
                    loc[index], conf[index], landmarks[index], (ROI_PX, ROI_PX), scales[index]
                )
                dx, dy = (float(v) for v in origins[index])
                moved = [
                    Detection(
                        box=Box(c.box.x_min + dx, c.box.y_min + dy, c.box.x_max + dx, c.box.y_max + dy),
                        score=c.score,
                        landmarks=(c.landmarks + np.array([dx, dy], dtype=np.float32)).astype(np.float32),
                    )
                    for c in candidates
                ]
                overlaps = [_iou(box, d.box) for d in moved]
                best = int(np.argmax(overlaps)) if moved else -1
                found.append(moved[best] if moved and overlaps[best] > 0.0 else None)
            return found

    def _preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """The float32 NCHW tensor (pixels minus the mean, one pass) and the downscale factor."""
        resized, scale = self._resize(image_bgr)
        return self._to_tensor(resized), scale

    def _resize(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """The image downscaled so its longer side is at most ``max_input_side_px``, and the factor."""
        height, width = image_bgr.shape[:2]
        scale = min(1.0, self.config.max_input_side_px / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image_bgr = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
        return image_bgr, scale

    def _to_tensor(self, image_bgr: np.ndarray) -> np.ndarray:
        """The float32 NCHW input tensor of a uint8 BGR image: pixels minus the mean, in one pass."""
        # uint8 HWC to float32 NCHW minus the mean, written into a buffer kept between frames of
        # the same size: a fresh 3.7 MB array per frame costs page faults that take longer than
        # the arithmetic. The values equal ``(image.astype(float32) - mean).transpose(2, 0, 1)``.
        shape = (1, 3, *image_bgr.shape[:2])
        if self._input_buffer is None or self._input_buffer.shape != shape:
            self._input_buffer = np.empty(shape, dtype=np.float32)
        tensor = self._input_buffer
        for channel, plane in enumerate(cv2.split(image_bgr)):
            cv2.subtract(plane, self._mean_scalar[channel], dst=tensor[0, channel], dtype=cv2.CV_32F)
        return tensor

    def _postprocess(
        self,
        loc: np.ndarray,
        conf: np.ndarray,
        landmarks: np.ndarray,
        input_hw: tuple[int, int],
        scale: float,
    ) -> list[Detection]:
        scores = conf[:, 1]
        candidates = np.flatnonzero(scores >= self.config.score_threshold)
        if candidates.size == 0:
            return []
        anchors = prior_boxes(int(input_hw[0]), int(input_hw[1]))[candidates]
        boxes, points = decode(loc[candidates], landmarks[candidates], anchors)
        boxes /= scale
        points /= scale
        scores = scores[candidates]
        big_enough = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.config.min_face_size_px
        boxes, points, scores = boxes[big_enough], points[big_enough], scores[big_enough]
        keep = nms(boxes, scores, self.config.nms_iou_threshold, self.config.max_faces)
        return [
            Detection(
                box=Box(*(float(v) for v in boxes[i])),
                score=float(scores[i]),
                landmarks=points[i].astype(np.float32),
            )
            for i in keep
        ]
