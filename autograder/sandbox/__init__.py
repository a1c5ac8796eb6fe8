"""Exactly the code that may run next to student code: the worker and its zygote (``worker``), the typed
plan it applies to itself (``plan``), the reply format (``wire``), the probes' helpers (``probing``) and the fast
data path (``fastdata``). The trusted side that starts workers is :mod:`autograder.workers`."""
