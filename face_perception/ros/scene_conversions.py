"""Conversions between the scene messages and core scene results (and Face messages to face results)."""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from face_perception.core.scene.message_fields import alert_fields, object_fields, person_fields
from face_perception.core.scene.types import Alert, SceneResult
from face_perception.core.types import (
    EMOTION_LABELS,
    GENDER_LABELS,
    Box,
    Classification,
    Detection,
    Eyewear,
    FaceResult,
    GenderResult,
)
from face_perception.msg import Face, Person, Scene, SceneAlert, SceneObject

_FACE_ARRAYS = ("landmarks_x", "landmarks_y", "emotion_scores", "raw_emotion_scores")


def face_from_msg(msg: Face) -> FaceResult:
    """A Face message as a face result with its smoothed attributes; NaN and "" become None."""
    landmarks = np.stack([np.asarray(msg.landmarks_x), np.asarray(msg.landmarks_y)], axis=1).astype(np.float32)
    detection = Detection(Box(msg.x_min, msg.y_min, msg.x_max, msg.y_max), float(msg.detection_score), landmarks)
    emotion = None
    if msg.emotion:
        scores = {label: float(p) for label, p in zip(EMOTION_LABELS, msg.emotion_scores, strict=True)}
        emotion = Classification(msg.emotion, float(msg.emotion_score), scores)
    gender = None
    if msg.gender in GENDER_LABELS:
        other = GENDER_LABELS[1 - GENDER_LABELS.index(msg.gender)]
        gender = GenderResult(
            msg.gender, float(msg.gender_score), {msg.gender: msg.gender_score, other: 1 - msg.gender_score}
        )
    age = None if math.isnan(msg.age) else float(msg.age)
    age_uncertainty = None if math.isnan(msg.age_uncertainty_years) else float(msg.age_uncertainty_years)
    eyewear = (
        None if math.isnan(msg.eyeglasses_probability) else Eyewear(float(msg.eyeglasses_probability), msg.eyeglasses)
    )
    return FaceResult(
        detection, emotion=emotion, gender=gender, age=age, age_uncertainty_years=age_uncertainty, eyewear=eyewear
    )


def _face_msg(fields: dict | None) -> Face:
    if fields is None:
        return Face()
    for name in _FACE_ARRAYS:
        fields[name] = fields[name].tolist()
    return Face(**fields)


def alert_to_msg(alert: Alert, header: Header) -> SceneAlert:
    fields = alert_fields(alert)
    sec, nanosec = fields.pop("since")
    fields["people"] = [int(p) for p in fields["people"]]
    return SceneAlert(header=header, since=Time(sec=sec, nanosec=nanosec), **fields)


def scene_to_msg(result: SceneResult, header: Header) -> Scene:
    """The Scene message of one image; the header is the source image's, unchanged."""
    people = []
    ordered = sorted(result.people, key=lambda p: -(p.observation.box.width * p.observation.box.height))
    for person in ordered:
        fields = person_fields(person)
        face = _face_msg(fields.pop("face"))
        for name in ("keypoints_x", "keypoints_y", "keypoints_score"):
            fields[name] = fields[name].tolist()
        people.append(Person(face=face, **fields))
    objects = [SceneObject(**object_fields(o)) for o in sorted(result.objects, key=lambda o: -o.score)]
    return Scene(
        header=header,
        image_width=result.image_width,
        image_height=result.image_height,
        processing_time_s=float(result.latency_s),
        description=result.description,
        caption=result.caption,
        people=people,
        objects=objects,
        alerts=[alert_to_msg(a, header) for a in result.alerts],
    )
