"""Interaction logs a user hands to the app: checked whole, then kept as datasets beside the built-in ones.

A log is stored under `<runs>/uploads/` (the data directory may be read-only, as it is in CI) with
the first 8 hex digits of its content's sha1 in the name, so the same file uploaded twice is one
dataset and runs trained on it are found again. A log that would fail later (unreadable, missing
columns, too little left after R1's filtering) is refused at once with the loader's sentence and
nothing is kept.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from engine.data.csvlog import MAX_BYTES, MAX_ROWS, count_rows, load_csv, too_many_rows
from engine.data.r1 import make_r1
from engine.errors import DataError
from engine.paths import runs_dir

SUFFIXES = (".csv", ".tsv", ".txt")


def uploads_dir(runs_root: str | os.PathLike | None = None) -> Path:
    return runs_dir(runs_root) / "uploads"


def save_upload(name: str, data: bytes, runs_root: str | os.PathLike | None = None) -> Path:
    """Check an uploaded log (R1 split included) and keep it; returns its path, the dataset's name."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{name} is not a CSV or TSV log: upload a .csv, .tsv or .txt file with user, item and timestamp columns.", code="not_a_log", name=name)
    if len(data) > MAX_BYTES:
        raise DataError(f"{name} is larger than {MAX_BYTES // 2**20} MB; sample it down first.", code="log_too_large", name=name, mb=MAX_BYTES // 2**20)
    if (rows := count_rows(data)) > MAX_ROWS:  # before anything is written or parsed
        raise too_many_rows(name, rows)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(name).stem).strip("-") or "log"
    path = uploads_dir(runs_root) / f"{stem}-{hashlib.sha1(data).hexdigest()[:8]}{suffix}"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.parent / f".{path.name}.part{suffix}"  # same suffix: the loader picks the separator by it
    part.write_bytes(data)
    try:
        make_r1(load_csv(part), seed=0)
    except DataError as e:
        part.unlink(missing_ok=True)
        raise DataError(str(e).replace(part.name, name), code=e.code,
                        **{k: v.replace(part.name, name) if isinstance(v, str) else v for k, v in e.params.items()}) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    return path


def list_uploads(runs_root: str | os.PathLike | None = None) -> list[str]:
    """Stored logs, oldest first (their paths are the dataset names)."""
    folder = uploads_dir(runs_root)
    if not folder.exists():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")]
    return [str(p) for p in sorted(files, key=lambda p: p.stat().st_mtime)]
