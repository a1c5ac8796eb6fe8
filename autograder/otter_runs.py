"""otter-grader driven safely: :func:`otter_assign` (the release gate: with ``--debug`` the solution notebook
must execute without error *and* score 100 % on its tests) and :func:`otter_run` (``otter run`` with the
traps of otter 7.0.0 removed: no ``.OTTER_LOG`` is ever unpickled, the kernelspec is normalised to
``python3``, a wall-clock limit and a private ``TMPDIR``); the export zips they read."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from autograder.notebooks import KERNELSPEC, TINY_VARIABLE, NotebookError


def _environment(tiny: bool, tmpdir: Path) -> dict[str, str]:
    from autograder import data

    env = dict(os.environ)
    env.update(TMPDIR=str(tmpdir), AUTOGRADER_DATA=str(data.root()), PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND="module://matplotlib_inline.backend_inline", OMP_NUM_THREADS="1",
               CI=env.get("CI", "true"))
    env[TINY_VARIABLE] = "1" if tiny else "0"
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; kill the whole group at ``timeout``."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -signal.SIGKILL, output.decode("utf-8", "replace") + f"\n[stopped after {timeout:g} s]"
    return process.returncode, output.decode("utf-8", "replace")


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _tail(output: str, lines: int) -> str:
    return "\n".join(ANSI.sub("", output).strip().splitlines()[-lines:])


def otter_assign(master_path: Path, out: Path, run_tests: bool = False, timeout: float = 900) -> tuple[Path, Path]:
    """``otter assign`` on ``master_path`` into ``out``; returns (autograder folder, student folder).

    With ``run_tests`` otter's own self-test runs too (``--debug``: a cell error fails it). The release runs
    the same self-test through :func:`otter_run` on the reference export instead (one execution of the
    notebook that also exercises the autograder zip as built and the export layout).
    """
    out = out.resolve()
    flags = ["--debug"] if run_tests else ["--no-run-tests"]
    with tempfile.TemporaryDirectory(prefix="autograder-otter-") as scratch:
        command = [sys.executable, "-m", "otter", "assign", "--no-pdfs", *flags, master_path.name, str(out)]
        code, output = _run(command, master_path.parent, _environment(True, Path(scratch)), timeout)
    if code != 0 or not (out / "autograder").is_dir():
        raise NotebookError(f"otter assign failed on {master_path.name}:\n{_tail(output, 25)}")
    return out / "autograder", out / "student"


def normalise_notebook(path: Path) -> None:
    """Kernelspec ``python3`` (otter run keeps a student's ``ir``/venv kernelspec and then fails)."""
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("language_info", {})["name"] = "python"
    nbformat.write(notebook, path)


def clean_submission(submission: Path, target: Path) -> Path:
    """A safe zip of ``submission`` (a zip or a folder) for otter run: regular files only, no
    ``.OTTER_LOG`` (otter unpickles it), notebooks with a python3 kernelspec."""
    from autograder.submissions import copy_tree, extract_zip

    with tempfile.TemporaryDirectory(prefix="autograder-clean-") as scratch:
        folder = Path(scratch) / "submission"
        if submission.is_dir():
            copy_tree(submission, folder)
        else:
            extract_zip(submission, folder)
        for log in folder.rglob(".OTTER_LOG"):
            log.unlink()
        for notebook in folder.rglob("*.ipynb"):
            normalise_notebook(notebook)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(folder).as_posix())
    return target


def otter_run(autograder_zip: Path, submission: Path, timeout: float = 600, tiny: bool = False,
              debug: bool = False) -> dict:
    """``otter run`` on a cleaned copy of ``submission`` with a wall-clock limit; Gradescope's results dict.

    A run that times out or crashes gives a zero-score document saying why (never a silent pass); with
    ``debug`` an error in any cell of the notebook is such a crash.
    """
    with tempfile.TemporaryDirectory(prefix="autograder-otter-run-") as scratch:
        scratch = Path(scratch)
        clean = clean_submission(submission, scratch / "submission.zip")
        (scratch / "out").mkdir()
        (scratch / "tmp").mkdir()
        command = [sys.executable, "-m", "otter", "run", "-a", str(autograder_zip.resolve()), "-o",
                   str(scratch / "out"), "--no-logo", *["--debug"] * debug, str(clean)]
        code, output = _run(command, scratch, _environment(tiny, scratch / "tmp"), timeout)
        results = scratch / "out" / "results.json"
        if code == 0 and results.is_file():
            return json.loads(results.read_text())
    return {"score": 0.0, "tests": [], "output": f"otter run failed (exit code {code}):\n{_tail(output, 40)}"}


def export_zip(folder: Path, notebook: str, files: list[str], target: Path) -> Path:
    """A submission zip laid out like otter's ``grader.export(...)``: the notebook and ``files`` at the top."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(folder / notebook, notebook)
        for name in files:
            if (folder / name).is_file():
                bundle.write(folder / name, name)
        bundle.writestr("__zip_filename__", target.name)
    return target


def code_cells(path: Path) -> str:
    """The code of a notebook's code cells, one after the other (for the leak check)."""
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")

