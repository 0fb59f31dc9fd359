"""Static int8 quantization of a model of the manifest, calibrated on shared training photos.

Run from the repository root with the shared data beside it:

    python -m face_perception.export.quantize retinaface_mnet025 retinaface_mnet025_int8 --data ../shared/data
    python -m face_perception.export.quantize eyewear_chipnet eyewear_chipnet_int8 --data ../shared/data

The detector is calibrated on blended frames built from UTKFace *train* faces in COCO-mini photos
(plus the COCO photos themselves); a head on aligned chips of UTKFace *train* faces. Dev data is
never seen, so it stays a fair measure. Weights are int8 per channel, activations uint8 (QDQ
format, which ONNX Runtime fuses into integer convolutions). The new model is written next to the
others under a new id; existing ids are untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.pipeline import FacePipeline
from face_perception.core.preprocess import chips_to_tensor
from face_perception.core.runtime import MANIFEST_NAME, ModelStore
from face_perception.evaluation.blended import FRAME_SIZE, _cover, build_blended

LOG = logging.getLogger("face_perception.quantize")
MIN_OPSET = 13
CALIBRATION_DETECTOR = "retinaface_mnet025"
METHODS = {
    "minmax": lambda m: m.MinMax,
    "minmax_average": lambda m: m.MinMax,  # with CalibMovingAverage: ranges averaged over batches
    "percentile": lambda m: m.Percentile,
    "entropy": lambda m: m.Entropy,
}


def _calibration_pipeline() -> FacePipeline:
    """The detector alone, float: its landmarks cut the heads' calibration chips (as for every shipped int8 model)."""
    params = {"detector.model": CALIBRATION_DETECTOR, **{f"{h}.enabled": False for h in PipelineConfig().heads}}
    return FacePipeline(PipelineConfig.from_parameters(params))


def detector_calibration(data: Path, work: Path, frames: int, seed: int) -> Iterator[np.ndarray]:
    """Detector input tensors: blended frames of UTKFace train faces, then plain COCO photos, at 640x480."""
    pipeline = _calibration_pipeline()
    blended = build_blended(data, work / "blended_train", frames=frames, split="train", seed=seed)
    paths = [frame.path for frame in blended]
    paths += sorted((data / "coco_mini" / "images_train2017").glob("*.jpg"))[: frames // 2]
    for path in paths:
        image = _cover(read_image(path), *FRAME_SIZE)
        yield pipeline.detector._preprocess(image)[0].copy()  # the detector reuses its buffer


def head_calibration(data: Path, store: ModelStore, model_id: str, count: int, seed: int) -> Iterator[np.ndarray]:
    """A head's input tensors (batches of 16) from aligned chips of UTKFace train faces."""
    spec = store.entry(model_id).input_spec
    pipeline = _calibration_pipeline()
    paths = sorted((data / "utkface" / "train").glob("*.jpg"))
    rng = np.random.default_rng(seed)
    chosen = [paths[i] for i in rng.choice(len(paths), size=min(count, len(paths)), replace=False)]
    for start in range(0, len(chosen), 16):
        chips = pipeline.crop_chips([read_image(p) for p in chosen[start : start + 16]], spec.size, spec.crop_padding)
        yield chips_to_tensor(chips, spec)


def quantize(
    source_id: str,
    new_id: str,
    data: Path,
    models_dir: Path | None = None,
    count: int = 200,
    seed: int = 1,
    method: str = "minmax",
    keep_float: tuple[str, ...] = (),
) -> dict:
    """Write ``<new_id>.onnx`` (static int8) beside ``source_id`` and add it to the manifest; return its entry.

    ``method``: calibration (minmax, percentile, entropy); ``keep_float``: node-name prefixes left in float.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    store = ModelStore(models_dir)
    entry = store.entry(source_id)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if entry.task == "detection":
            tensors = list(detector_calibration(data, work, count, seed))
            calibration = f"{count} blended frames (UTKFace train faces in COCO-mini photos, seed {seed}) and "
            calibration += f"{count // 2} COCO-mini photos, 640x480"
        else:
            tensors = list(head_calibration(data, store, source_id, count, seed))
            calibration = f"aligned chips of {count} UTKFace train faces (seed {seed})"
        input_name = store.session(source_id).get_inputs()[0].name

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._items = iter(tensors)

            def get_next(self) -> dict[str, np.ndarray] | None:
                item = next(self._items, None)
                return None if item is None else {input_name: item}

        source = work / "source.onnx"
        model = onnx.load_from_string(store.verified_bytes(source_id))
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < MIN_OPSET:  # per-channel DequantizeLinear needs opset 13
            model = version_converter.convert_version(model, MIN_OPSET)
        onnx.save(model, source)
        excluded = [n.name for n in model.graph.node if keep_float and n.name.startswith(keep_float)]
        prepared = work / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        target = work / "int8.onnx"
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=METHODS[method](CalibrationMethod),
            nodes_to_exclude=excluded,
            extra_options={"CalibMovingAverage": method == "minmax_average"},
        )
        model_bytes = target.read_bytes()
    file = f"{new_id}.onnx"
    (store.models_dir / file).write_bytes(model_bytes)
    manifest_path = store.models_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    new_entry = {
        key: value for key, value in manifest["models"][source_id].items() if key not in ("file", "sha256", "training")
    }
    new_entry["description"] = f"{entry.raw.get('description', source_id)} Static int8 (QDQ) of {source_id}."
    new_entry["quantized_from"] = {
        "model": source_id,
        "sha256": entry.sha256,
        "calibration": calibration,
        "method": f"onnxruntime.quantization.quantize_static, QDQ, {method} calibration, "
        "weights int8 per channel, activations uint8",
        "kept_float": list(keep_float),
        "command": f"python -m face_perception.export.quantize {source_id} {new_id} --data ../shared/data "
        f"--count {count} --seed {seed} --method {method}" + "".join(f" --keep-float {k}" for k in keep_float),
    }
    manifest["models"][new_id] = {"file": file, "sha256": hashlib.sha256(model_bytes).hexdigest(), **new_entry}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest["models"][new_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="model id to quantize")
    parser.add_argument("target", help="new model id")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--count", type=int, default=200, help="calibration frames (detector) or faces (heads)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", choices=sorted(METHODS), default="minmax", help="calibration method")
    parser.add_argument("--keep-float", action="append", default=[], help="node-name prefix to leave in float")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    entry = quantize(
        args.source,
        args.target,
        args.data,
        args.models_dir,
        args.count,
        args.seed,
        args.method,
        tuple(args.keep_float),
    )
    sys.stdout.write(json.dumps({args.target: {"file": entry["file"], "sha256": entry["sha256"]}}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
