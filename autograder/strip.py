"""Turn reference solution modules into student templates, and check templates for leaks.

A region between ``# BEGIN SOLUTION[: hint]`` and ``# END SOLUTION`` becomes one line at the
marker's indentation: ``raise NotImplementedError("<module>.<function>: <hint>")``, or, when the region
holds ``# SOLUTION: <code>`` lines, each of them as ``<code>  # TODO``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
PLACEHOLDER = re.compile(r"^[ \t]*# SOLUTION:\s?(?P<code>.*?)\s*$")
DEFINITION = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")
DEFAULT_HINT = "not implemented yet"


class StripError(ValueError):
    """A solution file whose markers cannot be stripped (message names file:line)."""


@dataclass(frozen=True)
class Region:
    """One solution region: 1-based line numbers of its markers and the lines between them."""

    begin: int
    end: int
    body: tuple[str, ...]


def _enclosing_name(lines: list[str], index: int, indent: str) -> str:
    """Dotted name of the def/class blocks enclosing line ``index`` (0-based), e.g. ``Net.forward``."""
    names: list[str] = []
    width = len(indent.expandtabs())
    for line in reversed(lines[:index]):
        match = DEFINITION.match(line)
        if match and len(match["indent"].expandtabs()) < width:
            names.append(match["name"])
            width = len(match["indent"].expandtabs())
            if width == 0:
                break
    return ".".join(reversed(names)) or "<module>"


def strip_source(source: str, path: str = "<string>") -> tuple[str, list[Region]]:
    """Return the template text of one solution file and the regions removed from it."""
    module = Path(path).stem
    lines = source.splitlines(keepends=False)
    out: list[str] = []
    regions: list[Region] = []
    open_at: int | None = None
    indent = hint = ""
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_at is not None:
                raise StripError(f"{path}:{number}: '# BEGIN SOLUTION' inside the region opened at line "
                                 f"{open_at}; close it with '# END SOLUTION' first")
            open_at, indent, hint, body = number, begin["indent"], begin["hint"] or DEFAULT_HINT, []
        elif end:
            if open_at is None:
                raise StripError(f"{path}:{number}: '# END SOLUTION' without a matching '# BEGIN SOLUTION'")
            if end["indent"] != indent:
                raise StripError(f"{path}:{number}: '# END SOLUTION' is not at the indentation of its "
                                 f"'# BEGIN SOLUTION' (line {open_at})")
            placeholders = [m["code"] for m in map(PLACEHOLDER.match, body) if m]
            if placeholders:
                out.extend(f"{indent}{code}  # TODO" for code in placeholders)
            else:
                where = f"{module}.{_enclosing_name(lines, open_at - 1, indent)}"
                message = f"{where}: {hint}".replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'{indent}raise NotImplementedError("{message}")')
            regions.append(Region(open_at, number, tuple(body)))
            open_at = None
        elif open_at is not None:
            body.append(line)
        else:
            out.append(line)
    if open_at is not None:
        raise StripError(f"{path}:{open_at}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    text = "\n".join(out) + ("\n" if source.endswith("\n") else "")
    try:
        ast.parse(text, filename=path)
    except SyntaxError as error:
        raise StripError(f"{path}:{error.lineno}: the stripped template is not valid Python ({error.msg}); "
                         "put markers around whole statements inside a function body") from None
    return text, regions


def is_trivial(line: str) -> bool:
    """Lines too generic to count as a leak: blanks, comments, lone keywords and brackets, short code."""
    code = line.strip()
    if not code or code.startswith("#"):
        return True
    if code in {"pass", "return", "else:", "try:", "finally:", "break", "continue", ")", "]", "}", "),"}:
        return True
    return len(re.sub(r"\s+", "", code)) < 16


def solution_lines(regions: list[Region]) -> set[str]:
    """The non-trivial code lines of a set of regions (stripped of indentation), placeholders excluded."""
    return {line.strip() for region in regions for line in region.body
            if not PLACEHOLDER.match(line) and not is_trivial(line)}


def find_leaks(secret_lines: set[str], text: str, path: str) -> list[str]:
    """Messages ``path:line: <code>`` for each line of ``text`` that is a non-trivial solution line."""
    return [f"{path}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() in secret_lines]
