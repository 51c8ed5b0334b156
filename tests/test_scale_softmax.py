"""Sampled softmax at catalogue scale: the full softmax refuses with its cost; the sampled one touches
only the candidate rows and never builds a [batch, items] matrix."""
from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.recsys import base
from engine.recsys.optim import SparseDenseAdam, make_optimizer
from engine.recsys.youtubednn import YouTubeDNN


def test_full_softmax_at_a_million_items_refuses_and_says_the_cost():
    with pytest.raises(ConfigError) as e:
        base.check_full_softmax(512, 1_000_001)
    msg = str(e.value)
    assert "512 x 1,000,001 x 4 bytes" in msg and "1.9 GiB" in msg and "--loss sampled" in msg
    base.check_full_softmax(512, 1_350)  # MovieLens-size: fine


def test_full_softmax_model_refuses_before_allocating(monkeypatch):
    monkeypatch.setattr(base, "FULL_SOFTMAX_MAX_BYTES", 10_000 * 4 * 8)  # pretend 10k items x batch 8 is the limit
    model = YouTubeDNN(10_000, dim=16, maxlen=5)
    hist, lens, target = torch.randint(1, 10_001, (16, 5)), torch.full((16,), 5), torch.randint(1, 10_001, (16,))
    with pytest.raises(ConfigError, match="sampled"):
        model.loss(hist, lens, target)


def test_sampled_softmax_gives_sparse_gradients_on_the_candidate_rows_only(monkeypatch):
    monkeypatch.setattr(base, "SPARSE_ITEMS_FROM", 5_000)
    torch.manual_seed(0)
    model = YouTubeDNN(10_000, dim=16, maxlen=5, loss="sampled", n_negatives=32)
    assert model.item_emb.sparse
    hist, lens, target = torch.randint(1, 10_001, (8, 5)), torch.full((8,), 5), torch.randint(1, 10_001, (8,))
    model.loss(hist, lens, target).backward()
    g = model.item_emb.weight.grad
    assert g.is_sparse
    rows = g.coalesce().indices()[0].unique()
    assert len(rows) <= 8 * 5 + 8 + 32  # history rows, in-batch targets, sampled negatives
    opt = make_optimizer(model, [{"params": list(model.parameters()), "weight_decay": 0.0}], 1e-2)
    assert isinstance(opt, SparseDenseAdam)
    before = model.item_emb.weight.detach().clone()
    opt.step()
    changed = (model.item_emb.weight.detach() != before).any(1).nonzero().flatten()
    assert set(changed.tolist()) <= set(rows.tolist()) and len(changed) > 0  # untouched rows stay put


def test_small_catalogues_keep_dense_adam():
    model = YouTubeDNN(500, dim=8, maxlen=5, loss="sampled")
    assert not model.item_emb.sparse
    assert isinstance(make_optimizer(model, [{"params": list(model.parameters()), "weight_decay": 0.0}], 1e-3), torch.optim.Adam)
