import cv2
import numpy as np
import pytest

from face_perception.core.errors import ImageError
from face_perception.core.images_raw import SUPPORTED_ENCODINGS, decode_compressed, raw_to_bgr


def _pad_rows(pixels: np.ndarray, padding: int) -> tuple[bytes, int]:
    rows = pixels.reshape(pixels.shape[0], -1)
    padded = np.concatenate([rows, np.full((rows.shape[0], padding), 77, np.uint8)], axis=1)
    return padded.tobytes(), padded.shape[1]


@pytest.fixture(scope="module")
def frame(astronaut):
    return cv2.resize(astronaut, (62, 40))  # even width for YUV 4:2:2, odd-sized rows when padded


@pytest.mark.parametrize("padding", [0, 3])
@pytest.mark.parametrize(
    ("encoding", "to_raw"),
    [
        ("bgr8", lambda f: f),
        ("8UC3", lambda f: f),
        ("rgb8", lambda f: f[..., ::-1]),
        ("bgra8", lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA)),
        ("rgba8", lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGBA)),
    ],
)
def test_color_encodings_round_trip_exactly(frame, encoding, to_raw, padding):
    data, step = _pad_rows(np.ascontiguousarray(to_raw(frame)), padding)
    decoded = raw_to_bgr(data, frame.shape[1], frame.shape[0], encoding, step)
    np.testing.assert_array_equal(decoded, frame)


@pytest.mark.parametrize("padding", [0, 5])
@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8(frame, encoding, padding):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    data, step = _pad_rows(gray, padding)
    decoded = raw_to_bgr(data, gray.shape[1], gray.shape[0], encoding, step)
    np.testing.assert_array_equal(decoded, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_keeps_the_high_byte(frame, bigendian):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 256 + 13
    raw = gray.astype(">u2" if bigendian else "<u2")
    data, step = _pad_rows(raw.view(np.uint8), 2)
    decoded = raw_to_bgr(data, gray.shape[1], gray.shape[0], "mono16", step, is_bigendian=bigendian)
    np.testing.assert_array_equal(decoded[..., 0], (gray >> 8).astype(np.uint8))


def _bgr_to_yuv422(frame: np.ndarray, order: str) -> np.ndarray:
    yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV)
    y, u, v = (yuv[..., i].astype(np.int32) for i in range(3))
    u_pair = ((u[:, 0::2] + u[:, 1::2]) // 2).astype(np.uint8)
    v_pair = ((v[:, 0::2] + v[:, 1::2]) // 2).astype(np.uint8)
    y0, y1 = y[:, 0::2].astype(np.uint8), y[:, 1::2].astype(np.uint8)
    quads = [u_pair, y0, v_pair, y1] if order == "uyvy" else [y0, u_pair, y1, v_pair]
    return np.stack(quads, axis=-1).reshape(frame.shape[0], frame.shape[1] * 2)


@pytest.mark.parametrize("padding", [0, 4])
@pytest.mark.parametrize(
    ("encoding", "order"), [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")]
)
def test_yuv422_variants_decode_close_to_the_source(frame, encoding, order, padding):
    data, step = _pad_rows(_bgr_to_yuv422(frame, order), padding)
    decoded = raw_to_bgr(data, frame.shape[1], frame.shape[0], encoding, step)
    assert decoded.shape == frame.shape
    # Chroma subsampling and OpenCV's video-range YUV conversion leave about 11 levels of
    # mean error here; a wrong byte order (UYVY read as YUYV) gives about 79.
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 20.0


def test_decoded_image_does_not_alias_the_message_buffer(frame):
    data = bytearray(frame.tobytes())
    decoded = raw_to_bgr(data, frame.shape[1], frame.shape[0], "bgr8", frame.shape[1] * 3)
    data[0] ^= 0xFF
    assert decoded[0, 0, 0] == frame[0, 0, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoding": "bayer_rggb8"}, "unsupported encoding"),
        ({"width": 0}, "zero size"),
        ({"height": 0}, "zero size"),
        ({"step": 10}, "shorter than a row"),
        ({"data": b"\x00" * 100}, "truncated"),
        ({"data": b""}, "truncated"),
        ({"width": 9000, "step": 27000}, "max_image_side_px"),
        ({"encoding": "yuv422", "width": 7, "step": 14}, "even width"),
    ],
)
def test_bad_buffers_raise_clear_errors(kwargs, message):
    args = {"data": b"\x00" * 300, "width": 10, "height": 10, "encoding": "bgr8", "step": 30}
    args.update(kwargs)
    with pytest.raises(ImageError, match=message):
        raw_to_bgr(**args)


def test_every_supported_encoding_is_tested():
    tested = {
        "bgr8",
        "8UC3",
        "rgb8",
        "bgra8",
        "8UC4",
        "rgba8",
        "mono8",
        "8UC1",
        "mono16",
        "16UC1",
        "yuv422",
        "uyvy",
        "yuv422_yuy2",
        "yuyv",
    }
    assert set(SUPPORTED_ENCODINGS) == tested


def test_bgra_alias_and_16uc1_decode(frame):
    bgra = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(raw_to_bgr(bgra.tobytes(), 62, 40, "8UC4", 62 * 4), frame)
    words = np.full((40, 62), 0x1234, "<u2")
    assert raw_to_bgr(words.view(np.uint8).tobytes(), 62, 40, "16UC1", 124)[0, 0, 0] == 0x12


def test_compressed_decode_and_errors(frame):
    ok, jpeg = cv2.imencode(".jpg", frame)
    assert ok
    decoded = decode_compressed(jpeg.tobytes())
    assert decoded.shape == frame.shape
    with pytest.raises(ImageError, match="empty"):
        decode_compressed(b"")
    with pytest.raises(ImageError, match="JPEG header is truncated"):
        decode_compressed(jpeg.tobytes()[:40])
    with pytest.raises(ImageError, match="cannot be decoded"):
        decode_compressed(jpeg.tobytes()[:400])
    with pytest.raises(ImageError, match="not a JPEG or PNG"):
        decode_compressed(b"not an image at all")
    with pytest.raises(ImageError, match="max_image_side_px"):
        decode_compressed(jpeg.tobytes(), max_side_px=50)
