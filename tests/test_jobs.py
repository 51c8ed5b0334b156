"""Training jobs and atomic run directories: one job per config, nothing half-written, damaged runs named."""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import PAGES

from engine import store
from engine.jobs import JobRunner, recsys_work
from engine.recsys.run import KIND, RecsysConfig, list_runs, load_run, train

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(model="youtubednn", dataset="synthetic", seed=0, dim=8, epochs=1)


def test_two_sessions_asking_for_one_config_start_one_job_and_only_its_owner_cancels():
    runner = JobRunner(workers=2, processes=False)  # the bookkeeping, with closures (a child process cannot take them)
    gate = threading.Event()
    calls = []

    def work(progress, on_epoch):
        calls.append(1)
        while not gate.wait(0.01):
            progress(0.5, "working")  # raises Cancelled once cancelled
        return "ok"

    a = runner.submit("cfg-1", work, owner="session-a")
    b = runner.submit("cfg-1", work, owner="session-b")  # the second visitor attaches
    assert a is b and a.attached == 2 and runner.started_count == 1
    other = runner.submit("cfg-2", work, owner="session-b")
    assert other is not a and runner.started_count == 2
    assert not runner.cancel("cfg-1", owner="session-b")  # not the owner
    assert runner.cancel("cfg-1", owner="session-a")
    assert runner.wait("cfg-1", 10).state == "cancelled"
    gate.set()
    assert runner.wait("cfg-2", 10).state == "done" and other.result == "ok"
    assert len(calls) == 2
    again = runner.submit("cfg-1", work, owner="session-b")  # a cancelled job can be started again
    assert again is not a and runner.wait("cfg-1", 10).state == "done"
    runner.shutdown()


def test_two_sessions_training_one_real_config_train_it_once_in_a_child_process(tmp_path):
    runner = JobRunner(workers=2)  # process workers, as in the app
    cfg = RecsysConfig(**TINY)
    work = functools.partial(recsys_work, cfg, False, str(tmp_path))
    jobs = [runner.submit(store.config_hash(cfg), work, owner=s) for s in ("a", "b", "c")]
    assert len({id(j) for j in jobs}) == 1 and runner.started_count == 1
    job = runner.wait(jobs[0].key, 180)
    assert job.state == "done", job.error
    assert job.pid is not None and job.pid != os.getpid()  # trained in a child, not in this (the server's) process
    assert len(job.history) == 1 and "val/recall@50" in job.history[0]  # epochs came back through the queue
    assert getattr(job.message, "code", None) == "progress_done"  # a coded Message survives the trip
    assert [str(r["path"]) for r in list_runs(tmp_path)] == [job.result["path"]]
    runner.shutdown()


def _sleep_until_file(path: str, progress, on_epoch) -> str:
    """Job work for the process tests: reports progress until `path` exists."""
    while not os.path.exists(path):
        progress(0.5, "working")  # raises Cancelled once cancelled
        time.sleep(0.02)
    return "ok"


def _exit_hard(progress, on_epoch) -> None:
    progress(0.1, "about to die")
    os._exit(3)  # as a kill -9 or the kernel's OOM killer would end it: no exception, no word


def test_a_process_job_is_cancelled_by_its_owner_and_a_dead_one_fails_with_a_sentence(tmp_path):
    runner = JobRunner(workers=2)
    gate = tmp_path / "go"
    job = runner.submit("cfg-1", functools.partial(_sleep_until_file, str(gate)), owner="a")
    deadline = time.time() + 60
    while job.state != "running" or job.fraction < 0.5:  # the child is up and reporting
        assert time.time() < deadline, job.snapshot()
        time.sleep(0.05)
    assert not runner.cancel("cfg-1", owner="b") and runner.cancel("cfg-1", owner="a")
    assert runner.wait("cfg-1", 30).state == "cancelled"
    dead = runner.submit("cfg-2", _exit_hard, owner="a")
    assert runner.wait("cfg-2", 60).state == "failed"
    assert dead.error.code == "job_died" and "3" in str(dead.error)
    gate.touch()
    again = runner.submit("cfg-1", functools.partial(_sleep_until_file, str(gate)), owner="b")
    assert runner.wait("cfg-1", 60).state == "done" and again.result == "ok"
    runner.shutdown()


def test_two_processes_racing_on_one_config_end_with_one_complete_run(tmp_path):
    cfg = RecsysConfig(**TINY)
    errors = []

    def go():
        try:
            train(cfg, runs_root=tmp_path, force=True, threads=1)  # force: both really train and publish
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=go) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    base = tmp_path / KIND
    assert [p.name for p in base.iterdir()] == [store.run_path(KIND, cfg.model, cfg, tmp_path).name]  # no .part left
    assert store.is_complete(store.run_path(KIND, cfg.model, cfg, tmp_path))


