"""Conversions between ROS messages and the core library's arrays and results."""

from __future__ import annotations

import math

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import ImageError
from face_perception.core.images_raw import decode_compressed, raw_to_bgr
from face_perception.core.types import EMOTION_LABELS, FaceResult, FrameResult
from face_perception.msg import Face, FaceArray

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


def face_to_msg(face: FaceResult, face_id: int, track_age_s: float = 0.0) -> Face:
    """One FaceResult as a face_perception/Face message (NaN / "" where a head is off)."""
    msg = Face()
    msg.id = face_id
    msg.track_age_s = float(track_age_s)
    box = face.detection.box
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = box.x_min, box.y_min, box.x_max, box.y_max
    msg.detection_score = face.detection.score
    landmarks = face.detection.landmarks.astype(np.float32)
    msg.landmarks_x = landmarks[:, 0].tolist()
    msg.landmarks_y = landmarks[:, 1].tolist()
    if face.emotion is not None:
        msg.emotion = face.emotion.label
        msg.emotion_score = face.emotion.score
        msg.emotion_scores = [face.emotion.scores[label] for label in EMOTION_LABELS]
    else:
        msg.emotion_score = NAN
        msg.emotion_scores = [NAN] * len(EMOTION_LABELS)
    if face.gender is not None:
        msg.gender = face.gender.label
        msg.gender_score = face.gender.score
    else:
        msg.gender_score = NAN
    msg.age = face.age if face.age is not None else NAN
    if face.eyewear is not None:
        msg.eyeglasses_probability = face.eyewear.probability
        msg.eyeglasses = face.eyewear.worn
    else:
        msg.eyeglasses_probability = NAN
    return msg


def frame_to_msg(result: FrameResult, header: Header, face_ids: list[int], track_ages_s: list[float]) -> FaceArray:
    """A FrameResult as FaceArray; the header is the source image's, unchanged."""
    msg = FaceArray()
    msg.header = header
    msg.image_width = result.image_width
    msg.image_height = result.image_height
    msg.processing_time_s = float(result.latency_s)
    msg.faces = [face_to_msg(f, i, a) for f, i, a in zip(result.faces, face_ids, track_ages_s, strict=True)]
    return msg


def is_unset(value: float) -> bool:
    """True for the NaN the messages use for a value a head did not produce."""
    return math.isnan(value)
