"""Benchmarks of the case desk against bare Temporal workflows."""
