#!/usr/bin/env bash
# Builds the ROS4HRI messages (hri_msgs) with the project's .venv, for hri.enabled where no apt
# ROS 2 install provides ros-jazzy-hri-msgs, and for test/ros/test_hri.py.
#   bash scripts/build_hri_msgs.sh WORKSPACE
# WORKSPACE/src must hold the sources, outside this repository, e.g. hri_msgs 2.0.0 (plain
# ament_cmake; the messages the nodes publish are the same in 2.3, which needs ament_cmake_auto
# 2.5.4, a package the PyPI wheels lack):
#   git clone https://github.com/ros4hri/hri_msgs WORKSPACE/src/hri_msgs
#   git -C WORKSPACE/src/hri_msgs checkout 2.0.0
# Then: export FACE_PERCEPTION_HRI_PREFIX=WORKSPACE/install (the test and scripts/ros_env.sh read it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
WS=$(cd "${1:?usage: build_hri_msgs.sh WORKSPACE}" && pwd)
[ -f "$WS/src/hri_msgs/package.xml" ] || { echo "no $WS/src/hri_msgs/package.xml: clone hri_msgs there first" >&2; exit 2; }
case "$WS/" in "$ROOT"/*) echo "the workspace must be outside the repository" >&2; exit 2;; esac
bash "$ROOT/scripts/setup_env.sh"
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
cd "$WS"
colcon build --merge-install --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  > "$WS/colcon-build.txt" 2>&1 || { cat "$WS/colcon-build.txt"; exit 1; }
echo "built: export FACE_PERCEPTION_HRI_PREFIX=$WS/install"
