#!/usr/bin/env bash
# Builds build/dlib-reference/embed: dlib's own face recognition network (Debian's libdlib-dev),
# the independent reference of the identity model's parity test. Never part of the runtime.
#   sudo apt-get install -y libdlib-dev g++   (once)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$ROOT/build/dlib-reference"
nice -n 10 g++ -O2 -std=c++14 "$ROOT/test/reference/dlib_embed.cpp" -o "$ROOT/build/dlib-reference/embed" -ldlib -lpthread
echo "built $ROOT/build/dlib-reference/embed"
