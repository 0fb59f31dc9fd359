"""Conversions between the scene messages and core scene results (and Face messages to face results)."""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from face_perception.core.scene.message_fields import alert_fields, scene_fields
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


def _person_msg(fields: dict) -> Person:
    face = _face_msg(fields.pop("face"))
    for name in ("keypoints_x", "keypoints_y", "keypoints_score"):
        fields[name] = fields[name].tolist()
    return Person(face=face, **fields)


def _alert_msg(fields: dict, header: Header) -> SceneAlert:
    sec, nanosec = fields.pop("since")
    fields["people"] = [int(p) for p in fields["people"]]
    return SceneAlert(header=header, since=Time(sec=sec, nanosec=nanosec), **fields)


def alert_to_msg(alert: Alert, header: Header) -> SceneAlert:
    return _alert_msg(alert_fields(alert), header)


def scene_to_msg(result: SceneResult, header: Header) -> Scene:
    """The Scene message of one image; the header is the source image's, unchanged."""
    fields = scene_fields(result)
    fields["people"] = [_person_msg(f) for f in fields["people"]]
    fields["objects"] = [SceneObject(**f) for f in fields["objects"]]
    fields["alerts"] = [_alert_msg(f, header) for f in fields["alerts"]]
    return Scene(header=header, **fields)
