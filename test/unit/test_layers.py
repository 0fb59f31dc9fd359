"""The core library and the CLI (but demo) never import ROS."""

import subprocess
import sys

from helpers import ROOT


def test_core_and_cli_import_without_ros():
    code = (
        "import sys, face_perception.core.pipeline, face_perception.cli.main, face_perception.cli.analyze, "
        "face_perception.export.build, face_perception.cli.demo\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rclpy', 'cv_bridge', 'sensor_msgs'))\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_no_ros_import_in_core_sources():
    for path in (ROOT / "face_perception" / "core").rglob("*.py"):
        text = path.read_text()
        assert "import rclpy" not in text and "from rclpy" not in text, path
