#!/usr/bin/env bash
# Gradescope setup for {{assignment}}: the base image's Python (Ubuntu 24.04: python3, 3.12; Ubuntu 22.04,
# whose python3 is 3.10: Ubuntu's own python3.11 package; no PPA), the grading kit (shipped in this zip under
# kit/, installed in editable mode so that it finds grading.yml and the reference solutions) with the
# versions of kit/autograder/templates/gradescope-constraints.txt, CPU-only torch, and Fashion-MNIST from
# Debian/Ubuntu's dataset-fashion-mnist package (the cpu tier's real images). Any failure stops the setup
# with a message (set -e): a build that Gradescope reports as failed, never a silently different one.
set -euo pipefail
ROOT="${AUTOGRADER_GRADESCOPE_DIR:-/autograder}"
KIT="$ROOT/source/kit"
fail() { echo "setup.sh: FAILED: $*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON=python3
    apt-get install -y -qq python3-venv >/dev/null || fail "apt-get could not install python3-venv"
else
    PYTHON=python3.11
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null \
        || fail "the kit needs Python 3.11 or later: this image's python3 is older and Ubuntu's python3.11 package is not available (choose the Ubuntu 22.04 or 24.04 base image)"
fi
apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || echo "setup.sh: dataset-fashion-mnist is not available: the Fashion-MNIST checks will report missing data"
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --quiet --upgrade pip
# the CPU builds, named explicitly from the CPU index only: never a silent fallback to the CUDA build (6 GB)
"$ROOT/venv/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu "{{torch}}+cpu" "{{torchvision}}+cpu" \
    || fail "the CPU build of {{torch}} / {{torchvision}} could not be installed from https://download.pytorch.org/whl/cpu (is it reachable from the image build?)"
"$ROOT/venv/bin/pip" install --quiet -c "$KIT/autograder/templates/gradescope-constraints.txt" -e "$KIT" \
    || fail "the grading kit or one of its pinned dependencies could not be installed"
"$ROOT/venv/bin/python" -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' \
    || fail "a CUDA build of torch was installed instead of the CPU build"
AUTOGRADER_ROOT="$ROOT/source/kit" "$ROOT/venv/bin/autograder" data prepare --data "$ROOT/data" \
    || echo "setup.sh: Fashion-MNIST could not be prepared"
# where Docker refuses namespaces, student code runs as a uid of its own on this machine's files: the kit
# (reference solutions, graders, grading.yml) and the data must be private to root (the grader checks it)
chmod -R go-rwx "$ROOT/source"
for data in "$ROOT/data" /usr/share/datasets; do if [ -d "$data" ]; then chmod -R go-rwx "$data"; fi; done
