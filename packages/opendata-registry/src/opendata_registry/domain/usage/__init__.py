"""Usage: per-caller download and request counts."""
