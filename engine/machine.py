"""One line that says which machine a benchmark ran on (every bench table carries it)."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine_line() -> str:
    """CPU model, visible cores, Python, torch and OS, e.g. for a table's "Machine:" line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}, torch {torch.__version__}, "
            f"{platform.system()} {platform.release()}")
