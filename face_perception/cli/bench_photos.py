"""``face-perception bench --photos DIR`` / ``--blended DIR``: per-frame and per-stage time on real photos.

Every photo goes through ``FacePipeline.process`` ``--repeats`` times (passes over the folder); a
frame's time is its median over the passes, and the report gives the median and 90th percentile
over frames, of wall time and of the thread's CPU time, per stage and for the whole frame.
``frame`` is ``FacePipeline.process`` (detector and heads); decoding the photo's file (``decode``)
and the tracker's update (``tracker``) are timed beside it, as a node with compressed images and
tracking adds them.
Where the folder has ``labels.json`` (a blended set), it also reports detection recall. Photos
are unrelated images (each searched whole) unless ``--hold`` makes a panning camera sequence
of them, where ``detector.full_frame_every`` applies.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from face_perception.core.images import list_images, read_image
from face_perception.core.pipeline import FacePipeline
from face_perception.core.timing import StageTimer
from face_perception.core.tracker import FaceTracker
from face_perception.evaluation.blended import (
    LABELS_NAME,
    PAN_PX,
    LabeledFrame,
    build_blended,
    panning_sequence,
    read_labeled_folder,
)

LOG = logging.getLogger("face_perception.bench")
MATCH_IOU = 0.3  # the blended labels are a fixed share of each pasted crop, so matching is loose
SIZE_BANDS = ((0, 80), (80, 120), (120, 10_000))
# Stages timed beside the pipeline's own (not part of "frame").
OUTSIDE_FRAME = ("decode", "tracker")
FRAME_PERIOD_S = 1.0 / 30.0  # the tracker's clock: a 30 FPS camera
CAMERA_PERIOD_MS = 1000.0 * FRAME_PERIOD_S


def _pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def found_labels(labels: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For each label box [N, 4], whether some detected box [M, 4] overlaps it by MATCH_IOU or more."""
    if len(labels) == 0 or len(boxes) == 0:
        return np.zeros(len(labels), dtype=bool)
    return _pairwise_iou(labels, boxes).max(axis=1) >= MATCH_IOU


def frames_to_find(frames: list[LabeledFrame], detected: list[np.ndarray], hold: int) -> list[float]:
    """Per face in view when a held photo appears, the frames until it is first detected (inf: never while held).

    At each cut of a ``--hold`` sequence every face of the new photo enters at once, the hardest case
    of people walking in. A face is followed by moving its first frame's label with the view's pan.
    """
    waits: list[float] = []
    for start in range(0, len(frames) - hold + 1, hold):
        for label in frames[start].faces:
            wait = next(
                (
                    float(k)
                    for k in range(hold)
                    if found_labels((label - np.array([PAN_PX * k, 0, PAN_PX * k, 0]))[None], detected[start + k])[0]
                ),
                float("inf"),
            )
            waits.append(wait)
    return waits


def _frames(args: argparse.Namespace) -> tuple[Path, list[LabeledFrame], bool]:
    if args.blended is not None:
        folder = args.blended
        if not (folder / LABELS_NAME).is_file():
            LOG.info(
                "building the blended set in %s from %s (%d frames, %s faces)",
                folder,
                args.data,
                args.frames,
                args.split,
            )
            build_blended(args.data, folder, frames=args.frames, split=args.split, seed=args.seed)
    else:
        folder = args.photos
    labeled = read_labeled_folder(folder)
    if labeled is not None:
        return folder, labeled, True
    return folder, [LabeledFrame(path, np.empty((0, 4))) for path in list_images([folder])], False


def _stats(values_s: list[float]) -> dict[str, float]:
    values = 1000.0 * np.asarray(values_s)
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p90_ms": round(float(np.percentile(values, 90)), 3),
        "mean_ms": round(float(np.mean(values)), 3),
    }


