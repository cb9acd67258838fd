"""Job functions of the examples, in a module so that Redis workers can import them too."""

from __future__ import annotations

import os
import sys


def greet(name: str) -> str:
    """Prints from the worker (its stdout), returns the greeting to the caller."""
    text = f"hello {name} from process {os.getpid()}"
    _say(text)
    return text


def show(number: int) -> int:
    _say(f"worker {os.getpid()} prints {number}")
    return number


def square(x: int) -> int:
    return x * x


def _say(line: str) -> None:
    """One write per line, so lines of several workers do not interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
