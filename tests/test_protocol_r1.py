"""Protocol R1 (../shared/PROTOCOL.md) on hand-made logs, on hand-computed metrics, and on MovieLens."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import shared_data_or_skip
from engine.data.interactions import Interactions
from engine.data.r1 import filter_log, make_r1, reindex_items
from engine.recsys.evaluate import diversity, greedy_aggregate, metrics, most_popular_vectors, evaluate, recall_ndcg_hit, retrieve


def _log(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]).astype("int64")


def _data(log: pd.DataFrame) -> Interactions:
    ids = sorted(log["item"].unique())
    items = pd.DataFrame({"title": [f"item {i}" for i in ids], "category": ["odd" if i % 2 else "even" for i in ids]},
                         index=pd.Index(ids, name="item"))
    return Interactions("hand", log, items)


def test_filtering_drops_rare_items_then_short_users_one_pass_each():
    rows = [(u, i, t) for u in (1, 2, 4, 5, 6) for t, i in enumerate([1, 2, 3, 4, 5])]
    rows += [(3, i, t) for t, i in enumerate([1, 2, 3, 8, 9])]
    rows += [(u, 9, 9) for u in (4, 5, 6)] + [(u, 8, 8) for u in (1, 4, 5, 6)]
    out = filter_log(_log(rows))
    assert 9 not in set(out["item"])  # 4 interactions
    assert 3 not in set(out["user"])  # 4 left once item 9 went
    assert (out["item"] == 8).sum() == 4  # fell below 5 with user 3, but items are not filtered twice


def test_items_reindexed_by_descending_count_with_ties_by_raw_id():
    log = _log([(1, 30, 0), (1, 10, 1), (2, 10, 0), (2, 20, 1), (3, 20, 0), (3, 10, 2)])
    assert reindex_items(log).tolist() == [10, 20, 30]  # 10: 3, 20: 2, 30: 1


def _ten_users() -> Interactions:
    rng = np.random.default_rng(5)
    rows = []
    for u in range(1, 11):
        n = 5 + u  # user u has 5+u interactions, timestamps shuffled in the file
        ts = rng.permutation(n)
        for t in ts:
            rows.append((u, int((u + t) % 6) + 1, int(t)))
    return _data(_log(rows))


def test_split_sizes_histories_and_targets_follow_the_protocol():
    data = _ten_users()
    sp = make_r1(data, seed=3, maxlen=4)
    perm = np.random.default_rng(3).permutation(sorted(sp.sequences))
    assert sp.train_users.tolist() == perm[:8].tolist()
    assert sp.val_users.tolist() == perm[8:9].tolist() and sp.test_users.tolist() == perm[9:].tolist()
    # one training example per position t >= 1 of each train user
    assert len(sp.train_target) == sum(len(sp.sequences[int(u)]) - 1 for u in sp.train_users)
    # sequences are time-ordered
    raw = data.log[data.log.user == int(sp.test_users[0])].sort_values("timestamp", kind="stable")
    idx = {raw_id: r for r, raw_id in enumerate(sp.item_raw_ids)}
    assert sp.sequences[int(sp.test_users[0])].tolist() == [idx[i] for i in raw["item"]]
    # test user: history seq[:k][-maxlen:], targets seq[k:], k = int(0.8 n)
    seq = sp.sequences[int(sp.test_users[0])]
    k = int(0.8 * len(seq))
    assert sp.test.hist[0, : sp.test.lens[0]].tolist() == seq[:k][-4:].tolist()
    assert sp.test.hist[0, sp.test.lens[0]:].sum() == 0  # right padding
    assert sp.test.targets[0].tolist() == seq[k:].tolist()
    assert sp.test.seen[0].tolist() == seq[:k].tolist()
    # a train example: the at most maxlen items before t, then item t
    first = sp.sequences[int(sp.train_users[0])]
    assert sp.train_hist[0, :1].tolist() == first[:1].tolist() and sp.train_target[0] == first[1]
    assert sp.train_len[5] == min(6, 4) and sp.train_hist[5].tolist() == first[2:6].tolist()


def test_same_seed_same_split_other_seed_other_split():
    data = _ten_users()
    a, b, c = make_r1(data, 0), make_r1(data, 0), make_r1(data, 1)
    assert a.test_users.tolist() == b.test_users.tolist()
    assert a.train_users.tolist() != c.train_users.tolist()


def test_recall_ndcg_hitrate_on_a_hand_computed_case():
    ranked = np.array([5, 7, 2, 9])
    targets = np.array([2, 5, 11])
    recall, ndcg, hit = recall_ndcg_hit(ranked, targets, n=3)
    assert recall == pytest.approx(2 / 3)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg == pytest.approx(dcg / idcg)
    assert hit == 1.0
    assert recall_ndcg_hit(ranked, np.array([42]), n=4) == (0.0, 0.0, 0.0)


def test_diversity_is_the_share_of_pairs_of_different_categories():
    cats = np.array([-1, 0, 0, 1, 2])
    assert diversity(np.array([1, 2, 3, 4]), cats, 4) == pytest.approx(5 / 6)  # only (1,2) share a category
    assert diversity(np.array([1, 2]), cats, 2) == 0.0


def test_metrics_average_over_users():
    ranked = np.array([[1, 2], [3, 4]])
    m = metrics(np.pad(ranked, ((0, 0), (0, 48)), constant_values=-1), [np.array([1]), np.array([9])], None)
    assert m["recall@20"] == pytest.approx(0.5) and m["hitrate@50"] == pytest.approx(0.5)


def test_retrieval_excludes_padding_and_history_and_merges_interests_by_best_score():
    items = np.zeros((6, 2), dtype=np.float32)
    items[1:] = [[1, 0], [0.9, 0], [0, 1], [0, 0.8], [0.5, 0.5]]
    items[0] = [10, 10]  # padding would win if not excluded
    users = np.array([[[1, 0], [0, 1]]], dtype=np.float32)  # two interests
    ranked = retrieve(users, items, [np.array([1])], n=3)
    assert 0 not in ranked[0] and 1 not in ranked[0]
    assert ranked[0].tolist() == [3, 2, 4]  # 3 (1.0 via interest 2), 2 (0.9), 4 (0.8)
    only_first = retrieve(users, items, [np.array([1])], n=3, interest_mask=np.array([[True, False]]))
    assert only_first[0].tolist() == [2, 5, 3]


def test_greedy_aggregation_trades_score_for_category_diversity():
    cats = np.array([-1, 0, 0, 0, 1])
    scores = {1: 1.0, 2: 0.9, 3: 0.8, 4: 0.1}
    assert greedy_aggregate(scores, cats, 2, lam=0.0) == [1, 2]
    assert greedy_aggregate(scores, cats, 2, lam=1.0) == [1, 4]


def test_movielens_split_matches_the_protocol_check_values():
    shared_data_or_skip("ml-100k", "u.data")
    from engine.data.datasets import load_dataset

    data = load_dataset("ml-100k", data_dir=shared_data_or_skip())
    expected = {0: (77136, 2207, [147, 109, 323, 773, 218]), 1: (78243, 2436, [216, 159, 385, 877, 4]),
                2: (79202, 2230, [263, 676, 547, 798, 509])}
    for seed, (examples, targets, first5) in expected.items():
        sp = make_r1(data, seed, 20)
        st = sp.stats()
        assert (st["interactions"], st["items"], st["users"]) == (99287, 1349, 943)
        assert (st["train_users"], st["val_users"], st["test_users"]) == (754, 94, 95)
        assert st["train_examples"] == examples and st["test_targets"] == targets
        assert sp.test_users[:5].tolist() == first5
    sp = make_r1(data, 0, 20)
    users, items = most_popular_vectors(sp.train_item_count, len(sp.test))
    m = evaluate(users, items, sp.test, sp.item_category)
    assert round(m["recall@50"], 4) == 0.2094 and round(m["ndcg@50"], 4) == 0.1654
