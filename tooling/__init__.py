"""Tooling used only by the tests and the benchmark: never imported by the running assistant."""
