"""The one in-memory form of every recommendation dataset: an interaction log plus item metadata."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(eq=False)
class Interactions:
    """A log of (user, item, timestamp) with item titles and categories.

    `log` keeps the input file's order (R1 sorts stably by timestamp, ties in file order).
    `items` is indexed by raw item id with columns `title` and `category` (a string; MovieLens:
    the first listed genre) and, where known, `genres` ("|"-joined) and `topic` (synthetic truth).
    `user_topics` holds the planted interests of each user on synthetic data: user -> [(topic, weight)].
    """

    name: str
    log: pd.DataFrame
    items: pd.DataFrame
    user_topics: dict[int, list[tuple[int, float]]] | None = None
    topic_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_titles(self) -> bool:
        """True when items carry real titles rather than their ids."""
        return bool((self.items["title"] != self.items.index.astype(str)).any())

    def summary(self) -> dict[str, int]:
        return {
            "interactions": len(self.log),
            "users": int(self.log["user"].nunique()),
            "items": int(self.log["item"].nunique()),
        }