def run_photos(args: argparse.Namespace, pipeline: FacePipeline) -> int:
    folder, frames, labeled = _frames(args)
    if args.limit:
        frames = frames[: args.limit]
    if not frames:
        LOG.error("no images in %s", folder)
        return 1
    if args.hold:
        frames = panning_sequence(frames, args.sequence_frames, args.hold)
    images = [frame.image if frame.image is not None else read_image(frame.path) for frame in frames]
    passes = args.repeats or 3
    for image in images[:3]:  # warm-up
        pipeline.process(image)
    # per_frame[stage][frame] = list of (wall, cpu) over passes
    wall: dict[str, list[list[float]]] = {}
    cpu: dict[str, list[list[float]]] = {}
    detected: list[np.ndarray] = []
    face_counts = np.zeros(len(images), dtype=int)
    for pass_index in range(passes):
        pipeline.reset()
        tracker = FaceTracker(pipeline.config.tracking)
        for index, image in enumerate(images):
            if not args.hold:
                pipeline.reset()  # unrelated photos: every one is searched whole, as in analyze
            timer = StageTimer()
            if frames[index].image is None:  # a file: time decoding it again (the frame is decoded already)
                with timer.stage("decode"):
                    read_image(frames[index].path)
            with timer.stage("frame"):
                result = pipeline.process(image, timer)
            with timer.stage("tracker"):
                tracker.update(result.faces, index * FRAME_PERIOD_S)
            for name, spent in timer.stages.items():
                wall.setdefault(name, [[] for _ in images])[index].append(spent.wall_s)
                cpu.setdefault(name, [[] for _ in images])[index].append(spent.cpu_s)
            if pass_index == 0:
                detected.append(np.array([f.detection.box.as_list() for f in result.faces], float).reshape(-1, 4))
                face_counts[index] = len(result.faces)

    def per_frame(table: dict[str, list[list[float]]], name: str) -> list[float]:
        return [float(np.median(v)) if v else 0.0 for v in table.get(name, [[] for _ in images])]

    stages = [s for s in wall if s != "frame"]
    detector_stages = [s for s in stages if s.startswith("detector")]
    head_stages = [s for s in stages if not s.startswith("detector") and s not in OUTSIDE_FRAME]
    report: dict[str, object] = {
        "folder": str(folder),
        "frames": len(images),
        "passes": passes,
        "faces_per_frame": round(float(face_counts.mean()), 2),
        "detector": pipeline.config.detector.model,
        "max_input_side_px": pipeline.config.detector.max_input_side_px,
        "full_frame_every": pipeline.config.detector.full_frame_every,
        "sequence_hold": args.hold,
        "heads": {name: head.entry.model_id for name, head in pipeline.heads.items()},
        "frame_wall": _stats(per_frame(wall, "frame")),
        "frame_cpu": _stats(per_frame(cpu, "frame")),
    }
    sums = {}
    for label, names in (("detector", detector_stages), ("heads", head_stages)):
        for kind, table in (("wall", wall), ("cpu", cpu)):
            totals = np.sum([per_frame(table, n) for n in names], axis=0) if names else np.zeros(len(images))
            report[f"{label}_{kind}"] = _stats(list(totals))
            sums[(label, kind)] = totals
    faces = int(face_counts.sum())
    if faces:
        report["heads_per_face_wall_ms"] = round(1000.0 * float(sums[("heads", "wall")].sum()) / faces, 3)
        report["heads_per_face_cpu_ms"] = round(1000.0 * float(sums[("heads", "cpu")].sum()) / faces, 3)
        report["per_face_cpu_ms"] = {
            name: round(1000.0 * float(np.sum(per_frame(cpu, name))) / faces, 3) for name in head_stages
        }
    report["stages"] = {
        name: {"wall": _stats(per_frame(wall, name)), "cpu": _stats(per_frame(cpu, name))} for name in stages
    }
    if labeled:
        hits = [found_labels(frame.faces, boxes) for frame, boxes in zip(frames, detected, strict=True)]
        all_labels = np.vstack([frame.faces for frame in frames])
        all_hits = np.concatenate(hits)
        sides = all_labels[:, 2] - all_labels[:, 0]
        report["labeled_faces"] = len(all_labels)
        report["recall"] = round(float(all_hits.mean()), 4)
        report["recall_by_face_px"] = {
            f"{low}-{high if high < 10_000 else ''}": round(float(all_hits[(sides >= low) & (sides < high)].mean()), 4)
            for low, high in SIZE_BANDS
            if ((sides >= low) & (sides < high)).any()
        }
        if args.hold:
            waits = np.array(frames_to_find(frames, detected, args.hold))
            found = waits[np.isfinite(waits)]
            within = waits * CAMERA_PERIOD_MS <= 100.0
            report["entering"] = {
                "faces": len(waits),
                "found_share": round(float(np.isfinite(waits).mean()), 4) if len(waits) else 0.0,
                "within_100ms_share": round(float(within.mean()), 4) if len(waits) else 0.0,
                "frames_to_find_median": float(np.median(found)) if len(found) else None,
                "frames_to_find_max": float(found.max()) if len(found) else None,
            }
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        _print(report)
    return 0


def _print(report: dict[str, object]) -> None:
    out = sys.stdout
    mode = (
        f"a stream holding each photo {report['sequence_hold']} frames, whole frame every "
        f"{report['full_frame_every']} frame(s)"
        if report["sequence_hold"]
        else "unrelated photos, each searched whole"
    )
    out.write(
        f"{report['frames']} frames x {report['passes']} passes, {report['faces_per_frame']} faces/frame, "
        f"detector {report['detector']} at {report['max_input_side_px']} px, {mode}\n"
    )

    out.write(f"{'stage':<22}{'wall median':>12}{'wall p90':>10}{'cpu median':>12}{'cpu p90':>10}{'cpu mean':>10}\n")
    rows = [("frame", report["frame_wall"], report["frame_cpu"])]
    rows += [(k, report[f"{k}_wall"], report[f"{k}_cpu"]) for k in ("detector", "heads")]
    rows += [(f"{'+' if k in OUTSIDE_FRAME else ' '} {k}", v["wall"], v["cpu"]) for k, v in report["stages"].items()]
    for name, w, c in rows:
        out.write(
            f"{name:<22}{w['median_ms']:>12.2f}{w['p90_ms']:>10.2f}{c['median_ms']:>12.2f}{c['p90_ms']:>10.2f}"
            f"{c['mean_ms']:>10.2f}\n"
        )
    out.write("(+: beside the frame, not in its time; medians are over frames, so stages do not add up exactly)\n")
    if "heads_per_face_cpu_ms" in report:
        out.write(
            f"heads per face: {report['heads_per_face_wall_ms']:.2f} ms wall, "
            f"{report['heads_per_face_cpu_ms']:.2f} ms cpu "
            f"({', '.join(f'{k} {v:.2f}' for k, v in report['per_face_cpu_ms'].items())})\n"
        )
    if "recall" in report:
        out.write(
            f"recall {report['recall']:.4f} of {report['labeled_faces']} labeled faces "
            f"(by face side px: {report['recall_by_face_px']})\n"
        )
    if "entering" in report:
        entering = report["entering"]
        out.write(
            f"faces entering at the {entering['faces']} cuts: found {entering['found_share']:.4f}, within 100 ms "
            f"(3 frames at 30 FPS) {entering['within_100ms_share']:.4f}; frames to find: median "
            f"{entering['frames_to_find_median']}, max {entering['frames_to_find_max']}\n"
        )
    out.flush()
