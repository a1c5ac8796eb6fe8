"""Static rules on submitted source text (the grader parses it, never imports it)."""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.checks import CheckFailed

#: larger sources are refused before parsing (``ast.parse`` takes ~400 bytes of memory per source byte)
MAX_SOURCE_BYTES = 256 * 2**10


def parse(submission: Path, module: str) -> ast.Module:
    """The syntax tree of ``module``.py of the submission (at most :data:`MAX_SOURCE_BYTES`)."""
    path = submission / f"{module}.py"
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise CheckFailed(f"{module}.py is larger than {MAX_SOURCE_BYTES // 2**10} KiB "
                              f"({path.stat().st_size:,} bytes); the grader does not parse it")
        source = path.read_bytes().decode("utf-8")
        return ast.parse(source, filename=path.name)
    except FileNotFoundError:
        raise CheckFailed(f"{module}.py was not found in the submission") from None
    except UnicodeDecodeError:
        raise CheckFailed(f"{module}.py is not valid UTF-8 text") from None
    except SyntaxError as error:
        raise CheckFailed(f"{module}.py:{error.lineno}: SyntaxError: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise CheckFailed(f"{module}.py is nested too deeply for the grader to parse") from None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return "?"


def forbidden_uses(tree: ast.Module, names: set[str], attributes: set[str],
                   modules: set[str]) -> list[tuple[int, str]]:
    """(line, text) of every dotted name in ``names``, attribute in ``attributes``, keyword argument in
    ``attributes`` or import of a module in ``modules`` (prefix match)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if any(a.name == m or a.name.startswith(m + ".") for m in modules)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            hit = any(node.module == m or node.module.startswith(m + ".") for m in modules)
            hit = hit or any(f"{node.module}.{a.name}" in modules for a in node.names)
            if hit:
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Attribute):
            if node.attr in attributes or _dotted(node) in names:
                found.append((node.lineno, _dotted(node)))
        elif isinstance(node, ast.keyword) and node.arg in attributes:
            found.append((node.value.lineno, f"{node.arg}="))
        elif isinstance(node, ast.Name) and node.id in names:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {
                "__import__", "eval", "exec", "getattr", "importlib"}:
            found.append((node.lineno, f"{node.func.id}()"))
    return sorted(set(found))


def unimplemented(tree: ast.Module) -> list[str]:
    """Names of the functions whose body still raises NotImplementedError (template stubs)."""
    stubs = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:
                if isinstance(statement, ast.Raise) and "NotImplementedError" in ast.dump(statement):
                    stubs.append(node.name)
                    break
    return stubs


def assert_not_used(submission: Path, module: str, why: str, names: set[str] = frozenset(),
                    attributes: set[str] = frozenset(), modules: set[str] = frozenset()) -> None:
    """``module`` is implemented (no stub left) and uses none of the forbidden names/attributes/modules."""
    tree = parse(submission, module)
    stubs = unimplemented(tree)
    if stubs:
        raise CheckFailed(f"{module}.py is not implemented yet ({', '.join(stubs)} still raise "
                          "NotImplementedError); this rule is checked on finished code")
    uses = forbidden_uses(tree, set(names), set(attributes), set(modules))
    if uses:
        listed = "; ".join(f"line {line}: {text}" for line, text in uses[:5])
        raise CheckFailed(f"{module}.py must not use {why} ({listed})")
