#!/usr/bin/env bash
# The main job: set up the environment if needed, then run the face_perception node on the
# bundled sample frames over ROS 2 (loopback only) and print what it publishes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup_env.sh"
# shellcheck disable=SC1091
source "$ROOT/scripts/ros_env.sh"
exec face-perception demo "$@"
