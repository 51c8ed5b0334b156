"""One place that sets how many threads torch, faiss and BLAS use (2 cores here, shared)."""
from __future__ import annotations

import os

_DEFAULT = int(os.environ.get("EMBEDLAB_THREADS", "2"))


def set_threads(n: int | None = None) -> int:
    """Set torch intra-op, torch inter-op (once) and faiss OpenMP threads to `n`; return it."""
    import torch

    n = max(1, int(n or _DEFAULT))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # may only be set once per process, before any parallel work
        pass
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass
    return n
