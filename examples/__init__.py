"""Runnable examples: ``python -m examples.squares [--url URL]`` from the repository root."""
