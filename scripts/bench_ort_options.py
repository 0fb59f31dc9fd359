#!/usr/bin/env python3
"""ONNX Runtime session options and detector input sizes, timed side by side on one thread.

    taskset -c 1 python scripts/bench_ort_options.py [--models ID ...] [--sizes 640 480 320] [--faces 3]
        [--rounds 15] [--per-round 5] [--profile]

Every variant of a model gets its own session; the variants take turns (round robin, ``--per-round``
calls each per round), so load from other processes falls on all of them alike. The detector runs
on the astronaut photo cut to 640x480 and downscaled to each ``--sizes`` longer side; a head runs
on ``--faces`` chips of that photo's face. Prints the median thread CPU milliseconds per call of
each variant, and its ratio to the shipped options (``shipped``). ``--profile`` prints instead each
model's share of kernel time per operator type, from ONNX Runtime's profiler (shipped options).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from face_perception.core.config import DetectorConfig
from face_perception.core.images import read_image
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.preprocess import align_faces, chips_to_tensor
from face_perception.core.runtime import ModelStore, session_options

SAMPLE = Path(__file__).resolve().parents[1] / "face_perception" / "data" / "samples" / "astronaut.jpg"
DEFAULT_MODELS = (
    "retinaface_mnet025_int8",
    "emotion_chipnet_flip",
    "gender_dlib_v1_int8",
    "age_dlib_v1_int8",
    "eyewear_chipnet_int8",
)


def _options(change: Callable[[ort.SessionOptions], None]) -> ort.SessionOptions:
    options = session_options(1)
    change(options)
    return options


VARIANTS: dict[str, Callable[[ort.SessionOptions], None]] = {
    "shipped": lambda o: None,
    "optimization basic": lambda o: setattr(o, "graph_optimization_level", ort.GraphOptimizationLevel.ORT_ENABLE_BASIC),
    "optimization extended": lambda o: setattr(
        o, "graph_optimization_level", ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ),
    "execution parallel": lambda o: setattr(o, "execution_mode", ort.ExecutionMode.ORT_PARALLEL),
    "no memory arena": lambda o: setattr(o, "enable_cpu_mem_arena", False),
    "no memory pattern": lambda o: setattr(o, "enable_mem_pattern", False),
    "denormals as zero": lambda o: o.add_session_config_entry("session.set_denormal_as_zero", "1"),
    "spinning on": lambda o: o.add_session_config_entry("session.intra_op.allow_spinning", "1"),
}


def _inputs(store: ModelStore, model_id: str, sizes: list[int], faces: int) -> dict[str, np.ndarray]:
    """Named input tensors for a model: one per detector input size, or one batch of chips."""
    photo = read_image(SAMPLE)
    frame = cv2.resize(photo, (640, 640))[80:560]  # 640x480
    entry = store.entry(model_id)
    if entry.task == "detection":
        tensors = {}
        for size in sizes:
            detector = RetinaFaceDetector(DetectorConfig(max_input_side_px=size), store.session(model_id))
            tensors[f"{size}x{size * 3 // 4}"] = detector._preprocess(frame)[0].copy()
        return tensors
    landmarks = RetinaFaceDetector.from_store(DetectorConfig(), store).detect(frame)[0].landmarks
    spec = entry.input_spec
    chips = align_faces(frame, [landmarks] * faces, spec.size, spec.crop_padding)
    return {f"{faces} faces": chips_to_tensor(chips, spec)}


def _profile(data: bytes, tensor: np.ndarray, runs: int) -> dict[str, float]:
    """Share of kernel time per operator type over ``runs`` calls (the profiler inflates absolute times)."""
    options = session_options(1)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            session.run(None, {session.get_inputs()[0].name: tensor})
        events = json.loads(Path(session.end_profiling()).read_text())
    spent: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            spent[event["args"]["op_name"]] += event["dur"]
    total = sum(spent.values()) or 1
    return {op: duration / total for op, duration in spent.most_common()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="model ids of the manifest")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[640], help="detector input longer sides")
    parser.add_argument("--faces", type=int, default=3, help="chips per head call")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="operator types' shares of kernel time instead")
    args = parser.parse_args(argv)
    store = ModelStore(num_threads=1)
    if args.profile:
        for model_id in args.models:
            for label, tensor in _inputs(store, model_id, args.sizes, args.faces).items():
                shares = _profile(store.verified_bytes(model_id), tensor, args.rounds)
                top = ", ".join(f"{op} {share:.0%}" for op, share in list(shares.items())[:6])
                print(f"{model_id:<32}{label:<12}{top}")
        return 0
    print(f"onnxruntime {ort.__version__}; thread CPU ms per call, median of {args.rounds * args.per_round}")
    for model_id in args.models:
        data = store.verified_bytes(model_id)
        sessions = {
            name: ort.InferenceSession(data, _options(VARIANTS[name]), providers=["CPUExecutionProvider"])
            for name in args.variants
        }
        for label, tensor in _inputs(store, model_id, args.sizes, args.faces).items():
            feeds = {name: {s.get_inputs()[0].name: tensor} for name, s in sessions.items()}
            for name, session in sessions.items():  # warm-up
                session.run(None, feeds[name])
            spent: dict[str, list[float]] = {name: [] for name in sessions}
            for _ in range(args.rounds):
                for name, session in sessions.items():
                    for _ in range(args.per_round):
                        start = time.thread_time()
                        session.run(None, feeds[name])
                        spent[name].append(1000.0 * (time.thread_time() - start))
            base = statistics.median(spent["shipped"]) if "shipped" in spent else None
            for name, values in spent.items():
                median = statistics.median(values)
                ratio = f"  x{median / base:.3f}" if base else ""
                print(f"{model_id:<32}{label:<12}{name:<24}{median:8.3f}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
