"""The ONNX captioner runtime against transformers' generate on a tiny random ViT + GPT-2 model.

test/data/captioner_tiny/ and its reference.json come from scripts/build_caption_fixture.py: optimum's
image-to-text-with-past export of a random model, and the token ids transformers 4.57 generates (greedy and
beam search) on the bundled sample photos and variants of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import ROOT, SAMPLES

from face_perception.core.errors import ConfigError, ImageError, ModelError
from face_perception.core.scene.captioner import ImageCaptioner, resize_like_pil

FIXTURE = ROOT / "test" / "data" / "captioner_tiny"
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())


def variants(image_bgr: np.ndarray) -> dict[str, np.ndarray]:
    """The same variants scripts/build_caption_fixture.py makes the references on."""
    width = image_bgr.shape[1]
    return {"full": image_bgr, "left_half": image_bgr[:, : width // 2], "mirrored": image_bgr[:, ::-1]}


def reference_cases() -> list[tuple[np.ndarray, dict]]:
    cases = []
    for entry in REFERENCE["images"]:
        image = cv2.imread(str(SAMPLES / entry["image"]), cv2.IMREAD_COLOR)
        cases.append((variants(image)[entry["variant"]], entry))
    return cases


CASES = reference_cases()


def expected_ids(entry: dict, beams: int) -> tuple[int, ...]:
    """transformers' sequence without the start token, cut at the end token."""
    sequence = entry["sequences"][str(beams)]
    assert sequence[0] == REFERENCE["decoder_start_token_id"]
    ids = []
    for token in sequence[1:]:
        if token == REFERENCE["eos_token_id"]:
            break
        ids.append(token)
    return tuple(ids)


@pytest.fixture(scope="module", params=[1, 3], ids=["greedy", "beam3"])
def captioner(request) -> ImageCaptioner:
    return ImageCaptioner.from_folder(FIXTURE, beam_size=request.param, max_length=REFERENCE["max_length"])


def test_fixture_covers_both_endings():
    """Some references stop at the end token and some at max_length, so both stopping rules are checked."""
    lengths = [len(e["sequences"][b]) for e in REFERENCE["images"] for b in ("1", "3")]
    assert min(lengths) < REFERENCE["max_length"] and max(lengths) == REFERENCE["max_length"]


def test_pixel_values_match_the_image_processor(captioner):
    for image, entry in CASES:
        pixels = captioner.image_spec.pixel_values([image])
        assert pixels.shape == (1, 3, 32, 32) and pixels.dtype == np.float32
        assert float(pixels.mean()) == pytest.approx(entry["pixel_mean"], abs=1e-6)
        assert float(np.abs(pixels).sum()) == pytest.approx(entry["pixel_checksum"], rel=1e-6)


def test_tokens_equal_transformers_generate(captioner):
    for image, entry in CASES:
        ids = captioner.generate(captioner.image_spec.pixel_values([image]))[0]
        assert ids == expected_ids(entry, captioner.beam_size), (entry["image"], entry["variant"])


def test_caption_text_equals_transformers_decode(captioner):
    for image, entry in CASES:
        assert captioner.caption(image) == entry["text"][str(captioner.beam_size)].strip()


def test_batch_equals_one_by_one(captioner):
    images = [image for image, _ in CASES]
    batched = captioner.generate(captioner.image_spec.pixel_values(images))
    assert batched == [expected_ids(entry, captioner.beam_size) for _, entry in CASES]
    assert captioner.caption_batch(images) == [captioner.caption(image) for image in images]
    assert captioner.caption_batch([]) == []


def test_split_decoder_equals_merged(tmp_path: Path):
    """A folder with decoder_model.onnx + decoder_with_past_model.onnx (no merged decoder) gives the same ids."""
    folder = tmp_path / "split"
    shutil.copytree(FIXTURE, folder)
    (folder / "decoder_model_merged.onnx").unlink()
    for beams in (1, 3):
        split = ImageCaptioner.from_folder(folder, beam_size=beams, max_length=REFERENCE["max_length"])
        assert not split.decoder.merged
        for image, entry in CASES:
            assert split.generate(split.image_spec.pixel_values([image]))[0] == expected_ids(entry, beams)


def test_max_length_counts_the_start_token():
    short = ImageCaptioner.from_folder(FIXTURE, beam_size=1, max_length=5)
    for image, entry in CASES:
        ids = short.generate(short.image_spec.pixel_values([image]))[0]
        assert len(ids) <= 4
        assert ids == expected_ids(entry, 1)[: len(ids)]


def test_gray_and_bgra_images_are_captioned(captioner):
    image = CASES[0][0]
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert captioner.caption(gray) == captioner.caption(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    assert captioner.caption(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)) == captioner.caption(image)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 10, 3), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8), None],
    ids=["empty", "float", "two-channels", "none"],
)
def test_bad_images_raise_image_error(captioner, bad):
    with pytest.raises(ImageError):
        captioner.caption(bad)


