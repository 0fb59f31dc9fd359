"""Scene analysis configuration: one dataclass tree, flat dotted parameter names like the face pipeline's.

Sections: ``scene.*`` (this dataclass), ``person_tracking.*``, ``alerts.*``, ``sentence.*``, ``captioner.*``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from face_perception.core.checks import check_range
from face_perception.core.config import PipelineConfig, _coerce, load_parameters_yaml
from face_perception.core.scene.alerts import AlertConfig
from face_perception.core.scene.captioner import CaptionerConfig
from face_perception.core.scene.people import PeopleConfig
from face_perception.core.scene.sentence import SentenceConfig
from face_perception.core.scene.tracker import PersonTrackerConfig

# section name -> attribute of SceneConfig holding that section's dataclass
SECTIONS: dict[str, str] = {
    "person_tracking": "tracking",
    "alerts": "alerts",
    "sentence": "sentence",
    "captioner": "captioner",
}


@dataclass(frozen=True)
class SceneConfig:
    """Everything the scene analyzer needs besides the models' own settings."""

    rate_hz: float = 2.0
    face_keypoint_score: float = 0.3
    tracking: PersonTrackerConfig = field(default_factory=PersonTrackerConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    sentence: SentenceConfig = field(default_factory=SentenceConfig)
    captioner: CaptionerConfig = field(default_factory=CaptionerConfig)

    def validate(self) -> SceneConfig:
        check_range("scene.rate_hz", self.rate_hz, 0.01, 100.0)
        check_range("scene.face_keypoint_score", self.face_keypoint_score, 0.0, 1.0)
        self.tracking.validate()
        self.alerts.validate()
        self.sentence.validate()
        self.captioner.validate()
        return self

    def to_parameters(self) -> dict[str, Any]:
        """Flat ``{dotted.name: value}`` view, the form ROS parameters take."""
        params: dict[str, Any] = {
            f"scene.{f.name}": getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in SECTIONS.values()
        }
        for section, attribute in SECTIONS.items():
            part = getattr(self, attribute)
            params.update({f"{section}.{f.name}": getattr(part, f.name) for f in dataclasses.fields(part)})
        return params

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> SceneConfig:
        """Build from flat dotted names (others are ignored); names not given keep their defaults.

        Raises:
            ConfigError: a value has the wrong type or is out of range (the message names it).
        """
        defaults = cls()
        values = defaults.to_parameters()
        for name, value in params.items():
            if name in values:
                values[name] = _coerce(name, value, values[name])
        sections = {}
        for section, attribute in SECTIONS.items():
            kind = type(getattr(defaults, attribute))
            sections[attribute] = kind(**{f.name: values[f"{section}.{f.name}"] for f in dataclasses.fields(kind)})
        own = {f.name: values[f"scene.{f.name}"] for f in dataclasses.fields(cls) if f.name not in SECTIONS.values()}
        return cls(**own, **sections).validate()


def load_scene_config(path: str | Path | None = None, node_name: str = "scene") -> SceneConfig:
    """The scene configuration of a parameters file (the defaults when path is None)."""
    if path is None:
        return SceneConfig().validate()
    return SceneConfig.from_parameters(load_parameters_yaml(path, node_name))


def load_scene_configs(
    path: str | Path | None = None, node_name: str = "scene"
) -> tuple[SceneConfig, PeopleConfig, PipelineConfig]:
    """The scene, people finder and face pipeline configurations of one parameters file (as the scene node reads it)."""
    params = {} if path is None else load_parameters_yaml(path, node_name)
    people = PeopleConfig.from_parameters({k: v for k, v in params.items() if k.startswith("people.")})
    return SceneConfig.from_parameters(params), people, PipelineConfig.from_parameters(params)
