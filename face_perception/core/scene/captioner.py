"""Optional neural captioner: ONNX vision-encoder-decoder models as optimum exports them.

The folder is what ``optimum-cli export onnx --task image-to-text-with-past`` writes for a
VisionEncoderDecoder model (e.g. ViT + GPT-2): ``encoder_model.onnx`` and either
``decoder_model_merged.onnx`` or ``decoder_model.onnx`` + ``decoder_with_past_model.onnx``, with
``tokenizer.json``, ``config.json``, ``preprocessor_config.json`` and ``generation_config.json``.
No captioning weights ship with face_perception: the user brings the folder.

Only numpy, ONNX Runtime and ``tokenizers`` run here. Images are prepared as transformers' ViT image
processor does (PIL's resampling filters reproduced in integer arithmetic, then rescale and normalize), and
greedy and beam search follow transformers' ``generate`` (same stopping rules, length penalty and early-stop
heuristic), so the token ids match it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from face_perception.core.checks import check_ranges
from face_perception.core.errors import ConfigError, ImageError, ModelError
from face_perception.core.runtime import session_from_file

try:
    from tokenizers import Tokenizer
except ImportError:  # optional extra: checked when a captioner is built
    Tokenizer = None  # type: ignore[assignment,misc]

LOGGER = logging.getLogger(__name__)

ENCODER_FILE = "encoder_model.onnx"
MERGED_DECODER_FILE = "decoder_model_merged.onnx"
DECODER_FILE = "decoder_model.onnx"
DECODER_WITH_PAST_FILE = "decoder_with_past_model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
GENERATION_FILE = "generation_config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

PAST_PREFIX = "past_key_values."
PRESENT_PREFIX = "present."
NEG_INF = -1.0e9  # the "impossible" score transformers' beam search adds

# generation_config.json keys that change the tokens and that this runtime does not implement.
_UNSUPPORTED_GENERATION = {
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "min_length": 0,
    "min_new_tokens": None,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "forced_decoder_ids": None,
    "exponential_decay_length_penalty": None,
    "num_beam_groups": 1,
    "diversity_penalty": 0.0,
}


# ----------------------------------------------------------------------------------------------------------------
# Image preparation


def _bilinear(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _bicubic(x: np.ndarray) -> np.ndarray:
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _sinc(x: np.ndarray) -> np.ndarray:
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, np.sin(np.pi * safe) / (np.pi * safe))


def _lanczos(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 3.0, _sinc(x) * _sinc(x / 3.0), 0.0)


def _box(x: np.ndarray) -> np.ndarray:
    return np.where((x > -0.5) & (x <= 0.5), 1.0, 0.0)


_HAMMING_A, _HAMMING_B = float(np.float32(0.54)), float(np.float32(0.46))  # PIL's float constants


def _hamming(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    value = _sinc(x) * (_HAMMING_A + _HAMMING_B * np.cos(np.pi * x))
    return np.where(x == 0.0, 1.0, np.where(x >= 1.0, 0.0, value))


# PIL's resampling filters by their enum value (as preprocessor_config.json stores "resample"): (filter, support).
_FILTERS: dict[int, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    1: (_lanczos, 3.0),
    2: (_bilinear, 1.0),
    3: (_bicubic, 2.0),
    4: (_box, 0.5),
    5: (_hamming, 1.0),
}
_PRECISION_BITS = 22  # PIL's fixed-point precision for 8-bit images


def _resample_taps(in_size: int, out_size: int, resample: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices [out, taps] and fixed-point weights [out, taps] of one axis, as PIL computes them."""
    kernel, base_support = _FILTERS[resample]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = base_support * filterscale
    taps = int(math.ceil(support)) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin
    offsets = np.arange(taps, dtype=np.int64)
    valid = offsets[None, :] < xmax[:, None]
    weights = kernel(((offsets[None, :] + xmin[:, None]) - center[:, None] + 0.5) * (1.0 / filterscale))
    weights = np.where(valid, weights, 0.0)
    total = np.cumsum(weights, axis=1)[:, -1:]  # a left-to-right sum, as PIL adds
    weights = np.where(total != 0.0, weights / np.where(total != 0.0, total, 1.0), weights)
    scaled = weights * (1 << _PRECISION_BITS)
    fixed = np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5)).astype(np.int64)
    index = np.minimum(xmin[:, None] + offsets[None, :], in_size - 1)
    return index, fixed


