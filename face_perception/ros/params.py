"""The node's parameters: one table with descriptions, types and ranges.

Pipeline parameters take their defaults from ``PipelineConfig`` (defaults live there
only); node parameters are defined here. ``config/face_perception.yaml`` lists every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from face_perception.core.checks import check_ranges
from face_perception.core.config import PipelineConfig
from face_perception.core.errors import ConfigError


@dataclass(frozen=True)
class NodeConfig:
    """Settings of the ROS node around the pipeline."""

    autostart: bool = True
    use_compressed: bool = False
    qos_reliability: str = "best_available"
    qos_depth: int = 10
    publish_debug_image: bool = False
    diagnostics_period_s: float = 1.0
    stale_after_s: float = 5.0
    hri_enabled: bool = False

    def validate(self) -> NodeConfig:
        check_reliability(self.qos_reliability)
        check_ranges(
            {
                "qos.depth": (self.qos_depth, 1, 100),
                "diagnostics.period_s": (self.diagnostics_period_s, 0.05, 60),
                "diagnostics.stale_after_s": (self.stale_after_s, 0.1, 3600),
            }
        )
        return self

    def image_qos(self) -> QoSProfile:
        return image_qos(self.qos_reliability, self.qos_depth)


# qos.reliability values. best_available matches each publisher when the subscription is created:
# reliable with reliable publishers (lost samples are resent), best effort with best-effort ones.
RELIABILITY: dict[str, ReliabilityPolicy] = {
    "best_available": ReliabilityPolicy.BEST_AVAILABLE,
    "reliable": ReliabilityPolicy.RELIABLE,
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
}


def check_reliability(value: str) -> None:
    """Raises ConfigError unless ``value`` names a ``qos.reliability``."""
    if value not in RELIABILITY:
        choices = ", ".join(repr(name) for name in RELIABILITY)
        raise ConfigError(f"qos.reliability must be one of {choices}, got {value!r}")


def image_qos(reliability: str, depth: int) -> QoSProfile:
    """The camera subscription's QoS: keep the last ``depth`` frames, with the named reliability."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=RELIABILITY[reliability])


# name -> (attribute of the node's config, description): the camera input and diagnostics, the
# same in the face node and the scene node.
CAMERA_PARAMETERS: dict[str, tuple[str, str]] = {
    "use_compressed": (
        "use_compressed",
        "Subscribe to image/compressed (sensor_msgs/CompressedImage) instead of image.",
    ),
    "qos.reliability": (
        "qos_reliability",
        "Image subscription reliability: best_available (reliable with reliable publishers, best effort with "
        "best-effort ones), reliable, or best_effort.",
    ),
    "qos.depth": (
        "qos_depth",
        "Image subscription queue depth: frames DDS holds until the node takes them; the node processes the newest.",
    ),
    "diagnostics.period_s": ("diagnostics_period_s", "Seconds between /diagnostics messages."),
    "diagnostics.stale_after_s": ("stale_after_s", "Diagnostics warn when no image arrived for this many seconds."),
}

HRI_DESCRIPTION = (
    "Also publish the ROS4HRI (REP-155) topics under /humans (needs the hri_msgs package; configure fails without it)."
)

# name -> (attribute of NodeConfig, description)
_NODE_PARAMETERS: dict[str, tuple[str, str]] = {
    "autostart": (
        "autostart",
        "Configure and activate the lifecycle node at start; false: wait for lifecycle transitions.",
    ),
    **CAMERA_PARAMETERS,
    "publish_debug_image": (
        "publish_debug_image",
        "Publish debug/image with faces drawn (only while someone subscribes).",
    ),
    "hri.enabled": ("hri_enabled", HRI_DESCRIPTION),
}

_PIPELINE_DESCRIPTIONS: dict[str, str] = {
    "detector.model": "Face detector model id (models/manifest.json).",
    "detector.score_threshold": "Minimum detection confidence [0, 1].",
    "detector.nms_iou_threshold": "Overlap above which the weaker of two detections is dropped [0, 1].",
    "detector.max_input_side_px": "Images are downscaled so the longer side is at most this before detection.",
    "detector.min_face_size_px": "Faces smaller than this (shorter box side, original pixels) are ignored.",
    "detector.max_faces": "At most this many faces per image, the most confident first.",
    "detector.full_frame_every": "Search the whole frame every Nth frame and at a new view; in between only near "
    "the faces known (emotion per frame, other heads carried over). 1: every frame.",
    "emotion.enabled": "Run the emotion head.",
    "emotion.model": "Emotion model id (models/manifest.json).",
    "gender.enabled": "Run the gender head.",
    "gender.model": "Gender model id (models/manifest.json).",
    "gender.min_score": "Gender is left empty (score NaN) when its probability is under this [0.5, 1].",
    "gender.min_age_years": "Gender is left empty (score NaN) when the apparent age is under this (years).",
    "age.enabled": "Run the age head.",
    "age.model": "Age model id (models/manifest.json).",
    "eyeglasses.enabled": "Run the eyewear head (glasses or sunglasses over the eyes).",
    "eyeglasses.model": "Eyewear model id (models/manifest.json).",
    "tracking.enabled": "Track faces across frames: stable ids, smoothed attributes, face_events.",
    "tracking.min_hits": "A track is published after this many consecutive detections.",
    "tracking.max_missing_s": "A track survives this long without a detection (seconds of header time).",
    "tracking.min_iou": "Least box overlap (with the track's predicted box) for a match, unless landmarks are close.",
    "tracking.max_landmark_distance": "Mean landmark distance, in face sizes, below which a match is allowed.",
    "tracking.smoothing_tau_s": "Time constant of the exponential smoothing of attributes, seconds (0: none).",
    "tracking.emotion_hysteresis": "A new emotion must lead the current one by this probability to be reported.",
    "identity.gallery": "Gallery file (SQLite) of the people to recognise, created private when missing; "
    "empty: identity off (no embedding, Face.identity empty).",
    "identity.threshold": "Faces nearer than this Euclidean distance to an enrolled embedding get that person's "
    "name (the model's published 0.6).",
    "identity.every_n_frames": "Embed each track once every this many frames it is seen (and on its first).",
    "identity.model": "Face embedding model id (models/manifest.json).",
    "models_dir": "Folder with manifest.json and the ONNX files; empty: the installed models.",
    "max_image_side_px": "Images with a longer side are rejected with an error (protects memory).",
    "num_threads": "ONNX Runtime threads per model; 0 lets ONNX Runtime decide.",
}

