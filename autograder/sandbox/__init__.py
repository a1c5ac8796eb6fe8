"""Isolated execution of student code: ``worker`` (untrusted side) and ``client`` (trusted side)."""