def _resample_axis(image: np.ndarray, out_size: int, resample: int, axis: int) -> np.ndarray:
    """One separable pass of PIL's 8-bit resampling along ``axis`` (0 rows, 1 columns) of an HxWxC uint8 image."""
    index, fixed = _resample_taps(image.shape[axis], out_size, resample)
    gathered = np.take(image, index, axis=axis).astype(np.int64)  # axis becomes [out, taps]
    acc = np.einsum("otwc,ot->owc" if axis == 0 else "hotc,ot->hoc", gathered, fixed)
    acc = (acc + (1 << (_PRECISION_BITS - 1))) >> _PRECISION_BITS
    return np.clip(acc, 0, 255).astype(np.uint8)


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """Source index of each output pixel for NEAREST: PIL steps from the first centre by adding the scale."""
    scale = in_size / out_size
    steps = np.full(out_size, scale)
    steps[0] = scale * 0.5
    return np.minimum(np.cumsum(steps).astype(np.int64), in_size - 1)


def resize_like_pil(image: np.ndarray, height: int, width: int, resample: int) -> np.ndarray:
    """Resize an HxWxC uint8 image as ``PIL.Image.resize((width, height), resample)`` does (Pillow 12).

    Pillow's two passes, horizontal then vertical, each rounded to 8 bits, in its fixed-point arithmetic: the
    result equals Pillow 12's to the grey level. (Pillow 13 runs the vertical pass first for some shapes, which
    moves a few pixels by one level.) Filters: PIL's NEAREST (0), LANCZOS (1), BILINEAR (2), BICUBIC (3), BOX (4)
    and HAMMING (5).
    """
    if resample == 0:
        return image[_nearest_index(image.shape[0], height)][:, _nearest_index(image.shape[1], width)]
    if resample not in _FILTERS:
        raise ConfigError(f"unsupported resample filter {resample} (PIL's 0 to 5 are supported)")
    out = image
    if width != image.shape[1]:
        out = _resample_axis(out, width, resample, axis=1)
    if height != image.shape[0]:
        out = _resample_axis(out, height, resample, axis=0)
    return out


@dataclass(frozen=True)
class ImageSpec:
    """How an image becomes the encoder's ``pixel_values``, from preprocessor_config.json."""

    height: int
    width: int
    resample: int = 2
    do_resize: bool = True
    do_rescale: bool = True
    rescale_factor: float = 1.0 / 255.0
    do_normalize: bool = True
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    @classmethod
    def from_json(cls, raw: dict[str, Any], source: str) -> ImageSpec:
        size = raw.get("size", 224)
        if isinstance(size, int):
            height = width = size
        elif isinstance(size, dict) and "height" in size and "width" in size:
            height, width = int(size["height"]), int(size["width"])
        else:
            raise ConfigError(f"{source}: size {size!r} is not supported (an int or height and width)")
        mean = raw.get("image_mean", [0.5, 0.5, 0.5])
        std = raw.get("image_std", [0.5, 0.5, 0.5])
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ConfigError(f"{source}: image_mean and image_std need 3 values (std > 0), got {mean}, {std}")
        resample = int(raw.get("resample", 2))
        if resample != 0 and resample not in _FILTERS:
            raise ConfigError(f"{source}: resample {resample} is not one of PIL's filters 0 to 5")
        return cls(
            height=height,
            width=width,
            resample=resample,
            do_resize=bool(raw.get("do_resize", True)),
            do_rescale=bool(raw.get("do_rescale", True)),
            rescale_factor=float(raw.get("rescale_factor", 1.0 / 255.0)),
            do_normalize=bool(raw.get("do_normalize", True)),
            mean=tuple(float(m) for m in mean),  # type: ignore[arg-type]
            std=tuple(float(s) for s in std),  # type: ignore[arg-type]
        )

    def pixel_values(self, images_bgr: list[np.ndarray]) -> np.ndarray:
        """float32 [N, 3, H, W] from BGR uint8 images (HxWx3; HxW gray is accepted too)."""
        batch = []
        for image in images_bgr:
            rgb = _to_rgb(image)
            if self.do_resize:
                rgb = resize_like_pil(rgb, self.height, self.width, self.resample)
            elif rgb.shape[:2] != (self.height, self.width):
                raise ImageError(f"image is {rgb.shape[1]}x{rgb.shape[0]}, the model needs {self.width}x{self.height}")
            values = rgb.astype(np.float64)
            if self.do_rescale:
                values = values * self.rescale_factor
            values = values.astype(np.float32)
            if self.do_normalize:
                values = (values - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
            batch.append(values.transpose(2, 0, 1))
        return np.ascontiguousarray(np.stack(batch), dtype=np.float32)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError(f"captioner needs a uint8 BGR image, got {getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"captioner needs an HxWx3 BGR image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, 2::-1])


