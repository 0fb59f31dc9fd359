"""``face-perception train``: train the project's own models (needs the ``train`` extra: PyTorch).

  face-perception train emotion --data ../shared/data --out runs/emotion
  face-perception train glasses --data ../shared/data --out runs/glasses

A run writes ``model.onnx``, ``train_log.json`` (config, seed, per-epoch history, held-out and
test accuracy) into ``--out``. ``--pack FILE`` instead writes the training images into one
file to carry to another machine (``--data FILE`` reads it back).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=["emotion", "glasses", "gender"])
    parser.add_argument(
        "--run",
        type=Path,
        nargs="+",
        help="with --install: install these finished runs (several: their average) instead of training",
    )
    parser.add_argument("--data", type=Path, required=True, help="the data root (../shared/data) or a packed .npz")
    parser.add_argument("--out", type=Path, help="run folder for model.onnx and train_log.json")
    parser.add_argument("--epochs", type=int, help="override the config's epochs")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--widths", type=int, nargs="+", help="override the network's channel widths")
    parser.add_argument("--seed", type=int, help="override the config's random seed")
    parser.add_argument("--size", type=int, help="override the network's input size (pixels)")
    parser.add_argument("--limit", type=int, help="use only this many training images (quick checks)")
    parser.add_argument("--install", metavar="MODEL_ID", help="copy the model into models/ under this id")
    parser.add_argument("--pack", type=Path, help="write the training images into this .npz and stop")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from face_perception.training import data, tasks
    from face_perception.training.train import export_onnx, train

    torch.set_num_threads(max(1, torch.get_num_threads()))
    task = tasks.TASKS[args.task]
    if args.pack:
        task.pack(args.data, args.pack)
        sys.stdout.write(f"packed {args.task} training data into {args.pack}\n")
        return 0
    if args.run and args.install:
        install(args.install, args.run, task.manifest_entry)
        return 0
    if args.out is None:
        raise SystemExit("--out is required unless --pack or --run is given")
    dataset = task.load_train(args.data)
    config = task.config if args.epochs is None else replace(task.config, epochs=args.epochs)
    if args.widths:
        config = replace(config, widths=tuple(args.widths))
    if args.size:
        config = replace(config, size=args.size)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    train_index, val_index = data.stratified_split(dataset.labels, task.val_fraction, config.seed)
    if args.limit:
        train_index = np.random.default_rng(config.seed).permutation(train_index)[: args.limit]
    model, record = train(config, dataset.subset(train_index), dataset.subset(val_index), args.out, args.device)
    channels = 1 if dataset.images.ndim == 3 else dataset.images.shape[-1]
    export_onnx(model, channels, config.size, args.out / "model.onnx")
    test = task.load_test(args.data)
    if test is not None:
        from face_perception.training.train import predict, to_tensor

        probabilities = predict(model, to_tensor(test.images, config.size, torch.device("cpu"))).numpy()
        record["test"] = task.score(probabilities, test)
        (args.out / "train_log.json").write_text(json.dumps(record, indent=2) + "\n")
    sys.stdout.write(json.dumps({k: v for k, v in record.items() if k != "history"}) + "\n")
    if args.install:
        install(args.install, [args.out], task.manifest_entry)
    return 0


def install(model_id: str, run_dirs: list[Path], manifest_entry: dict) -> None:
    """Put the runs' model (several runs: their average) into models/, recording how each was trained."""
    import tempfile

    from face_perception.core.runtime import default_models_dir
    from face_perception.export.build import install_trained_model
    from face_perception.export.ensemble import average_models

    runs = []
    for run_dir in run_dirs:
        record = json.loads((run_dir / "train_log.json").read_text())
        runs.append({k: v for k, v in record.items() if k != "history"})
    training = runs[0] if len(runs) == 1 else {"average_of": runs}
    with tempfile.TemporaryDirectory() as scratch:
        merged = Path(scratch) / "model.onnx"
        merged.write_bytes(average_models([(d / "model.onnx").read_bytes() for d in run_dirs]))
        entry = {**manifest_entry, "training": training}
        installed = install_trained_model(default_models_dir(), model_id, merged, entry)
    sys.stdout.write(f"installed {model_id}: sha256 {installed['sha256']}\n")
