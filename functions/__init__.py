"""Sprout's deployable units: one functions-framework target per HTTP function, and the worker."""
