"""Conversions between ROS messages and the core library's arrays and results."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import ImageError
from face_perception.core.images_raw import decode_compressed, raw_to_bgr
from face_perception.core.message_fields import event_fields, face_fields
from face_perception.core.tracker import FaceEvent
from face_perception.core.types import FaceResult, FrameResult
from face_perception.msg import Face, FaceArray
from face_perception.msg import FaceEvent as FaceEventMsg

try:  # cv_bridge comes with an apt ROS 2 install; the built-in decoder covers its absence.
    from cv_bridge import CvBridge, CvBridgeError

    _BRIDGE: CvBridge | None = CvBridge()
except ImportError:  # pragma: no cover - depends on the ROS install
    _BRIDGE = None


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
    """A sensor_msgs/CompressedImage (JPEG or PNG, checked against ``format``) as uint8 BGR.

    The size is read from the header first, so an oversized image is refused before it is decoded.
    Raises ImageError when it cannot be used.
    """
    return decode_compressed(msg.data, max_side_px, msg.format)


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
    """One face as a face_perception/Face (see ``message_fields.face_fields``)."""
    fields = face_fields(raw, smoothed, face_id, track_age_s)
    for name in ("landmarks_x", "landmarks_y", "emotion_scores", "raw_emotion_scores"):
        fields[name] = fields[name].tolist()
    return Face(**fields)


def event_to_msg(event: FaceEvent, header: Header) -> FaceEventMsg:
    """A tracker event as a face_perception/FaceEvent with the frame's header."""
    return FaceEventMsg(header=header, **event_fields(event))


def frame_to_msg(result: FrameResult, header: Header, faces: list[Face]) -> FaceArray:
    """A FaceArray for one frame; the header is the source image's, unchanged."""
    return FaceArray(
        header=header,
        image_width=result.image_width,
        image_height=result.image_height,
        processing_time_s=float(result.latency_s),
        faces=faces,
    )
