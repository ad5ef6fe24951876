"""Fake provider HTTP servers for the tests (127.0.0.1, a free port, stop by themselves)."""
