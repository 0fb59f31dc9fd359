"""``face-perception calibrate glasses``: fit the eyewear head's temperature on held-out train labels.

The temperature is fitted on labeled UTKFace train images the model never trained on (from its
manifest training record) and, with ``--write``, stored in the model's manifest entry
(``calibration.temperature``); the ONNX file and its sha256 are unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=["glasses"], help="the head to calibrate")
    parser.add_argument("--model", default="eyewear_chipnet", help="eyewear model id of the manifest")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="labeled data root")
    parser.add_argument("--models-dir", type=Path, help="folder with manifest.json (default: the project's models/)")
    parser.add_argument("--write", action="store_true", help="store the temperature in the manifest entry")


def run(args: argparse.Namespace) -> int:
    from face_perception.core.runtime import MANIFEST_NAME, ModelStore
    from face_perception.evaluation.calibration import fit_temperature, heldout_eyewear_probabilities

    store = ModelStore(args.models_dir)
    probability, truth = heldout_eyewear_probabilities(args.data, store, args.model)
    fit = fit_temperature(probability, truth)
    record = {
        "temperature": round(fit.temperature, 4),
        "fitted_on": "labeled UTKFace train images held out of training (out-of-fold for averaged runs)",
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(fit).items() if k != "temperature"},
    }
    sys.stdout.write(json.dumps({"model": args.model, **record}) + "\n")
    if args.write:
        path = store.models_dir / MANIFEST_NAME
        manifest = json.loads(path.read_text())
        manifest["models"][args.model]["calibration"] = record
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        sys.stdout.write(f"wrote calibration of {args.model} into {path}\n")
    return 0
