"""One member of an averaged model (``export.ensemble``) as a model of its own, under a new id.

    python -m face_perception.export.members eyewear_chipnet 0 eyewear_chipnet_seed0

The member is cut out of the averaged graph (its nodes are prefixed ``m<index>_``), so its
outputs are exactly that member's; the manifest entry keeps the member's training record.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import onnx
from onnx import utils

from face_perception.core.errors import ModelError
from face_perception.core.runtime import ModelStore
from face_perception.export.build import install_trained_model


def extract_member(source_id: str, index: int, new_id: str, models_dir: Path | None = None) -> dict:
    """Install member ``index`` of the averaged model ``source_id`` as ``new_id``; return its manifest entry."""
    store = ModelStore(models_dir)
    entry = store.entry(source_id)
    members = entry.raw.get("training", {}).get("average_of")
    if not members or not 0 <= index < len(members):
        raise ModelError(f"{source_id} is not an average with a member {index}")
    model = onnx.load_from_string(store.verified_bytes(source_id))
    input_name, output_name = model.graph.input[0].name, model.graph.output[0].name
    with tempfile.TemporaryDirectory() as tmp:
        whole, part = Path(tmp) / "whole.onnx", Path(tmp) / "part.onnx"
        onnx.save(model, whole)
        utils.extract_model(str(whole), str(part), [input_name], [f"m{index}_{output_name}"])
        member = onnx.load(part)
        for node in member.graph.node:  # the member's output keeps the averaged model's output name
            node.output[:] = [output_name if o == f"m{index}_{output_name}" else o for o in node.output]
        member.graph.output[0].name = output_name
        onnx.save(member, part)
        fields = {k: v for k, v in entry.raw.items() if k not in ("file", "sha256", "training", "description")}
        fields["description"] = f"Member {index} of {source_id} alone (seed {members[index]['config'].get('seed')})."
        fields["training"] = members[index]
        return install_trained_model(store.models_dir, new_id, part, fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="averaged model id")
    parser.add_argument("index", type=int, help="member index (0 for the first)")
    parser.add_argument("target", help="new model id")
    parser.add_argument("--models-dir", type=Path)
    args = parser.parse_args(argv)
    entry = extract_member(args.source, args.index, args.target, args.models_dir)
    sys.stdout.write(json.dumps({args.target: {"file": entry["file"], "sha256": entry["sha256"]}}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
