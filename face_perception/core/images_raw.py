"""Decoding raw camera buffers (the fields of a sensor_msgs/Image) without ROS.

Kept free of ROS types so the decoding of every encoding, including rows padded by a
``step`` larger than the pixel data, is tested with plain pytest.
"""

from __future__ import annotations

import cv2
import numpy as np

from face_perception.core.errors import ImageError
from face_perception.core.images import DEFAULT_MAX_SIDE_PX, check_side, decode_image

# encoding -> (bytes per pixel, OpenCV conversion to BGR or None when already BGR).
_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "bgr8": (3, None),
    "8UC3": (3, None),
    "rgb8": (3, cv2.COLOR_RGB2BGR),
    "bgra8": (4, cv2.COLOR_BGRA2BGR),
    "8UC4": (4, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, cv2.COLOR_RGBA2BGR),
    "mono8": (1, cv2.COLOR_GRAY2BGR),
    "8UC1": (1, cv2.COLOR_GRAY2BGR),
    "mono16": (2, None),
    "16UC1": (2, None),
    "yuv422": (2, cv2.COLOR_YUV2BGR_UYVY),
    "uyvy": (2, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": (2, cv2.COLOR_YUV2BGR_YUYV),
    "yuyv": (2, cv2.COLOR_YUV2BGR_YUYV),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)


def raw_to_bgr(
    data: bytes | bytearray | memoryview | np.ndarray,
    width: int,
    height: int,
    encoding: str,
    step: int,
    is_bigendian: bool = False,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
) -> np.ndarray:
    """Decode a raw image buffer into a uint8 BGR [H, W, 3] array (a copy, never a view of ``data``).

    Raises:
        ImageError: unknown encoding, zero or too large size, a step shorter than a row,
            or fewer bytes than ``step * height``.
    """
    if encoding not in _ENCODINGS:
        raise ImageError(f"unsupported encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    check_side(width, height, max_side_px)
    if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv") and width % 2:
        raise ImageError(f"{encoding} needs an even width, got {width}")
    bytes_per_pixel, conversion = _ENCODINGS[encoding]
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise ImageError(f"step {step} is shorter than a row of {width} {encoding} pixels ({row_bytes} bytes)")
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    if buffer.size < step * height:
        raise ImageError(f"image data has {buffer.size} bytes, expected step*height = {step * height} (truncated)")
    rows = buffer[: step * height].reshape(height, step)[:, :row_bytes]
    if bytes_per_pixel == 2 and encoding in ("mono16", "16UC1"):
        words = rows.reshape(height, width, 2)
        high = words[..., 0] if is_bigendian else words[..., 1]
        return cv2.cvtColor(np.ascontiguousarray(high), cv2.COLOR_GRAY2BGR)
    pixels = np.ascontiguousarray(rows).reshape(height, width, bytes_per_pixel)
    if conversion is None:
        return pixels.copy() if np.shares_memory(pixels, buffer) else pixels
    return cv2.cvtColor(pixels, conversion)


def decode_compressed(
    data: bytes | bytearray | memoryview | np.ndarray, max_side_px: int = DEFAULT_MAX_SIDE_PX, declared: str = ""
) -> np.ndarray:
    """Decode a JPEG/PNG buffer (sensor_msgs/CompressedImage data and format) into uint8 BGR.

    The size is read from the header first: a larger image than ``max_side_px`` is never decoded.

    Raises:
        ImageError: empty, not JPEG or PNG, format mismatch, undecodable, or larger than ``max_side_px``.
    """
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    if buffer.size == 0:
        raise ImageError("compressed image is empty")
    return decode_image(buffer, max_side_px, declared)
