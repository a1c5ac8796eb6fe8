#!/usr/bin/env bash
# Gradescope setup for {{assignment}}: Python 3.11, the grading kit (shipped in this zip under kit/,
# installed in editable mode so that it finds grading.yml and the reference solutions), CPU-only torch,
# and Fashion-MNIST from Debian/Ubuntu's dataset-fashion-mnist package (the cpu tier's real images).
set -euo pipefail
ROOT="${AUTOGRADER_GRADESCOPE_DIR:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3.11 python3.11-venv >/dev/null \
    || { apt-get install -y -qq software-properties-common >/dev/null \
         && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update -qq \
         && apt-get install -y -qq python3.11 python3.11-venv >/dev/null; }
apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || echo "setup.sh: dataset-fashion-mnist is not available: the Fashion-MNIST checks will report missing data"
python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --quiet --upgrade pip
# the CPU builds, named explicitly from the CPU index only: never a silent fallback to the CUDA build (6 GB)
"$ROOT/venv/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu "{{torch}}+cpu" "{{torchvision}}+cpu" \
    || { echo "setup.sh: FAILED: the CPU build of {{torch}} / {{torchvision}} could not be installed from https://download.pytorch.org/whl/cpu" >&2; exit 1; }
"$ROOT/venv/bin/pip" install --quiet -e "$ROOT/source/kit"
"$ROOT/venv/bin/python" -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' \
    || { echo "setup.sh: FAILED: a CUDA build of torch was installed instead of the CPU build" >&2; exit 1; }
AUTOGRADER_ROOT="$ROOT/source/kit" "$ROOT/venv/bin/autograder" data prepare --data "$ROOT/data" \
    || echo "setup.sh: Fashion-MNIST could not be prepared"
# where Docker refuses namespaces, student code runs as a uid of its own on this machine's files: the kit
# (reference solutions, graders, grading.yml) and the data must be private to root (the grader checks it)
chmod -R go-rwx "$ROOT/source"
for data in "$ROOT/data" /usr/share/datasets; do if [ -d "$data" ]; then chmod -R go-rwx "$data"; fi; done
