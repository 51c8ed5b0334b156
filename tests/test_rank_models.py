"""The rankers (engine/rank): DIEN's auxiliary loss and attention never see padding, h_t is paired with
e_{t+1}, AUGRU with zero attention keeps its state, DIN's attention depends on the target."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.rank.base_model import BaseModel
from engine.rank.dien import DIEN, InterestEvolution
from engine.rank.din import DIN

N_ITEMS = 12
CATS = torch.tensor([-1] + [i % 3 for i in range(N_ITEMS)])  # [I+1], padding -1


def padded(seq: list[int], L: int) -> torch.Tensor:
    return torch.tensor([seq + [0] * (L - len(seq))])


@pytest.fixture
def dien():
    torch.manual_seed(0)
    return DIEN(N_ITEMS, CATS, dim=8, cat_dim=4).eval()


def test_padding_never_enters_the_auxiliary_loss(dien):
    seq = [3, 5, 7, 2, 9]
    neg = [4, 6, 8, 1, 10]
    short, long_ = padded(seq, 5), padded(seq, 12)
    e, h = dien.extract(short)
    loss_short = dien.aux_loss(h, e, short, padded(neg, 5))
    e2, h2 = dien.extract(long_)
    loss_long = dien.aux_loss(h2, e2, long_, padded(neg, 5 + 7))
    torch.testing.assert_close(loss_long, loss_short)  # seven padded steps change nothing
    other_negs = torch.tensor([neg + [11, 1, 2, 3, 4, 5, 6]])  # negatives at padded steps are ignored too
    torch.testing.assert_close(dien.aux_loss(h2, e2, long_, other_negs), loss_short)
    # what an implementation that lets padding in would compute: it differs, so this test can fail
    unmasked = -(torch.nn.functional.logsigmoid((h2[:, :-1] * e2[:, 1:]).sum(-1))
                 + torch.nn.functional.logsigmoid(-(h2[:, :-1] * dien.embed(other_negs[:, 1:])).sum(-1))).mean()
    assert not torch.allclose(unmasked, loss_short)


def test_padding_never_enters_the_attention_softmax_or_the_score(dien):
    seq = [3, 5, 7, 2, 9]
    items = torch.tensor([[1, 4, 11]])
    short, long_ = padded(seq, 5), padded(seq, 12)
    lens = torch.tensor([5])
    logits_s, tr_s = dien(short, lens, items, trace=True)
    logits_l, tr_l = dien(long_, lens, items, trace=True)
    a = tr_l["attention"][0]  # [C, L]
    assert torch.all(a[:, 5:] == 0)  # exactly zero on padding
    torch.testing.assert_close(a.sum(-1), torch.ones(3))  # one unit over the real steps
    torch.testing.assert_close(a[:, :5], tr_s["attention"][0])
    torch.testing.assert_close(logits_l, logits_s)  # the score does not depend on how much padding follows
    torch.manual_seed(1)
    din = DIN(N_ITEMS, CATS, dim=8, cat_dim=4).eval()
    w = din(long_, lens, items, trace=True)[1]["attention"][0]
    assert torch.all(w[:, 5:] == 0)
    torch.testing.assert_close(din(long_, lens, items), din(short, lens, items))


def test_auxiliary_loss_pairs_h_t_with_the_next_behaviour_e_t_plus_1(dien):
    # one-hot item embeddings: <h_t, e_j> reads off coordinate j of h_t
    with torch.no_grad():
        dien.id_emb.weight.zero_()
        dien.id_emb.weight[1:, : N_ITEMS - 4] = torch.eye(N_ITEMS, N_ITEMS - 4)[: N_ITEMS]
        dien.cat_emb.weight.zero_()
    seq = [1, 2, 3, 4, 5, 6]
    hist, negs = padded(seq, 8), padded([7, 8, 8, 7, 8, 7], 8)
    e = dien.embed(hist)
    predicts_next = torch.zeros_like(e)
    predicts_next[:, :5] = 10 * e[:, 1:6]  # h_t = 10 e_{t+1}
    predicts_current = 10 * e  # h_t = 10 e_t
    good = dien.aux_loss(predicts_next, e, hist, negs)
    bad = dien.aux_loss(predicts_current, e, hist, negs)
    assert good.item() == pytest.approx(np.log(2), abs=1e-3)  # -log sigma(10) - log(1 - sigma(0)); negatives orthogonal
    assert bad.item() == pytest.approx(2 * np.log(2), abs=1e-3)  # the current item tells nothing about the next


@pytest.mark.parametrize("kind", ["augru", "agru"])
def test_zero_attention_keeps_the_evolving_state(kind):
    torch.manual_seed(0)
    ev = InterestEvolution(6, kind)
    h_prev = torch.randn(4, 6)
    h, u = ev.step(torch.randn(4, 18), h_prev, torch.zeros(4))
    torch.testing.assert_close(h, h_prev)  # u~'_t = a_t u'_t = 0: h'_t = h'_{t-1}
    assert (u > 0).all()  # although the GRU's own update gate is open
    h_full, _ = ev.step(torch.randn(4, 18), h_prev, torch.ones(4))
    assert not torch.allclose(h_full, h_prev)


def test_din_attention_depends_on_the_target_and_base_model_does_not_look_at_it():
    torch.manual_seed(0)
    din = DIN(N_ITEMS, CATS, dim=8, cat_dim=4).eval()
    hist, lens = padded([3, 5, 7, 2, 9], 6), torch.tensor([5])
    w = din(hist, lens, torch.tensor([[1, 8]]), trace=True)[1]["attention"][0]  # [2, L]
    assert not torch.allclose(w[0], w[1], atol=1e-4)  # another candidate, other weights on the same history
    assert not torch.allclose(w[0].sum(), torch.tensor(1.0))  # no softmax: the total is free (DIN section 4.3)
    base = BaseModel(N_ITEMS, CATS, dim=8, cat_dim=4).eval()
    e = base.embed(hist)
    torch.testing.assert_close(base.mean_pool(e, hist > 0), e[0, :5].mean(0, keepdim=True))


def test_every_ranker_scores_each_candidate_independently():
    torch.manual_seed(0)
    hist, lens = padded([3, 5, 7], 4).repeat(2, 1), torch.tensor([3, 3])
    for model in (BaseModel(N_ITEMS, CATS), DIN(N_ITEMS, CATS), DIEN(N_ITEMS, CATS)):
        model.eval()
        both = model(hist, lens, torch.tensor([[1, 2], [2, 1]]))
        torch.testing.assert_close(both[0], both[1].flip(0))  # the same pair in another order: the same scores
