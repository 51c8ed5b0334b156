"""One way to serve the app and drive Debian's chromium, shared by the browser tests, bench/pages_latency.py
and assets/screenshots/make_screenshots.py (plain module: no pytest needed)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

# True once Streamlit's status widget no longer says the script is running (or connecting): the run has finished.
IDLE_JS = """() => { const w = document.querySelector('[data-testid="stStatusWidget"]');
                     return !w || !/Running|Connecting/.test(w.innerText); }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_streamlit(runs_root: str | Path, log_path: str | Path | None = None) -> Iterator[str]:
    """Run `streamlit run app.py` on a free loopback port with its own runs directory; yield the base URL."""
    port = free_port()
    env = dict(os.environ, EMBEDLAB_RUNS_DIR=str(runs_root), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    env.setdefault("EMBEDLAB_THREADS", "2")
    with open(log_path or os.devnull, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--server.fileWatcherType=none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError(f"streamlit exited early; see {log_path}")
                    if time.time() > deadline:
                        raise RuntimeError("streamlit did not answer within 60 s")
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
