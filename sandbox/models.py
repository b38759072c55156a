"""Sandbox data lives here (see sandbox/README.md)."""
