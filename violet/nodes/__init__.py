"""The node library: pure functions in a documented subset (see registry.py)."""
