"""The million-item catalogue's generator and split cache, at 10k items; the vectorised R1 split."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import scale
from engine.data.r1 import make_r1
from engine.data.synthetic import SyntheticConfig
from engine.errors import ConfigError

SMALL = SyntheticConfig(n_users=2000, n_items=10_000, n_topics=100)


def test_generator_plants_topics_and_follows_the_chains():
    a = scale.generate_arrays(SMALL)
    assert a["item"].min() >= 1 and a["item"].max() <= SMALL.n_items
    lens = np.bincount(a["user"])[1:]
    assert lens.min() >= SMALL.min_len and lens.max() <= SMALL.max_len
    topic = (a["item"] - 1) % SMALL.n_topics
    m = a["user_m"][a["user"] - 1]
    planted = (a["user_topic"][a["user"] - 1] == topic[:, None]) & (np.arange(SMALL.max_interests)[None, :] < m[:, None])
    # every step but the noise (5%) lies in one of the user's planted topics
    assert planted.any(1).mean() > 0.9
    assert np.allclose(a["user_weight"].sum(1), 1.0)
    # planted topics of a user are distinct
    for row, k in zip(a["user_topic"][:200], a["user_m"][:200]):
        assert len(set(row[:k].tolist())) == k


def test_same_config_same_log_other_seed_other_log():
    a, b = scale.generate_arrays(SMALL), scale.generate_arrays(SMALL)
    c = scale.generate_arrays(SyntheticConfig(**{**SMALL.__dict__, "seed": 1}))
    assert np.array_equal(a["item"], b["item"]) and not np.array_equal(a["item"][:1000], c["item"][:1000])


def test_more_topics_than_names_are_numbered_and_bad_sizes_are_refused():
    names = scale.topic_names(1000)
    assert len(set(names)) == 1000 and names[0] == "Astronomy 1"
    with pytest.raises(ConfigError):
        scale.validate(SyntheticConfig(n_users=100, n_items=100, n_topics=1000))


def test_split_is_cached_on_disk_memory_mapped_and_equal_to_the_protocol(tmp_path):
    first = scale.load_split(SMALL, seed=0, maxlen=20, cache_dir=tmp_path, eval_users=50)
    again = scale.load_split(SMALL, seed=0, maxlen=20, cache_dir=tmp_path, eval_users=50)
    assert isinstance(again.train_hist, np.memmap)
    assert len(list(tmp_path.iterdir())) == 1  # one cache folder, no temporary left over
    # the same R1 code on the in-memory log gives the same training examples
    ref = make_r1(scale.generate(SMALL), 0, 20)
    assert np.array_equal(again.train_hist, ref.train_hist) and np.array_equal(again.train_target, ref.train_target)
    assert np.array_equal(again.train_item_count, ref.train_item_count)
    assert again.item_titles[1:4] == ref.item_titles[1:4]
    # evaluation: a fixed sample of R1's validation / test users, in perm order
    assert len(again.test) == 50 and set(again.test.users) <= set(ref.test_users)
    order = {u: i for i, u in enumerate(ref.test_users)}
    assert [order[u] for u in again.test.users] == sorted(order[u] for u in again.test.users)
    assert np.array_equal(first.test.users, again.test.users)
    u = int(again.test.users[0])
    k = int(0.8 * len(ref.sequences[u]))
    assert np.array_equal(again.test.targets[0], ref.sequences[u][k:])
