"""pytest graders, one folder per assignment (trusted side)."""
