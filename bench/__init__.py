"""Benchmarks: each prints its time and a ratio against a naive baseline measured in the same run."""
