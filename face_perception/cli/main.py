"""The ``face-perception`` command: parses arguments and dispatches to one module per command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from face_perception.core.errors import FacePerceptionError

COMMANDS: dict[str, str] = {
    "analyze": "Detect faces and classify them in image files.",
    "describe": "Describe images or a video: people (posture, face), objects, a sentence and alerts.",
    "track": "Follow faces with stable ids through a folder of frames or a video.",
    "demo": "Run the ROS node on the bundled sample frames and print what it publishes.",
    "identity": "Enrol, forget and list the people of a gallery; verify whether two photos show one person.",
    "bag": "Run the pipeline over a rosbag2 and write the results as an MCAP bag.",
    "replay": "Publish a rosbag2's image topics over ROS 2 at the recorded timing.",
    "eval": "Measure emotion, gender, age, eyewear, detection, scene, falls or identity on labeled data.",
    "train": "Train the project's own emotion, eyewear or gender model (needs PyTorch).",
    "calibrate": "Fit a head's calibration on held-out train labels: eyewear temperature, age interval.",
    "bench": "Time each stage (detector, heads, tracker) on this machine.",
    "export": "Rebuild the ONNX models and their manifest from the source wheels.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="face-perception", description="Face perception for robots.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        _module(name).add_arguments(sub)
    return parser


def _module(name: str):
    return importlib.import_module(f"face_perception.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return _module(args.command).run(args)
    except FacePerceptionError as error:
        logging.getLogger("face_perception").error("%s", error)
        return 2
    except FileNotFoundError as error:  # a file the command needs (labels, annotations) is not there
        logging.getLogger("face_perception").error("missing: %s", error.filename or error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
