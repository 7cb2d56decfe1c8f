"""Benchmark scripts (``make benchmark``); not part of the installed package."""
