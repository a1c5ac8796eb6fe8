"""Static rules on submitted source text (the grader parses it, never imports it)."""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.judges import CheckFailed

#: larger sources are refused before parsing (``ast.parse`` takes ~400 bytes of memory per source byte)
MAX_SOURCE_BYTES = 256 * 2**10
#: a rule reads its module and the submission's modules it imports, transitively, up to this many files
MAX_RULE_FILES = 12


def parse(submission: Path, module: str) -> ast.Module:
    """The syntax tree of ``module``.py of the submission (at most :data:`MAX_SOURCE_BYTES`); ``module`` may
    be a path inside the submission without its ``.py`` (``helpers/__init__``)."""
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
            if node.attr in attributes or _dotted(node) in names or _dotted(node).startswith("importlib."):
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


def _imported(tree: ast.Module) -> list[str]:
    """Dotted names of the modules ``tree`` imports, with their parents and, for ``from m import x``, ``m.x``
    (x may be a submodule); relative imports as if from the submission's top level."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names += [base] if base else []
            names += [f"{base}.{alias.name}" if base else alias.name for alias in node.names if alias.name != "*"]
    return [".".join(parts[:n]) for name in names for parts in [name.split(".")] for n in range(1, len(parts) + 1)]


def _local_file(submission: Path, dotted: str) -> str | None:
    """``dotted`` as a module path of the submission (``a/b`` or ``a/b/__init__``), None when it is not one."""
    path = dotted.replace(".", "/")
    for candidate in (path, f"{path}/__init__"):
        if (submission / f"{candidate}.py").is_file():
            return candidate
    return None


def rule_modules(submission: Path, module: str) -> dict[str, ast.Module]:
    """Syntax trees of ``module`` and of the submission's modules it imports, transitively (a helper module
    is read like the module itself), at most :data:`MAX_RULE_FILES` files."""
    trees: dict[str, ast.Module] = {}
    queue = [module]
    while queue:
        name = queue.pop(0)
        if name in trees:
            continue
        if len(trees) == MAX_RULE_FILES:
            raise CheckFailed(f"{module}.py imports more than {MAX_RULE_FILES - 1} modules of the submission "
                              "(directly or not); the grader reads at most that many for this rule")
        trees[name] = parse(submission, name)
        queue += [path for dotted in _imported(trees[name]) if (path := _local_file(submission, dotted))]
    return trees


def assert_used(submission: Path, module: str, why: str, attributes: set[str]) -> None:
    """``module`` or a submission module it imports (:func:`rule_modules`) names one of ``attributes``
    (``torch.no_grad`` counts for ``no_grad``, a keyword argument ``requires_grad=`` for ``requires_grad``): evidence read by the grader, which the worker cannot forge."""
    for parsed in rule_modules(submission, module).values():
        if any(isinstance(node, ast.Attribute) and node.attr in attributes
               or isinstance(node, ast.Name) and node.id in attributes
               or isinstance(node, ast.keyword) and node.arg in attributes for node in ast.walk(parsed)):
            return
    raise CheckFailed(f"{module}.py should use {why}: none of {', '.join(sorted(attributes))} appears in it nor in "
                      "the submission's modules it imports")


def assert_not_used(submission: Path, module: str, why: str, names: set[str] = frozenset(),
                    attributes: set[str] = frozenset(), modules: set[str] = frozenset()) -> None:
    """``module`` is implemented (no stub left) and neither it nor the submission's modules it imports
    (:func:`rule_modules`) use any of the forbidden names/attributes/modules."""
    tree = parse(submission, module)
    stubs = unimplemented(tree)
    if stubs:
        raise CheckFailed(f"{module}.py is not implemented yet ({', '.join(stubs)} still raise "
                          "NotImplementedError); this rule is checked on finished code")
    uses = [(f"{name}.py", line, text) for name, parsed in rule_modules(submission, module).items()
            for line, text in forbidden_uses(parsed, set(names), set(attributes), set(modules))]
    if uses:
        listed = "; ".join(f"{path} line {line}: {text}" for path, line, text in uses[:5])
        raise CheckFailed(f"{module}.py must not use {why}, nor may the submission's modules it imports ({listed})")
