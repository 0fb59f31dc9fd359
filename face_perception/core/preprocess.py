"""Face alignment and tensor preparation shared by the classifier heads.

A face chip is cut by a similarity transform (rotation, uniform scale, shift) that maps
the detector's five landmarks onto a canonical face template. Pixels outside the image
are filled by replicating the border, so faces at the image edge are never dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from face_perception.core.runtime import InputSpec

# Five-point face template in a unit square spanning brow to chin and ear to ear
# (the frame of dlib's mean face shape): both eye centres, nose tip, mouth corners.
_UNIT_TEMPLATE = np.array(
    [
        [0.2254, 0.2160],
        [0.7548, 0.2160],
        [0.4901, 0.5156],
        [0.2541, 0.7802],
        [0.7261, 0.7802],
    ],
    dtype=np.float64,
)


def face_template(size: int, padding: float) -> np.ndarray:
    """Template landmarks for a ``size`` x ``size`` chip with ``padding`` (share of the face) on each side."""
    return ((_UNIT_TEMPLATE + padding) / (1.0 + 2.0 * padding) * size).astype(np.float64)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (2x3) mapping ``source`` points onto ``target`` (Umeyama)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centered, target_centered = source - source_mean, target - target_mean
    covariance = target_centered.T @ source_centered / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    variance = (source_centered**2).sum() / len(source)
    scale = (singular * np.diag(sign)).sum() / variance if variance > 0 else 1.0
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - matrix[:, :2] @ source_mean
    return matrix


def align_faces(image: np.ndarray, landmarks: list[np.ndarray], size: int, padding: float) -> np.ndarray:
    """Cut one aligned ``size`` x ``size`` chip per face; returns uint8 [N, size, size, C]."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    chips = np.empty((len(landmarks), size, size, channels), dtype=np.uint8)
    template = face_template(size, padding)
    for index, points in enumerate(landmarks):
        matrix = similarity_transform(points, template)
        chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        chips[index] = chip.reshape(size, size, channels)
    return chips


def resize_crops(crops: list[np.ndarray], size: int) -> np.ndarray:
    """Resize whole-image face crops (already cut around the face) to uint8 [N, size, size, 3]."""
    chips = np.empty((len(crops), size, size, 3), dtype=np.uint8)
    for index, crop in enumerate(crops):
        chips[index] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return chips


def chips_to_tensor(chips_bgr: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Turn uint8 BGR chips [N, H, W, 3] into the float32 NCHW tensor a model's spec asks for."""
    count, height, width = chips_bgr.shape[:3]
    if spec.color == "gray":
        # One cvtColor over the chips stacked as a single tall image: no per-chip loop.
        tall = chips_bgr.reshape(count * height, width, 3)
        gray = cv2.cvtColor(tall, cv2.COLOR_BGR2GRAY) if count else np.empty((0, width), np.uint8)
        values = gray.reshape(count, 1, height, width).astype(np.float32)
    else:
        ordered = chips_bgr[..., ::-1] if spec.color == "rgb" else chips_bgr
        values = ordered.transpose(0, 3, 1, 2).astype(np.float32)
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(1, -1, 1, 1)
    values -= mean
    values *= np.float32(spec.scale)
    return np.ascontiguousarray(values)
