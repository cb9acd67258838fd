"""Runnable examples; a package so that workers can import their job functions by name."""
