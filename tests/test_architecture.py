"""The line that matters most: what runs next to student code. The worker-side files (the copy the worker
imports, :data:`autograder.workers.WORKER_FILES`) import only the standard library, the numerical
libraries and each other — never the trusted side (judges, grading.yml, the reference, the worker handle)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from autograder import workers

PACKAGE = Path(workers.__file__).resolve().parent
LIBRARIES = {"numpy", "torch", "torchvision", "timm", "PIL", "matplotlib"}
#: kit modules the worker side may import: what WORKER_FILES copies
WORKER_SIDE = {"autograder", "autograder.sandbox", "autograder.sandbox.probing", "autograder.sandbox.wire",
               "autograder.sandbox.worker", "autograder.sandbox.plan", "autograder.sandbox.fastdata"}

PACKAGES = {"autograder", "autograder.sandbox", "autograder.graders"}
#: the one trusted import in a worker-side file: the process that starts as the worker zygote's parent
#: becomes the grader zygote after it forked the worker zygote (``worker.serve_zygote``)
AFTER_THE_FORK = {("sandbox/worker.py", "autograder.zygote")}


def worker_files() -> list[Path]:
    return sorted({path for pattern in workers.WORKER_FILES for path in PACKAGE.glob(pattern)})


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (``from a import b`` counts ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module in PACKAGES:  # `from autograder import zygote` imports a module
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def allowed(name: str) -> bool:
    top = name.partition(".")[0]
    if top == "autograder":
        return name in WORKER_SIDE or name.startswith("autograder.graders.") and name.endswith(".probes")
    return top in sys.stdlib_module_names or top in LIBRARIES or top == "__future__"


def test_the_worker_side_is_exactly_the_sandbox_package_and_the_probes():
    names = {path.relative_to(PACKAGE).as_posix() for path in worker_files()}
    assert {"sandbox/worker.py", "sandbox/plan.py", "sandbox/fastdata.py", "graders/tp1_mlp/probes.py"} <= names
    assert not {name for name in names if not (name.startswith("sandbox/") or name.endswith(("/probes.py", "/__init__.py"))
                                               or name == "__init__.py")}
    assert {f"sandbox/{path.name}" for path in (PACKAGE / "sandbox").glob("*.py")} <= names


def test_worker_side_modules_import_nothing_of_the_trusted_side():
    wrong = {f"{path.relative_to(PACKAGE)}: {name}" for path in worker_files() for name in imported(path)
             if not allowed(name) and (path.relative_to(PACKAGE).as_posix(), name) not in AFTER_THE_FORK}
    assert not wrong, f"worker-side modules import outside the allowed set: {sorted(wrong)}"


def test_the_import_rule_catches_a_trusted_import(tmp_path):
    module = tmp_path / "probes.py"
    module.write_text("from autograder.judges import values\nimport yaml\nfrom autograder.sandbox import wire\n"
                      "def f():\n    from autograder import workers\n")
    assert sorted(name for name in imported(module) if not allowed(name)) == [
        "autograder.judges", "autograder.workers", "yaml"]
