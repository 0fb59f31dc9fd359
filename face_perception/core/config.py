"""Pipeline configuration: one dataclass tree, read from the same YAML the ROS node uses.

Parameter names are flat and dotted (``detector.score_threshold``), exactly as the
node declares them, so a ``ros__parameters`` block and the CLI agree.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from face_perception.core.checks import check_range
from face_perception.core.errors import ConfigError
from face_perception.core.images import DEFAULT_MAX_SIDE_PX
from face_perception.core.tracker import TrackerConfig
from face_perception.core.types import GenderAbstention

LOG = logging.getLogger("face_perception")

HEAD_NAMES: tuple[str, ...] = ("emotion", "gender", "age", "eyeglasses")


@dataclass(frozen=True)
class DetectorConfig:
    """Face detector settings."""

    model: str = "retinaface_mnet025_int8"
    score_threshold: float = 0.7
    nms_iou_threshold: float = 0.4
    max_input_side_px: int = 640
    min_face_size_px: float = 10.0
    max_faces: int = 32
    full_frame_every: int = 1  # 1: the whole frame every frame; N: every Nth, near known faces between

    def validate(self) -> None:
        check_range("detector.score_threshold", self.score_threshold, 0.0, 1.0)
        check_range("detector.nms_iou_threshold", self.nms_iou_threshold, 0.0, 1.0)
        check_range("detector.max_input_side_px", self.max_input_side_px, 32, 4096)
        check_range("detector.min_face_size_px", self.min_face_size_px, 0.0, 10000.0)
        check_range("detector.max_faces", self.max_faces, 1, 1000)
        check_range("detector.full_frame_every", self.full_frame_every, 1, 100)


@dataclass(frozen=True)
class HeadConfig:
    """One classifier head: whether it runs and which model (manifest id) it uses."""

    enabled: bool
    model: str

    def validate(self, name: str) -> None:
        if self.enabled and not self.model:
            raise ConfigError(f"{name}.model must name a model of the manifest")


@dataclass(frozen=True)
class GenderConfig(HeadConfig):
    """The gender head, and when it abstains (``gender`` "" and ``gender_score`` NaN).

    Defaults were chosen on UTKFace train only (``face-perception eval gender`` reports them on dev).
    """

    min_score: float = 0.93
    min_age_years: float = 13.0

    def validate(self, name: str) -> None:
        super().validate(name)
        check_range(f"{name}.min_score", self.min_score, 0.5, 1.0)
        check_range(f"{name}.min_age_years", self.min_age_years, 0.0, 100.0)

    @property
    def abstention(self) -> GenderAbstention:
        return GenderAbstention(min_score=self.min_score, min_age_years=self.min_age_years)


@dataclass(frozen=True)
class IdentityConfig:
    """Face identity settings (parameters ``identity.*``). An empty ``gallery`` turns identity off."""

    gallery: str = ""
    threshold: float = 0.6
    every_n_frames: int = 5
    model: str = "identity_dlib_resnet_v1"

    @property
    def enabled(self) -> bool:
        return bool(self.gallery)

    def validate(self) -> IdentityConfig:
        check_range("identity.threshold", self.threshold, 0.0, 4.0)
        check_range("identity.every_n_frames", self.every_n_frames, 1, 1000)
        return self


def _default_heads() -> dict[str, HeadConfig]:
    return {
        "emotion": HeadConfig(enabled=True, model="emotion_chipnet_int8_flip"),
        "gender": GenderConfig(enabled=True, model="gender_dlib_v1_int8"),
        "age": HeadConfig(enabled=True, model="age_dlib_v1_int8"),
        "eyeglasses": HeadConfig(enabled=True, model="eyewear_chipnet_int8_floatstem"),
    }


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the face pipeline needs; the ROS node and the CLI build the same one."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    heads: dict[str, HeadConfig] = field(default_factory=_default_heads)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    models_dir: str = ""
    max_image_side_px: int = DEFAULT_MAX_SIDE_PX
    num_threads: int = 1

    def validate(self) -> PipelineConfig:
        self.detector.validate()
        self.tracking.validate()
        self.identity.validate()
        check_range("max_image_side_px", self.max_image_side_px, 16, 65536)
        check_range("num_threads", self.num_threads, 0, 64)
        for name, head in self.heads.items():
            if name not in HEAD_NAMES:
                raise ConfigError(f"unknown head {name!r}; known heads: {', '.join(HEAD_NAMES)}")
            head.validate(name)
        return self

    def to_parameters(self) -> dict[str, Any]:
        """Flat ``{dotted.name: value}`` view, the form ROS parameters take."""
        params: dict[str, Any] = {
            f"detector.{f.name}": getattr(self.detector, f.name) for f in dataclasses.fields(DetectorConfig)
        }
        for name, head in self.heads.items():
            params.update({f"{name}.{f.name}": getattr(head, f.name) for f in dataclasses.fields(head)})
        params.update({f"tracking.{f.name}": getattr(self.tracking, f.name) for f in dataclasses.fields(TrackerConfig)})
        params.update(
            {f"identity.{f.name}": getattr(self.identity, f.name) for f in dataclasses.fields(IdentityConfig)}
        )
        params["models_dir"] = self.models_dir
        params["max_image_side_px"] = self.max_image_side_px
        params["num_threads"] = self.num_threads
        return params

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> PipelineConfig:
        """Build from flat dotted names; names not given keep their defaults.

        Raises:
            ConfigError: a value has the wrong type or is out of range.
        """
        defaults = cls()
        known = defaults.to_parameters()
        values = dict(known)
        for name, value in params.items():
            if name in known:
                values[name] = _coerce(name, value, known[name])
        detector = DetectorConfig(**{f.name: values[f"detector.{f.name}"] for f in dataclasses.fields(DetectorConfig)})
        heads = {
            name: type(head)(**{f.name: values[f"{name}.{f.name}"] for f in dataclasses.fields(head)})
            for name, head in defaults.heads.items()
        }
        tracking = TrackerConfig(**{f.name: values[f"tracking.{f.name}"] for f in dataclasses.fields(TrackerConfig)})
        identity = IdentityConfig(**{f.name: values[f"identity.{f.name}"] for f in dataclasses.fields(IdentityConfig)})
        return cls(
            detector=detector,
            heads=heads,
            tracking=tracking,
            identity=identity,
            models_dir=values["models_dir"],
            max_image_side_px=values["max_image_side_px"],
            num_threads=values["num_threads"],
        ).validate()


def load_parameters_yaml(path: str | Path, node_name: str = "face_perception") -> dict[str, Any]:
    """Read a ROS 2 parameters file and return the node's parameters as flat dotted names.

    Accepts ``node_name`` or the wildcard ``/**`` as the top-level key.

    Raises:
        ConfigError: the file is missing, is not YAML, or has no parameters for the node.
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read parameters file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of node names to ros__parameters")
    for key in (node_name, f"/{node_name}", "/**"):
        block = document.get(key)
        if isinstance(block, dict) and isinstance(block.get("ros__parameters"), dict):
            return _flatten(block["ros__parameters"])
    raise ConfigError(f"{path}: no '{node_name}: ros__parameters:' block")


def load_pipeline_config(path: str | Path | None = None, known_names: Collection[str] = ()) -> PipelineConfig:
    """The pipeline configuration of a parameters file (the defaults when path is None).

    With ``known_names`` (every name the file's readers declare), names outside them are ignored,
    as a node ignores them, and named in one warning so that a typo does not pass unseen.
    """
    if path is None:
        return PipelineConfig().validate()
    params = load_parameters_yaml(path)
    if known_names and (unknown := sorted(set(params) - set(known_names))):
        LOG.warning("%s: ignored (not parameters of the nodes): %s", path, ", ".join(unknown))
    return PipelineConfig.from_parameters(params)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _coerce(name: str, value: Any, default: Any) -> Any:
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, expected):
        return value
    raise ConfigError(f"{name} must be a {expected.__name__}, got {value!r}")
