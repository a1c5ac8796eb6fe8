"""The untrusted side: a fresh interpreter that runs probes against one student submission.

Started by :mod:`autograder.sandbox.client` as
``python -I -m autograder.sandbox.worker SUBMISSION REQUESTS_FD REPLIES_FD`` (two pipe ends). Student output (fd 1 and 2) goes to a
log file the client reads. Each request names a probe function inside the ``autograder`` package and its
keyword arguments; the reply is plain data (see :mod:`autograder.sandbox.wire`) or an error message.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

PRELOADED = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.optim")


def _student_traceback(error: BaseException, submission: str) -> str:
    """The traceback lines that point into the submission, then the error itself."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(frame.filename).startswith(submission + os.sep)]
    lines = [f"  {os.path.relpath(f.filename, submission)}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
             for f in frames[-4:]]
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    return "\n".join([*lines, summary])


def _resolve(name: str):
    """The probe function called ``autograder.<...>:<function>``; nothing outside the package."""
    module_name, _, function = name.partition(":")
    if not module_name.startswith("autograder.") or not function.isidentifier():
        raise ValueError(f"not a probe name: {name!r}")
    return getattr(importlib.import_module(module_name), function)


def serve(submission: str, requests_fd: int, replies_fd: int) -> None:
    """Answer requests until the channel closes."""
    from autograder.sandbox import wire
    from autograder.sandbox.probing import StudentError, to_plain

    wire.send(replies_fd, {"ready": True})
    while True:
        try:
            request = wire.receive(requests_fd)
        except EOFError:
            return
        try:
            probe = _resolve(request["probe"])
            seed = int(request.get("seed", 0))
            _seed_everything(seed)
            value = to_plain(probe(**request.get("args", {})))
            reply = {"ok": True, "value": value}
        except StudentError as error:
            reply = {"ok": False, "error": str(error)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
            reply = {"ok": False, "error": _student_traceback(error, submission)}
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            wire.send(replies_fd, reply)
        except wire.WireError as error:
            wire.send(replies_fd, {"ok": False, "error": f"the result cannot be sent back: {error}"})


def _seed_everything(seed: int) -> None:
    import random

    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def main() -> None:
    submission = os.path.abspath(sys.argv[1])
    threads = int(os.environ.get("AUTOGRADER_THREADS", "1"))
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    for name in PRELOADED:  # imported before the submission is on sys.path: a student torch.py shadows nothing
        importlib.import_module(name)
    import torch

    torch.set_num_threads(threads)
    import autograder.sandbox.probing  # noqa: F401 - preload the worker-side helpers

    sys.path.insert(0, submission)
    serve(submission, int(sys.argv[2]), int(sys.argv[3]))


if __name__ == "__main__":
    main()