# ----------------------------------------------------------------------------------------------------------------
# Generation settings


@dataclass(frozen=True)
class GenerationSpec:
    """The decoding settings transformers' ``generate`` would read from generation_config.json and config.json."""

    decoder_start_token_id: int
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    length_penalty: float = 1.0
    early_stopping: bool | str = False

    @classmethod
    def from_json(cls, generation: dict[str, Any], config: dict[str, Any], source: str) -> GenerationSpec:
        for key, default in _UNSUPPORTED_GENERATION.items():
            value = generation.get(key, default)
            if value not in (default, None, [], 0):
                raise ConfigError(f"{source}: {key}={value!r} is not supported by this captioner runtime")

        def pick(key: str) -> Any:
            for source_dict in (generation, config, config.get("decoder", {})):
                if source_dict.get(key) is not None:
                    return source_dict[key]
            return None

        start = pick("decoder_start_token_id")
        if start is None:
            start = pick("bos_token_id")
        eos = pick("eos_token_id")
        if start is None or eos is None:
            raise ConfigError(f"{source}: needs decoder_start_token_id (or bos_token_id) and eos_token_id")
        eos_ids = tuple(int(e) for e in (eos if isinstance(eos, list) else [eos]))
        pad = pick("pad_token_id")
        early = generation.get("early_stopping", False)
        if early not in (True, False, "never"):
            raise ConfigError(f'{source}: early_stopping must be true, false or "never", got {early!r}')
        return cls(
            decoder_start_token_id=int(start),
            eos_token_ids=eos_ids,
            pad_token_id=int(pad) if pad is not None else eos_ids[0],
            length_penalty=float(generation.get("length_penalty", 1.0)),
            early_stopping=early,
        )


# ----------------------------------------------------------------------------------------------------------------
# Decoder sessions


