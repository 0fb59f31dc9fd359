"""``face-perception train``: train the project's own models (needs the ``train`` extra: PyTorch).

  face-perception train emotion --data ../shared/data --out runs/emotion
  face-perception train glasses --data ../shared/data --out runs/glasses
  face-perception train glasses --data ../shared/data --out runs/distilled --teacher eyewear_chipnet
  face-perception train posture --data ../shared/data --out runs/posture --install posture_mlp

``--teacher MODEL_ID`` distills an installed model into the new network: its probabilities on
every train image (labeled or not, less the held-out rows) are soft targets, mixed with the
hard labels where there are labels (``--distill-weight`` is the soft share).

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

from face_perception.core.errors import ConfigError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=["emotion", "glasses", "gender", "posture"])
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
    parser.add_argument("--teacher", metavar="MODEL_ID", help="installed model whose probabilities are soft targets")
    parser.add_argument("--distill-weight", type=float, help="share of the soft-target loss (default 0.7)")
    parser.add_argument("--threads", type=int, help="PyTorch CPU threads (default: PyTorch's own choice)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from face_perception.training import data, tasks
    from face_perception.training.train import export_onnx, train

    torch.set_num_threads(args.threads or max(1, torch.get_num_threads()))
    if args.task == "posture":
        return _run_posture(args)
    task = tasks.TASKS[args.task]
    if args.pack:
        task.pack(args.data, args.pack)
        sys.stdout.write(f"packed {args.task} training data into {args.pack}\n")
        return 0
    if args.run and args.install:
        install(args.install, args.run, task.manifest_entry)
        return 0
    if args.out is None:
        raise ConfigError("--out is required unless --pack or --run is given")
    dataset = task.load_train(args.data)
    config = task.config if args.epochs is None else replace(task.config, epochs=args.epochs)
    if args.widths:
        config = replace(config, widths=tuple(args.widths))
    if args.size:
        config = replace(config, size=args.size)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.distill_weight is not None:
        config = replace(config, distill_weight=args.distill_weight)
    train_index, val_index = data.stratified_split(dataset.labels, task.val_fraction, config.seed)
    train_set, val_set, soft_targets = dataset.subset(train_index), dataset.subset(val_index), None
    if args.teacher:
        from face_perception.core.runtime import ModelStore
        from face_perception.training.distill import distillation_set

        if task.load_unlabeled is None:
            raise ConfigError(f"--teacher: {args.task} has no unlabeled images to distill on (glasses only)")
        config = replace(config, teacher=args.teacher)
        distilled = distillation_set(train_set, val_set, task.load_unlabeled(args.data), ModelStore(), args.teacher)
        train_set, soft_targets = distilled.samples, distilled.soft_targets
        log.info("distilling %s on %d images (%d labeled)", args.teacher, len(soft_targets), distilled.labeled)
    if args.limit:
        keep = np.random.default_rng(config.seed).permutation(len(train_set.labels))[: args.limit]
        train_set = train_set.subset(keep)
        soft_targets = None if soft_targets is None else soft_targets[keep]
    model, record = train(config, train_set, val_set, args.out, args.device, soft_targets)
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


def _run_posture(args: argparse.Namespace) -> int:
    """Samples from the people finder's candidates, a small MLP, its ONNX export (see ``training.posture``)."""
    from dataclasses import asdict

    from face_perception.core.runtime import ModelStore, default_models_dir
    from face_perception.export.build import install_trained_model
    from face_perception.training.posture import (
        MANIFEST_ENTRY,
        PostureTrainConfig,
        build_dataset,
        export_posture_onnx,
        train_posture,
    )

    if args.out is None:
        raise ConfigError("--out is required")
    config = PostureTrainConfig()
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    samples = build_dataset(args.data, args.out, ModelStore())
    model, record = train_posture(samples, config, args.out)
    export_posture_onnx(model, args.out / "model.onnx")
    sys.stdout.write(json.dumps({**record, "config": asdict(config)}) + "\n")
    if args.install:
        entry = {**MANIFEST_ENTRY, "training": record}
        installed = install_trained_model(default_models_dir(), args.install, args.out / "model.onnx", entry)
        sys.stdout.write(f"installed {args.install}: sha256 {installed['sha256']}\n")
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
    teacher = runs[0]["config"].get("teacher") if len(runs) == 1 else None
    if teacher:
        widths = "-".join(str(w) for w in runs[0]["config"]["widths"])
        manifest_entry = {
            **manifest_entry,
            "description": f"One ChipNet (widths {widths}) distilled from {teacher}: its probabilities on every "
            "train image are soft targets, mixed with the hard labels.",
            "data": f"distilled from {teacher} on UTKFace train (all images, less the held-out labeled rows); "
            "labeled rows of glasses/labels.csv also give hard labels; 15% of the labels held out",
        }
    with tempfile.TemporaryDirectory() as scratch:
        merged = Path(scratch) / "model.onnx"
        merged.write_bytes(average_models([(d / "model.onnx").read_bytes() for d in run_dirs]))
        entry = {**manifest_entry, "training": training}
        installed = install_trained_model(default_models_dir(), model_id, merged, entry)
    sys.stdout.write(f"installed {model_id}: sha256 {installed['sha256']}\n")
