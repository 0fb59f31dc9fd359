"""``face-perception eval``: measure a task on the labeled data and write a report (markdown + PNG)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TASK_NAMES = ("emotion", "gender", "age", "glasses", "detection", "scene", "falls", "captions", "identity")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tasks", nargs="+", choices=[*TASK_NAMES, "all"], help="what to measure")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="labeled data root")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="report folder (one subfolder per task)")
    parser.add_argument("--model", help="model id to measure instead of the configured one")
    parser.add_argument("--config", type=Path, help="parameters YAML")


def run(args: argparse.Namespace) -> int:
    from face_perception.cli.config_file import load_config
    from face_perception.evaluation.tasks import TASKS

    config = load_config(args.config)
    names = TASK_NAMES if "all" in args.tasks else tuple(dict.fromkeys(args.tasks))
    for name in names:
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        report = TASKS[name](args.data, out, config, args.model)
        command = "face-perception eval " + name + (f" --model {args.model}" if args.model else "")
        text = "\n".join([f"# {report.title}", "", f"Reproduce: `{command} --data {args.data}`", "", *report.lines])
        (out / "report.md").write_text(text + "\n")
        (out / "metrics.json").write_text(json.dumps(report.metrics, indent=2) + "\n")
        sys.stdout.write(f"{name}: {json.dumps({k: v for k, v in report.metrics.items() if k != 'groups'})}\n")
        sys.stdout.write(f"  report: {out / 'report.md'}\n")
    return 0
