"""bench/peer_speed.py, our half, on tiny synthetic data (CI never installs the peer, torch-rechub):
every model gets a row with a positive speed and a real Recall@50, and our side trains exactly as
`recsys train` does (the same weights for the same seed)."""
from __future__ import annotations

import math

import pytest
import torch

from bench.peer_speed import MODELS, PeakRSS, markdown, peer_available, right_aligned, run
from engine.data.synthetic import SyntheticConfig
from engine.recsys.run import RecsysConfig, build_model, fit, split_of

TINY = SyntheticConfig(n_users=120, n_items=60, n_topics=4, min_len=8, max_len=16, seed=0)


@pytest.fixture(scope="module")
def ours_only():
    return run(MODELS, "synthetic", 0, 1, rounds=2, max_epochs=2, peer_patience=1, no_peer=True, synthetic=TINY, log=lambda *_: None)


def test_our_half_runs_every_model_and_reports_speed_and_recall(ours_only):
    rows, meta = ours_only
    assert [r["model"] for r in rows] == MODELS
    for r in rows:
        o = r["ours"]
        assert o["s_per_epoch"] > 0 and o["examples_per_s"] > 0 and o["epochs"] == 2
        assert 0.0 < o["test_recall@50"] <= 1.0, r["model"]
        assert "peer" not in r
    assert meta["peer_skipped"] == "--no-peer"
    md = markdown(rows, meta)
    assert "Peer skipped" in md and "| comirec-sa |" in md


def test_our_half_is_the_trainer_of_recsys_train():
    """The bench's side steps engine.recsys.run.Fitting: the same seed gives the same weights as fit()."""
    from bench.peer_speed import Ours

    config = RecsysConfig(model="mind", dataset="synthetic", synthetic=TINY, seed=3, epochs=2, dim=16)
    split = split_of(config)
    ours = Ours("mind", split, config)
    while not ours.done:
        ours.epoch()
    ours.fitting.finish()
    torch.manual_seed(config.seed)
    ref = build_model(config, split)
    fit(ref, split, config)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, ours.model.state_dict()[k]), k


def test_peer_half_is_skipped_with_a_reason_when_torch_rechub_is_absent():
    why = peer_available()
    if why is not None:
        assert "torch_rechub" in why and "requirements-peer.txt" in why
    else:
        pytest.skip("torch_rechub is installed here; the skip message is for CI, where it is not")


def test_right_alignment_moves_the_history_to_the_end_in_order():
    import numpy as np

    hist = np.array([[3, 4, 0, 0], [5, 6, 7, 8], [9, 0, 0, 0]])
    out = right_aligned(hist, np.array([2, 4, 1]))
    assert out.tolist() == [[0, 0, 3, 4], [5, 6, 7, 8], [0, 0, 0, 9]]


def test_peak_memory_sees_an_allocation_made_inside():
    with PeakRSS() as mem:
        x = torch.ones(32, 2**20)  # 32 x 2^20 float32 = 128 MB
        x.add_(1.0)
        del x
    assert mem.added > 64 and math.isfinite(mem.added)
