"""Run directories: config.json, model.pt (a state_dict), metrics.json, history.json, extra arrays.

A run is keyed by a hash of its config, so the app, the CLI and the benchmarks reuse each other's runs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from engine.errors import ConfigError, Message
from engine.paths import runs_dir

REQUIRED = ("config.json", "model.pt", "metrics.json")


class DamagedRunError(ConfigError):
    """A run directory whose files are missing, truncated or not valid JSON (damaged by hand or by a full disk)."""


def config_dict(config: Any) -> dict:
    """A plain JSON-able dict of a (frozen dataclass) config."""
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def config_hash(config: Any) -> str:
    """Stable 12-hex-digit key of a config (sorted JSON, sha1)."""
    blob = json.dumps(config_dict(config), sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def run_path(kind: str, name: str, config: Any, root: str | os.PathLike | None = None) -> Path:
    """Where the run of `config` lives: <runs>/<kind>/<name>-<hash>."""
    return runs_dir(root) / kind / f"{name}-{config_hash(config)}"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=float))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def read_json(path: Path) -> Any:
    """A run file's JSON, or DamagedRunError with a sentence that names the file and what to do."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise damaged(path.parent, _file_missing(path.name)) from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise damaged(path.parent, _bad_json(path.name, e)) from None


def save_state(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state_dict, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """Load a state_dict safely (tensors only, no pickled code); a truncated or missing file is a DamagedRunError."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise damaged(path.parent, _file_missing(path.name)) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise damaged(path.parent, _unreadable(path.name, e)) from None


def _file_missing(name: str) -> Message:
    return Message(f"{name} is missing", "damaged_file_missing", file=name)


def _bad_json(name: str, e: Exception) -> Message:
    return Message(f"{name} is not valid JSON ({e})", "damaged_bad_json", file=name, detail=str(e))


def _unreadable(name: str, e: Exception) -> Message:
    detail = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    return Message(f"{name} cannot be read ({detail})", "damaged_unreadable", file=name, detail=detail)


def damaged_message(run: Path, what: Message) -> Message:
    """The sentence for a damaged run (English; coded `run_damaged` with the run's name, what is wrong (itself a coded
    Message, so a page translates both parts) and its folder)."""
    return Message(f"The stored run {Path(run).name} is damaged: {what}. Retrain it (the page's retrain button, or the CLI's "
                   f"train command with --force), or delete the folder {run}.", "run_damaged", name=Path(run).name, what=what, path=str(run))


def damaged(run: Path, what: Message) -> DamagedRunError:
    """A DamagedRunError carrying `damaged_message`'s code and params."""
    return damaged_error(damaged_message(run, what))


def damaged_error(why: Message) -> DamagedRunError:
    """The error for a damaged-run sentence (`damaged_message`, `problem`), keeping its code and params."""
    return DamagedRunError(str(why), code=why.code, **why.params)


def problem(run: Path) -> Message | None:
    """Why a run directory cannot be used (a sentence), or None when it looks whole.

    Cheap: required files exist, the JSON files parse and model.pt is a complete zip archive (torch.save's format;
    a truncated file loses the archive's directory, which sits at its end)."""
    run = Path(run)
    if not run.is_dir():
        return damaged_message(run, Message("the folder is missing", "damaged_folder_missing"))
    for name in REQUIRED:
        if not (run / name).is_file():
            return damaged_message(run, _file_missing(name))
    for name in ("config.json", "metrics.json"):
        try:
            json.loads((run / name).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            return damaged_message(run, _bad_json(name, e))
    try:
        with zipfile.ZipFile(run / "model.pt") as z:
            z.namelist()
    except (zipfile.BadZipFile, OSError):
        return damaged_message(run, Message("model.pt is truncated or not a saved model", "damaged_model_truncated"))
    return None


def is_complete(run: Path) -> bool:
    """A run is usable: every required file is there and readable (see `problem`)."""
    return problem(run) is None


def _run_dirs(kind: str, root: str | os.PathLike | None) -> list[Path]:
    base = runs_dir(root) / kind
    if not base.exists():
        return []
    return [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]  # ".<name>.*.part": being built


def list_runs(kind: str, root: str | os.PathLike | None = None, complete: Callable[[Path], bool] | None = None) -> list[Path]:
    """Complete, readable runs of a kind, newest first (runs being built and damaged runs are left out). `complete`
    replaces `is_complete` for a kind whose runs hold other files (the X-ray preset's members)."""
    runs = [p for p in _run_dirs(kind, root) if (complete or is_complete)(p)]
    return sorted(runs, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)


def damaged_runs(kind: str, root: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Run directories of a kind that cannot be used, with the reason: [(path, sentence)]."""
    return [(p, why) for p in _run_dirs(kind, root) if (why := problem(p)) is not None]


# -- building a run: a temporary folder beside its final place, renamed into place when complete ------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_partial(final: Path) -> None:
    """Remove the temporary folders of `final` left by processes that died mid-run (kill -9, power cut)."""
    for p in Path(final).parent.glob(f".{Path(final).name}.*.part"):
        try:
            pid = int(p.name[len(final.name) + 2:].split(".")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def publish(tmp: Path, final: Path, replace: bool = False) -> bool:
    """Rename the finished folder `tmp` to `final` (atomic on one filesystem). When `final` already holds a complete
    run (another process finished the same config first) `tmp` is dropped, unless `replace`; a damaged `final` is
    always replaced. Returns True when `tmp` became `final`."""
    for _ in range(3):
        try:
            os.rename(tmp, final)  # fails when final exists and is not empty
            return True
        except OSError:
            if not final.exists():
                continue
        if not replace and is_complete(final):
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        trash = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old.part"
        try:
            os.rename(final, trash)
        except OSError:
            continue  # someone else moved it first: try again
        shutil.rmtree(trash, ignore_errors=True)
        replace = False
    shutil.rmtree(tmp, ignore_errors=True)
    raise OSError(f"Could not move the finished run into {final}; check the runs directory is writable.")


@contextlib.contextmanager
def building(final: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Write a run into a temporary folder beside `final`; on success it is renamed into place, on any error (or
    Ctrl-C, or cancellation) it is removed. A crash or kill -9 leaves only a hidden `.<name>.<pid>.*.part` folder
    that no listing shows and the next build of the same run sweeps away.

        with store.building(path) as tmp:
            store.save_json(tmp / "config.json", ...)
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_partial(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".part", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish(tmp, final, replace=replace)