def copy_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(FIXTURE, folder)
    return folder


def test_missing_folder(tmp_path: Path):
    with pytest.raises(ModelError, match="does not exist"):
        ImageCaptioner.from_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["encoder_model.onnx", "tokenizer.json", "config.json", "preprocessor_config.json"])
def test_missing_file_is_named(tmp_path: Path, name: str):
    folder = copy_fixture(tmp_path)
    (folder / name).unlink()
    with pytest.raises(ModelError, match=name.replace(".", r"\.")):
        ImageCaptioner.from_folder(folder)


def test_missing_decoders_are_named(tmp_path: Path):
    folder = copy_fixture(tmp_path)
    (folder / "decoder_model_merged.onnx").unlink()
    (folder / "decoder_with_past_model.onnx").unlink()
    with pytest.raises(ModelError, match=r"decoder_with_past_model\.onnx"):
        ImageCaptioner.from_folder(folder)


def test_truncated_model_is_named(tmp_path: Path):
    folder = copy_fixture(tmp_path)
    data = (folder / "encoder_model.onnx").read_bytes()
    (folder / "encoder_model.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match=r"encoder_model\.onnx"):
        ImageCaptioner.from_folder(folder)


def test_broken_json_is_a_config_error(tmp_path: Path):
    folder = copy_fixture(tmp_path)
    (folder / "preprocessor_config.json").write_text('{"size": ')
    with pytest.raises(ConfigError, match=r"preprocessor_config\.json"):
        ImageCaptioner.from_folder(folder)


def test_broken_tokenizer_is_named(tmp_path: Path):
    folder = copy_fixture(tmp_path)
    (folder / "tokenizer.json").write_text('{"model": 3}')
    with pytest.raises(ModelError, match=r"tokenizer\.json"):
        ImageCaptioner.from_folder(folder)


def test_a_model_without_past_is_refused(tmp_path: Path):
    """An export without --task ...-with-past has no cache inputs: refused with the task to use."""
    folder = copy_fixture(tmp_path)
    (folder / "decoder_model_merged.onnx").unlink()
    shutil.copy(folder / "decoder_model.onnx", folder / "decoder_with_past_model.onnx")
    with pytest.raises(ModelError, match="with-past"):
        ImageCaptioner.from_folder(folder)


@pytest.mark.parametrize(
    ("key", "value"), [("no_repeat_ngram_size", 3), ("repetition_penalty", 1.2), ("early_stopping", "sometimes")]
)
def test_unsupported_generation_settings_are_refused(tmp_path: Path, key: str, value):
    folder = copy_fixture(tmp_path)
    generation = json.loads((folder / "generation_config.json").read_text())
    generation[key] = value
    (folder / "generation_config.json").write_text(json.dumps(generation))
    with pytest.raises(ConfigError, match=key):
        ImageCaptioner.from_folder(folder)


def test_unsupported_image_size_is_refused(tmp_path: Path):
    folder = copy_fixture(tmp_path)
    preprocessor = json.loads((folder / "preprocessor_config.json").read_text())
    preprocessor["size"] = {"shortest_edge": 32}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    with pytest.raises(ConfigError, match="size"):
        ImageCaptioner.from_folder(folder)


@pytest.mark.parametrize(("beam_size", "max_length"), [(0, 20), (1, 1)])
def test_bad_settings_are_config_errors(beam_size: int, max_length: int):
    with pytest.raises(ConfigError):
        ImageCaptioner.from_folder(FIXTURE, beam_size=beam_size, max_length=max_length)


@pytest.mark.parametrize(
    "resample", [0, 1, 2, 3, 4, 5], ids=["nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"]
)
def test_resize_equals_pillow_on_one_axis(resample: int):
    """Every PIL filter, shrinking and enlarging one axis (one pass, so the pass order of Pillow 13 cannot matter)."""
    pil = pytest.importorskip("PIL.Image")
    rgb = np.ascontiguousarray(cv2.imread(str(SAMPLES / "rocket.jpg"))[:, :, ::-1])
    height, width = rgb.shape[:2]
    for out_h, out_w in [(height, 100), (height, 1001), (90, width), (700, width)]:
        expected = np.asarray(pil.fromarray(rgb).resize((out_w, out_h), resample=resample))
        np.testing.assert_array_equal(resize_like_pil(rgb, out_h, out_w, resample), expected)
    if resample == 0:
        expected = np.asarray(pil.fromarray(rgb).resize((224, 224), resample=0))
        np.testing.assert_array_equal(resize_like_pil(rgb, 224, 224, 0), expected)
