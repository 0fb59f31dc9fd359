"""Scene results in bags: ``<topic>/scene`` and ``<topic>/scene_alerts`` for an image topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rosbags.rosbag2 import Writer

from face_perception.bags import messages
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import Captioner, ExternalFaces, SceneAnalyzer
from face_perception.core.scene.caption_alerts import caption_findings
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig, PeopleFinder


def scene_topics(topic: str) -> tuple[str, str]:
    """Scene result topics for an image topic: ``<topic>/scene`` and ``<topic>/scene_alerts``."""
    return f"{topic.rstrip('/')}/scene", f"{topic.rstrip('/')}/scene_alerts"


@dataclass(frozen=True)
class SceneSettings:
    """What ``process_bag`` needs to add the scene topics."""

    scene: SceneConfig
    people: PeopleConfig
    captioner: Captioner | None = None  # built from scene.captioner (``load_captioner``); shared by the topics


class SceneWriter:
    """The scene analysis of one image topic and its two output connections."""

    def __init__(self, settings: SceneSettings, store: ModelStore, writer: Writer, topic: str) -> None:
        finder = PeopleFinder.from_store(settings.people, store)
        hazards = caption_findings if settings.captioner is not None else None
        self.analyzer = SceneAnalyzer(settings.scene, finder, captioner=settings.captioner, caption_alerts=hazards)
        self.writer = writer
        scene_topic, alerts_topic = scene_topics(topic)
        typestore = messages.typestore()
        self.scene_conn = writer.add_connection(scene_topic, messages.SCENE, typestore=typestore)
        self.alerts_conn = writer.add_connection(alerts_topic, messages.SCENE_ALERT, typestore=typestore)

    def write(self, image: np.ndarray, header: Any, faces: ExternalFaces, timestamp: int) -> dict[str, Any]:
        """Analyze the frame, write its Scene and the alerts changed in it; returns its JSON summary."""
        store = messages.typestore()
        stamp_s = header.stamp.sec + 1e-9 * header.stamp.nanosec
        result = self.analyzer.analyze(image, stamp_s, faces)
        self.writer.write(
            self.scene_conn, timestamp, store.serialize_cdr(messages.scene(result, header), messages.SCENE)
        )
        for alert in result.changed_alerts:
            alert_msg = messages.scene_alert(alert, header)
            self.writer.write(self.alerts_conn, timestamp, store.serialize_cdr(alert_msg, messages.SCENE_ALERT))
        return {
            "description": result.description,
            "people": [{"track_id": p.track_id, "posture": p.observation.posture} for p in result.people],
            "alerts": [{"id": a.alert_id, "type": a.type, "active": a.active} for a in result.changed_alerts],
        }
