"""The trusted grader's memory on the largest hostile input each cap lets through: a worker reply (the
wire's caps on bytes, JSON size, element count and depth), a submitted source the static rules parse, and
an answers.yml; plus one input just over each cap, which must be refused. Each case runs in a fresh
process; the figure is its peak resident memory above what the process held before reading the input.

    .venv/bin/python bench/caps.py
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from pathlib import Path

import numpy as np


def _reset_peak() -> None:
    """Start the process's high-water mark of resident memory afresh (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    """Resident memory high-water mark (MB) since the last :func:`_reset_peak`."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def _reply(value):
    """Send ``value`` over a pipe from a child process, as a hostile worker could (:func:`wire.send`, bounded
    only by the message size; the child's memory is not counted), and read it as the grader does."""
    from autograder.sandbox import wire

    read_end, write_end = os.pipe()
    _reset_peak()
    before = _peak_mb()
    sender = os.fork()
    if sender == 0:
        os.close(read_end)
        wire.send(write_end, value)
        os._exit(0)
    os.close(write_end)
    try:
        wire.receive(read_end)
        outcome = "decoded"
    except wire.WireError as error:
        outcome = f"refused: {error}"
    os.close(read_end)
    os.waitpid(sender, 0)
    return _peak_mb() - before, outcome


def _nested(depth: int) -> list:
    """An empty list inside ``depth - 1`` others."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _source(target_bytes: int):
    from autograder.judges import CheckFailed, static

    folder = Path(tempfile.mkdtemp())
    (folder / "manual.py").write_text("values = [" + "0," * (target_bytes // 2 - 8) + "]\n")
    _reset_peak()
    before = _peak_mb()
    try:
        static.parse(folder, "manual")
        outcome = "parsed"
    except CheckFailed as error:
        outcome = f"refused: {error}"
    return _peak_mb() - before, outcome


def _answers(text: str):
    from autograder.judges import CheckFailed, answers

    folder = Path(tempfile.mkdtemp())
    (folder / "answers.yml").write_text(text)
    _reset_peak()
    before = _peak_mb()
    try:
        answers.load_submitted(folder)
        outcome = "read"
    except CheckFailed as error:
        outcome = f"refused: {error}"
    return _peak_mb() - before, outcome


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _cases() -> list[tuple[str, object, tuple]]:
    from autograder.judges import answers, static
    from autograder.sandbox import wire

    elements = wire.MAX_ELEMENTS - 10
    array = np.zeros((wire.MAX_REPLY_BYTES - wire.MAX_JSON_BYTES) // 8 - 64, dtype=np.float64)
    flat = "q: [" + ",".join(["1"] * ((answers.MAX_BYTES - 16) // 2)) + "]\n"
    return [
        ("reply: 1M empty lists (the element cap)", _reply, ([[]] * (elements // 2),)),
        ("reply: lists nested 63 deep, up to the element cap", _reply, ([_nested(63)] * (elements // 64),)),
        ("reply: a 56 MiB array (the byte cap)", _reply, ([0] * 11 + [array],)),
        ("reply: over the element cap", _reply, ([[]] * elements,)),
        ("reply: over the depth cap", _reply, (_nested(100),)),
        ("source: one list literal at the size cap", _source, (static.MAX_SOURCE_BYTES,)),
        ("source: just over the size cap", _source, (static.MAX_SOURCE_BYTES + 4096,)),
        ("answers.yml: a flat list at the size cap", _answers, (flat,)),
        ("answers.yml: 7 alias levels", _answers, (_alias_bomb(7),)),
    ]


def _run(index: int, queue) -> None:
    _, function, args = _cases()[index]
    queue.put(function(*args))


def main() -> None:
    context = multiprocessing.get_context("spawn")
    print(f"{'input':50} {'peak above baseline':>20}  outcome")
    for index, (name, _, _) in enumerate(_cases()):
        queue = context.Queue()
        process = context.Process(target=_run, args=(index, queue))
        process.start()
        extra, outcome = queue.get()
        process.join()
        print(f"{name:50} {extra:17.0f} MB  {outcome[:90]}")


if __name__ == "__main__":
    main()
