"""Field values of the face_perception messages, computed from core results.

The rclpy layer and the bag writer both build ``Face`` and ``FaceEvent`` messages from
these dicts (keyword arguments of either message class), so the mapping exists once.
A value a head did not produce is NaN for numbers and "" for labels; so is a gender the
gender head abstained on (``gender`` "", ``gender_score`` NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from face_perception.core.tracker import FaceEvent
from face_perception.core.types import EMOTION_LABELS, Box, FaceResult

NAN = float("nan")


def box_fields(box: Box) -> dict[str, float]:
    """The ``x_min, y_min, x_max, y_max`` fields every message with a box has."""
    return {"x_min": box.x_min, "y_min": box.y_min, "x_max": box.x_max, "y_max": box.y_max}


def _emotion(face: FaceResult) -> tuple[str, float, np.ndarray]:
    if face.emotion is None:
        return "", NAN, np.full(len(EMOTION_LABELS), NAN, np.float32)
    return (
        face.emotion.label,
        face.emotion.score,
        np.array([face.emotion.scores[k] for k in EMOTION_LABELS], np.float32),
    )


def _gender(face: FaceResult) -> tuple[str, float]:
    return ("", NAN) if face.gender is None else (face.gender.label, face.gender.score)


def face_fields(raw: FaceResult, smoothed: FaceResult, face_id: int, track_age_s: float = 0.0) -> dict[str, Any]:
    """Fields of a ``Face``: geometry from this frame, smoothed attributes, and this frame's raw_* values.

    Without tracking, pass the same result as ``raw`` and ``smoothed``.
    """
    box = raw.detection.box
    landmarks = raw.detection.landmarks.astype(np.float32)
    emotion, emotion_score, emotion_scores = _emotion(smoothed)
    raw_emotion, _, raw_emotion_scores = _emotion(raw)
    gender, gender_score = _gender(smoothed)
    raw_gender, raw_gender_score = _gender(raw)
    return {
        "id": face_id,
        "track_age_s": float(track_age_s),
        **box_fields(box),
        "detection_score": raw.detection.score,
        "landmarks_x": np.ascontiguousarray(landmarks[:, 0]),
        "landmarks_y": np.ascontiguousarray(landmarks[:, 1]),
        "emotion": emotion,
        "emotion_score": emotion_score,
        "emotion_scores": emotion_scores,
        "gender": gender,
        "gender_score": gender_score,
        "age": NAN if smoothed.age is None else smoothed.age,
        "age_uncertainty_years": NAN if smoothed.age_uncertainty_years is None else smoothed.age_uncertainty_years,
        "eyeglasses_probability": NAN if smoothed.eyewear is None else smoothed.eyewear.probability,
        "eyeglasses": False if smoothed.eyewear is None else smoothed.eyewear.worn,
        "identity": "" if smoothed.identity is None or smoothed.identity.name is None else smoothed.identity.name,
        "identity_distance": NAN if smoothed.identity is None else smoothed.identity.distance,
        "raw_emotion": raw_emotion,
        "raw_emotion_scores": raw_emotion_scores,
        "raw_gender": raw_gender,
        "raw_gender_score": raw_gender_score,
        "raw_age": NAN if raw.age is None else raw.age,
        "raw_eyeglasses_probability": NAN if raw.eyewear is None else raw.eyewear.probability,
    }


def event_fields(event: FaceEvent) -> dict[str, Any]:
    """Fields of a ``FaceEvent`` (without the header)."""
    return {
        "type": event.type.value,
        "face_id": event.track_id,
        "track_age_s": float(event.track_age_s),
        "emotion": event.emotion,
        "previous_emotion": event.previous_emotion,
        "identity": event.identity,
        "identity_distance": float(event.identity_distance),
    }
