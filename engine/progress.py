"""The progress callback every long task takes: `progress(fraction in [0, 1], message)`."""
from __future__ import annotations

from typing import Callable

Progress = Callable[[float, str], None]


def silent(fraction: float, message: str) -> None:  # noqa: ARG001
    """A progress callback that does nothing."""


def terminal(fraction: float, message: str) -> None:
    """A one-line terminal progress bar (the CLI's)."""
    import sys

    width = 30
    filled = int(round(width * max(0.0, min(1.0, fraction))))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:6.1%} {message[:70]:<70}")
    if fraction >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()
