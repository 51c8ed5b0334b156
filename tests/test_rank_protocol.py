"""Protocol R2 (engine/rank/protocol.py) on a small synthetic split, and a short real training run
in which DIEN beats the target-agnostic BaseModel."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.data.synthetic import SyntheticConfig
from engine.rank import protocol
from engine.rank.run import PAPERS, RankConfig, build_ranker, load_run, train, training_key
from engine.recsys.run import get_split

SMALL = SyntheticConfig(n_users=240, n_items=96, n_topics=4, min_len=12, max_len=30, seed=3)


@pytest.fixture(scope="module")
def split():
    return get_split("synthetic", 0, 20, SMALL)


def test_training_negatives_never_equal_their_positive(split):
    rng = np.random.default_rng(0)
    pos = np.repeat(split.train_target[:, None], 3, 1)
    for probs in (None, protocol.sampling_probs(split, "popularity")):
        neg = protocol.sample_negatives(rng, split.n_items, pos, probs)
        assert neg.shape == pos.shape and not (neg == pos).any()
        assert neg.min() >= 1 and neg.max() <= split.n_items  # never padding
    hist_neg = protocol.sample_negatives(rng, split.n_items, split.train_hist)  # DIEN's per-step negatives
    assert not (hist_neg == split.train_hist).any()


def test_category_negatives_share_the_positives_category_and_never_equal_it(split):
    rng = np.random.default_rng(0)
    pos = split.train_target
    cat = split.item_category
    all_same = protocol.training_negatives(rng, split, pos, 4, "popularity", category_share=1.0)
    assert not (all_same == pos[:, None]).any()
    np.testing.assert_array_equal(cat[all_same], np.repeat(cat[pos][:, None], 4, 1))  # every one from the positive's category
    mixed = protocol.training_negatives(rng, split, pos, 4, "popularity", category_share=0.5)
    same = (cat[mixed] == cat[pos][:, None]).mean()
    assert 0.5 < same < 0.75  # half swapped in, plus the popularity draws that land in the category by chance (1 in 4 here)
    lonely = cat.copy()
    lonely[pos[0]] = cat.max() + 1  # a category with one item: its positive keeps its ordinary negative
    alone = protocol.same_category_negatives(rng, lonely, pos[:1])
    assert alone[0] == pos[0]
    kept = protocol.training_negatives(rng, dataclasses.replace(split, item_category=lonely), pos[:1], 8, "uniform", category_share=1.0)
    assert not (kept == pos[0]).any()


def test_a_config_stored_before_the_new_settings_keeps_the_settings_it_was_trained_with():
    new = RankConfig(model="din", dataset="synthetic", synthetic=SMALL)
    old = new.to_dict()
    for k in ("category_share", "logq", "select"):  # fields a run stored before them does not have
        old.pop(k)
    back = RankConfig.from_dict(old)
    assert (back.category_share, back.logq, back.select) == (0.0, False, "auc")
    assert training_key(back) != training_key(new)  # so its weights are never reused for today's default
    assert RankConfig.from_dict(new.to_dict()) == new


def test_auc_negatives_are_fixed_by_the_seed_and_outside_the_users_whole_sequence(split):
    a = protocol.auc_negatives(split, split.test, 100)
    b = protocol.auc_negatives(split, split.test, 100)
    for u, na, nb, t in zip(split.test.users, a, b, split.test.targets):
        np.testing.assert_array_equal(na, nb)
        assert len(na) == 100 * len(t)
        assert not np.isin(na, split.sequences[int(u)]).any()


def test_pair_auc_counts_ties_half():
    assert protocol.pair_auc(np.array([2.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx((2 + 1 + 0.5) / 4)


def test_two_stage_reorders_the_recalled_candidates_and_scores_both_orders(split):
    torch.manual_seed(0)
    ranker = build_ranker(RankConfig(model="din", dataset="synthetic", synthetic=SMALL), split).eval()
    rng = np.random.default_rng(0)
    cand = np.stack([rng.choice(np.arange(1, split.n_items + 1), 30, replace=False) for _ in split.test.users])
    cand[:, -3:] = -1  # fewer candidates than asked: -1 stays last
    ts = protocol.two_stage(ranker, None, split.test, candidates=cand)
    for before, after in zip(ts.candidates, ts.reranked):
        assert sorted(before) == sorted(after) and (after[-3:] == -1).all()
    recall_only = protocol.ranking_metrics(cand, split.test.targets)
    assert ts.metrics["ndcg@10_recall_only"] == recall_only["ndcg@10"]
    scores = protocol.score(ranker, split.test.hist, split.test.lens, np.maximum(ts.reranked, 0))
    assert (np.diff(scores[:, :-3], axis=1) <= 0).all()  # the ranker's order: scores fall


def test_a_short_training_run_dien_beats_the_target_agnostic_base_model(tmp_path):
    common = dict(dataset="synthetic", synthetic=SMALL, seed=0, dim=16, cat_dim=8, epochs=4, patience=4, batch_size=256, **PAPERS)
    base = train(RankConfig(model="base", **common), runs_root=tmp_path, threads=1)
    dien = train(RankConfig(model="dien", **common), runs_root=tmp_path, threads=1)
    assert dien.metrics["test/auc@1:100"] > base.metrics["test/auc@1:100"] + 0.02
    assert dien.metrics["val/auc"] > base.metrics["val/auc"]
    again = load_run(dien.path)  # the stored run gives back the same scores
    es = again.split.test
    np.testing.assert_allclose(protocol.score(again.model, es.hist, es.lens, np.array([t[:1] for t in es.targets])),
                               protocol.score(dien.model, es.hist, es.lens, np.array([t[:1] for t in es.targets])), rtol=1e-5)
    assert {"test/auc", "test/auc@1:100", "val/auc", "val/auc@1:100", "test/ndcg@10_all", "val/ndcg@10_all"} <= set(dien.metrics)


def test_full_ranking_scores_every_unseen_item_and_never_recommends_the_history(split):
    wanted = torch.zeros(split.n_items + 1)
    wanted[np.concatenate(split.test.targets)] = 5.0  # some held-out items everyone would like

    class HistoryLover(torch.nn.Module):  # a stand-in ranker that likes the user's own history best of all
        n_items = split.n_items

        def forward(self, hist, lens, items):
            in_hist = (items[:, :, None] == hist[:, None, :]).any(-1).float()
            return 10.0 * in_hist + wanted[items] - 1e-3 * items.float()

    got = protocol.full_ranking(HistoryLover(), split.test)
    expected_top = []
    for seen in split.test.seen:
        unseen = np.setdiff1d(np.arange(1, split.n_items + 1), seen)
        expected_top.append(unseen[np.argsort(-(wanted[unseen].numpy() - 1e-3 * unseen), kind="stable")][:10])
    assert got == protocol.ranking_metrics(np.array(expected_top), split.test.targets)
    assert got["hitrate@10"] > 0.3  # the history, scored highest, was left out: the wanted items fill the top 10


def test_a_ranker_run_that_fails_while_being_written_leaves_no_run_behind(tmp_path, monkeypatch):
    """The run is built in a hidden folder and renamed into place once complete (store.building)."""
    from engine import store
    from engine.rank import run as rank_run

    config = RankConfig(model="base", dataset="synthetic", synthetic=SMALL, seed=0, dim=8, cat_dim=4, epochs=1, batch_size=256)
    real_save_state = store.save_state

    def disk_full(path, state):
        real_save_state(path, state)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save_state", disk_full)
    with pytest.raises(OSError):
        train(config, runs_root=tmp_path, threads=1)
    assert rank_run.list_runs(tmp_path) == []
    assert not store.run_path(rank_run.KIND, "base", config, tmp_path).exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    monkeypatch.setattr(store, "save_state", real_save_state)
    run = train(config, runs_root=tmp_path, threads=1)  # the next try writes the whole run
    assert [r["path"] for r in rank_run.list_runs(tmp_path)] == [run.path]
