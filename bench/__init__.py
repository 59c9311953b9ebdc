"""Benchmarks against baselines in the same run; ratios, not absolute seconds."""
