"""Compressed images are JPEG or PNG, sized from their header before decoding, and fail as ImageError."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import ROOT, SAMPLES, jpeg_claiming, png_claiming

from face_perception.core.errors import ImageError
from face_perception.core.images import decode_image, format_of, list_images, read_header, read_image
from face_perception.core.images_raw import decode_compressed


def test_header_gives_format_and_size_without_decoding(astronaut):
    jpeg = (SAMPLES / "astronaut.jpg").read_bytes()
    assert read_header(jpeg) == read_header(np.frombuffer(jpeg, np.uint8))
    header = read_header(jpeg)
    assert (header.format, header.width, header.height) == ("jpeg", astronaut.shape[1], astronaut.shape[0])
    png = cv2.imencode(".png", astronaut[:37, :51])[1]
    assert (read_header(png).format, read_header(png).width, read_header(png).height) == ("png", 51, 37)
    progressive = cv2.imencode(".jpg", astronaut[:33, :65], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
    assert (read_header(progressive).width, read_header(progressive).height) == (65, 33)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_claiming(30000, 30000, rows=4), "30000x30000 exceeds max_image_side_px=8192"),
        (png_claiming(8193, 8193, rows=4), "8193x8193 exceeds"),
        (jpeg_claiming(20000, 20000), "20000x20000 exceeds"),
        (png_claiming(0, 10, rows=1), "zero size"),
    ],
)
def test_oversized_images_are_refused_from_the_header(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data, max_side_px=8192)


def test_a_decompression_bomb_is_refused_without_allocating(tmp_path):
    """A 30000x30000 PNG of under 1 MB: the process stays within 100 MB of where it started."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(30000, 30000))
    assert bomb.stat().st_size < 1_000_000
    script = (
        "import resource, sys\n"
        "from face_perception.core.errors import ImageError\n"
        "from face_perception.core.images import read_image, decode_image\n"
        "import time\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time()\n"
        "for call in (lambda: read_image(sys.argv[1]), lambda: decode_image(data)):\n"
        "    try:\n"
        "        call()\n"
        "    except ImageError as error:\n"
        "        print(error)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, time.process_time() - cpu)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stderr
    assert len(lines) == 3 and all("exceeds max_image_side_px=8192" in line for line in lines[:2]), lines
    growth_mb, cpu_s = lines[2].split()
    print(f"30000x30000 PNG of {bomb.stat().st_size} bytes, read and decoded: {cpu_s} s CPU, {growth_mb} MB growth")
    assert int(growth_mb) < 100, f"grew {growth_mb} MB"


def test_opencv_failures_are_image_errors():
    """A header OpenCV refuses (65535x65535 is past its own pixel limit) within a generous max side."""
    with pytest.raises(ImageError, match="OpenCV"):
        decode_image(png_claiming(65535, 65535, rows=2), max_side_px=65536)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"BM" + bytes(100), "BMP images are not accepted"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"II*\x00" + bytes(100), "TIFF"),
        (b"P5\n4 4\n255\n" + bytes(16), "PNM"),
        (b"random bytes, no image", "not a JPEG or PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG header is truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG header is truncated"),
    ],
)
def test_only_jpeg_and_png_are_accepted(data, message):
    with pytest.raises(ImageError, match=message):
        decode_compressed(data)


def test_bmp_webp_tiff_pgm_encoded_by_opencv_are_refused(astronaut):
    for extension in (".bmp", ".webp", ".tiff", ".pgm"):
        ok, data = cv2.imencode(extension, astronaut if extension != ".pgm" else astronaut[..., 0])
        assert ok
        with pytest.raises(ImageError, match="not accepted"):
            decode_compressed(data)


def test_format_field_is_checked_leniently(astronaut):
    jpeg = cv2.imencode(".jpg", astronaut)[1]
    png = cv2.imencode(".png", astronaut)[1]
    for declared in ("", "jpeg", "JPEG", "jpg", "bgr8; jpeg compressed bgr8", "rgb8"):
        assert decode_compressed(jpeg, declared=declared).shape == astronaut.shape
    assert decode_compressed(png, declared="png").shape == astronaut.shape
    with pytest.raises(ImageError, match="format says 'png' but the data is JPEG"):
        decode_compressed(jpeg, declared="png")
    with pytest.raises(ImageError, match="not supported"):
        decode_compressed(png, declared="16UC1; compressedDepth png")
    assert format_of("bgr8; jpeg compressed bgr8") == "jpeg" and format_of("mono8") is None


def test_corrupt_data_messages_never_reach_stderr(astronaut, capfd):
    """libjpeg/libpng complaints are routed to the logger and into the error, not printed."""
    jpeg = cv2.imencode(".jpg", astronaut)[1].tobytes()
    png = cv2.imencode(".png", astronaut)[1].tobytes()
    broken = [jpeg[: len(jpeg) // 2], jpeg[:-300] + b"\xff\xd9", png[: len(png) // 2]]
    flipped = bytearray(jpeg)
    flipped[len(jpeg) // 2] ^= 0xFF
    broken.append(bytes(flipped))
    for data in broken:
        with contextlib.suppress(ImageError):
            decode_compressed(data)
    os.write(2, b"unrelated line\n")
    captured = capfd.readouterr()
    assert captured.err == "unrelated line\n"


def test_read_image_refuses_what_is_not_a_regular_image_file(tmp_path, astronaut):
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "loop_a.jpg").symlink_to(tmp_path / "loop_b.jpg")
    (tmp_path / "loop_b.jpg").symlink_to(tmp_path / "loop_a.jpg")
    os.mkfifo(tmp_path / "fifo.jpg")
    cv2.imwrite(str(tmp_path / "ok.png"), astronaut)
    listed = list_images([tmp_path])
    assert [p.name for p in listed] == ["dangling.jpg", "fifo.jpg", "loop_a.jpg", "loop_b.jpg", "ok.png"]
    for path in listed[:4]:
        with pytest.raises(ImageError, match=f"cannot read {path}"):
            read_image(path)  # a FIFO would block forever if it were opened
    assert read_image(listed[4]).shape == astronaut.shape


def test_read_image_uses_the_configured_limit(tmp_path, astronaut):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), astronaut)
    with pytest.raises(ImageError, match=f"{path}: image .* exceeds max_image_side_px=100"):
        read_image(path, max_side_px=100)
    np.testing.assert_array_equal(read_image(path), astronaut)


def test_hostile_jpeg_headers_are_refused():
    """Headers built to make a marker walk long: a 2 MB run of 0xFF, half a million empty segments."""
    with pytest.raises(ImageError, match="no frame header"):
        read_header(b"\xff\xd8" + b"\xff" * 2_000_000)
    with pytest.raises(ImageError, match="more than 1000 segments before its frame header"):
        read_header(b"\xff\xd8" + b"\xff\xe0\x00\x02" * 500_000)
