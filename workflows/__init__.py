"""Temporal workflows: they orchestrate; the rules live in `domain`."""
