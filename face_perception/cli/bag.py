"""``face-perception bag``: run the pipeline over a rosbag2 (MCAP or sqlite3), write results as MCAP."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN", help="rosbag2 folder (or .mcap / .db3 file's folder)")
    parser.add_argument("--out", type=Path, required=True, help="output bag folder (MCAP), must not exist")
    parser.add_argument("--topics", nargs="+", help="image topics to process (default: every image topic)")
    parser.add_argument("--jsonl", type=Path, help="also write one JSON line per frame here")
    parser.add_argument("--config", type=Path, help="parameters YAML (same as the node)")
    parser.add_argument("--gallery", type=Path, help="gallery file: faces gain identity (Face.identity, RECOGNIZED)")
    parser.add_argument(
        "--scene",
        action="store_true",
        help="also write <topic>/scene and <topic>/scene_alerts (scene.*, people.*, alerts.* from --config)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from face_perception.bags.process import BagError, count_image_messages, output_topics, process_bag
    from face_perception.cli.config_file import load_config, with_gallery

    config = with_gallery(load_config(args.config), args.gallery)
    scene = None
    if getattr(args, "scene", False):
        from face_perception.bags.scene import SceneSettings
        from face_perception.core.scene.captioner import load_captioner
        from face_perception.core.scene.config import load_scene_configs

        scene_config, people, _ = load_scene_configs(args.config)
        scene = SceneSettings(scene_config, people, load_captioner(scene_config.captioner, config.num_threads))
    total = count_image_messages(args.input, args.topics)
    with contextlib.ExitStack() as stack:
        try:
            jsonl = stack.enter_context(args.jsonl.open("w")) if args.jsonl else None
        except OSError as error:
            raise BagError(f"cannot write --jsonl {args.jsonl}: {error.strerror or error}") from error
        bar = None
        if not args.no_progress and (sys.stderr.isatty() or total >= 200):
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(total=total, unit="frame", file=sys.stderr))
        summary = process_bag(
            args.input, args.out, config, args.topics, jsonl, bar.update if bar else None, scene=scene
        )
    for topic, frames in summary.frames.items():
        sys.stdout.write(f"{topic}: {frames} frames -> {output_topics(topic)[0]}\n")
    if summary.restarts:
        sys.stdout.write(f"header stamps went backwards {summary.restarts} times: tracking restarted each time\n")
    sys.stdout.write(
        f"{summary.faces} faces, {summary.failed} frames failed (see /face_perception/errors); wrote {args.out}\n"
    )
    if summary.read_error:
        sys.stdout.write(f"ERROR {summary.read_error}; the results up to there are in {args.out}\n")
    return 1 if summary.failed or summary.read_error else 0
