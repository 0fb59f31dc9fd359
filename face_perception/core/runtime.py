"""Model files: where they live, the manifest that describes them, and ONNX sessions.

This is the one place ONNX Runtime sessions are created. Every model file is checked
against the sha256 in ``models/manifest.json`` before it is loaded; a missing or
altered file is refused with the path and the expected hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from face_perception.core.errors import ModelError, ModelIntegrityError

MANIFEST_NAME = "manifest.json"
MODELS_DIR_ENV = "FACE_PERCEPTION_MODELS"


@dataclass(frozen=True)
class InputSpec:
    """How a classifier's input is made from an aligned face chip."""

    size: int
    color: str  # "gray", "rgb" or "bgr"
    crop_padding: float
    mean: tuple[float, ...]
    scale: float

    @classmethod
    def from_manifest(cls, entry: dict[str, Any]) -> InputSpec:
        return cls(
            size=int(entry["size"]),
            color=str(entry["color"]),
            crop_padding=float(entry["crop_padding"]),
            mean=tuple(float(m) for m in entry["mean"]),
            scale=float(entry["scale"]),
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest."""

    model_id: str
    path: Path
    sha256: str
    task: str
    labels: tuple[str, ...]
    raw: dict[str, Any]

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_manifest(self.raw["input"])


# The manifest's schema. Every entry needs ENTRY_FIELDS; a known task also needs its own fields (the
# ``input`` fields its wrapper reads, labels, ...). Entries of other tasks (a model kind this version does
# not know) need only ENTRY_FIELDS, and unknown extra fields are allowed everywhere.
_NUMBER = (int, float)
_CHIP_INPUT = {"size": int, "color": str, "crop_padding": _NUMBER, "mean": list, "scale": _NUMBER}
ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {"file": str, "sha256": str, "task": str, "input": dict}
TASK_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "detection": {},
    "emotion": {"labels": list},
    "gender": {"labels": list},
    "age": {"bin_ages": list},
    "eyewear": {"labels": list},
    "identity": {"embedding_size": int, "threshold": _NUMBER},
}
TASK_INPUT_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "detection": {"color": str, "mean": list, "scale": _NUMBER},
    "emotion": _CHIP_INPUT,
    "gender": _CHIP_INPUT,
    "age": _CHIP_INPUT,
    "eyewear": _CHIP_INPUT,
    "identity": _CHIP_INPUT,
}
_COLORS = ("gray", "rgb", "bgr")


def validate_manifest(manifest: Any, path: Path) -> None:
    """Check a loaded manifest against the schema; raises ModelError naming the file, the entry and the field."""
    if not isinstance(manifest, dict):
        raise ModelError(f"model manifest {path} must be a JSON object, got a JSON {_json_kind(manifest)}")
    models = manifest.get("models")
    if not isinstance(models, dict):
        raise ModelError(f"model manifest {path} needs a 'models' object (model id -> entry)")
    for model_id, entry in models.items():
        where = f"model manifest {path}, entry {model_id!r}"
        if not isinstance(entry, dict):
            raise ModelError(f"{where} must be a JSON object, got a JSON {_json_kind(entry)}")
        _check_fields(entry, ENTRY_FIELDS, where)
        file = entry["file"]
        if not file or Path(file).is_absolute() or ".." in Path(file).parts:
            raise ModelError(f"{where}: 'file' must be a file name inside the models folder, got {file!r}")
        if len(entry["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in entry["sha256"]):
            raise ModelError(f"{where}: 'sha256' must be 64 lowercase hex digits, got {entry['sha256']!r}")
        task = entry["task"]
        _check_fields(entry, TASK_FIELDS.get(task, {}), where)
        _check_fields(entry["input"], TASK_INPUT_FIELDS.get(task, {}), f"{where}, 'input'")
        if task in TASK_INPUT_FIELDS and entry["input"]["color"] not in _COLORS:
            color = entry["input"]["color"]
            raise ModelError(f"{where}: input 'color' must be one of {', '.join(_COLORS)}, got {color!r}")
        for name in ("labels", "bin_ages"):
            if name in TASK_FIELDS.get(task, {}) and not entry[name]:
                raise ModelError(f"{where}: {name!r} must not be empty")


def _check_fields(entry: dict[str, Any], fields: dict[str, type | tuple[type, ...]], where: str) -> None:
    for name, kind in fields.items():
        if name not in entry:
            raise ModelError(f"{where}: missing {name!r}")
        value = entry[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise ModelError(f"{where}: {name!r} must be {expected}, got {value!r}")


def _json_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")


def find_package_data(subdir: str, marker: str) -> Path:
    """The folder ``subdir`` of this package's data (models, msg) that holds ``marker``.

    Looks in the source tree, an install's ``share/face_perception`` (colcon or pip).
    """
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / subdir]  # source checkout: <root>/face_perception/core
    for parent in here.parents:  # colcon install: <prefix>/lib/pythonX/site-packages/...
        candidates.append(parent / "share" / "face_perception" / subdir)
    candidates.append(Path(sys.prefix) / "share" / "face_perception" / subdir)
    for candidate in candidates:
        if (candidate / marker).is_file():
            return candidate
    raise FileNotFoundError(f"no {subdir}/{marker} found (looked in: {', '.join(str(c) for c in candidates[:3])})")


def default_models_dir() -> Path:
    """The models folder: $FACE_PERCEPTION_MODELS, the source tree, or an install's share/."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override)
    try:
        return find_package_data("models", MANIFEST_NAME)
    except FileNotFoundError as error:
        raise ModelError(f"{error}; set the models_dir parameter or ${MODELS_DIR_ENV}") from error


class ModelStore:
    """The models of one manifest: verified lookup and session creation."""

    def __init__(self, models_dir: str | Path | None = None, num_threads: int = 1) -> None:
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.num_threads = num_threads
        manifest_path = self.models_dir / MANIFEST_NAME
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except OSError as error:
            raise ModelError(f"cannot read model manifest {manifest_path}: {error}") from error
        except json.JSONDecodeError as error:
            raise ModelError(f"model manifest {manifest_path} is not valid JSON: {error}") from error
        except UnicodeDecodeError as error:
            raise ModelError(f"model manifest {manifest_path} is not UTF-8 text: {error}") from error
        validate_manifest(self.manifest, manifest_path)
        self._verified: set[str] = set()

    def entry(self, model_id: str) -> ModelEntry:
        """The manifest entry of ``model_id``; raises ModelError for an unknown id."""
        models = self.manifest.get("models", {})
        if model_id not in models:
            raise ModelError(
                f"model {model_id!r} is not in {self.models_dir / MANIFEST_NAME}; known: {', '.join(sorted(models))}"
            )
        raw = models[model_id]
        source = raw.get("quantized_from", {}).get("model")
        if "calibration" not in raw and source in models and "calibration" in models[source]:
            # A quantized copy answers like its source model, so it shares the source's calibration.
            raw = {**raw, "calibration": {**models[source]["calibration"], "inherited_from": source}}
        return ModelEntry(
            model_id=model_id,
            path=self.models_dir / raw["file"],
            sha256=raw["sha256"],
            task=raw["task"],
            labels=tuple(raw.get("labels", ())),
            raw=raw,
        )

    def verified_bytes(self, model_id: str) -> bytes:
        """The model file's bytes after checking them against the manifest's sha256."""
        entry = self.entry(model_id)
        try:
            data = entry.path.read_bytes()
        except OSError as error:
            raise ModelError(
                f"model file {entry.path} for {model_id!r} cannot be read ({error.strerror}); "
                f"expected sha256 {entry.sha256}. Regenerate it with 'face-perception export'."
            ) from error
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry.sha256:
            raise ModelIntegrityError(
                f"model file {entry.path} for {model_id!r} has sha256 {actual}, "
                f"expected {entry.sha256}: refusing to load an altered model. "
                "Regenerate it with 'face-perception export'."
            )
        return data

    def session(self, model_id: str) -> ort.InferenceSession:
        """A CPU ONNX Runtime session of the verified model."""
        data = self.verified_bytes(model_id)
        try:
            return ort.InferenceSession(
                data, sess_options=session_options(self.num_threads), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelError(f"model {model_id!r} cannot be loaded by ONNX Runtime: {error}") from error


def session_options(num_threads: int = 1) -> ort.SessionOptions:
    """The options of every session: ``num_threads`` intra-op threads, one inter-op thread, quiet logs."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Worker threads that wait on a busy loop take CPU from everything else on a shared robot
    # CPU (they matter where num_threads is not 1): let them sleep instead.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def session_from_file(path: str | Path, num_threads: int = 1) -> ort.InferenceSession:
    """A CPU session of a model file the user brings (not in the manifest, so not hash-checked).

    Raises ModelError naming the file when it is missing or ONNX Runtime cannot load it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(num_threads), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ModelError(f"model file {path} cannot be loaded by ONNX Runtime: {error}") from error


def check_session_io(
    session: ort.InferenceSession, model_id: str, inputs: int, outputs: tuple[str, ...] | None = None
) -> None:
    """Raise ModelError when a session's inputs and outputs are not what a wrapper expects."""
    got_inputs = session.get_inputs()
    got_outputs = [o.name for o in session.get_outputs()]
    if len(got_inputs) != inputs:
        raise ModelError(f"model {model_id!r} has {len(got_inputs)} inputs, expected {inputs}")
    if outputs is not None and tuple(got_outputs) != outputs:
        raise ModelError(f"model {model_id!r} has outputs {got_outputs}, expected {list(outputs)}")
