"""The JSON form of face results shared by the CLI commands (the ``analyze --json`` contract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from face_perception.core.types import FaceResult, IdentityMatch


def face_to_json(face: FaceResult) -> dict[str, Any]:
    """One face as the documented JSON object; a disabled head's key is null."""
    landmarks = face.detection.landmarks
    return {
        "box": [round(v, 2) for v in face.detection.box.as_list()],
        "score": round(face.detection.score, 4),
        "landmarks": None
        if np.isnan(landmarks).any()
        else [[round(float(x), 2), round(float(y), 2)] for x, y in landmarks],
        "emotion": None
        if face.emotion is None
        else {
            "label": face.emotion.label,
            "scores": {k: round(v, 4) for k, v in face.emotion.scores.items()},
        },
        "gender": None
        if face.gender is None
        else {"label": face.gender.label, "score": round(face.gender.score, 4) if face.gender.label else None},
        "age": None if face.age is None else round(face.age, 1),
        "age_uncertainty_years": None if face.age_uncertainty_years is None else round(face.age_uncertainty_years, 1),
        "eyeglasses": None
        if face.eyewear is None
        else {
            "probability": round(face.eyewear.probability, 4),
            "worn": face.eyewear.worn,
        },
        "identity": None if face.identity is None else identity_to_json(face.identity),
    }


def identity_to_json(identity: IdentityMatch) -> dict[str, Any]:
    """``{"name": <str or null>, "distance": <float or null when the gallery is empty>}``."""
    distance = identity.distance
    return {"name": identity.name, "distance": round(distance, 4) if np.isfinite(distance) else None}


def describe_face_json(face: dict[str, Any]) -> str:
    """A one-line human summary of a face in its JSON form."""
    box = face["box"]
    parts = [f"box ({box[0]:.0f},{box[1]:.0f})-({box[2]:.0f},{box[3]:.0f}) score {face['score']:.2f}"]
    if face.get("track_id") is not None:
        parts.insert(0, f"#{face['track_id']}")
    if face["emotion"]:
        label = face["emotion"]["label"]
        parts.append(f"{label} ({face['emotion']['scores'][label]:.2f})")
    if face["gender"]:
        label = face["gender"]["label"]
        parts.append(f"{label} ({face['gender']['score']:.2f})" if label else "gender not said")
    if face["age"] is not None:
        spread = face.get("age_uncertainty_years")
        parts.append(f"age {face['age']:.0f}" + (f" ± {spread:.0f}" if spread is not None else ""))
    if face["eyeglasses"]:
        parts.append(
            f"eyeglasses {'yes' if face['eyeglasses']['worn'] else 'no'} ({face['eyeglasses']['probability']:.2f})"
        )
    identity = face.get("identity")
    if identity and identity["distance"] is not None:  # (an empty gallery names nobody: nothing to say)
        parts.append(f"{identity['name'] or 'unknown person'} (distance {identity['distance']:.2f})")
    return ", ".join(parts)


def face_lines(record: dict[str, Any]) -> list[str]:
    """One line per face of ``record`` (and per face event)."""
    lines = [describe_face_json(face) for face in record["faces"]]
    lines += [f"event: {e['type']} #{e['track_id']} {e['emotion']}" for e in record.get("events", [])]
    return lines


def emit(
    record: dict[str, Any],
    as_json: bool,
    out: TextIO,
    key: str,
    headline: Callable[[dict[str, Any]], str],
    details: Callable[[dict[str, Any]], list[str]] = face_lines,
) -> None:
    """Write one record: a JSON line, or a headline plus its detail lines (by default one per face and event)."""
    if as_json:
        out.write(json.dumps(record) + "\n")
        return
    if "error" in record:
        out.write(f"{record[key]}: ERROR {record['error']}\n")
        return
    out.write(f"{record[key]}: {headline(record)}\n")
    for line in details(record):
        out.write(f"  {line}\n")
