"""Conversions between ROS messages and the core library's arrays and results."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import ImageError
from face_perception.core.images_raw import decode_compressed, raw_to_bgr
from face_perception.core.tracker import FaceEvent
from face_perception.core.types import EMOTION_LABELS, FaceResult, FrameResult
from face_perception.msg import Face, FaceArray
from face_perception.msg import FaceEvent as FaceEventMsg

try:  # cv_bridge comes with an apt ROS 2 install; the built-in decoder covers its absence.
    from cv_bridge import CvBridge, CvBridgeError

    _BRIDGE: CvBridge | None = CvBridge()
except ImportError:  # pragma: no cover - depends on the ROS install
    _BRIDGE = None

NAN = float("nan")


def image_to_bgr(msg: Image, max_side_px: int, use_cv_bridge: bool = True) -> np.ndarray:
    """A sensor_msgs/Image as uint8 BGR; raises ImageError for anything unusable."""
    if max(msg.width, msg.height) > max_side_px:
        raise ImageError(f"image {msg.width}x{msg.height} exceeds max_image_side_px={max_side_px}")
    if use_cv_bridge and _BRIDGE is not None and msg.encoding in ("bgr8", "rgb8", "mono8", "bgra8", "rgba8"):
        if len(msg.data) < msg.step * msg.height or msg.width * msg.height == 0:
            raise ImageError(f"image data has {len(msg.data)} bytes, expected step*height = {msg.step * msg.height}")
        try:
            return _BRIDGE.imgmsg_to_cv2(msg, desired_encoding="bgr8")
        except (CvBridgeError, ValueError, TypeError) as error:
            raise ImageError(f"cv_bridge cannot convert the image: {error}") from error
    return raw_to_bgr(msg.data, msg.width, msg.height, msg.encoding, msg.step, bool(msg.is_bigendian), max_side_px)


def compressed_to_bgr(msg: CompressedImage, max_side_px: int) -> np.ndarray:
    """A sensor_msgs/CompressedImage as uint8 BGR; raises ImageError when it cannot be decoded."""
    return decode_compressed(msg.data, max_side_px)


def bgr_to_image(image: np.ndarray, header: Header) -> Image:
    """A uint8 BGR array as a bgr8 sensor_msgs/Image with the given header."""
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "bgr8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def face_to_msg(raw: FaceResult, smoothed: FaceResult, face_id: int, track_age_s: float = 0.0) -> Face:
    """One face as a face_perception/Face: smoothed attributes, and this frame's raw_* values.

    Without tracking, pass the same result as ``raw`` and ``smoothed``. NaN / "" where a head is off.
    """
    msg = Face()
    msg.id = face_id
    msg.track_age_s = float(track_age_s)
    box = raw.detection.box
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = box.x_min, box.y_min, box.x_max, box.y_max
    msg.detection_score = raw.detection.score
    landmarks = raw.detection.landmarks.astype(np.float32)
    msg.landmarks_x = landmarks[:, 0].tolist()
    msg.landmarks_y = landmarks[:, 1].tolist()
    msg.emotion, msg.emotion_score, msg.emotion_scores = _emotion_fields(smoothed)
    msg.raw_emotion, _, msg.raw_emotion_scores = _emotion_fields(raw)
    msg.gender, msg.gender_score = _gender_fields(smoothed)
    msg.raw_gender, msg.raw_gender_score = _gender_fields(raw)
    msg.age = smoothed.age if smoothed.age is not None else NAN
    msg.raw_age = raw.age if raw.age is not None else NAN
    if smoothed.eyewear is not None:
        msg.eyeglasses_probability = smoothed.eyewear.probability
        msg.eyeglasses = smoothed.eyewear.worn
    else:
        msg.eyeglasses_probability = NAN
    msg.raw_eyeglasses_probability = raw.eyewear.probability if raw.eyewear is not None else NAN
    return msg


def _emotion_fields(face: FaceResult) -> tuple[str, float, list[float]]:
    if face.emotion is None:
        return "", NAN, [NAN] * len(EMOTION_LABELS)
    return face.emotion.label, face.emotion.score, [face.emotion.scores[label] for label in EMOTION_LABELS]


def _gender_fields(face: FaceResult) -> tuple[str, float]:
    return ("", NAN) if face.gender is None else (face.gender.label, face.gender.score)


def event_to_msg(event: FaceEvent, header: Header) -> FaceEventMsg:
    """A tracker event as a face_perception/FaceEvent with the frame's header."""
    return FaceEventMsg(
        header=header,
        type=event.type.value,
        face_id=event.track_id,
        track_age_s=float(event.track_age_s),
        emotion=event.emotion,
        previous_emotion=event.previous_emotion,
    )


def frame_to_msg(result: FrameResult, header: Header, faces: list[Face]) -> FaceArray:
    """A FaceArray for one frame; the header is the source image's, unchanged."""
    return FaceArray(
        header=header,
        image_width=result.image_width,
        image_height=result.image_height,
        processing_time_s=float(result.latency_s),
        faces=faces,
    )