def test_a_training_killed_mid_write_leaves_no_listed_run_and_the_next_one_cleans_up(tmp_path):
    cfg = RecsysConfig(**TINY)
    final = store.run_path(KIND, cfg.model, cfg, tmp_path)
    marker = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from engine import store
        from engine.recsys.run import RecsysConfig, train
        real = store.save_json
        def stall(path, obj):
            if Path(path).name == "metrics.json":   # model.pt and the rest are written: hang before the last file
                Path({str(marker)!r}).write_text("1")
                time.sleep(600)
            real(path, obj)
        store.save_json = stall
        train(RecsysConfig(**{TINY!r}), runs_root={str(tmp_path)!r}, threads=1)
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, "the training process ended early"
            assert time.time() < deadline
            time.sleep(0.1)
        partial = list((tmp_path / KIND).glob(f".{final.name}.*.part"))
        assert len(partial) == 1 and (partial[0] / "model.pt").exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not final.exists()
    assert list_runs(tmp_path) == [] and store.list_runs(KIND, tmp_path) == [] and store.damaged_runs(KIND, tmp_path) == []
    train(cfg, runs_root=tmp_path, threads=1)  # the next build of the same run sweeps the dead process's folder
    assert [p.name for p in (tmp_path / KIND).iterdir()] == [final.name]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("damage")
    run = train(RecsysConfig(**TINY), runs_root=root, threads=1)
    return root, run.path


@pytest.mark.parametrize("damage, says", [
    (lambda p: (p / "model.pt").write_bytes((p / "model.pt").read_bytes()[:200]), "model.pt is truncated"),
    (lambda p: (p / "metrics.json").write_text('{"test/recall@50": 0.'), "metrics.json is not valid JSON"),
    (lambda p: (p / "config.json").unlink(), "config.json is missing"),
])
def test_a_damaged_run_is_named_not_listed_and_retrained(stored, tmp_path, damage, says):
    import shutil

    root, good = stored
    path = tmp_path / KIND / good.name
    shutil.copytree(good, path)
    damage(path)
    assert list_runs(tmp_path) == []
    [(p, why)] = store.damaged_runs(KIND, tmp_path)
    assert p == path and says in why and "Retrain it" in why
    with pytest.raises(store.DamagedRunError, match=says):
        load_run(path)
    if "model.pt" not in says:  # the CLI once (a process start costs seconds): the other damages the same way
        train(RecsysConfig(**TINY), runs_root=tmp_path, threads=1)
        assert [r["path"] for r in list_runs(tmp_path)] == [path]
        return
    # the CLI: a sentence on stderr, exit 0, the run rebuilt in place
    env = dict(os.environ, OMP_NUM_THREADS="1", EMBEDLAB_RUNS_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "engine", "recsys", "train", "--model", "youtubednn", "--dataset", "synthetic",
                          "--dim", "8", "--epochs", "1", "--threads", "1"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "is damaged" in out.stderr and "Traceback" not in out.stderr
    assert store.is_complete(path) and [r["path"] for r in list_runs(tmp_path)] == [path]


def test_the_routing_page_names_a_damaged_default_run_and_offers_a_retrain_button(stored, tmp_path, monkeypatch):
    import shutil

    from pages.common import default_config

    root, good = stored
    cfg = default_config("synthetic", 0)
    path = store.run_path(KIND, cfg.model, cfg, tmp_path)
    path.parent.mkdir(parents=True)
    shutil.copytree(good, path)
    (path / "model.pt").write_bytes(b"")  # an empty weights file (a full disk)
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(f"{PAGES}/routing.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("is damaged" in e.value and "model.pt" in e.value for e in at.error), [e.value for e in at.error]
    assert [b.label for b in at.button] == ["Retrain this run"]


def test_a_five_million_row_log_is_refused_before_it_is_parsed(tmp_path):
    from engine.data.csvlog import MAX_ROWS, count_rows, load_csv
    from engine.data.uploads import save_upload
    from engine.errors import DataError

    data = b"user,item,timestamp\n" + b"1,2,3\n" * 5_000_000
    assert count_rows(data) == 5_000_000 and count_rows(b"u,i,t\n1,2,3") == 1
    with pytest.raises(DataError, match=f"more than {MAX_ROWS:,} rows"):
        save_upload("big.csv", data, runs_root=tmp_path)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    del data
    assert count_rows(path) > MAX_ROWS
    with pytest.raises(DataError, match="Sample it down"):
        load_csv(path)


def test_an_xray_fine_tuning_runs_as_a_shared_job_in_a_child_process(tmp_path):
    from conftest import shared_data_or_skip
    from engine.jobs import xray_key, xray_work
    from engine.vision.train import XrayConfig, list_xray_runs

    shared_data_or_skip("medmnist", "pneumoniamnist.npz")
    cfg = XrayConfig(strategy="scratch", seed=0, epochs=1, train_subset=200, threads=1)
    runner = JobRunner(workers=1)
    work = functools.partial(xray_work, cfg, str(tmp_path))
    a, b = (runner.submit(xray_key(cfg), work, owner=s) for s in ("a", "b"))
    assert a is b and runner.started_count == 1
    job = runner.wait(a.key, 600)
    assert job.state == "done", job.error
    assert len(job.history) == 1 and "val_auc" in job.history[0]
    assert [str(r["path"]) for r in list_xray_runs(tmp_path)] == [job.result["path"]]
    assert 0.0 <= job.result["test/auc"] <= 1.0
    runner.shutdown()
