"""File helpers shared by the dataset sources."""
from __future__ import annotations

import hashlib
from pathlib import Path


def md5sum(path: str | Path) -> str:
    """Hex md5 of a file, read in 1 MiB blocks (the checksums GroupLens and Zenodo publish)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
