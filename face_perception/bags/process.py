"""Offline processing of a rosbag2: every image message through the pipeline, results into an MCAP bag."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from face_perception.bags import messages
from face_perception.core.config import PipelineConfig
from face_perception.core.errors import FacePerceptionError
from face_perception.core.pipeline import FacePipeline
from face_perception.core.tracker import FaceTracker

log = logging.getLogger(__name__)
IMAGE_TYPES = (messages.IMAGE, messages.COMPRESSED_IMAGE)
ERRORS_TOPIC = "/face_perception/errors"


class BagError(FacePerceptionError):
    """A bag cannot be read or written, or has none of the asked-for topics."""


@dataclass
class BagSummary:
    """What a run did: frames per input topic, faces found, frames that failed."""

    frames: dict[str, int] = field(default_factory=dict)
    faces: int = 0
    failed: int = 0


def output_topics(topic: str) -> tuple[str, str]:
    """Result topics for an image topic: ``<topic>/faces`` and ``<topic>/face_events``."""
    return f"{topic.rstrip('/')}/faces", f"{topic.rstrip('/')}/face_events"


def image_connections(reader: Reader, topics: Iterable[str] | None) -> list[Any]:
    """The connections of the image topics to process (all image topics when ``topics`` is None)."""
    chosen = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
    if topics:
        wanted = set(topics)
        missing = wanted - {c.topic for c in chosen}
        if missing:
            available = ", ".join(sorted({c.topic for c in chosen})) or "none"
            raise BagError(f"no image topic {', '.join(sorted(missing))} in the bag (image topics: {available})")
        chosen = [c for c in chosen if c.topic in wanted]
    if not chosen:
        raise BagError("the bag has no sensor_msgs/Image or sensor_msgs/CompressedImage topic")
    return chosen


def process_bag(
    source: Path,
    destination: Path,
    config: PipelineConfig,
    topics: Iterable[str] | None = None,
    jsonl: IO[str] | None = None,
    progress: Callable[[int], Any] | None = None,
) -> BagSummary:
    """Run the pipeline over every image message of ``source`` and write ``destination`` (MCAP).

    Results keep the source's log times and headers. A frame that cannot be decoded or
    processed gets an error record on ``/face_perception/errors`` (and in ``jsonl``).
    """
    if destination.exists():
        raise BagError(f"output {destination} already exists")
    store = messages.typestore()
    pipeline = FacePipeline(config)
    summary = BagSummary()
    try:
        reader = Reader(source)
        reader.open()
    except Exception as error:  # rosbags raises several unrelated types for unreadable bags
        raise BagError(f"cannot open bag {source}: {error}") from error
    try:
        connections = image_connections(reader, topics)
        writer = Writer(destination, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
        try:
            outputs = {}
            trackers = {}
            for connection in connections:
                faces_topic, events_topic = output_topics(connection.topic)
                outputs[connection.topic] = (
                    writer.add_connection(faces_topic, messages.FACE_ARRAY, typestore=store),
                    writer.add_connection(events_topic, messages.FACE_EVENT, typestore=store),
                )
                trackers[connection.topic] = FaceTracker(config.tracking) if config.tracking.enabled else None
                summary.frames[connection.topic] = 0
            errors = writer.add_connection(ERRORS_TOPIC, messages.DIAGNOSTIC_STATUS, typestore=store)
            next_id = 1
            previous_topic = None
            for connection, timestamp, raw in reader.messages(connections=connections):
                topic = connection.topic
                if topic != previous_topic:  # another camera: no face carried over (detector.full_frame_every)
                    pipeline.reset()
                    previous_topic = topic
                summary.frames[topic] += 1
                record: dict[str, Any] = {"topic": topic, "log_time_ns": timestamp}
                header = None
                try:
                    msg = store.deserialize_cdr(raw, connection.msgtype)
                    header = msg.header
                    record["stamp"] = {"sec": header.stamp.sec, "nanosec": header.stamp.nanosec}
                    image = messages.image_to_bgr(connection.msgtype, msg, config.max_image_side_px)
                    result = pipeline.process(image)
                except Exception as error:  # one bad frame must not end the run
                    summary.failed += 1
                    record["error"] = str(error)
                    stamp = header.stamp if header is not None else store.types["builtin_interfaces/msg/Time"](0, 0)
                    status = messages.error_status(topic, str(error), stamp)
                    writer.write(errors, timestamp, store.serialize_cdr(status, messages.DIAGNOSTIC_STATUS))
                    log.warning("%s at %d: %s", topic, timestamp, error)
                else:
                    tracker = trackers[topic]
                    tracked, events = (None, [])
                    if tracker is not None:
                        stamp_s = header.stamp.sec + 1e-9 * header.stamp.nanosec
                        tracked, events, restarted = tracker.update_or_restart(result.faces, stamp_s)
                        if restarted:
                            log.warning("%s: header stamps went backwards at %d; tracks restarted", topic, timestamp)
                    array = messages.face_array(result, header, tracked, next_id)
                    if tracked is None:
                        next_id += len(result.faces)
                    faces_conn, events_conn = outputs[topic]
                    writer.write(faces_conn, timestamp, store.serialize_cdr(array, messages.FACE_ARRAY))
                    for event in events:
                        event_msg = messages.face_event(event, header)
                        writer.write(events_conn, timestamp, store.serialize_cdr(event_msg, messages.FACE_EVENT))
                    summary.faces += len(array.faces)
                    record["faces"] = [_face_json(face) for face in array.faces]
                    record["events"] = [{"type": e.type.name.lower(), "track_id": e.track_id} for e in events]
                if jsonl is not None:
                    jsonl.write(json.dumps(record) + "\n")
                if progress is not None:
                    progress(1)
        finally:
            writer.close()
    finally:
        reader.close()
    return summary


def _face_json(face: Any) -> dict[str, Any]:
    return {
        "id": int(face.id),
        "box": [round(float(v), 2) for v in (face.x_min, face.y_min, face.x_max, face.y_max)],
        "score": round(float(face.detection_score), 4),
        "emotion": face.emotion,
        "gender": face.gender,
        "age": None if face.age != face.age else round(float(face.age), 1),
    }


def count_image_messages(source: Path, topics: Iterable[str] | None) -> int:
    """How many messages the run will process (for the progress bar)."""
    with Reader(source) as reader:
        return sum(c.msgcount for c in image_connections(reader, topics))
