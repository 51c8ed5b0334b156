"""A synthetic multi-interest dataset with known ground truth, generated offline.

Items belong to topics, and each topic's items form an ordered chain (episode 1, 2, 3...).
Each user has 1 to `max_interests` planted topics with Dirichlet weights. A sequence keeps
to the current topic, switches to another planted topic with probability `switch`, and inside a
topic walks forward along the chain by 1-2 steps; with probability `noise` a step is a random item
instead. Sequence models can learn the within-topic order; multi-interest models can discover
the planted topics. The truth stays attached: each item's topic and each user's interests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.interactions import Interactions
from engine.errors import ConfigError

TOPICS = [
    "Astronomy", "Jazz", "Baking", "Chess", "Hiking", "Poetry", "Robotics", "Gardening",
    "Oceans", "Castles", "Railways", "Volcanoes", "Origami", "Cycling", "Opera", "Deserts",
    "Beekeeping", "Glaciers", "Typography", "Falconry",
]
_ADJ = ["Amber", "Silent", "Golden", "Hidden", "Northern", "Velvet", "Crimson", "Quiet", "Wild", "Electric",
        "Lunar", "Paper", "Iron", "Hollow", "Bright", "Salt", "Distant", "Secret", "Little", "Last"]
_NOUN = ["Garden", "Signal", "Harbour", "Circuit", "Valley", "Letter", "Engine", "Lantern", "River", "Orbit",
         "Bridge", "Archive", "Window", "Compass", "Meadow", "Tide", "Station", "Forest", "Echo", "Atlas"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of the synthetic dataset; same config, same data."""

    n_users: int = 600
    n_items: int = 320
    n_topics: int = 8
    max_interests: int = 4
    min_len: int = 12
    max_len: int = 40
    switch: float = 0.3  # chance to jump to another planted interest at each step
    noise: float = 0.05  # chance that a step is a random item (lower: better-separated topics)
    order: float = 1.0  # chance that a step inside a topic follows its chain (else: any item of the topic)
    seed: int = 0

    def validate(self) -> None:
        if not 1 <= self.n_topics <= len(TOPICS):
            raise ConfigError(f"n_topics must be between 1 and {len(TOPICS)}; got {self.n_topics}.")
        if self.n_items < 2 * self.n_topics:
            raise ConfigError(f"Need at least 2 items per topic: raise n_items above {2 * self.n_topics - 1}.")
        if not 1 <= self.max_interests <= self.n_topics:
            raise ConfigError("max_interests must be between 1 and n_topics.")
        if not 2 <= self.min_len <= self.max_len:
            raise ConfigError("Sequence lengths need 2 <= min_len <= max_len.")
        if not (0 <= self.switch <= 1 and 0 <= self.noise <= 1 and 0 <= self.order <= 1):
            raise ConfigError("switch, noise and order are probabilities in [0, 1].")
        if self.n_users < 20:
            raise ConfigError("Use at least 20 users so that validation and test sets are not empty.")


def generate(cfg: SyntheticConfig = SyntheticConfig()) -> Interactions:
    """Draw the log, the item names and the ground truth from `cfg.seed`."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    T = cfg.n_topics
    item_ids = np.arange(1, cfg.n_items + 1)
    topic_of = (item_ids - 1) % T  # item i belongs to topic (i-1) mod T
    chains = [item_ids[topic_of == t] for t in range(T)]  # ordered chain of each topic

    rows: list[tuple[int, int, int]] = []
    user_topics: dict[int, list[tuple[int, float]]] = {}
    for user in range(1, cfg.n_users + 1):
        m = int(rng.integers(1, cfg.max_interests + 1))
        topics = rng.choice(T, size=m, replace=False)
        weights = rng.dirichlet(np.full(m, 2.0))
        user_topics[user] = [(int(t), float(w)) for t, w in zip(topics, weights)]
        pos = {int(t): int(rng.integers(0, len(chains[t]))) for t in topics}
        length = int(rng.integers(cfg.min_len, cfg.max_len + 1))
        current = int(rng.choice(topics, p=weights))
        t0 = int(rng.integers(0, 10_000)) * 100
        for step in range(length):
            if step and rng.random() < cfg.switch and m > 1:
                current = int(rng.choice(topics, p=weights))
            if rng.random() < cfg.noise:
                item = int(rng.integers(1, cfg.n_items + 1))
            else:
                chain = chains[current]
                if cfg.order < 1 and rng.random() >= cfg.order:
                    pos[current] = int(rng.integers(0, len(chain)))  # off the chain: any item of the topic
                else:
                    pos[current] = (pos[current] + int(rng.integers(1, 3))) % len(chain)
                item = int(chain[pos[current]])
            rows.append((user, item, t0 + step))
    log = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).astype("int64")

    names = TOPICS[:T]
    titles = []
    for i, t in zip(item_ids, topic_of):
        k = int(np.flatnonzero(chains[t] == i)[0])
        titles.append(f"{names[t]} {k + 1:02d}: {_ADJ[(i * 7) % len(_ADJ)]} {_NOUN[(i * 13 + t) % len(_NOUN)]}")
    items = pd.DataFrame(
        {"title": titles, "category": [names[t] for t in topic_of], "topic": topic_of.astype("int64")},
        index=pd.Index(item_ids.astype("int64"), name="item"),
    )
    return Interactions(name="synthetic", log=log, items=items, user_topics=user_topics, topic_names=names)
