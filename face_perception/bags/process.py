"""Offline processing of a rosbag2: every image message through the pipeline, results into an MCAP bag."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from face_perception.bags import messages
from face_perception.bags.scene import SceneSettings, SceneWriter
from face_perception.core.config import PipelineConfig
from face_perception.core.errors import FacePerceptionError
from face_perception.core.pipeline import FacePipeline
from face_perception.core.scene.analyzer import ExternalFaces
from face_perception.core.tracker import FaceTracker

log = logging.getLogger(__name__)
IMAGE_TYPES = (messages.IMAGE, messages.COMPRESSED_IMAGE)
ERRORS_TOPIC = "/face_perception/errors"


class BagError(FacePerceptionError):
    """A bag cannot be read or written, or has none of the asked-for topics."""


class BagBrokenError(BagError):
    """A bag that opened fails part-way through (a damaged storage file): what came before was used."""


@dataclass
class BagSummary:
    """What a run did: frames per input topic, faces found, frames that failed."""

    frames: dict[str, int] = field(default_factory=dict)
    faces: int = 0
    failed: int = 0
    read_error: str = ""  # the bag broke mid-run: what was read before is written, the rest is lost
    restarts: int = 0  # times header stamps went backwards and tracking restarted


def output_topics(topic: str) -> tuple[str, str]:
    """Result topics for an image topic: ``<topic>/faces`` and ``<topic>/face_events``."""
    return f"{topic.rstrip('/')}/faces", f"{topic.rstrip('/')}/face_events"


def open_bag(source: Path) -> Reader:
    """An open reader of the rosbag2 at ``source``; raises BagError when it cannot be opened.

    A path that is missing or not a bag, a folder without (or with a broken) metadata.yaml, and
    storage files that cannot be read all end here, so a caller gets one named error.
    """
    if not source.exists():
        raise BagError(f"cannot open bag {source}: no such file or folder")
    if source.is_dir() and not (source / "metadata.yaml").is_file():
        raise BagError(f"cannot open bag {source}: the folder has no metadata.yaml (not a rosbag2 folder)")
    try:
        reader = Reader(source)
        reader.open()
    except Exception as error:  # rosbags raises several unrelated types (ReaderError, YAML, OS, struct) here
        raise BagError(f"cannot open bag {source}: {describe(error)}") from error
    return reader


def describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no detail'}"


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
    scene: SceneSettings | None = None,
) -> BagSummary:
    """Run the pipeline over every image message of ``source`` and write ``destination`` (MCAP).

    Results keep the source's log times and headers. A frame that cannot be decoded or
    processed gets an error record on ``/face_perception/errors`` (and in ``jsonl``). With
    ``scene``, each frame also goes through the scene analyzer (given the frame's faces, as the
    scene node takes them from the face node): ``<topic>/scene`` and ``<topic>/scene_alerts``.
    """
    if destination.exists():
        raise BagError(f"output {destination} already exists")
    store = messages.typestore()
    pipeline = FacePipeline(config)
    summary = BagSummary()
    reader = open_bag(source)
    try:
        connections = image_connections(reader, topics)
        writer = Writer(destination, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
        try:
            outputs = {}
            trackers = {}
            scenes: dict[str, SceneWriter] = {}
            for connection in connections:
                faces_topic, events_topic = output_topics(connection.topic)
                outputs[connection.topic] = (
                    writer.add_connection(faces_topic, messages.FACE_ARRAY, typestore=store),
                    writer.add_connection(events_topic, messages.FACE_EVENT, typestore=store),
                )
                trackers[connection.topic] = FaceTracker(config.tracking) if config.tracking.enabled else None
                if scene is not None:
                    scenes[connection.topic] = SceneWriter(scene, pipeline.store, writer, connection.topic)
                summary.frames[connection.topic] = 0
            errors = writer.add_connection(ERRORS_TOPIC, messages.DIAGNOSTIC_STATUS, typestore=store)
            next_id = 1
            previous_topic = None
            last_time = 0
            for item in guarded(reader.messages(connections=connections)):
                if isinstance(item, Exception):  # the bag itself broke: keep what is written, record why
                    read = sum(summary.frames.values())
                    summary.read_error = f"bag {source} cannot be read past message {read}: {describe(item)}"
                    status = messages.error_status("bag", summary.read_error, _time_of(store, last_time))
                    writer.write(errors, last_time, store.serialize_cdr(status, messages.DIAGNOSTIC_STATUS))
                    if jsonl is not None:
                        jsonl.write(json.dumps({"error": summary.read_error, "log_time_ns": last_time}) + "\n")
                    log.error("%s", summary.read_error)
                    break
                connection, timestamp, raw = item
                last_time = timestamp
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
                    if not config.tracking.enabled:
                        result = pipeline.identify(image, result)
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
                        identify, every = pipeline.identify_tracks(image), config.identity.every_n_frames
                        tracked, events, restarted = tracker.update_or_restart(result.faces, stamp_s, identify, every)
                        if restarted:
                            summary.restarts += 1
                            if summary.restarts == 1:  # once: a looping or shuffled recording does it often
                                log.warning(
                                    "%s: header stamps went backwards at %d; tracks restarted (counted in the summary)",
                                    topic,
                                    timestamp,
                                )
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
                    record["events"] = [
                        {
                            "type": e.type.name.lower(),
                            "track_id": e.track_id,
                            **({"identity": e.identity} if e.identity else {}),
                        }
                        for e in events
                    ]
                    if topic in scenes:
                        shown = result.faces if tracked is None else [t.smoothed for t in tracked]
                        faces_now = ExternalFaces(shown, [int(face.id) for face in array.faces])
                        record["scene"] = scenes[topic].write(image, header, faces_now, timestamp)
                if jsonl is not None:
                    jsonl.write(json.dumps(record) + "\n")
                if progress is not None:
                    progress(1)
        finally:
            writer.close()
    finally:
        reader.close()
    return summary


def guarded(items: Iterator[Any]) -> Iterator[Any]:
    """The items of ``items``; an error raised while reading one ends the iteration as a last item."""
    try:
        yield from items
    except Exception as error:  # storage errors (sqlite3, MCAP, decompression) of a damaged bag
        yield error


def _time_of(store: Any, time_ns: int) -> Any:
    return store.types["builtin_interfaces/msg/Time"](sec=time_ns // 10**9, nanosec=time_ns % 10**9)


def _face_json(face: Any) -> dict[str, Any]:
    return {
        "id": int(face.id),
        "box": [round(float(v), 2) for v in (face.x_min, face.y_min, face.x_max, face.y_max)],
        "score": round(float(face.detection_score), 4),
        "emotion": face.emotion,
        "gender": face.gender,
        "age": None if face.age != face.age else round(float(face.age), 1),
        "identity": face.identity or None,
    }


def count_image_messages(source: Path, topics: Iterable[str] | None) -> int:
    """How many messages the run will process (for the progress bar)."""
    reader = open_bag(source)
    try:
        return sum(c.msgcount for c in image_connections(reader, topics))
    finally:
        reader.close()
