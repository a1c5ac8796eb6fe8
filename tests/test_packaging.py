"""The grading kit installs without ``-e``: its wheel holds every file of ``autograder/`` that the
repository tracks (the graders' ``reference_curves.json``, the Gradescope templates), so an ordinary
``pip install`` grades like the checkout. ~10 s: one wheel built from a copy of the tracked files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from autograder.config import ROOT


def test_the_grading_kit_wheel_holds_every_tracked_file_of_the_package(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "-z", "--", "autograder", "pyproject.toml", "README.md"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode().split("\0")
    tracked = [name for name in tracked if name]
    source = tmp_path / "source"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "--wheel-dir", str(tmp_path / "wheels"), str(source)], capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name for name in archive.namelist() if name.startswith("autograder/")}
    missing = sorted(name for name in tracked if name.startswith("autograder/") and name not in packaged)
    assert not missing, f"tracked files left out of the grading kit's wheel: {missing}"
