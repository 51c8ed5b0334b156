"""One faiss wrapper for every nearest-neighbour search in the project (items and images).

Kinds: exact (`IndexFlatIP`), IVF (`IndexIVFFlat`, nlist / nprobe), IVF-PQ (`IndexIVFPQ`: nlist /
nprobe, `pq_m` sub-quantizers of `pq_nbits` bits: pq_m * pq_nbits / 8 bytes per vector plus its
8-byte id), PQ alone (`IndexPQ`, every code scanned: no ids, no lists), a scalar quantizer (`IndexScalarQuantizer`:
each component stored in `sq_bits` = 4 or 8 bits over its trained range, every code scanned; d * sq_bits / 8 bytes
per vector, 4 bits = 1/8 of Flat) and HNSW (`IndexHNSWFlat`, M / efSearch). Metric: inner product, or cosine (inner product
of L2-normalised vectors). `train_sample` > 0 trains the IVF coarse quantizer (and PQ codebooks) on
that many rows drawn with `seed` instead of all of them (a 1M-row catalogue needs no more than a few
hundred thousand). `tune` changes nprobe / efSearch without a rebuild; `memory_bytes` is the size of
the serialised index (what it costs to hold in memory).
Rows may be excluded per query (R1 excludes padding and each user's history).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import faiss
import numpy as np

from engine.errors import ConfigError

TIE_MARGIN = 32


@dataclass(frozen=True)
class IndexSpec:
    kind: Literal["exact", "ivf", "ivfpq", "pq", "sq", "hnsw"] = "exact"
    metric: Literal["ip", "cosine"] = "ip"
    nlist: int = 32
    nprobe: int = 4
    hnsw_m: int = 16
    ef_search: int = 64
    ef_construction: int = 80
    seed: int = 0
    pq_m: int = 16
    pq_nbits: int = 8
    sq_bits: int = 4
    train_sample: int = 0  # 0: train IVF / PQ / SQ on every row


def _as_f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


class VectorIndex:
    """Vectors (n x d) searchable by inner product or cosine; row r answers as id r."""

    def __init__(self, vectors: np.ndarray, spec: IndexSpec = IndexSpec()) -> None:
        x = _as_f32(vectors)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ConfigError(f"Need a non-empty 2-D array of vectors, got shape {x.shape}.")
        self.spec = spec
        self.n, self.d = x.shape
        if spec.metric == "cosine":
            x = x.copy()
            faiss.normalize_L2(x)
        if spec.kind == "exact":
            index: faiss.Index = faiss.IndexFlatIP(self.d)
        elif spec.kind in ("ivf", "ivfpq"):
            if spec.nlist < 1 or spec.nlist > self.n:
                raise ConfigError(f"IVF nlist must be between 1 and the number of vectors ({self.n}); got {spec.nlist}.", code="nlist_range", n=self.n, nlist=spec.nlist)
            if not 1 <= spec.nprobe <= spec.nlist:
                raise ConfigError(f"nprobe ({spec.nprobe}) must be between 1 and nlist ({spec.nlist}): lower nprobe or raise nlist.", code="nprobe_range", nprobe=spec.nprobe, nlist=spec.nlist)
            quantizer = faiss.IndexFlatIP(self.d)
            if spec.kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, self.d, spec.nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                if spec.pq_m < 1 or self.d % spec.pq_m:
                    raise ConfigError(f"IVF-PQ's pq_m ({spec.pq_m}) must divide the vector size ({self.d}); try {self.d // 4} or {self.d // 8}.")
                if not 1 <= spec.pq_nbits <= 16:
                    raise ConfigError(f"pq_nbits must be between 1 and 16; got {spec.pq_nbits}.")
                index = faiss.IndexIVFPQ(quantizer, self.d, spec.nlist, spec.pq_m, spec.pq_nbits, faiss.METRIC_INNER_PRODUCT)
                index.pq.cp.seed = spec.seed
            index.cp.seed = spec.seed
            index.train(self._training_rows(x, spec))
            index.nprobe = spec.nprobe
            self._quantizer = quantizer  # keep alive
        elif spec.kind == "pq":
            if spec.pq_m < 1 or self.d % spec.pq_m or not 1 <= spec.pq_nbits <= 16:
                raise ConfigError(f"PQ's pq_m ({spec.pq_m}) must divide the vector size ({self.d}) and pq_nbits be 1-16.")
            index = faiss.IndexPQ(self.d, spec.pq_m, spec.pq_nbits, faiss.METRIC_INNER_PRODUCT)
            index.pq.cp.seed = spec.seed
            index.train(self._training_rows(x, spec))
        elif spec.kind == "sq":
            qtype = {4: faiss.ScalarQuantizer.QT_4bit, 8: faiss.ScalarQuantizer.QT_8bit}.get(spec.sq_bits)
            if qtype is None:
                raise ConfigError(f"The scalar quantizer stores 4 or 8 bits per component; got {spec.sq_bits}.")
            index = faiss.IndexScalarQuantizer(self.d, qtype, faiss.METRIC_INNER_PRODUCT)
            index.train(self._training_rows(x, spec))  # each component's range
        elif spec.kind == "hnsw":
            if spec.hnsw_m < 2:
                raise ConfigError(f"HNSW M must be at least 2; got {spec.hnsw_m}.", code="hnsw_m", m=spec.hnsw_m)
            index = faiss.IndexHNSWFlat(self.d, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = spec.ef_construction
            index.hnsw.efSearch = max(1, spec.ef_search)
        else:
            raise ConfigError(f"Unknown index kind {spec.kind!r}; choose exact, ivf, ivfpq, pq, sq or hnsw.")
        index.add(x)
        self.index = index

    @staticmethod
    def _training_rows(x: np.ndarray, spec: IndexSpec) -> np.ndarray:
        if spec.train_sample <= 0 or spec.train_sample >= len(x):
            return x
        rows = np.sort(np.random.default_rng(spec.seed).choice(len(x), spec.train_sample, replace=False))
        return np.ascontiguousarray(x[rows])

    def tune(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Change the search-time knobs of a built index (IVF: nprobe; HNSW: efSearch)."""
        if nprobe is not None and self.spec.kind in ("ivf", "ivfpq"):
            if not 1 <= nprobe <= self.spec.nlist:
                raise ConfigError(f"nprobe ({nprobe}) must be between 1 and nlist ({self.spec.nlist}).")
            self.index.nprobe = int(nprobe)
        if ef_search is not None and self.spec.kind == "hnsw":
            self.index.hnsw.efSearch = max(1, int(ef_search))

    def memory_bytes(self) -> int:
        """Bytes of the serialised index: vectors or codes, ids, graph links and trained tables."""
        return int(faiss.serialize_index(self.index).nbytes)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        exclude: Sequence[Sequence[int] | set[int] | np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows per query: (scores, ids), each (q x k), best first; -1 / -inf where fewer exist.

        `exclude[i]` lists rows query i must never get back (searched past, then dropped).
        Equal scores rank the lower id first (faiss leaves ties unordered), so that results are
        reproducible: a margin of `TIE_MARGIN` extra rows is fetched to settle ties at the cut.
        """
        q = _as_f32(queries)
        if q.ndim == 1:
            q = q[None, :]
        if self.spec.metric == "cosine":
            q = q.copy()
            faiss.normalize_L2(q)
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        kk = min(self.n, k + extra + TIE_MARGIN)
        scores, ids = self.index.search(q, kk)
        out_s = np.full((q.shape[0], k), -np.inf, dtype=np.float32)
        out_i = np.full((q.shape[0], k), -1, dtype=np.int64)
        for r in range(q.shape[0]):
            s, i = scores[r], ids[r]
            keep = i >= 0
            if exclude is not None and len(exclude[r]):
                keep &= ~np.isin(i, np.fromiter(exclude[r], dtype=np.int64))
            s, i = s[keep], i[keep]
            order = np.lexsort((i, -s))[:k]
            s, i = s[order], i[order]
            out_s[r, : len(s)] = s
            out_i[r, : len(i)] = i
        return out_s, out_i
