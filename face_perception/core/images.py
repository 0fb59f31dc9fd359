"""Reading and checking images: everything the pipeline is given becomes uint8 BGR or a clear error.

Compressed images (files, ``sensor_msgs/CompressedImage``, bag messages) are JPEG or PNG only. Their
size is read from the header before anything is decoded, so an image larger than ``max_side_px``
(a decompression bomb: a few kB of PNG that claims 30000x30000 pixels) is refused without
allocating its pixels. What libjpeg and libpng print about corrupt data goes to this module's
logger (debug level) and into the error, never to the process's stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.errors import ImageError

log = logging.getLogger(__name__)

# The default of the ``max_image_side_px`` parameter (core.config uses it too).
DEFAULT_MAX_SIDE_PX = 8192
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
# Decoded uint8 BGR bytes per pixel, and what a file may hold per allowed pixel (16-bit RGBA PNG + slack).
_FILE_BYTES_PER_PIXEL = 8
_FILE_SLACK_BYTES = 1 << 20

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_MARKER = re.compile(rb"(?<=\xff)[^\xff]")  # a marker's code: the first non-0xFF byte after 0xFF bytes
_JPEG_MAX_SEGMENTS = 1000  # camera JPEGs have a handful before the frame header; more is an attack or garbage
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)
_OTHER_FORMATS = (
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"RIFF", "RIFF (WebP)"),
    (b"P1", "PNM"),
    (b"P2", "PNM"),
    (b"P3", "PNM"),
    (b"P4", "PNM"),
    (b"P5", "PNM"),
    (b"P6", "PNM"),
)


@dataclass(frozen=True)
class ImageHeader:
    """What a compressed image's header says: its format (``jpeg`` or ``png``) and size."""

    format: str
    width: int
    height: int


def read_header(data: np.ndarray | bytes) -> ImageHeader:
    """The format and size of a JPEG or PNG buffer, read from its header without decoding pixels.

    Raises:
        ImageError: empty, not JPEG or PNG (the format is named when recognised), or a header
            that is truncated or gives no size.
    """
    head = bytes(memoryview(data)[:64]) if not isinstance(data, np.ndarray) else data[:64].tobytes()
    if not head:
        raise ImageError("image data is empty")
    if head.startswith(_PNG_SIGNATURE):
        return _png_header(head)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg_header(data if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8))
    named = next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)
    if named:
        raise ImageError(f"{named} images are not accepted (JPEG or PNG only)")
    raise ImageError("data is not a JPEG or PNG image (unknown signature)")


def _png_header(head: bytes) -> ImageHeader:
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise ImageError("PNG header is truncated or has no IHDR chunk")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return ImageHeader("png", width, height)


def _jpeg_header(data: np.ndarray) -> ImageHeader:
    """Walk the JPEG markers up to the first start-of-frame, which holds the size.

    As libjpeg does, bytes that are not a marker and fill bytes (0xFF runs) before one are skipped.
    """
    buffer = data.reshape(-1).tobytes()
    index = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        found = _JPEG_MARKER.search(buffer, index)
        if found is None:
            break
        marker, index = found.group(0)[0], found.start() - 1  # index: the 0xFF just before the code
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            index += 2
            continue
        if marker in (0xD9, 0xDA) or index + 8 >= len(buffer):  # image end or scan data before any frame header
            break
        length = buffer[index + 2] << 8 | buffer[index + 3]
        if marker in _JPEG_SOF:
            height = buffer[index + 5] << 8 | buffer[index + 6]
            width = buffer[index + 7] << 8 | buffer[index + 8]
            return ImageHeader("jpeg", width, height)
        if length < 2:
            raise ImageError(f"JPEG header is corrupt (segment length {length} at byte {index})")
        index += 2 + length
    else:
        raise ImageError(f"JPEG has more than {_JPEG_MAX_SEGMENTS} segments before its frame header")
    raise ImageError("JPEG header is truncated or has no frame header (size unknown)")


def check_side(width: int, height: int, max_side_px: int) -> None:
    """Raise ImageError for a zero size or a side longer than ``max_side_px``."""
    if width <= 0 or height <= 0:
        raise ImageError(f"image has zero size ({width}x{height})")
    if max(width, height) > max_side_px:
        raise ImageError(f"image {width}x{height} exceeds max_image_side_px={max_side_px}")


def format_of(declared: str) -> str | None:
    """The codec a ``CompressedImage.format`` string names (``jpeg``, ``png``), or None when it names neither.

    Lenient: case, spaces and image_transport's ``"bgr8; jpeg compressed bgr8"`` form are accepted.
    """
    words = set(re.split(r"[^a-z0-9]+", declared.lower()))
    if "compresseddepth" in words:
        return "compressedDepth"
    if words & {"jpeg", "jpg"}:
        return "jpeg"
    if "png" in words:
        return "png"
    return None


