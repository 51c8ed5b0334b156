"""Loaders: your own CSV/TSV logs (good and bad), the MovieLens parser, the synthetic generator."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_data_or_skip
from engine.data import csvlog, movielens
from engine.data.r1 import make_r1
from engine.data.synthetic import SyntheticConfig, generate
from engine.errors import ConfigError, DataError


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _good_rows(n_users=12, n_items=6, sep=","):
    lines = []
    for u in range(n_users):
        for t in range(6):
            lines.append(sep.join([f"u{u}", str(100 + (u + t) % n_items), str(1000 + t), f"Film {(u + t) % n_items}", "drama" if t % 2 else "comedy"]))
    return lines


def test_csv_with_string_ids_titles_and_categories_loads_and_splits(tmp_path):
    p = _write(tmp_path, "log.csv", "user_id,item_id,timestamp,title,category\n" + "\n".join(_good_rows()) + "\n")
    data = csvlog.load_csv(p)
    assert data.summary() == {"interactions": 72, "users": 12, "items": 6}
    assert set(data.items["category"]) == {"drama", "comedy"}
    assert data.has_titles
    sp = make_r1(data, seed=0)
    assert len(sp.test_users) >= 1 and sp.item_titles[1].startswith("Film")


def test_tsv_without_titles_falls_back_to_ids(tmp_path):
    body = "\n".join("\t".join(r.split("\t")[:3]) for r in _good_rows(sep="\t"))
    data = csvlog.load_csv(_write(tmp_path, "log.tsv", "user\titem\ttimestamp\n" + body))
    assert data.summary()["interactions"] == 72
    assert not data.has_titles


@pytest.mark.parametrize(
    "name,text,needle",
    [
        ("empty.csv", "", "empty"),
        ("header.csv", "user,item,timestamp\n", "no rows"),
        ("cols.csv", "user,product\n1,2\n", "timestamp"),
        ("time.csv", "user,item,timestamp\n1,2,yesterday\n", "not a number"),
    ],
)
def test_bad_csv_files_raise_one_clear_error(tmp_path, name, text, needle):
    with pytest.raises(DataError, match=needle):
        csvlog.load_csv(_write(tmp_path, name, text))


def test_a_log_too_small_after_filtering_says_so(tmp_path):
    p = _write(tmp_path, "tiny.csv", "user,item,timestamp\n" + "\n".join(f"{u},{u},{u}" for u in range(30)))
    with pytest.raises(DataError, match="After R1 filtering"):
        make_r1(csvlog.load_csv(p), seed=0)


def test_synthetic_data_keeps_its_ground_truth_and_is_deterministic():
    cfg = SyntheticConfig(n_users=80, n_items=64, n_topics=4, seed=7)
    a, b = generate(cfg), generate(cfg)
    assert a.log.equals(b.log)
    assert not a.log.equals(generate(SyntheticConfig(n_users=80, n_items=64, n_topics=4, seed=8)).log)
    assert set(a.items["topic"]) == {0, 1, 2, 3}
    assert all(1 <= len(v) <= 4 and abs(sum(w for _, w in v) - 1) < 1e-9 for v in a.user_topics.values())
    # with no noise every behaviour belongs to one of its user's planted topics
    clean = generate(SyntheticConfig(n_users=80, n_items=64, n_topics=4, noise=0.0, seed=7))
    topic = clean.items["topic"]
    for user, g in clean.log.groupby("user"):
        planted = {t for t, _ in clean.user_topics[user]}
        assert set(topic.loc[g["item"]]) <= planted
    assert a.items["title"].is_unique


def test_synthetic_split_carries_item_topics():
    sp = make_r1(generate(SyntheticConfig(n_users=60, n_items=48, n_topics=4)), seed=0)
    assert sp.item_topic is not None and sp.item_topic[0] == -1 and set(sp.item_topic[1:]) <= {0, 1, 2, 3}


def test_impossible_synthetic_settings_are_refused_with_a_reason():
    with pytest.raises(ConfigError, match="items per topic"):
        generate(SyntheticConfig(n_items=5, n_topics=4))


def test_movielens_parser_reads_ratings_titles_and_genres():
    root = shared_data_or_skip("ml-100k", "u.item").parents[1]
    data = movielens.load(root, fetch=False)
    assert data.summary() == {"interactions": 100000, "users": 943, "items": 1682}
    toy = data.items.loc[1]
    assert toy["title"] == "Toy Story (1995)" and toy["year"] == 1995
    assert toy["genres"] == "Animation|Children's|Comedy" and toy["category"] == "Animation"
    assert data.items["title"].str.contains("é").any()  # latin-1 decoded
    assert np.issubdtype(data.log["timestamp"].dtype, np.integer)


def test_missing_movielens_without_fetch_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError, match="u.data"):
        movielens.load(tmp_path, fetch=False)


def test_corrupt_movielens_file_is_detected_by_its_checksum(tmp_path):
    d = tmp_path / "ml-100k"
    d.mkdir()
    (d / "u.data").write_text("1\t2\t3\t4\n")
    (d / "u.item").write_text("1|x|||" + "|0" * 19 + "\n")
    with pytest.raises(DataError, match="md5"):
        movielens.load(tmp_path, fetch=False)


def _log_bytes(users: int = 40, per_user: int = 12, items: int = 30, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    rows = ["user,item,timestamp"] + [f"{u},{int(rng.integers(1, items + 1))},{1000 * u + t}" for u in range(1, users + 1) for t in range(per_user)]
    return ("\n".join(rows) + "\n").encode()


def test_an_uploaded_log_is_checked_kept_once_and_listed(tmp_path):
    from engine.data.uploads import list_uploads, save_upload

    path = save_upload("my clicks.csv", _log_bytes(), runs_root=tmp_path)
    assert path.parent == tmp_path / "uploads" and path.name.startswith("my-clicks-") and path.suffix == ".csv"
    assert save_upload("my clicks.csv", _log_bytes(), runs_root=tmp_path) == path  # same content, same dataset
    assert list_uploads(tmp_path) == [str(path)]
    assert len(make_r1(csvlog.load_csv(path), seed=0).test) > 0


@pytest.mark.parametrize("name, data, needle", [
    ("scan.png", b"\x89PNG\r\n\x1a\n", "not a CSV or TSV log"),
    ("tiny.csv", _log_bytes(users=6), "R1 needs at least 10 users"),
    ("nocols.csv", b"a,b\n1,2\n", "nocols.csv lacks the column(s) user, item, timestamp"),
    ("badtime.tsv", b"user\titem\ttimestamp\n1\t2\tyesterday\n", "badtime.tsv: timestamp 'yesterday'"),
])
def test_a_bad_upload_is_refused_with_its_reason_and_nothing_is_kept(tmp_path, name, data, needle):
    from engine.data.uploads import list_uploads, save_upload

    with pytest.raises(DataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        save_upload(name, data, runs_root=tmp_path)
    assert list_uploads(tmp_path) == []
    assert not any((tmp_path / "uploads").glob("*")) if (tmp_path / "uploads").exists() else True
