"""The scene node's parameters: one table with descriptions and ranges.

Scene parameters take their defaults from ``SceneConfig``, face pipeline parameters (for
faces found here when no face node publishes) from ``PipelineConfig``, node parameters
from ``SceneNodeConfig``; ``config/scene.yaml`` lists every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from face_perception.core.checks import check_range
from face_perception.core.config import PipelineConfig
from face_perception.core.errors import ConfigError
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig
from face_perception.ros import params as face_params

FACE_SOURCES: tuple[str, ...] = ("auto", "topic", "pipeline", "none")


@dataclass(frozen=True)
class SceneNodeConfig:
    """Settings of the scene node around the analyzer."""

    use_compressed: bool = False
    qos_reliability: str = "best_available"
    qos_depth: int = 1
    scene_depth: int = 1
    alerts_depth: int = 50
    faces_source: str = "auto"
    faces_wait_s: float = 0.5
    diagnostics_period_s: float = 1.0
    stale_after_s: float = 5.0
    hri_enabled: bool = False

    def validate(self) -> SceneNodeConfig:
        face_params.check_reliability(self.qos_reliability)
        if self.faces_source not in FACE_SOURCES:
            raise ConfigError(f"faces.source must be one of {', '.join(FACE_SOURCES)}, got {self.faces_source!r}")
        for name, (low, high) in _RANGES.items():
            attribute = _NODE_PARAMETERS.get(name, ("",))[0]
            if attribute:
                check_range(name, getattr(self, attribute), low, high)
        return self

    def image_qos(self) -> QoSProfile:
        return face_params.image_qos(self.qos_reliability, self.qos_depth)

    def latched_qos(self, depth: int) -> QoSProfile:
        """Reliable and transient local: a late subscriber gets the last ``depth`` messages."""
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=depth,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )


# name -> (attribute of SceneNodeConfig, description)
_NODE_PARAMETERS: dict[str, tuple[str, str]] = {
    **face_params.CAMERA_PARAMETERS,
    "qos.scene_depth": ("scene_depth", "Scenes kept for late subscribers of scene (reliable, transient local)."),
    "qos.alerts_depth": (
        "alerts_depth",
        "Alert messages kept for late subscribers of scene_alerts (reliable, transient local).",
    ),
    "faces.source": (
        "faces_source",
        "Where face attributes come from: auto (the faces topic when it has a publisher, else the face pipeline "
        "run here), topic, pipeline, or none.",
    ),
    "faces.wait_s": ("faces_wait_s", "How long to wait for the faces message with the image's stamp, seconds."),
    "hri.enabled": ("hri_enabled", face_params.HRI_DESCRIPTION),
}

# Read by the executable only (not part of SceneNodeConfig), so declared beside the table.
_AUTOSTART_DESCRIPTION = (
    "The executable configures and activates the node itself; false: wait for lifecycle transitions."
)

_SCENE_DESCRIPTIONS: dict[str, str] = {
    "scene.rate_hz": "At most this many images are analyzed per second (the newest one each time).",
    "scene.face_keypoint_score": "Least keypoint score of the nose, eyes and ears that place a person's head.",
    "person_tracking.min_iou": "Least box overlap for a person to keep a track (unless the centres are close).",
    "person_tracking.max_centre_distance": "Box centre distance, in track box sizes, that still allows a match.",
    "person_tracking.max_missing_s": "A person track survives this long without a match (header time, seconds).",
    "person_tracking.size_weight": "Weight of the box area change (|log ratio|) in the matching cost.",
    "alerts.fall_window_s": "A fall: lying on the floor at most this long after last seen upright (seconds).",
    "alerts.lying_min_s": "lying_on_floor: lying off any bed or couch for this long (seconds).",
    "alerts.distress_min_s": "distress: a face afraid or sad for this long (seconds).",
    "alerts.distress_min_score": "Least emotion probability for fear or sadness to count as distress.",
    "alerts.motionless_min_s": "motionless: lying without moving for this long (seconds).",
    "alerts.motion_tolerance": "Mean keypoint shift, in person box sizes, below which a person counts as still.",
    "alerts.min_keypoint_score": "Least keypoint score used to measure motion.",
    "alerts.clear_s": "A condition must be absent this long before its alert clears; shorter gaps are bridged (s).",
    "alerts.furniture_min_overlap": "Share of a lying person's box over a bed or couch for not lying on the floor.",
    "alerts.update_min_score_change": "An active alert is republished when its score changes by this much.",
    "alerts.dangerous_objects": (
        "Comma-separated COCO labels a person must not hold (holding_dangerous_object); empty: the alert is off."
    ),
    "alerts.holding_min_s": "holding_dangerous_object: a wrist on such an object for this long (seconds).",
    "alerts.hand_margin": "A wrist this far outside the object's box (in box sizes) still holds it.",
    "sentence.min_gender_score": "Least gender probability for saying woman/man (else: a person).",
    "sentence.min_emotion_score": "Least emotion probability for saying how someone looks.",
    "sentence.max_people": "People whose age, emotion and alerts the details name; the caption counts all.",
    "sentence.max_objects": "Most objects listed after a caption's 'with' and in the details' 'Also in view'.",
    "sentence.furniture_min_overlap": "Share of a person's box over a bed, couch or chair for lying or sitting on it.",
    "sentence.min_face_size_px": "Faces smaller than this (shorter box side) lend no attribute to the sentence.",
    "captioner.model_dir": (
        "Folder of an ONNX image captioner (optimum export: encoder, decoder, tokenizer.json, configs); empty: none."
    ),
    "captioner.beam_size": "Captioner search: 1 is greedy; more is beam search with that many beams (slower).",
    "captioner.max_length": "Longest caption, in tokens, the decoder start token included.",
    "captioner.period_s": (
        "Caption at most once per this many seconds of frame time; frames between reuse the last caption (0: all)."
    ),
    "people.object_model": "Object detector model id (models/manifest.json), COCO-80 classes.",
    "people.pose_model": "Pose model id (models/manifest.json), 17 COCO keypoints.",
    "people.posture_model": (
        "Posture model id (models/manifest.json) that judges each person candidate; empty: person boxes by "
        "score_threshold, posture by keypoint rules."
    ),
    "people.candidate_score_threshold": "Person boxes at or above this score are candidates for the posture model.",
    "people.max_candidates": "Candidates given a pose and the posture model (more when the detector is sure of more).",
    "people.person_threshold": "A candidate at least this probably one whole person (posture model) is a person.",
    "people.min_posture_score": "A person whose most probable posture is less probable than this is 'unknown'.",
    "people.min_lying_score": "A person is called lying only when lying is at least this probable; else 'unknown'.",
    "people.score_threshold": "Person boxes at or above this score are people (weaker: if the posture model says so).",
    "people.object_score_threshold": "Other COCO objects at or above this confidence are context objects.",
    "people.nms_iou_threshold": "Overlap above which the weaker of two detections is dropped.",
    "people.max_people": "At most this many people per image, the most confident first.",
    "people.max_objects": "At most this many context objects per image.",
    "people.pose_padding": "Pose crop side = longer person box side * (1 + this).",
    "people.min_pose_score": "Mean keypoint score below which a pose is not confident (re-looked when turned).",
    "people.keypoint_score_threshold": "Keypoints below this score are ignored by the posture rules.",
    "people.rotated_pose": "Re-look at the pose on 90-degree-turned crops of wide or unsure people.",
    "people.rotated_detection": (
        "Detector runs on the image turned by 90 degrees: off; hint (both ways when a wide person box hints at "
        "lying); alternate (as hint, else one way per frame, switching); always (both ways every frame)."
    ),
    "people.wide_box_aspect": "A person box wider than tall by this factor counts as wide.",
}

_RANGES: dict[str, tuple[float, float]] = {
    "qos.depth": (1, 100),
    "qos.scene_depth": (1, 100),
    "qos.alerts_depth": (1, 1000),
    "faces.wait_s": (0.0, 10.0),
    "diagnostics.period_s": (0.05, 60.0),
    "diagnostics.stale_after_s": (0.1, 3600.0),
    "scene.rate_hz": (0.01, 100.0),
    "scene.face_keypoint_score": (0.0, 1.0),
    "person_tracking.min_iou": (0.0, 1.0),
    "person_tracking.max_centre_distance": (0.0, 10.0),
    "person_tracking.max_missing_s": (0.0, 600.0),
    "person_tracking.size_weight": (0.0, 10.0),
    "alerts.fall_window_s": (0.0, 60.0),
    "alerts.lying_min_s": (0.0, 3600.0),
    "alerts.distress_min_s": (0.0, 3600.0),
    "alerts.distress_min_score": (0.0, 1.0),
    "alerts.motionless_min_s": (0.0, 3600.0),
    "alerts.motion_tolerance": (0.0, 1.0),
    "alerts.min_keypoint_score": (0.0, 1.0),
    "alerts.clear_s": (0.0, 600.0),
    "alerts.furniture_min_overlap": (0.0, 1.0),
    "alerts.update_min_score_change": (0.0, 1.0),
    "alerts.holding_min_s": (0.0, 3600.0),
    "alerts.hand_margin": (0.0, 2.0),
    "sentence.min_gender_score": (0.5, 1.0),
    "sentence.min_emotion_score": (0.0, 1.0),
    "sentence.max_people": (1, 100),
    "sentence.max_objects": (0, 100),
    "sentence.furniture_min_overlap": (0.0, 1.0),
    "sentence.min_face_size_px": (0.0, 10000.0),
    "captioner.beam_size": (1, 16),
    "captioner.max_length": (2, 256),
    "captioner.period_s": (0.0, 3600.0),
    "people.candidate_score_threshold": (0.0, 1.0),
    "people.max_candidates": (1, 100),
    "people.person_threshold": (0.0, 1.0),
    "people.min_posture_score": (0.0, 1.0),
    "people.min_lying_score": (0.0, 1.0),
    "people.score_threshold": (0.0, 1.0),
    "people.object_score_threshold": (0.0, 1.0),
    "people.nms_iou_threshold": (0.0, 1.0),
    "people.max_people": (1, 100),
    "people.max_objects": (0, 300),
    "people.pose_padding": (0.0, 2.0),
    "people.min_pose_score": (0.0, 1.0),
    "people.keypoint_score_threshold": (0.0, 1.0),
    "people.wide_box_aspect": (0.2, 5.0),
}


def parameter_defaults() -> dict[str, Any]:
    """Every parameter the scene node declares, with its default."""
    defaults = SceneConfig().to_parameters()
    defaults.update(PeopleConfig().to_parameters())
    defaults.update(PipelineConfig().to_parameters())
    node_defaults = SceneNodeConfig()
    defaults.update({name: getattr(node_defaults, attr) for name, (attr, _) in _NODE_PARAMETERS.items()})
    return defaults


def describe(name: str, default: Any) -> ParameterDescriptor:
    if name in _SCENE_DESCRIPTIONS or name in _NODE_PARAMETERS:
        description = _SCENE_DESCRIPTIONS.get(name) or _NODE_PARAMETERS[name][1]
        descriptor = face_params.descriptor(description, default, _RANGES.get(name))
        # a whole number for a float parameter (lying_min_s: 20) is taken; the config checks type and range
        descriptor.dynamic_typing = isinstance(default, float)
        return descriptor
    descriptor = face_params.describe(name, default)  # the face pipeline's own table
    descriptor.read_only = True
    return descriptor


def declare(node: Node) -> None:
    """Declare every parameter on ``node`` (once, at construction): ``autostart`` and the table's."""
    node.declare_parameter("autostart", True, face_params.descriptor(_AUTOSTART_DESCRIPTION, True, None))
    for name, default in parameter_defaults().items():
        node.declare_parameter(name, default, describe(name, default))


def read(node: Node) -> tuple[SceneConfig, PeopleConfig, PipelineConfig, SceneNodeConfig]:
    """Build the configs from the declared parameters' values.

    Raises:
        ConfigError: a value is out of range or of the wrong type (the message names it).
    """
    values = {name: node.get_parameter(name).value for name in parameter_defaults()}
    scene = SceneConfig.from_parameters(values)
    people = PeopleConfig.from_parameters({k: v for k, v in values.items() if k.startswith("people.")})
    pipeline = PipelineConfig.from_parameters(values)
    node_config = SceneNodeConfig(**{attr: values[name] for name, (attr, _) in _NODE_PARAMETERS.items()}).validate()
    return scene, people, pipeline, node_config
