"""Paths and helpers shared by the tests (importable as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "face_perception" / "data" / "samples"
SOURCE_WHEELS = ROOT / ".venv" / "source-wheels"
SOURCE_NPM = ROOT / ".venv" / "source-npm"


def shared(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (see ../shared/data/README.md)")
    return path


def utkface_files(split: str, limit: int | None = None) -> list[Path]:
    files = sorted(shared("utkface", split).glob("*.jpg"))
    return files[:limit] if limit else files


def real_faces_frames(count: int, shift_px: int = 6):
    """``count`` frames of real faces moving right: UTKFace dev crops (or the sample photo), BGR."""
    import cv2
    import numpy as np

    from face_perception.core.images import read_image

    folder = SHARED_DATA / "utkface" / "dev"
    files = (
        [p for p in sorted(folder.glob("*.jpg")) if 20 <= int(p.name.split("_")[0]) <= 60][:3]
        if folder.is_dir()
        else []
    )
    if files:
        base = np.full((220, 640, 3), 100, np.uint8)
        for index, path in enumerate(files):
            base[30:190, 20 + index * 200 : 180 + index * 200] = cv2.resize(read_image(path), (160, 160))
    else:
        base = read_image(SAMPLES / "astronaut.jpg")
    return [np.ascontiguousarray(np.roll(base, shift_px * i, axis=1)) for i in range(count)]


def write_camera_bag(
    path,
    frames,
    storage: str = "mcap",
    period_s: float = 0.25,
    broken_at: int | None = None,
    loop_at: int | None = None,
):
    """A rosbag2 with /camera/image_raw (cycling bgr8, rgb8, mono8) and /camera/image/compressed.

    ``broken_at``: that raw frame gets truncated data. ``loop_at``: header stamps start over at that
    frame (as in a looping recording). Returns the header stamps (sec, nanosec) per raw frame.
    """
    import cv2
    import numpy as np
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    image_type = store.types["sensor_msgs/msg/Image"]
    compressed_type = store.types["sensor_msgs/msg/CompressedImage"]
    header_type, time_type = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    stamps = []
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        raw_conn = writer.add_connection("/camera/image_raw", image_type.__msgtype__, typestore=store)
        jpeg_conn = writer.add_connection("/camera/image/compressed", compressed_type.__msgtype__, typestore=store)
        for index, frame in enumerate(frames):
            t_ns = 1_700_000_000_000_000_000 + int(index * period_s * 1e9)
            stamp_index = index - loop_at if loop_at is not None and index >= loop_at else index
            s_ns = 1_700_000_000_000_000_000 + int(stamp_index * period_s * 1e9)
            header = header_type(stamp=time_type(sec=s_ns // 10**9, nanosec=s_ns % 10**9), frame_id="camera")
            stamps.append((header.stamp.sec, header.stamp.nanosec))
            encoding = ("bgr8", "rgb8", "mono8")[index % 3]
            pixels = {"bgr8": frame, "rgb8": frame[..., ::-1], "mono8": cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)}[
                encoding
            ]
            data = np.ascontiguousarray(pixels).reshape(-1)
            if index == broken_at:
                data = data[:100]
            channels = 1 if encoding == "mono8" else 3
            msg = image_type(
                header=header,
                height=frame.shape[0],
                width=frame.shape[1],
                encoding=encoding,
                is_bigendian=0,
                step=frame.shape[1] * channels,
                data=data,
            )
            writer.write(raw_conn, t_ns, store.serialize_cdr(msg, image_type.__msgtype__))
            ok, jpeg = cv2.imencode(".jpg", frame)
            compressed = compressed_type(header=header, format="jpeg", data=jpeg.reshape(-1))
            writer.write(jpeg_conn, t_ns + 1000, store.serialize_cdr(compressed, compressed_type.__msgtype__))
    return stamps


def png_claiming(width: int, height: int, rows: int | None = None, gray: bool = True) -> bytes:
    """A PNG whose header says ``width`` x ``height``, with ``rows`` rows of zeros (all rows when None).

    All-zero rows deflate about a thousand to one: a whole 30000x30000 gray image is under 1 MB,
    a decompression bomb; with few rows the data is short and the header lies about what follows.
    """
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    channels = 1 if gray else 3
    row = bytes(1 + width * channels)  # filter byte 0, then zero pixels
    count = height if rows is None else min(rows, height)
    block_rows = max(1, min(count, (1 << 22) // len(row)))
    blocks, rest = divmod(count, block_rows)
    # After a full flush the compressor starts afresh, so every further block of zeros deflates to the same
    # bytes: deflate one, repeat it, and put the checksum of the whole data at the end.
    compressor = zlib.compressobj(9)
    first = compressor.compress(row * block_rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(row * block_rows) + compressor.flush(zlib.Z_FULL_FLUSH) if blocks > 1 else b""
    tail = compressor.compress(row * rest) + compressor.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(row * block_rows, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    parts = [first, repeated * (blocks - 1), tail[:-4], struct.pack(">I", checksum)]
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if gray else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 64x48 JPEG whose frame header is patched to claim ``width`` x ``height``."""
    import cv2
    import numpy as np

    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    data = bytearray(cv2.imencode(".jpg", image)[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)
