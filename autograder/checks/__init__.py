"""Judges shared by every grader: they run in the trusted grader process on plain data from probes."""


class CheckFailed(AssertionError):
    """A check the submission did not pass; the message is the student's feedback."""
