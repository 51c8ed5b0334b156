"""Claims about the recall models themselves (no training): traces, padding, dynamic K, losses."""
from __future__ import annotations

import math

import pytest
import torch

from engine.errors import ConfigError
from engine.recsys.comirec_dr import ComiRecDR
from engine.recsys.comirec_sa import ComiRecSA
from engine.recsys.gru4rec import GRU4Rec
from engine.recsys.mind import MIND, dynamic_interest_count, label_aware_attention
from engine.recsys.youtubednn import YouTubeDNN

N_ITEMS, D, L = 50, 16, 10


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lens = torch.tensor([1, 2, 3, 5, 8, 10])
    hist = torch.zeros(len(lens), L, dtype=torch.long)
    for b, n in enumerate(lens):
        hist[b, :n] = torch.randint(1, N_ITEMS + 1, (int(n),), generator=g)
    target = torch.randint(1, N_ITEMS + 1, (len(lens),), generator=g)
    return hist, lens, target


def _models(**kw):
    torch.manual_seed(0)
    return [
        YouTubeDNN(N_ITEMS, D, L, **kw),
        GRU4Rec(N_ITEMS, D, L, readout="last", **kw),
        GRU4Rec(N_ITEMS, D, L, readout="mean", **kw),
        MIND(N_ITEMS, D, L, k=4, **kw),
        ComiRecDR(N_ITEMS, D, L, k=4, **kw),
        ComiRecSA(N_ITEMS, D, L, k=4, **kw),
    ]


@pytest.mark.parametrize("model", [MIND(N_ITEMS, D, L, k=4), ComiRecDR(N_ITEMS, D, L, k=4)], ids=["mind", "comirec-dr"])
def test_routing_weights_sum_to_one_over_interests_and_capsules_are_shorter_than_one(model):
    model.eval()
    hist, lens, target = _batch()
    enc = model.encode(hist, lens, target=target, trace=True)
    tr = enc.trace
    assert len(tr["couplings"]) == len(tr["logits"]) == len(tr["capsule_lengths"]) == model.iterations == 3
    valid = hist > 0
    for w, lengths in zip(tr["couplings"], tr["capsule_lengths"]):
        assert w.shape == (hist.shape[0], L, 4)
        sums = w.sum(-1)
        assert torch.allclose(sums[valid], torch.ones(int(valid.sum())), atol=1e-5)
        assert torch.all(sums[~valid] == 0)  # padding routes nowhere
        assert lengths.shape == (hist.shape[0], 4)
        assert torch.all(lengths >= 0) and torch.all(lengths < 1)
    for step in tr["steps"]:
        assert {"name", "equation", "einsum", "shapes"} <= set(step)
    assert tr["steps"][0]["shapes"]["e"] == (hist.shape[0], L, D)


def test_self_attention_weights_sum_to_one_over_the_real_positions():
    model = ComiRecSA(N_ITEMS, D, L, k=4).eval()
    hist, lens, _ = _batch()
    tr = model.encode(hist, lens, trace=True).trace
    att = tr["attention"]  # [B, K, L]
    assert att.shape == (hist.shape[0], 4, L)
    assert torch.allclose(att.sum(-1), torch.ones(hist.shape[0], 4), atol=1e-5)
    assert torch.all(att.transpose(1, 2)[hist == 0] == 0)


@pytest.mark.parametrize("idx", range(6), ids=["youtubednn", "gru-last", "gru-mean", "mind", "comirec-dr", "comirec-sa"])
def test_appending_padding_does_not_change_the_user_vectors(idx):
    model = _models()[idx].eval()
    hist, lens, _ = _batch()
    short = hist[:, :8].clone()
    keep = lens <= 8
    with torch.no_grad():
        a = model.encode(short[keep], lens[keep]).vectors
        b = model.encode(hist[keep], lens[keep]).vectors  # same histories, two more padding steps
    assert torch.allclose(a, b, atol=1e-5)


def test_gru_readouts_never_read_padded_steps():
    torch.manual_seed(0)
    for readout in ("last", "mean"):
        model = GRU4Rec(N_ITEMS, D, L, readout=readout).eval()
        hist = torch.tensor([[3, 4, 5, 0, 0, 0, 0, 0, 0, 0]])
        with torch.no_grad():
            full = model.encode(hist, torch.tensor([3])).vectors
            alone = model.encode(hist[:, :3], torch.tensor([3])).vectors
        assert torch.allclose(full, alone, atol=1e-6)


def test_mind_dynamic_interest_count_follows_log2_of_the_history_length():
    assert [dynamic_interest_count(n, 4) for n in (1, 2, 3, 4, 7, 8, 15, 16, 100)] == [1, 1, 1, 2, 2, 3, 3, 4, 4]
    assert dynamic_interest_count(1000, 8) == 8
    model = MIND(N_ITEMS, D, L, k=4).eval()
    hist, lens, _ = _batch()  # lens 1, 2, 3, 5, 8, 10
    enc = model.encode(hist, lens)
    assert enc.mask.sum(1).tolist() == [1, 1, 1, 2, 3, 3]
    assert torch.all(enc.vectors[~enc.mask] == 0)  # interests a user does not have are zero


