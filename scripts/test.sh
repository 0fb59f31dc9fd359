#!/usr/bin/env bash
# The test suite: set up the environment if needed, lint, then run every test
# (unit tests without ROS, ROS tests over DDS on loopback with their own domain ids).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup_env.sh"
# shellcheck disable=SC1091
source "$ROOT/scripts/ros_env.sh"
cd "$ROOT"
ruff check face_perception test launch
exec python -m pytest -q "$@"