def decode_image(
    data: np.ndarray | bytes | bytearray | memoryview, max_side_px: int = DEFAULT_MAX_SIDE_PX, declared: str = ""
) -> np.ndarray:
    """Decode a JPEG or PNG buffer into uint8 BGR [H, W, 3], refusing it before decoding when it is too large.

    ``declared`` is a ``CompressedImage.format``: when it names a codec, the data must be that codec
    (empty or encoding-only formats such as ``"bgr8"`` are accepted; the bytes decide).

    Raises:
        ImageError: empty, not JPEG or PNG, larger than ``max_side_px``, format mismatch, or undecodable.
    """
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    header = read_header(buffer)
    named = format_of(declared) if declared else None
    if named == "compressedDepth":
        raise ImageError(f"format {declared!r} is not supported (JPEG or PNG colour images only)")
    if named is not None and named != header.format:
        raise ImageError(f"format says {declared!r} but the data is {header.format.upper()}")
    check_side(header.width, header.height, max_side_px)
    with _decoder_messages() as messages:
        try:
            image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        except cv2.error as error:  # OpenCV's own limits and codec failures
            image = None
            failure = f"OpenCV refused it: {str(error).strip().splitlines()[-1]}"
        else:
            failure = ""
    detail = "; ".join(messages.lines)
    if image is None:
        reason = failure or (detail or "truncated or corrupt data")
        raise ImageError(
            f"{header.format.upper()} {header.width}x{header.height} ({buffer.size} bytes) cannot be decoded: {reason}"
        )
    if image.shape[:2] != (header.height, header.width):  # a header that lies about the size
        check_side(image.shape[1], image.shape[0], max_side_px)
    if detail:
        log.debug("%s decoded with warnings: %s", header.format.upper(), detail)
    return image


@dataclass
class _Captured:
    """Decoder lines caught while decoding."""

    lines: list[str] = field(default_factory=list)


# Lines that libjpeg and libpng print; anything else written to stderr meanwhile (another thread) is passed on.
_DECODER_LINE = re.compile(
    r"libpng|jpeg|marker|huffman|\bsos\b|jfif|progression|quantization|datastream|component|sampling|"
    r"arithmetic|premature|bogus|corrupt|invalid|unsupported",
    re.IGNORECASE,
)
_STDERR_LOCK = threading.Lock()
_STDERR_SINK: list = []  # one reusable temporary file


@contextlib.contextmanager
def _decoder_messages() -> Iterator[_Captured]:
    """Capture what C decoders write to file descriptor 2 during the block (serialised across threads)."""
    captured = _Captured()
    with _STDERR_LOCK:
        try:
            if not _STDERR_SINK:
                _STDERR_SINK.append(tempfile.TemporaryFile())  # noqa: SIM115 - kept open for reuse
            sink = _STDERR_SINK[0]
            saved = os.dup(2)
        except OSError:  # no stderr to redirect: decode as is
            yield captured
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            size = os.lseek(sink.fileno(), 0, os.SEEK_CUR)
            text = ""
            if size:
                os.lseek(sink.fileno(), 0, os.SEEK_SET)
                text = os.read(sink.fileno(), size).decode("utf-8", "replace")
                os.lseek(sink.fileno(), 0, os.SEEK_SET)
                os.ftruncate(sink.fileno(), 0)
            passed_on = []
            for line in text.splitlines():
                (captured.lines if _DECODER_LINE.search(line) else passed_on).append(line.strip())
            if passed_on:
                os.write(2, ("\n".join(passed_on) + "\n").encode())


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


def read_image(path: str | Path, max_side_px: int = DEFAULT_MAX_SIDE_PX) -> np.ndarray:
    """Read a JPEG or PNG file as uint8 BGR.

    Only regular files are read (a FIFO or device would block or never end), and no more bytes than
    an image of ``max_side_px`` can take; the size is checked from the header before decoding.

    Raises:
        ImageError: missing, not a regular file (dangling or looping link, FIFO, folder), too large,
            not JPEG or PNG, or undecodable. The message names the file.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as error:
        raise ImageError(f"cannot read {path}: {error.strerror or error}") from error
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"cannot read {path}: not a regular file")
    limit = _FILE_BYTES_PER_PIXEL * max_side_px * max_side_px + _FILE_SLACK_BYTES
    if info.st_size > limit:
        raise ImageError(f"{path} has {info.st_size} bytes, more than an image within max_image_side_px={max_side_px}")
    try:
        with path.open("rb") as file:
            data = np.frombuffer(file.read(info.st_size + 1), dtype=np.uint8)  # +1: notice a file that grew
    except OSError as error:
        raise ImageError(f"cannot read {path}: {error.strerror or error}") from error
    if data.size > limit:
        raise ImageError(f"{path} has more bytes than an image within max_image_side_px={max_side_px}")
    if data.size == 0:
        raise ImageError(f"{path} is empty")
    try:
        return decode_image(data, max_side_px)
    except ImageError as error:
        raise ImageError(f"{path}: {error}") from error


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into image paths; files are kept as given.

    In folders, every non-folder entry with a JPEG or PNG suffix is listed, links that lead nowhere
    included, so each gets a record (an error for the unreadable ones) rather than being skipped.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()))
        else:
            found.append(path)
    return found
