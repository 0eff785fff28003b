"""The benchmark harness behind ./scripts/bench (see docs/benchmarks.md)."""
