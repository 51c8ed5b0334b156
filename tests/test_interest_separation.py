"""Protocol S1 on hand-made interests (collapsed, orthogonal, one-interest users), and the
interest-collapse remedy against the paper as written on small synthetic data."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data.r1 import EvalSet
from engine.recsys.interests import interest_metrics, kmeans_interests, majority, separation

# 4 categories of 12 items each, one per axis of R^4: item i (1..48) is category (i-1)//12.
N_CAT, PER = 4, 12
GROUP = np.concatenate([[-1], np.repeat(np.arange(N_CAT), PER)])
ITEMS = np.zeros((N_CAT * PER + 1, N_CAT), dtype=np.float32)
for i in range(1, len(ITEMS)):
    ITEMS[i, GROUP[i]] = 1.0 + 0.01 * (i % PER)  # a little spread inside a category


def _evalset(histories: list[list[int]]) -> EvalSet:
    L = max(len(h) for h in histories)
    hist = np.zeros((len(histories), L), dtype=np.int64)
    for r, h in enumerate(histories):
        hist[r, : len(h)] = h
    return EvalSet(users=np.arange(1, len(histories) + 1), hist=hist, lens=np.array([len(h) for h in histories]),
                   targets=[np.array([1])] * len(histories), seen=[np.array(h) for h in histories])


# user 1 reads categories 0 and 1; user 2 reads categories 2 and 3; user 3 has one interest
EVAL = _evalset([[1, 2, 13, 14], [25, 26, 37, 38], [1, 2, 3]])
TOPICS = {1: [(0, 0.5), (1, 0.5)], 2: [(2, 0.5), (3, 0.5)], 3: [(0, 1.0)]}
EYE = np.eye(N_CAT, dtype=np.float32)


def _vectors(per_user: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    K = max(len(v) for v in per_user)
    vecs = np.zeros((len(per_user), K, N_CAT), dtype=np.float32)
    mask = np.zeros((len(per_user), K), dtype=bool)
    for u, vs in enumerate(per_user):
        for k, v in enumerate(vs):
            vecs[u, k], mask[u, k] = v, True
    return vecs, mask


def test_orthogonal_interests_on_the_users_topics_are_pure_distinct_and_cover_every_topic():
    vecs, mask = _vectors([[EYE[0], EYE[1]], [EYE[2], EYE[3]], [EYE[0]]])
    s = separation(vecs, mask, ITEMS, EVAL, GROUP, TOPICS)
    assert s["interest_cosine"] == pytest.approx(0.0)
    assert s["interest_purity@10"] == pytest.approx(1.0)
    assert s["interest_distinct"] == pytest.approx(1.0)
    assert s["topic_coverage"] == pytest.approx(1.0)
    assert s["topic_coverage_present"] == pytest.approx(1.0)
    assert s["interest_users"] == 2  # the one-interest user is not evaluated


def test_collapsed_interests_score_cosine_one_and_cover_one_topic_of_two():
    vecs, mask = _vectors([[EYE[0], EYE[0], EYE[0]], [EYE[3], EYE[3] * 2], [EYE[0]]])
    s = separation(vecs, mask, ITEMS, EVAL, GROUP, TOPICS)
    assert s["interest_cosine"] == pytest.approx(1.0)
    assert s["interest_purity@10"] == pytest.approx(1.0)  # pure, but the same category K times
    assert s["interest_distinct"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert s["topic_coverage"] == pytest.approx(0.5)


def test_a_mixed_interest_is_impure_and_its_majority_breaks_ties_by_the_lower_category():
    assert majority(np.array([2, 2, 1, 1, 3])) == (1, 0.2)
    vecs, mask = _vectors([[EYE[0] + EYE[1], EYE[2]], [EYE[2], EYE[3]], [EYE[0]]])
    lists = separation(vecs, mask, ITEMS, EVAL, GROUP, TOPICS)
    # user 1's first interest mixes categories 0 and 1 (the history's four items are excluded)
    assert lists["interest_purity@10"] < 1.0


def test_users_with_only_one_active_interest_are_left_out():
    vecs, mask = _vectors([[EYE[0], EYE[1]], [EYE[2], EYE[3]], [EYE[0], EYE[1]]])
    mask[:, 1] = False  # dynamic K gave everyone a single interest
    s = separation(vecs, mask, ITEMS, EVAL, GROUP, TOPICS)
    assert s["interest_users"] == 0 and np.isnan(s["interest_cosine"])


def test_kmeans_reference_finds_the_two_categories_of_each_history():
    vecs, mask = kmeans_interests(ITEMS, EVAL, np.array([2, 2, 1]))
    assert mask.sum(1).tolist() == [2, 2, 1]
    s = separation(vecs, mask, ITEMS, EVAL, GROUP, TOPICS)
    assert s["interest_cosine"] < 0.05 and s["topic_coverage"] == pytest.approx(1.0)


def test_interest_metrics_report_the_model_and_the_kmeans_reference_side_by_side():
    class Split:
        item_topic, item_category, user_topics = GROUP, GROUP, TOPICS

    vecs, mask = _vectors([[EYE[0], EYE[0]], [EYE[2], EYE[2]], [EYE[0]]])
    m = interest_metrics(vecs, mask, ITEMS, EVAL, Split())
    assert m["interest_cosine"] == pytest.approx(1.0) and m["kmeans_interest_cosine"] < 0.05
    assert m["topic_coverage"] == pytest.approx(0.5) and m["kmeans_topic_coverage"] == pytest.approx(1.0)


# -- the remedy against the paper as written, trained on small synthetic data ------------------------
@pytest.fixture(scope="module")
def paper_and_remedy(tmp_path_factory):
    from engine.data.synthetic import SyntheticConfig
    from engine.recsys.run import RecsysConfig, train

    root = tmp_path_factory.mktemp("remedy")
    small = SyntheticConfig(n_users=300, n_items=160, n_topics=6, min_len=10, max_len=30, seed=0)
    fast = dict(dataset="synthetic", synthetic=small, seed=0, dim=32, maxlen=20, epochs=6, patience=3, batch_size=256, lr=5e-3)
    out = {}
    for model in ("mind", "comirec-dr", "comirec-sa"):
        remedy = RecsysConfig(model=model, **fast)
        out[model] = (train(remedy.variant(paper=True), runs_root=root), train(remedy, runs_root=root))
    return out


@pytest.mark.parametrize("model", ["mind", "comirec-dr", "comirec-sa"])
def test_the_remedy_gives_more_distinct_interests_than_the_paper_with_the_same_seed(paper_and_remedy, model):
    paper, remedy = paper_and_remedy[model]
    assert not paper.config.remedy and remedy.config.remedy
    assert remedy.metrics["test/interest_cosine"] < paper.metrics["test/interest_cosine"], (
        paper.metrics["test/interest_cosine"], remedy.metrics["test/interest_cosine"])
    for run in (paper, remedy):  # S1 is reported for test and validation users, with the k-means reference
        for key in ("interest_cosine", "interest_purity@10", "interest_distinct", "topic_coverage", "kmeans_interest_cosine"):
            lo = -1.0 if key.endswith("interest_cosine") else 0.0  # a cosine may be negative
            assert lo <= run.metrics[f"test/{key}"] <= 1.0, key
            assert f"val/{key}" in run.metrics


def test_mind_as_in_the_paper_collapses_its_interests_and_the_remedy_separates_them(paper_and_remedy):
    paper, remedy = paper_and_remedy["mind"]
    assert paper.metrics["test/interest_cosine"] > 0.6  # near-uniform couplings: K copies of one average
    assert remedy.metrics["test/interest_cosine"] < 0.5
    assert remedy.metrics["test/topic_coverage"] > paper.metrics["test/topic_coverage"]


def test_cli_trains_the_paper_as_written_on_request(tmp_path, capsys):
    import json

    from engine.__main__ import main

    rc = main(["recsys", "train", "--model", "mind", "--dataset", "synthetic", "--syn-users", "120", "--epochs", "1",
               "--dim", "16", "--paper-faithful", "--quiet", "--threads", "1", "--out", str(tmp_path / "run")])
    assert rc == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["paper_faithful"] and not config["seeded_routing"] and config["p"] == 2.0
    assert "test/interest_cosine" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]
