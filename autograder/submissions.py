"""Find, unpack and copy submissions: folders and zips, handled as untrusted data.

Nothing here imports or unpickles submission content. A zip with an entry that has an absolute path or
``..`` is refused as a whole; links (in zips and folders) are left out, and so is a submission that is
itself a link; copies keep regular files only (no ``__pycache__``/``.pyc``, no ``.OTTER_LOG``). A file
over :data:`MAX_FILE_BYTES` is left out when it is data (a checkpoint, a data set: the grader never uses
them) and refuses the submission when it is source the grader reads (:data:`SOURCE_SUFFIXES`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder import config

MAX_FILE_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 256 * 2**20
MAX_FILES = 2000
SKIPPED_NAMES = {"__pycache__", ".OTTER_LOG", ".git", ".ipynb_checkpoints"}
SOURCE_SUFFIXES = {".py", ".yml", ".yaml", ".ipynb"}
OTHER_ARCHIVES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".gz", ".7z", ".rar")


class SubmissionError(ValueError):
    """A submission that cannot be graded as given (message for the student)."""


@dataclass(frozen=True)
class Submission:
    """One student's work: a folder or a zip, for one assignment."""

    name: str
    path: Path
    assignment: str

    @property
    def folder(self) -> str:
        """Its output folder's name, under ``--out``."""
        return folder_name(self.name)

    @contextlib.contextmanager
    def unpacked(self) -> Iterator[tuple[Path, list[str]]]:
        """Yield (folder holding the modules, problems); problems make every check score 0."""
        with tempfile.TemporaryDirectory(prefix="autograder-submission-") as scratch:
            target = Path(scratch) / "submission"
            try:
                folder, problems = self._unpack(target), []
            except SubmissionError as error:
                folder, problems = target, [str(error)]
            yield folder, problems

    def _unpack(self, target: Path) -> Path:
        if self.path.is_symlink():
            raise SubmissionError(f"{self.path.name} is a symbolic link; submit the files themselves")
        if self.path.is_dir():
            copy_tree(self.path, target)
        elif zipfile.is_zipfile(self.path):
            extract_zip(self.path, target)
        elif self.path.suffix.lower() == ".ipynb":
            raise SubmissionError(_notebook_problem(self.path, self.assignment))
        elif self.path.name.lower().endswith(OTHER_ARCHIVES):
            raise SubmissionError(f"{self.path.name} is not a zip archive (only zip archives are graded); "
                                  "submit a zip of your folder")
        elif self.path.suffix.lower() in SOURCE_SUFFIXES:
            raise SubmissionError(f"{self.path.name} is a lone file beside the submissions; each submission "
                                  "must be a folder or a zip holding its modules")
        else:
            raise SubmissionError(f"{self.path.name} is neither a folder nor a zip file")
        return module_folder(target, self.assignment)


def _notebook_problem(path: Path, assignment: str) -> str:
    modules = ", ".join(f"{m}.py" for m in config.load().assignment(assignment).modules)
    message = (f"{path.name}: the grader reads the modules ({modules}), not the notebook; submit the folder "
               "holding them, or a zip of it")
    try:
        json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        message += f" (and {path.name} is not a valid notebook: {str(error).splitlines()[0]})"
    return message


def _wanted(name: str) -> bool:
    return name not in SKIPPED_NAMES and not name.endswith(".pyc")


def copy_tree(source: Path, target: Path) -> None:
    """Copy regular files and folders only (links and special files are left out), within size limits."""
    total = count = 0
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not all(_wanted(part) for part in relative.parts):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            (target / relative).mkdir(parents=True, exist_ok=True)
        elif stat.S_ISREG(mode) and _admitted(relative, path.lstat().st_size):
            count += 1
            total += path.lstat().st_size
            _check_totals(total, count)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)


def _admitted(name, size: int) -> bool:
    """Whether a file of ``size`` bytes is copied; a source file over the limit is an error."""
    if size <= MAX_FILE_BYTES:
        return True
    if PurePosixPath(str(name)).suffix.lower() in SOURCE_SUFFIXES:
        raise SubmissionError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    return False  # a large data file: left out, the grader never reads it


def _check_totals(total: int, count: int) -> None:
    if total > MAX_TOTAL_BYTES:
        raise SubmissionError(f"the submission is larger than {MAX_TOTAL_BYTES // 2**20} MiB")
    if count > MAX_FILES:
        raise SubmissionError(f"the submission has more than {MAX_FILES} files")


