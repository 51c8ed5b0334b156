"""faiss trade-offs through the one wrapper, at 10k x 64 (the 1M table lives in bench/faiss_scale.md)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.faiss_bench import Setting, clustered_vectors, recall_at, sweep, targets
from engine.retrieval import IndexSpec, VectorIndex


@pytest.fixture(scope="module")
def rows():
    items, queries = clustered_vectors(10_000, 100, d=64, n_topics=100, seed=0)
    # bench/faiss_scale.py's kinds (engine.faiss_bench.default_settings), sized to train in seconds
    settings = [
        Setting("Flat", IndexSpec(kind="exact")),
        Setting("IVF128,Flat", IndexSpec(kind="ivf", nlist=128, train_sample=5000), (1, 8, 32)),
        Setting("IVF128,PQ16x6", IndexSpec(kind="ivfpq", nlist=128, pq_m=16, pq_nbits=6, train_sample=5000), (1, 8, 32)),
        Setting("PQ32x6", IndexSpec(kind="pq", pq_m=32, pq_nbits=6, train_sample=2000)),
        Setting("SQ4", IndexSpec(kind="sq", sq_bits=4, train_sample=5000)),
        Setting("HNSW32", IndexSpec(kind="hnsw", hnsw_m=32, ef_construction=40), (16, 128)),
    ]
    return sweep(items, queries, settings, k=50, max_latency_queries=20, flat_latency_queries=5)


def test_flat_is_exact_and_its_memory_is_the_vectors(rows):
    flat = [r for r in rows if r["kind"] == "exact"]
    assert len(flat) == 1 and flat[0]["recall@50"] == 1.0
    assert flat[0]["bytes_per_vector"] == pytest.approx(256, rel=0.01)  # 64 float32


def test_more_probes_or_a_wider_beam_never_lose_recall(rows):
    for kind in ("ivf", "ivfpq", "hnsw"):
        by_index: dict[str, list] = {}
        for r in rows:
            if r["kind"] == kind:
                by_index.setdefault(r["index"], []).append(r["recall@50"])
        assert by_index, kind
        for recalls in by_index.values():
            assert all(b >= a - 0.02 for a, b in zip(recalls, recalls[1:])), (kind, recalls)
            assert recalls[-1] > recalls[0]


def test_pq_codes_are_a_fraction_of_flat_and_hnsw_costs_more(rows):
    mem = {r["index"]: r["memory_vs_flat"] for r in rows}
    pq16 = mem["IVF128,PQ16x6"]
    assert pq16 < 0.2  # 12-byte codes + 8-byte ids vs 256 bytes
    assert mem["PQ32x6"] < 1 / 8
    assert mem["SQ4"] <= 1 / 8 + 0.001  # 4 bits per component: 32 bytes, no ids (plus each component's trained range)
    assert mem["HNSW32"] > 1.5  # the graph's links come on top of the full vectors
    hnsw_best = max(r["recall@50"] for r in rows if r["kind"] == "hnsw")
    assert hnsw_best >= 0.9


def test_targets_pick_rows_that_meet_them(rows):
    tg = targets(rows)
    if tg["fast"] is not None:
        assert tg["fast"]["recall@50"] >= 0.95 and tg["fast"]["p50_ms"] <= 1.0
    if tg["small"] is not None:
        assert tg["small"]["recall@50"] >= 0.90 and tg["small"]["memory_vs_flat"] <= 1 / 8 * 1.001


def test_tune_changes_nprobe_without_a_rebuild_and_bad_settings_are_sentences():
    items, queries = clustered_vectors(2000, 20, n_topics=20)
    index = VectorIndex(items, IndexSpec(kind="ivfpq", nlist=16, nprobe=1, pq_m=16, train_sample=1000))
    _, exact = VectorIndex(items, IndexSpec()).search(queries, 10)
    low = recall_at(index.search(queries, 10)[1], exact)
    index.tune(nprobe=16)
    assert recall_at(index.search(queries, 10)[1], exact) > low
    with pytest.raises(ConfigError, match="must divide"):
        VectorIndex(items, IndexSpec(kind="ivfpq", nlist=16, pq_m=7))
    with pytest.raises(ConfigError, match="nprobe"):
        index.tune(nprobe=99)
    assert np.isfinite(index.memory_bytes())


def test_a_4_bit_scalar_quantizer_keeps_most_of_exact_recall_in_an_eighth_of_the_memory(rows):
    """The 1/8-memory row of bench/faiss_scale.md: every code scanned, so recall depends only on the 4-bit rounding."""
    sq = next(r for r in rows if r["index"] == "SQ4")
    pq = next(r for r in rows if r["index"] == "PQ32x6")
    assert sq["recall@50"] >= 0.85 and sq["recall@50"] > pq["recall@50"]


def test_the_scalar_quantizer_takes_4_or_8_bits_only():
    x = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    exact = VectorIndex(x).search(x[:20], 5)[1]
    assert recall_at(VectorIndex(x, IndexSpec(kind="sq", sq_bits=8)).search(x[:20], 5)[1], exact) >= 0.95  # 8 bits: near exact
    with pytest.raises(ConfigError, match="4 or 8 bits"):
        VectorIndex(x, IndexSpec(kind="sq", sq_bits=6))