class _Decoder:
    """The decoder as one merged session or a first-step and a with-past session, behind one step function."""

    def __init__(
        self, first: ort.InferenceSession, with_past: ort.InferenceSession, merged: bool, heads: int, head_dim: int
    ) -> None:
        self.first = first
        self.with_past = with_past
        self.merged = merged
        self.past_names = [i.name for i in with_past.get_inputs() if i.name.startswith(PAST_PREFIX)]
        if not self.past_names:
            raise ModelError("the decoder has no past_key_values inputs: export it with --task image-to-text-with-past")
        self.heads = heads
        self.head_dim = head_dim

    def run(
        self, input_ids: np.ndarray, encoder_states: np.ndarray, past: dict[str, np.ndarray] | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits of the last position [B, V] and the new past, keyed by past input name."""
        feed: dict[str, np.ndarray] = {"input_ids": input_ids, "encoder_hidden_states": encoder_states}
        session = self.with_past if past is not None else self.first
        if self.merged:
            if past is None:
                empty = np.zeros((input_ids.shape[0], self.heads, 0, self.head_dim), dtype=np.float32)
                past_feed = {name: empty for name in self.past_names}
            else:
                past_feed = past
            feed.update(past_feed)
            feed["use_cache_branch"] = np.array([past is not None])
        elif past is not None:
            feed.update(past)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, feed), strict=True))
        new_past = {}
        for name in self.past_names:
            present = PRESENT_PREFIX + name[len(PAST_PREFIX) :]
            if present in outputs:
                new_past[name] = outputs[present]
            elif past is not None:  # cross-attention caches some exports leave out after the first step
                new_past[name] = past[name]
            else:
                raise ModelError(f"the decoder does not output {present}")
        return outputs["logits"][:, -1, :].astype(np.float32), new_past


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))).astype(np.float32)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values of each row, best first (ties: lower index first)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


# ----------------------------------------------------------------------------------------------------------------
# The captioner


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(f"captioner file {path} is missing")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"captioner file {path} cannot be read: {error}") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"captioner file {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"captioner file {path} must hold a JSON object")
    return data


def _check_inputs(session: ort.InferenceSession, path: Path, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    got_in = {i.name for i in session.get_inputs()}
    got_out = {o.name for o in session.get_outputs()}
    missing = [n for n in inputs if n not in got_in] + [n for n in outputs if n not in got_out]
    if missing:
        raise ModelError(
            f"{path} lacks {', '.join(missing)} (inputs {sorted(got_in)}, outputs {sorted(got_out)}); "
            "export it with optimum-cli export onnx --task image-to-text-with-past"
        )


@dataclass(frozen=True)
class CaptionerConfig:
    """The scene analysis's optional captioner (parameters ``captioner.*``); an empty ``model_dir`` turns it off."""

    model_dir: str = ""  # an optimum export folder (see the module's docstring)
    beam_size: int = 1  # 1: greedy search; more: beam search with that many beams
    max_length: int = 20  # tokens, the decoder start token included (as transformers counts)
    period_s: float = 5.0  # caption at most once per this many seconds of frame time; the last caption in between

    @property
    def enabled(self) -> bool:
        return bool(self.model_dir.strip())

    def validate(self) -> CaptionerConfig:
        check_ranges(
            {
                "captioner.beam_size": (self.beam_size, 1, 16),
                "captioner.max_length": (self.max_length, 2, 256),
                "captioner.period_s": (self.period_s, 0.0, 3600.0),
            }
        )
        return self


def load_captioner(config: CaptionerConfig, num_threads: int = 1) -> ImageCaptioner | None:
    """The captioner of ``config`` (None when ``model_dir`` is empty).

    Raises:
        ModelError, ConfigError: the folder or one of its files cannot be used (the message names it).
    """
    if not config.enabled:
        return None
    folder = Path(config.model_dir).expanduser()
    try:
        return ImageCaptioner.from_folder(folder, config.beam_size, config.max_length, num_threads)
    except (ModelError, ConfigError):
        raise
    except Exception as error:  # an export this runtime does not expect: named, never a traceback
        raise ModelError(f"captioner folder {folder} cannot be loaded: {type(error).__name__}: {error}") from error


class ImageCaptioner:
    """A sentence for an image from an ONNX vision-encoder-decoder folder.

    ``max_length`` counts the decoder start token, as transformers' ``generate`` does: at most
    ``max_length - 1`` tokens are generated.
    """

    def __init__(
        self,
        encoder: ort.InferenceSession,
        decoder: _Decoder,
        tokenizer: Any,
        image_spec: ImageSpec,
        generation: GenerationSpec,
        beam_size: int = 1,
        max_length: int = 20,
        clean_up_spaces: bool = False,
    ) -> None:
        if beam_size < 1:
            raise ConfigError(f"captioner beam_size must be at least 1, got {beam_size}")
        if max_length < 2:
            raise ConfigError(f"captioner max_length must be at least 2, got {max_length}")
        self.encoder = encoder
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.image_spec = image_spec
        self.generation = generation
        self.beam_size = beam_size
        self.max_length = max_length
        self.clean_up_spaces = clean_up_spaces

    @classmethod
    def from_folder(
        cls, path: str | Path, beam_size: int = 1, max_length: int = 20, num_threads: int = 1
    ) -> ImageCaptioner:
        """Load an optimum export folder; ModelError or ConfigError names the missing or broken file."""
        if Tokenizer is None:
            raise ModelError("the captioner needs the 'tokenizers' package: pip install 'face_perception[captioner]'")
        folder = Path(path)
        if not folder.is_dir():
            raise ModelError(f"captioner folder {folder} does not exist")
        config = _read_json(folder / CONFIG_FILE)
        preprocessor = _read_json(folder / PREPROCESSOR_FILE)
        generation_path = folder / GENERATION_FILE
        generation_raw = _read_json(generation_path) if generation_path.is_file() else {}
        image_spec = ImageSpec.from_json(preprocessor, str(folder / PREPROCESSOR_FILE))
        generation = GenerationSpec.from_json(generation_raw, config, str(generation_path))
        tokenizer_path = folder / TOKENIZER_FILE
        if not tokenizer_path.is_file():
            raise ModelError(f"captioner file {tokenizer_path} is missing")
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as error:  # tokenizers raises untyped errors
            raise ModelError(f"captioner file {tokenizer_path} cannot be read by tokenizers: {error}") from error
        tokenizer_config_path = folder / TOKENIZER_CONFIG_FILE
        clean_up = False
        if tokenizer_config_path.is_file():
            clean_up = bool(_read_json(tokenizer_config_path).get("clean_up_tokenization_spaces", False))

        encoder_path = folder / ENCODER_FILE
        if not encoder_path.is_file():
            raise ModelError(f"captioner file {encoder_path} is missing")
        encoder = session_from_file(encoder_path, num_threads)
        _check_inputs(encoder, encoder_path, ("pixel_values",), ("last_hidden_state",))

        decoder_io = ("input_ids", "encoder_hidden_states"), ("logits",)
        merged_path = folder / MERGED_DECODER_FILE
        if merged_path.is_file():
            first = with_past = session_from_file(merged_path, num_threads)
            _check_inputs(first, merged_path, (*decoder_io[0], "use_cache_branch"), decoder_io[1])
            merged = True
        else:
            first_path, past_path = folder / DECODER_FILE, folder / DECODER_WITH_PAST_FILE
            for needed in (first_path, past_path):
                if not needed.is_file():
                    raise ModelError(
                        f"captioner file {needed} is missing (and there is no {MERGED_DECODER_FILE} in {folder})"
                    )
            first = session_from_file(first_path, num_threads)
            with_past = session_from_file(past_path, num_threads)
            _check_inputs(first, first_path, *decoder_io)
            _check_inputs(with_past, past_path, *decoder_io)
            merged = False
        heads, head_dim = _cache_shape(with_past, config, folder / CONFIG_FILE)
        decoder = _Decoder(first, with_past, merged, heads, head_dim)
        return cls(encoder, decoder, tokenizer, image_spec, generation, beam_size, max_length, clean_up)

    # -- public API ------------------------------------------------------------------------------------------------

    def caption(self, image_bgr: np.ndarray) -> str:
        """One sentence describing a BGR uint8 image."""
        return self.caption_batch([image_bgr])[0]

    def caption_batch(self, images_bgr: list[np.ndarray]) -> list[str]:
        """A sentence per image, the images run through the encoder and the decoder together."""
        if not images_bgr:
            return []
        return [self.decode(ids) for ids in self.generate(self.image_spec.pixel_values(list(images_bgr)))]

    def generate(self, pixel_values: np.ndarray) -> list[tuple[int, ...]]:
        """Generated token ids per image (without the start token and the end token)."""
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise ImageError(f"pixel_values must be [N, 3, H, W], got shape {pixel_values.shape}")
        states = self.encoder.run(["last_hidden_state"], {"pixel_values": pixel_values.astype(np.float32)})[0]
        if self.beam_size == 1:
            return self._greedy(states)
        return self._beam(states)

    def decode(self, ids: tuple[int, ...]) -> str:
        """The text of generated token ids (special tokens left out)."""
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        if self.clean_up_spaces:
            for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't")):
                text = text.replace(before, after)
        return text.strip()

    # -- decoding --------------------------------------------------------------------------------------------------

    def _strip(self, sequence: np.ndarray | list[int]) -> tuple[int, ...]:
        ids: list[int] = []
        for token in list(sequence)[1:]:
            if int(token) in self.generation.eos_token_ids:
                break
            ids.append(int(token))
        return tuple(ids)

    def _greedy(self, states: np.ndarray) -> list[tuple[int, ...]]:
        batch = states.shape[0]
        gen = self.generation
        sequences = np.full((batch, 1), gen.decoder_start_token_id, dtype=np.int64)
        finished = np.zeros(batch, dtype=bool)
        logits, past = self.decoder.run(sequences, states, None)
        while True:
            tokens = np.where(finished, gen.pad_token_id, logits.argmax(axis=-1)).astype(np.int64)
            sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
            finished |= np.isin(tokens, gen.eos_token_ids)
            if finished.all() or sequences.shape[1] >= self.max_length:
                break
            logits, past = self.decoder.run(tokens[:, None], states, past)
        return [self._strip(row) for row in sequences]

    def _beam(self, states: np.ndarray) -> list[tuple[int, ...]]:
        """transformers' beam search (4.57): 2*beams candidates a step, finished hypotheses kept per image."""
        gen = self.generation
        batch, beams, max_length = states.shape[0], self.beam_size, self.max_length
        keep = max(2, 1 + len(gen.eos_token_ids)) * beams
        lp = gen.length_penalty
        states = np.repeat(states, beams, axis=0)
        running = np.full((batch, beams, 1), gen.decoder_start_token_id, dtype=np.int64)
        running_scores = np.zeros((batch, beams), dtype=np.float32)
        running_scores[:, 1:] = NEG_INF
        done_seqs = np.full((batch, beams, max_length), gen.pad_token_id, dtype=np.int64)
        done_scores = np.full((batch, beams), NEG_INF, dtype=np.float32)
        done = np.zeros((batch, beams), dtype=bool)
        improvable = np.ones(batch, dtype=bool)
        top_mask = np.arange(keep) < beams
        rows = np.arange(batch)[:, None]
        cur_len = 1
        logits, past = self.decoder.run(running.reshape(batch * beams, 1), states, None)
        while True:
            vocab = logits.shape[-1]
            scores = _log_softmax(logits).reshape(batch, beams, vocab) + running_scores[:, :, None]
            scores = scores.reshape(batch, beams * vocab)
            flat = _top(scores, keep)
            top_scores = np.take_along_axis(scores, flat, axis=1)
            source, tokens = flat // vocab, flat % vocab
            candidates = np.concatenate([running[rows, source], tokens[:, :, None]], axis=2)
            hits = np.isin(tokens, gen.eos_token_ids) | (cur_len + 1 >= max_length)

            alive = (top_scores + hits.astype(np.float32) * np.float32(NEG_INF)).astype(np.float32)
            chosen = _top(alive, beams)
            running = candidates[rows, chosen]
            running_scores = np.take_along_axis(alive, chosen, axis=1)
            parents = np.take_along_axis(source, chosen, axis=1)

            finished_now = hits & top_mask[None, :]
            final = (top_scores / np.float32((cur_len + 1 - 1) ** lp)).astype(np.float32)
            full = done.all(axis=1, keepdims=True) & (gen.early_stopping is True)
            final += full.astype(np.float32) * np.float32(NEG_INF)
            final += (~finished_now).astype(np.float32) * np.float32(NEG_INF)
            final += (~improvable[:, None]).astype(np.float32) * np.float32(NEG_INF)
            padded = np.full((batch, keep, max_length), gen.pad_token_id, dtype=np.int64)
            padded[:, :, : cur_len + 1] = candidates
            merged_seqs = np.concatenate([done_seqs, padded], axis=1)
            merged_scores = np.concatenate([done_scores, final], axis=1)
            merged_done = np.concatenate([done, finished_now], axis=1)
            best = _top(merged_scores, beams)
            done_seqs = merged_seqs[rows, best]
            done_scores = np.take_along_axis(merged_scores, best, axis=1)
            done = np.take_along_axis(merged_done, best, axis=1)

            cur_len += 1
            best_length = max_length - 1 if gen.early_stopping == "never" and lp > 0.0 else cur_len - 1
            best_running = running_scores[:, :1] / np.float32(best_length**lp)
            worst_done = np.where(done, done_scores.min(axis=1, keepdims=True), np.float32(NEG_INF))
            improvable &= (best_running > worst_done).any(axis=1)
            open_beams = ~(done.all() and gen.early_stopping is True)
            if not (improvable.any() and open_beams and not hits.all()):
                break
            order = (parents + np.arange(batch)[:, None] * beams).reshape(-1)
            past = {name: value[order] for name, value in past.items()}
            logits, past = self.decoder.run(running[:, :, -1].reshape(-1, 1), states, past)
        return [self._strip(done_seqs[b, 0]) for b in range(batch)]


def _cache_shape(session: ort.InferenceSession, config: dict[str, Any], source: Path) -> tuple[int, int]:
    """Heads and head size of the decoder's key/value cache, from the session or from config.json."""
    for node in session.get_inputs():
        if node.name.startswith(PAST_PREFIX):
            shape = node.shape
            if len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[3], int):
                return shape[1], shape[3]
            break
    decoder = config.get("decoder", {})
    heads = decoder.get("n_head", decoder.get("num_attention_heads"))
    hidden = decoder.get("n_embd", decoder.get("hidden_size"))
    if not heads or not hidden:
        raise ConfigError(f"{source}: the decoder's attention heads and hidden size are needed for its cache")
    return int(heads), int(hidden) // int(heads)


__all__ = ["CaptionerConfig", "GenerationSpec", "ImageCaptioner", "ImageSpec", "load_captioner", "resize_like_pil"]
