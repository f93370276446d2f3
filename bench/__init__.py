"""Benchmark of our assistant against a stock Rasa assistant (see bench/README.md)."""
