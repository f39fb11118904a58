"""Simulated vendor APIs for the demo, the tests and the benchmarks."""
