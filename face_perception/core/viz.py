"""Drawing of face results on an image, for the debug image topic and the CLI."""

from __future__ import annotations

import cv2
import numpy as np

from face_perception.core.types import FaceResult

_BOX_COLOR = (0, 200, 0)
_LANDMARK_COLOR = (0, 0, 255)


def draw_faces(image_bgr: np.ndarray, faces: list[FaceResult], face_ids: list[int] | None = None) -> np.ndarray:
    """A copy of the image with each face's box, landmarks and labels drawn on it."""
    canvas = image_bgr.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for index, face in enumerate(faces):
        box = face.detection.box
        top_left = (round(box.x_min), round(box.y_min))
        cv2.rectangle(canvas, top_left, (round(box.x_max), round(box.y_max)), _BOX_COLOR, thickness)
        for x, y in face.detection.landmarks:
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(canvas, (round(float(x)), round(float(y))), thickness + 1, _LANDMARK_COLOR, -1)
        parts = [f"#{face_ids[index]}"] if face_ids else []
        if face.identity is not None and face.identity.name:
            parts.append(face.identity.name)
        if face.emotion is not None:
            parts.append(f"{face.emotion.label} {face.emotion.score:.2f}")
        if face.gender is not None and face.gender.label:
            parts.append(face.gender.label)
        if face.age is not None:
            parts.append(f"{face.age:.0f}y")
        if face.eyewear is not None and face.eyewear.worn:
            parts.append("glasses")
        text_origin = (top_left[0], max(12, top_left[1] - 4))
        cv2.putText(
            canvas, " ".join(parts), text_origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, _BOX_COLOR, thickness
        )
    return canvas
