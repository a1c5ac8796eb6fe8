"""Judges shared by every grader: they run in the trusted grader process on plain data from probes."""


class CheckFailed(AssertionError):
    """A check the submission did not pass; the message is the student's feedback."""


class ProbeFailed(Exception):
    """A probe that did not produce a value: student exception, timeout, crash or bad reply."""


class GraderFault(ProbeFailed):
    """The probe could not run for a reason of the grading machine (the worker did not start): never the
    student's fault."""


class OutOfTime(ProbeFailed):
    """The probe was stopped at the grading deadline before its own timeout."""
