"""``face-perception calibrate glasses|age``: fit a head's calibration on UTKFace train only.

- ``glasses``: the eyewear probability's temperature, fitted on labeled train images the model never
  trained on (from its manifest training record; out-of-fold for averaged runs).
- ``age``: the coefficients of ``age_uncertainty_years`` (an interval holding the true age for about
  68% of faces), fitted on every UTKFace train image.

With ``--write`` the result goes into the model's manifest entry (``calibration``); the ONNX file
and its sha256 are unchanged, and ``face-perception export`` keeps it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

DEFAULT_MODELS = {"glasses": "eyewear_chipnet", "age": "age_dlib_v1"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=list(DEFAULT_MODELS), help="the head to calibrate")
    parser.add_argument("--model", help="model id of the manifest (default: eyewear_chipnet or age_dlib_v1)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="labeled data root")
    parser.add_argument("--models-dir", type=Path, help="folder with manifest.json (default: the project's models/)")
    parser.add_argument("--write", action="store_true", help="store the result in the model's manifest entry")


def run(args: argparse.Namespace) -> int:
    from face_perception.core.runtime import MANIFEST_NAME, ModelStore
    from face_perception.evaluation import calibration

    store = ModelStore(args.models_dir)
    model_id = args.model or DEFAULT_MODELS[args.task]
    if args.task == "glasses":
        probability, truth = calibration.heldout_eyewear_probabilities(args.data, store, model_id)
        fit = asdict(calibration.fit_temperature(probability, truth))
        fitted_on = "labeled UTKFace train images held out of training (out-of-fold for averaged runs)"
    else:
        outputs = calibration.utkface_age_outputs(args.data, store, model_id, "train")
        fit = asdict(calibration.fit_age_uncertainty(*outputs))
        fitted_on = "UTKFace train; |error| quantile 0.683 on (1, bin spread, age)"
    record = {**{k: round(v, 4) if isinstance(v, float) else v for k, v in fit.items()}, "fitted_on": fitted_on}
    sys.stdout.write(json.dumps({"model": model_id, **record}) + "\n")
    if args.write:
        path = store.models_dir / MANIFEST_NAME
        manifest = json.loads(path.read_text())
        manifest["models"][model_id]["calibration"] = record
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        sys.stdout.write(f"wrote the calibration of {model_id} into {path}\n")
    return 0
