"""Training jobs in the app process: a small worker pool, one job per run (config hash), shared progress.

Several visitors may ask for the same model at the same moment (a class opening a page on a fresh server). A page
never trains inside its own script run; it asks the process's one `JobRunner`:

    job = runner().submit(key=store.config_hash(config), work=lambda progress, on_epoch: train(config, ...),
                          label="MIND on synthetic", owner=session_id)
    job.snapshot()   # {"state", "fraction", "message", "history", "error", ...} for any session to draw
    runner().cancel(key, owner=session_id)

- One job per key: a second `submit` with the key of a queued or running job returns that job (it attaches).
- Workers: a `concurrent.futures.ThreadPoolExecutor` capped at the machine's cores; more jobs wait in its queue.
  Each worker thread runs its job in a child process (multiprocessing, "spawn") and pumps the child's progress
  from a queue onto the job: training then holds neither the server's GIL nor its memory, so pages stay quick
  while a job runs and a finished job's model is freed with its process. `work` must then be picklable (a
  top-level function or a functools.partial of one). `JobRunner(processes=False)` runs jobs in the worker thread
  itself (tests of the runner's bookkeeping with closures).
- Progress is kept on the job, not in a session, so every session that waits sees the same epochs, loss and
  validation Recall@50, and a closed tab (its session gone) does not stop a job.
- Cancel is cooperative: the job's progress and epoch callbacks raise `Cancelled` once the owner asked for it (the
  trainer calls them every 50 batches and after every epoch); the run's temporary folder is then removed
  (engine.store.building), so nothing half-written stays behind. A child process that dies (killed, out of
  memory) fails its job with a sentence; its temporary folder is never listed as a run.
- Threads: torch's thread count is process-wide. In the app, training jobs and page computations share the
  process, so the app sets torch (and faiss) to ONE thread (`APP_THREADS`) and gets its parallelism from the pool
  instead: up to `cores` jobs at once, each on one core, while page reruns stay short and do not fight a job's
  threads for the same cores. The CLI trains in the foreground with its own `--threads`.

The engine never imports streamlit; the pages draw `snapshot()`.
"""
from __future__ import annotations

import functools
import multiprocessing as mp
import os
import queue as queue_
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
_SPAWN = mp.get_context("spawn")  # never fork the server: its threads (tornado, torch's pools) would not survive a fork

Work = Callable[[Callable[[float, str], None], Callable[[list[dict]], None]], Any]


class Cancelled(Exception):
    """Raised inside a job's callbacks once its owner cancelled it."""


@dataclass
class Job:
    key: str
    label: str
    owner: str | None
    kind: str = "recsys"  # what it trains: "recsys" (a recall run), "rank" or "xray"; pages draw their own kinds
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = field(default_factory=lambda: Message("waiting for a free worker", "job_waiting"))
    history: list[dict] = field(default_factory=list)
    error: str | None = None  # a sentence (a coded engine Message when the engine raised it)
    result: Any = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    attached: int = 1  # how many submits asked for this job
    future: Future | None = None
    pid: int | None = None  # the child process running it (process workers)
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

    def __init__(self, workers: int | None = None, processes: bool = True) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.processes = processes
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="embedlab-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.started_count = 0  # jobs actually started (not attached), for tests and the load bench

    def submit(self, key: str, work: Work, label: str = "", owner: str | None = None, kind: str = "recsys") -> Job:
        """Start `work(progress, on_epoch)` as the job `key`, or return the queued / running job of that key."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.active:
                job.attached += 1
                return job
            job = Job(key=key, label=label or key, owner=owner, kind=kind)
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
            outcome = self._in_child(job, work) if self.processes else _outcome(work, job.progress, job.on_epoch)
            job.state = outcome[0]
            if job.state == "done":
                job.result, job.fraction = outcome[1], 1.0
            elif job.state == "cancelled":
                job.message = Message("cancelled", "job_cancelled")
            else:
                job.error = outcome[1]
        finally:
            job.finished = time.time()

    def _in_child(self, job: Job, work: Work) -> tuple[str, Any]:
        """Run `work` in a spawned child process; its progress and epochs arrive through a queue."""
        events = _SPAWN.Queue()
        cancel = _SPAWN.Event()
        child = _SPAWN.Process(target=_child_main, args=(work, events, cancel), name=f"embedlab-job-{job.key[:8]}", daemon=True)
        child.start()
        job.pid = child.pid
        try:
            while True:
                if job._cancel.is_set():
                    cancel.set()
                try:
                    kind, *payload = events.get(timeout=0.2)
                except queue_.Empty:
                    if not child.is_alive():  # died without a word: killed, or out of memory
                        return "failed", Message(f"The training process stopped unexpectedly (exit code {child.exitcode}). Try again; "
                                                 "if it repeats, train from the CLI to see details.", "job_died", exitcode=child.exitcode)
                    continue
                if kind == "progress":
                    job.fraction, job.message = payload
                elif kind == "epoch":
                    job.history = payload[0]
                else:
                    return kind, payload[0]
        finally:
            child.join(5)
            if child.is_alive():
                child.kill()
            events.close()

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


def _outcome(work: Work, progress, on_epoch) -> tuple[str, Any]:
    """("done", result) | ("cancelled", None) | ("failed", sentence): how `work` ended, never raising."""
    try:
        return "done", work(progress, on_epoch)
    except Cancelled:
        return "cancelled", None
    except EmbedLabError as e:  # a sentence for people, coded so the page can translate it
        return "failed", Message.of(e)
    except Exception as e:  # noqa: BLE001 - a job must never take the worker down; the page shows a sentence
        traceback.print_exc()
        return "failed", Message(f"Training stopped with an unexpected error ({type(e).__name__}: {e}). Try again; if it repeats, "
                                 "train from the CLI to see details.", "job_unexpected", kind=type(e).__name__, detail=str(e))


def _child_main(work: Work, events, cancel) -> None:
    """A job's child process: run `work`, sending progress, epochs and the outcome to the parent."""
    def progress(fraction: float, message: str) -> None:
        if cancel.is_set():
            raise Cancelled()
        events.put(("progress", min(1.0, max(0.0, float(fraction))), message if isinstance(message, str) else str(message)))

    def on_epoch(history: list[dict]) -> None:
        if cancel.is_set():
            raise Cancelled()
        events.put(("epoch", list(history)))

    events.put(_outcome(work, progress, on_epoch))
    events.close()
    events.join_thread()  # the outcome is in the pipe before the process exits


