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
        self._verified: set[str] = set()

    def entry(self, model_id: str) -> ModelEntry:
        """The manifest entry of ``model_id``; raises ModelError for an unknown id."""
        models = self.manifest.get("models", {})
        if model_id not in models:
            raise ModelError(
                f"model {model_id!r} is not in {self.models_dir / MANIFEST_NAME}; known: {', '.join(sorted(models))}"
            )
        raw = models[model_id]
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
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Worker threads that wait on a busy loop take CPU from everything else on a shared robot
        # CPU (they matter where num_threads is not 1): let them sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelError(f"model {model_id!r} cannot be loaded by ONNX Runtime: {error}") from error


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
