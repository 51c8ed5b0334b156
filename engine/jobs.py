"""Training jobs in the app process: a small worker pool, one job per run (config hash), shared progress.

Several visitors may ask for the same model at the same moment (a class opening a page on a fresh server). A page
never trains inside its own script run; it asks the process's one `JobRunner`:

    job = runner().submit(key=store.config_hash(config), work=lambda progress, on_epoch: train(config, ...),
                          label="MIND on synthetic", owner=session_id)
    job.snapshot()   # {"state", "fraction", "message", "history", "error", ...} for any session to draw
    runner().cancel(key, owner=session_id)

- One job per key: a second `submit` with the key of a queued or running job returns that job (it attaches).
- Workers: a `concurrent.futures.ThreadPoolExecutor` capped at the machine's cores; more jobs wait in its queue.
- Progress is kept on the job, not in a session, so every session that waits sees the same epochs, loss and
  validation Recall@50, and a closed tab (its session gone) does not stop a job.
- Cancel is cooperative: the job's progress and epoch callbacks raise `Cancelled` once the owner asked for it (the
  trainer calls them every 50 batches and after every epoch); the run's temporary folder is then removed
  (engine.store.building), so nothing half-written stays behind.
- Threads: torch's thread count is process-wide. In the app, training jobs and page computations share the
  process, so the app sets torch (and faiss) to ONE thread (`APP_THREADS`) and gets its parallelism from the pool
  instead: up to `cores` jobs at once, each on one core, while page reruns stay short and do not fight a job's
  threads for the same cores. The CLI trains in the foreground with its own `--threads`.

The engine never imports streamlit; the pages draw `snapshot()`.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.errors import EmbedLabError, Message

APP_THREADS = 1  # torch / faiss threads in a process that serves pages and runs jobs (see the module docstring)
KEEP_FINISHED = 64  # finished jobs remembered (for sessions that come back to read the outcome)

Work = Callable[[Callable[[float, str], None], Callable[[list[dict]], None]], Any]


class Cancelled(Exception):
    """Raised inside a job's callbacks once its owner cancelled it."""


@dataclass
class Job:
    key: str
    label: str
    owner: str | None
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = field(default_factory=lambda: Message("waiting for a free worker", "job_waiting"))
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    result: Any = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    attached: int = 1  # how many submits asked for this job
    future: Future | None = None
    _seen: dict = field(default_factory=dict, repr=False)  # session id -> last time it drew this job
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def progress(self, fraction: float, message: str) -> None:
        """The engine's progress callback; raises Cancelled once cancel was asked for."""
        if self._cancel.is_set():
            raise Cancelled(self.key)
        self.fraction, self.message = min(1.0, max(0.0, float(fraction))), message if isinstance(message, str) else str(message)  # a coded Message stays one

    def on_epoch(self, history: list[dict]) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.key)
        self.history = list(history)

    def seen_by(self, session: str) -> None:
        """A session drew this job just now (a page's progress fragment calls it on every redraw)."""
        self._seen[session] = time.time()

    def watchers(self, within: float = 15.0) -> int:
        """Sessions that drew this job in the last `within` seconds (closed tabs drop out)."""
        now = time.time()
        return sum(1 for t in list(self._seen.values()) if now - t <= within)

    def snapshot(self) -> dict:
        """A plain copy any session can draw (no references to the live job's lists)."""
        return {"key": self.key, "label": self.label, "state": self.state, "fraction": self.fraction,
                "message": self.message, "history": list(self.history), "error": self.error, "owner": self.owner,
                "attached": self.attached, "watchers": self.watchers(), "seconds": (self.finished or time.time()) - (self.started or self.submitted)}


class JobRunner:
    """A worker pool running at most one job per key; see the module docstring."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="embedlab-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.started_count = 0  # jobs actually started (not attached), for tests and the load bench

    def submit(self, key: str, work: Work, label: str = "", owner: str | None = None) -> Job:
        """Start `work(progress, on_epoch)` as the job `key`, or return the queued / running job of that key."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.active:
                job.attached += 1
                return job
            job = Job(key=key, label=label or key, owner=owner)
            self._jobs[key] = job
            self.started_count += 1
            job.future = self._pool.submit(self._run, job, work)
            self._forget_old()
            return job

    def _run(self, job: Job, work: Work) -> None:
        if job._cancel.is_set():
            job.state, job.message, job.finished = "cancelled", Message("cancelled before it started", "job_cancelled_early"), time.time()
            return
        job.state, job.started, job.message = "running", time.time(), Message("starting", "job_starting")
        print(f"[jobs] started {job.key}: {job.label}", file=sys.stderr, flush=True)  # the server log counts trainings
        try:
            job.result = work(job.progress, job.on_epoch)
            job.state, job.fraction = "done", 1.0
        except Cancelled:
            job.state, job.message = "cancelled", Message("cancelled", "job_cancelled")
        except EmbedLabError as e:  # a sentence for people
            job.state, job.error = "failed", str(e)
        except Exception as e:  # noqa: BLE001 - a job must never take the worker down; the page shows a sentence
            job.state = "failed"
            job.error = f"Training stopped with an unexpected error ({type(e).__name__}: {e}). Try again; if it repeats, train from the CLI to see details."
            traceback.print_exc()
        finally:
            job.finished = time.time()

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: str, owner: str | None) -> bool:
        """Ask the job `key` to stop; only its owner (the session that started it) may. True when asked."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active or job.owner != owner:
                return False
            job._cancel.set()
            job.message = Message("cancelling…", "job_cancelling")
            return True

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[Job]:
        return [j for j in self.jobs() if j.active]

    def wait(self, key: str, timeout: float | None = None) -> Job | None:
        """Block until the job `key` has finished (CLI, tests)."""
        job = self.get(key)
        if job is not None and job.future is not None:
            try:
                job.future.result(timeout)
            except Exception:  # noqa: BLE001 - the outcome is on the job
                pass
        return job

    def _forget_old(self) -> None:
        done = sorted((j for j in self._jobs.values() if not j.active), key=lambda j: j.finished or 0)
        for j in done[: max(0, len(done) - KEEP_FINISHED)]:
            self._jobs.pop(j.key, None)

    def shutdown(self) -> None:
        for j in self.jobs():
            j._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


_RUNNER: JobRunner | None = None
_RUNNER_LOCK = threading.Lock()


def runner() -> JobRunner:
    """The process's one job runner (created on first use)."""
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = JobRunner()
        return _RUNNER


def train_recsys(config, owner: str | None = None, force: bool = False, label: str = "") -> Job:
    """Submit (or attach to) the recall training of `config` as a job keyed by its config hash."""
    from engine import store
    from engine.recsys.run import train

    def work(progress, on_epoch):  # returns a small summary: a finished job never holds a model in memory
        run = train(config, progress=progress, on_epoch=on_epoch, threads=APP_THREADS, force=force)
        return {"path": str(run.path), "test/recall@50": float(run.metrics.get("test/recall@50", float("nan")))}

    return runner().submit(store.config_hash(config), work, label=label or f"{config.model} on {config.dataset}", owner=owner)