_RUNNER: JobRunner | None = None
_RUNNER_LOCK = threading.Lock()


def runner() -> JobRunner:
    """The process's one job runner (created on first use)."""
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = JobRunner()
        return _RUNNER


def recsys_work(config, force: bool, runs_root: str | None, progress, on_epoch) -> dict:
    """A recall training as job work (top level, so a child process can run it); returns a small summary: a finished
    job never holds a model in memory."""
    from engine.recsys.run import train

    run = train(config, runs_root=runs_root, progress=progress, on_epoch=on_epoch, threads=APP_THREADS, force=force)
    return {"path": str(run.path), "test/recall@50": float(run.metrics.get("test/recall@50", float("nan")))}


def train_recsys(config, owner: str | None = None, force: bool = False, label: str = "", runs_root: str | None = None) -> Job:
    """Submit (or attach to) the recall training of `config` as a job keyed by its config hash."""
    from engine import store

    work = functools.partial(recsys_work, config, force, None if runs_root is None else str(runs_root))
    return runner().submit(store.config_hash(config), work, label=label or f"{config.model} on {config.dataset}", owner=owner)


def xray_work(config, runs_root: str | None, progress, on_epoch) -> dict:
    """An X-ray fine-tuning as job work (top level, for a child process); the trainer reports one epoch record at a
    time, the job keeps the history. Returns a small summary."""
    from engine.vision.train import train_and_save

    history: list[dict] = []

    def each(rec: dict) -> None:
        history.append(rec)
        on_epoch(list(history))

    return _xray_summary(train_and_save(config, runs_root, progress=progress, on_epoch=each))


def _xray_summary(out) -> dict:
    """What an X-ray job returns: the run's path and its test AUC and ACC."""
    from engine.store import load_json

    m = load_json(out / "metrics.json")
    return {"path": str(out), "test/auc": float(m["test/auc"]), "test/acc": float(m["test/acc"])}


def xray_key(config) -> str:
    from engine import store

    return "xray-" + store.config_hash(config.resolved())


def xray_best_work(seed: int, member, runs_root: str | None, progress, on_epoch) -> dict:  # noqa: ARG001 (no epoch curve: three models)
    """The `best` preset (engine.vision.best_preset) as job work: trained into the run store, or reused."""
    from engine.vision.best_preset import train_and_save_best

    return _xray_summary(train_and_save_best(seed, member, runs_root, progress=progress))


def xray_best_key(seed: int, member=None) -> str:
    from engine import store
    from engine.vision.best_preset import preset_config

    return "xray-best-" + store.config_hash(preset_config(seed, member))


def train_xray_best(seed: int, member=None, owner: str | None = None, label: str = "", runs_root: str | None = None) -> Job:
    """Submit (or attach to) the training of the `best` preset for `seed` as a job."""
    work = functools.partial(xray_best_work, seed, member, None if runs_root is None else str(runs_root))
    return runner().submit(xray_best_key(seed, member), work, label=label or f"X-ray best preset seed {seed}", owner=owner, kind="xray")


def train_xray(config, owner: str | None = None, label: str = "", runs_root: str | None = None) -> Job:
    """Submit (or attach to) the X-ray training of `config` as a job keyed by its resolved config."""
    work = functools.partial(xray_work, config, None if runs_root is None else str(runs_root))
    return runner().submit(xray_key(config), work, label=label or f"X-ray {config.strategy} seed {config.seed}", owner=owner, kind="xray")


def rank_work(config, runs_root: str | None, progress, on_epoch) -> dict:
    """A ranker training (engine.rank.run.train) as job work (top level, for a child process); returns the run's path
    and its test AUC."""
    from engine.rank.run import train

    run = train(config, runs_root=runs_root, progress=progress, on_epoch=on_epoch, threads=APP_THREADS)
    return {"path": str(run.path), "test/auc": float(run.metrics["test/auc"])}


def rank_key(config) -> str:
    from engine import store

    return "rank-" + store.config_hash(config)


def train_rank(config, owner: str | None = None, label: str = "", runs_root: str | None = None) -> Job:
    """Submit (or attach to) the training of ranker `config` as a job keyed by its config hash."""
    work = functools.partial(rank_work, config, None if runs_root is None else str(runs_root))
    return runner().submit(rank_key(config), work, label=label or f"{config.model} on {config.dataset}", owner=owner, kind="rank")
