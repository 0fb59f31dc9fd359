"""Reading and checking images: everything the pipeline is given becomes uint8 BGR or a clear error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from face_perception.core.errors import ImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


def as_bgr(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """Check an image array and return it as uint8 BGR [H, W, 3].

    Accepts gray [H, W] or [H, W, 1], BGR [H, W, 3] and BGRA [H, W, 4].

    Raises:
        ImageError: wrong type, empty, too large, or an unsupported channel count.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim not in (2, 3) or image.size == 0 or min(image.shape[:2]) == 0:
        raise ImageError(f"expected a non-empty [H, W] or [H, W, C] image, got shape {image.shape}")
    if max(image.shape[:2]) > max_side_px:
        raise ImageError(f"image {image.shape[1]}x{image.shape[0]} exceeds max_image_side_px={max_side_px}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return image
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ImageError(f"unsupported channel count {channels}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 BGR; raises ImageError when it is missing or undecodable."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"cannot read {path}: {error.strerror or error}") from error
    if data.size == 0:
        raise ImageError(f"{path} is empty")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{path} is not a decodable image (truncated or unknown format)")
    return image


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into image paths; files are kept as given."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found