_RANGES: dict[str, tuple[float, float]] = {
    "detector.score_threshold": (0.0, 1.0),
    "detector.nms_iou_threshold": (0.0, 1.0),
    "detector.max_input_side_px": (32, 4096),
    "detector.max_faces": (1, 1000),
    "detector.full_frame_every": (1, 100),
    "max_image_side_px": (16, 65536),
    "tracking.min_hits": (1, 100),
    "tracking.max_missing_s": (0.0, 60.0),
    "tracking.min_iou": (0.0, 1.0),
    "tracking.max_landmark_distance": (0.0, 10.0),
    "tracking.smoothing_tau_s": (0.0, 60.0),
    "tracking.emotion_hysteresis": (0.0, 1.0),
    "num_threads": (0, 64),
    "identity.threshold": (0.0, 4.0),
    "identity.every_n_frames": (1, 1000),
    "gender.min_score": (0.5, 1.0),
    "gender.min_age_years": (0.0, 100.0),
    "qos.depth": (1, 100),
    "diagnostics.period_s": (0.05, 60.0),
}

DYNAMIC_PARAMETERS = frozenset({"publish_debug_image"})


def parameter_defaults() -> dict[str, Any]:
    """Every parameter the node declares, with its default."""
    defaults = PipelineConfig().to_parameters()
    node_defaults = NodeConfig()
    defaults.update({name: getattr(node_defaults, attr) for name, (attr, _) in _NODE_PARAMETERS.items()})
    return defaults


def descriptor(
    description: str, default: Any, value_range: tuple[float, float] | None, read_only: bool = True
) -> ParameterDescriptor:
    """A parameter's descriptor: its description and, where given, its range (float or integer, as its default)."""
    result = ParameterDescriptor(description=description, read_only=read_only)
    if value_range is not None:
        low, high = value_range
        if isinstance(default, float):
            result.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
        else:
            result.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return result


def describe(name: str, default: Any) -> ParameterDescriptor:
    description = _PIPELINE_DESCRIPTIONS.get(name) or _NODE_PARAMETERS[name][1]
    return descriptor(description, default, _RANGES.get(name), read_only=name not in DYNAMIC_PARAMETERS)


def declare_and_read(node: Node) -> tuple[PipelineConfig, NodeConfig]:
    """Declare every parameter on ``node`` and build both configs from their values.

    Raises:
        ConfigError: a value is out of range or of the wrong type.
    """
    values = {}
    for name, default in parameter_defaults().items():
        node.declare_parameter(name, default, describe(name, default))
        values[name] = node.get_parameter(name).value
    pipeline = PipelineConfig.from_parameters(values)
    node_config = NodeConfig(**{attr: values[name] for name, (attr, _) in _NODE_PARAMETERS.items()}).validate()
    if node_config.hri_enabled and not pipeline.tracking.enabled:
        raise ConfigError("hri.enabled needs tracking.enabled: REP-155 ids must stay the same for a track's life")
    return pipeline, node_config


def check_ros_arguments(argv: list[str]) -> None:
    """Check what rcl would fail on with a bare traceback: parameters files and ``-p`` overrides.

    Raises:
        ConfigError: a parameters file is missing, unreadable, not YAML or not a mapping of node
            names; or a ``-p name:=value`` has no name or no value. The message names the file or parameter.
    """
    in_ros_args = False
    for index, arg in enumerate(argv):
        if arg == "--ros-args":
            in_ros_args = True
        elif arg == "--":
            in_ros_args = False
        elif in_ros_args and arg == "--params-file" and index + 1 < len(argv):
            _check_params_file(argv[index + 1])
        elif in_ros_args and arg in ("-p", "--param") and index + 1 < len(argv):
            name, separator, value = argv[index + 1].partition(":=")
            if not separator or not name:
                raise ConfigError(f"-p {argv[index + 1]!r}: expected name:=value")
            if not value.strip():
                raise ConfigError(f"parameter {name} has an empty value (-p {name}:=...): give a value")


def _check_params_file(path: str) -> None:
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except OSError as error:
        raise ConfigError(f"cannot read parameters file {path}: {error.strerror}") from error
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"parameters file {path} is not YAML text: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError(
            f"parameters file {path} must map node names to 'ros__parameters:' (e.g. '/**:'), "
            f"got {type(document).__name__}"
        )
