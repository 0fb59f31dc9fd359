"""Message types for bags: ROS 2 Jazzy's plus ours, read from the package's msg/ files."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from face_perception.core.images_raw import decode_compressed, raw_to_bgr
from face_perception.core.message_fields import event_fields, face_fields
from face_perception.core.runtime import find_package_data
from face_perception.core.scene.message_fields import alert_fields, scene_fields
from face_perception.core.scene.types import Alert, SceneResult
from face_perception.core.tracker import FaceEvent, TrackedFace
from face_perception.core.types import FrameResult

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
FACE_ARRAY = "face_perception/msg/FaceArray"
FACE_EVENT = "face_perception/msg/FaceEvent"
DIAGNOSTIC_STATUS = "diagnostic_msgs/msg/DiagnosticStatus"
SCENE = "face_perception/msg/Scene"
SCENE_ALERT = "face_perception/msg/SceneAlert"
MESSAGE_NAMES = ("Face", "FaceArray", "FaceEvent", "Person", "SceneObject", "SceneAlert", "Scene")


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Jazzy's types plus face_perception's, from the msg/ files shipped with the package."""
    store = get_typestore(Stores.ROS2_JAZZY)
    folder = find_package_data("msg", "Face.msg")
    types: dict[str, Any] = {}
    for name in MESSAGE_NAMES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), f"face_perception/msg/{name}"))
    store.register(types)
    return store


def image_to_bgr(msgtype: str, msg: Any, max_side_px: int) -> np.ndarray:
    """A deserialized Image or CompressedImage as uint8 BGR; raises ImageError when unusable."""
    if msgtype == COMPRESSED_IMAGE:
        return decode_compressed(msg.data, max_side_px, msg.format)
    return raw_to_bgr(msg.data, msg.width, msg.height, msg.encoding, msg.step, bool(msg.is_bigendian), max_side_px)


def face_array(result: FrameResult, header: Any, tracked: list[TrackedFace] | None, first_id: int) -> Any:
    """A FaceArray for one frame; without tracking, ids count up from ``first_id``."""
    if tracked is None:
        shown = [(f, f, first_id + i, 0.0) for i, f in enumerate(result.faces)]
    else:
        shown = [(t.raw, t.smoothed, t.track_id, t.age_s) for t in tracked]
    face_type = typestore().types["face_perception/msg/Face"]
    faces = [face_type(**face_fields(*fields)) for fields in shown]
    return typestore().types[FACE_ARRAY](
        header=header,
        image_width=result.image_width,
        image_height=result.image_height,
        processing_time_s=float(result.latency_s),
        faces=faces,
    )


def face_event(event: FaceEvent, header: Any) -> Any:
    return typestore().types[FACE_EVENT](header=header, **event_fields(event))


def _scene_alert(fields: dict[str, Any], header: Any) -> Any:
    types = typestore().types
    sec, nanosec = fields.pop("since")
    since = types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return types[SCENE_ALERT](header=header, since=since, **fields)


def _person(fields: dict[str, Any]) -> Any:
    types = typestore().types
    face = fields.pop("face")
    face_msg = types["face_perception/msg/Face"](**(face if face is not None else _empty_face()))
    return types["face_perception/msg/Person"](face=face_msg, **fields)


def scene_alert(alert: Alert, header: Any) -> Any:
    """A SceneAlert with the frame's header."""
    return _scene_alert(alert_fields(alert), header)


def scene(result: SceneResult, header: Any) -> Any:
    """A Scene for one frame (people largest first, objects by score, the active alerts)."""
    types = typestore().types
    fields = scene_fields(result)
    fields["people"] = [_person(f) for f in fields["people"]]
    fields["objects"] = [types["face_perception/msg/SceneObject"](**f) for f in fields["objects"]]
    fields["alerts"] = [_scene_alert(f, header) for f in fields["alerts"]]
    return types[SCENE](header=header, **fields)


def _empty_face() -> dict[str, Any]:
    """The fields of a default Face message (no face matched)."""
    zeros5, zeros7 = np.zeros(5, np.float32), np.zeros(7, np.float32)
    return {
        **dict.fromkeys(("id",), 0),
        **dict.fromkeys(("track_age_s", "x_min", "y_min", "x_max", "y_max", "detection_score"), 0.0),
        "landmarks_x": zeros5,
        "landmarks_y": zeros5.copy(),
        "emotion": "",
        "emotion_score": 0.0,
        "emotion_scores": zeros7,
        "gender": "",
        "gender_score": 0.0,
        "age": 0.0,
        "age_uncertainty_years": 0.0,
        "eyeglasses_probability": 0.0,
        "eyeglasses": False,
        "identity": "",
        "identity_distance": 0.0,
        "raw_emotion": "",
        "raw_emotion_scores": zeros7.copy(),
        "raw_gender": "",
        "raw_gender_score": 0.0,
        "raw_age": 0.0,
        "raw_eyeglasses_probability": 0.0,
    }


def error_status(topic: str, error: str, stamp: Any) -> Any:
    """The error record of a frame that could not be processed."""
    store = typestore()
    key_value = store.types["diagnostic_msgs/msg/KeyValue"]
    return store.types[DIAGNOSTIC_STATUS](
        level=store.types[DIAGNOSTIC_STATUS].ERROR,
        name=topic,
        message=error,
        hardware_id="face_perception",
        values=[key_value(key="stamp", value=f"{stamp.sec}.{stamp.nanosec:09d}")],
    )