def extract_zip(archive: Path, target: Path) -> None:
    """Extract regular files of ``archive`` into ``target``, refusing unsafe entries."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            if not entries:
                raise SubmissionError(f"{archive.name} is an empty zip file")
            total = count = 0
            for entry in entries:
                name = PurePosixPath(entry.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in entry.filename:
                    raise SubmissionError(f"{archive.name}: unsafe entry {entry.filename!r} (absolute or '..')")
                if stat.S_ISLNK(entry.external_attr >> 16):
                    continue
                if entry.is_dir() or not all(_wanted(part) for part in name.parts):
                    continue
                if not _admitted(entry.filename, entry.file_size):
                    continue
                count += 1
                total += entry.file_size
                _check_totals(total, count)
                destination = target.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(entry) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(_Capped(src, MAX_FILE_BYTES), dst)
    except zipfile.BadZipFile as error:
        raise SubmissionError(f"{archive.name} is not a valid zip file ({error})") from None


class _Capped:
    """A reader that fails past ``limit`` bytes (zip headers can lie about sizes)."""

    def __init__(self, raw, limit: int):
        self.raw, self.left = raw, limit

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(min(size if size > 0 else 1 << 20, self.left + 1))
        self.left -= len(chunk)
        if self.left < 0:
            raise SubmissionError("a file in the zip is larger than its header says, or too large")
        return chunk


def module_folder(root: Path, assignment: str) -> Path:
    """The folder of ``root`` that holds the most of the assignment's modules (the shallowest on a tie)."""
    modules = config.load().assignment(assignment).modules
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    held = {folder: sum((folder / f"{m}.py").is_file() for m in modules) for folder in folders}
    best = max(folders, key=lambda folder: (held[folder], -len(folder.parts)))
    if held[best]:
        return best
    expected = ", ".join(f"{m}.py" for m in modules)
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    listing = f" (it holds: {', '.join(found[:8])}{', ...' if len(found) > 8 else ''})" if found else " (it is empty)"
    raise SubmissionError(f"none of the expected modules ({expected}) was found in the submission{listing}: "
                          "submit the zip the notebook's last cell writes, or your modules and answers.yml")


def discover(paths: list[Path], assignment: str, hidden: list[Path] | None = None) -> list[Submission]:
    """Submissions named on the command line: each path is a submission (a folder holding a module of the
    assignment, a zip or any other file), or a folder of submissions when it holds no module itself, or when
    it holds zips or folders of modules. In a folder of submissions every entry is a submission (what cannot
    be graded gets a record saying why: another archive, a lone module...), except hidden ones, which are
    appended to ``hidden``."""
    modules = config.load().assignment(assignment).modules
    found: list[Submission] = []
    for path in paths:
        path = Path(path)
        if not path.exists() and not path.is_symlink():
            raise SubmissionError(f"{path}: no such file or folder")
        if path.is_dir() and not path.is_symlink() and _is_class_folder(path, modules):
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    (hidden if hidden is not None else []).append(child)
                else:
                    found.append(Submission(_name(child), child, assignment))
        else:
            found.append(Submission(_name(path), path, assignment))
    names = [s.name for s in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SubmissionError(f"two submissions share the name {duplicates[0]!r}; rename one")
    return found


def _holds_modules(folder: Path, modules) -> bool:
    return any((folder / f"{m}.py").is_file() for m in modules)


def _is_class_folder(folder: Path, modules) -> bool:
    """No module at its top, or zips or folders of modules beside them (a stray module in a class folder)."""
    if not _holds_modules(folder, modules):
        return True
    return any(child.suffix.lower() == ".zip" or (child.is_dir() and _holds_modules(child, modules))
               for child in folder.iterdir() if not child.name.startswith("."))


def _name(path: Path) -> str:
    return path.name[:-4] if path.suffix.lower() == ".zip" else path.name


def folder_name(name: str) -> str:
    """The output folder of submission ``name``: letters, digits, ``_`` and ``-`` only (no dot: never a
    class file such as grades.csv or index.html, never hidden; never a URL scheme such as ``javascript:``),
    followed by a hash of the name when anything had to change (so that two names never share a folder)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:80]
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def printable(name: str) -> str:
    """``name`` for a terminal: control characters (ANSI escapes, newlines) shown as escapes, not run."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)
