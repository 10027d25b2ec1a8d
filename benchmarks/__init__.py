"""Benchmarks: commands that print figures, kept apart from the tests (`python -m benchmarks.X`)."""
