"""Field values of the scene messages (Person, SceneObject, SceneAlert, Scene), computed from core results.

The rclpy layer and the bag writer both build the messages from these dicts, so the
mapping exists once. ``face`` is the ``Face`` fields dict of ``message_fields.face_fields``
or None (no face matched: the message's default Face).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from face_perception.core.message_fields import box_fields, face_fields
from face_perception.core.scene.types import ALERT_TYPES, POSTURES, Alert, ObjectDetection, Person, SceneResult


def stamp_of(time_s: float) -> tuple[int, int]:
    """Seconds as (sec, nanosec) of a builtin_interfaces/Time."""
    sec = math.floor(time_s)
    nanosec = min(round((time_s - sec) * 1e9), 999_999_999)
    return int(sec), int(nanosec)


def person_fields(person: Person) -> dict[str, Any]:
    observation = person.observation
    box = observation.box
    keypoints = observation.keypoints.astype(np.float32)
    face = person.face
    return {
        "id": person.track_id,
        "track_age_s": float(person.track_age_s),
        **box_fields(box),
        "score": float(observation.score),
        "posture": POSTURES.index(observation.posture),
        "posture_score": float(observation.posture_score),
        "support": person.support,
        "keypoints_x": np.ascontiguousarray(keypoints[:, 0]),
        "keypoints_y": np.ascontiguousarray(keypoints[:, 1]),
        "keypoints_score": np.ascontiguousarray(keypoints[:, 2]),
        "has_face": face is not None,
        "face_id": person.face_id,
        "face": None if face is None else face_fields(face, face, person.face_id),
    }


def object_fields(obj: ObjectDetection) -> dict[str, Any]:
    return {"label": obj.label, "score": float(obj.score), **box_fields(obj.box)}


def alert_fields(alert: Alert) -> dict[str, Any]:
    """Fields of a ``SceneAlert`` without the header; ``since`` as (sec, nanosec)."""
    return {
        "id": alert.alert_id,
        "type": ALERT_TYPES.index(alert.type),
        "score": float(alert.score),
        "sentence": alert.description,
        "people": np.array(alert.people, dtype=np.uint64),
        "since": stamp_of(alert.since_s),
        "active": alert.active,
    }


def scene_fields(result: SceneResult) -> dict[str, Any]:
    """Fields of a ``Scene`` without the header: ``people`` (``person_fields`` dicts, largest box first),
    ``objects`` (``object_fields`` dicts, most confident first), ``alerts`` (``alert_fields`` dicts)."""
    people = sorted(result.people, key=lambda p: -(p.observation.box.width * p.observation.box.height))
    return {
        "image_width": result.image_width,
        "image_height": result.image_height,
        "processing_time_s": float(result.latency_s),
        "description": result.description,
        "caption": result.caption,
        "people": [person_fields(p) for p in people],
        "objects": [object_fields(o) for o in sorted(result.objects, key=lambda o: -o.score)],
        "alerts": [alert_fields(a) for a in result.alerts],
    }