def test_mind_accepts_any_k_up_to_8_and_comirec_no_more_than_trained():
    hist, lens, _ = _batch()
    mind = MIND(N_ITEMS, D, L, k=4, dynamic_k=False).eval()
    for k in (1, 6, 8):
        assert mind.encode(hist, lens, k=k).vectors.shape == (hist.shape[0], k, D)
    assert len(mind.encode(hist, lens, trace=True, iterations=5).trace["couplings"]) == 5
    dr = ComiRecDR(N_ITEMS, D, L, k=4).eval()
    assert dr.encode(hist, lens, k=2).vectors.shape == (hist.shape[0], 2, D)
    with pytest.raises(ConfigError):
        dr.encode(hist, lens, k=5)
    with pytest.raises(ConfigError):
        ComiRecSA(N_ITEMS, D, L, k=4).encode(hist, lens, k=5)


def test_label_aware_attention_sharpens_with_p():
    torch.manual_seed(0)
    V = torch.randn(3, 4, D)
    e = torch.randn(3, D)
    soft_v, soft_w = label_aware_attention(V, e, p=0.0)
    assert torch.allclose(soft_w, torch.full((3, 4), 0.25))
    assert torch.allclose(soft_v, V.mean(1), atol=1e-6)
    hard_v, hard_w = label_aware_attention(V, e, p=math.inf)
    best = torch.einsum("bkd,bd->bk", V, e).argmax(1)
    assert torch.equal(hard_w.argmax(1), best) and torch.allclose(hard_v, V[torch.arange(3), best])
    mask = torch.tensor([[True, False, False, False]] * 3)
    for p in (0.0, 2.0, math.inf):  # p = 0 with a mask averages the active interests only
        v, w = label_aware_attention(V, e, p=p, mask=mask)
        assert torch.allclose(w[:, 0], torch.ones(3)) and torch.allclose(v, V[:, 0])


@pytest.mark.parametrize("loss", ["softmax", "sampled"])
def test_losses_are_finite_and_reach_every_trained_weight(loss):
    hist, lens, target = _batch()
    for model in _models(loss=loss, n_negatives=20):
        model.train()
        model.set_item_counts(torch.arange(N_ITEMS + 1).float())
        value = model.loss(hist, lens, target)
        assert torch.isfinite(value)
        value.backward()
        assert model.item_emb.weight.grad is not None and model.item_emb.weight.grad.abs().sum() > 0
        assert model.item_emb.weight.grad[0].abs().sum() == 0  # padding is never learned


def test_weight_decay_spares_the_scale_of_minds_routing_map():
    from engine.recsys.run import param_groups

    model = MIND(N_ITEMS, D, L, k=4)
    decayed = {id(p) for g in param_groups(model, 0.1) if g["weight_decay"] > 0 for p in g["params"]}
    assert id(model.S) not in decayed and id(model.item_emb.weight) in decayed
    other = YouTubeDNN(N_ITEMS, D, L)
    assert all(g["weight_decay"] == 0.1 for g in param_groups(other, 0.1))  # no exemptions elsewhere


def test_behaviour_dropout_keeps_the_expected_value_and_is_off_in_eval():
    from engine.recsys.base import dropout

    torch.manual_seed(0)
    x = torch.ones(200, 20, 16)
    y = dropout(x, 0.5, training=True)
    assert 0.45 < (y == 0).float().mean() < 0.55 and abs(y.mean().item() - 1.0) < 0.05
    assert torch.equal(dropout(x, 0.5, training=False), x)


def test_full_softmax_masks_history_as_the_reference_masked_fill_does():
    """The training loss adds a -inf bias for the columns that are not classes (padding, history items
    except the target) instead of masked_fill: the same loss and the same gradients, on a small batch."""
    import torch.nn.functional as F
    from engine.recsys.youtubednn import YouTubeDNN

    torch.manual_seed(0)
    m = YouTubeDNN(30, dim=8, maxlen=5, dropout=0.0)
    hist = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 9, 2, 0, 0]])
    lens = (hist > 0).sum(1)
    target = torch.tensor([2, 11, 12])  # the first target is also in its history: it stays a class
    loss = m.loss(hist, lens, target)
    grads = torch.autograd.grad(loss, list(m.parameters()))
    user = m.train_user_vector(hist, lens, target)
    excl = torch.zeros(3, 31, dtype=torch.bool)
    excl.scatter_(1, hist, True)
    excl[torch.arange(3), target] = False
    excl[:, 0] = True
    ref = F.cross_entropy((user @ m.item_emb.weight.T).masked_fill(excl, -float("inf")), target)
    ref_grads = torch.autograd.grad(ref, list(m.parameters()))
    assert torch.equal(loss, ref)
    for g, r in zip(grads, ref_grads):
        assert torch.equal(g, r)


def test_behaviour_dropout_draws_the_reference_mask():
    """dropout() keeps exactly the elements torch.rand(...) >= p keeps, scaled by 1/(1-p), for the same seed."""
    from engine.recsys.base import dropout

    x = torch.randn(4, 6, 8)
    torch.manual_seed(5)
    out = dropout(x, 0.3, True)
    torch.manual_seed(5)
    ref = x * (torch.rand(x.shape) >= 0.3) * (1.0 / (1.0 - 0.3))
    assert torch.equal(out, ref)
