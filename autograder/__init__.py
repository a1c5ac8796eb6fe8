"""Auto-graded assignment kit."""
