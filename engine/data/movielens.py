"""MovieLens-100K (Harper & Konstan, ACM TiiS 2015): download from GroupLens, verify, parse.

Research use only, no redistribution: the files are fetched at first use into the data directory,
never shipped with the project.
"""
from __future__ import annotations

import io
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd

from engine.data.files import md5sum
from engine.data.interactions import Interactions
from engine.errors import DataError
from engine.paths import data_dir as default_data_dir

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
U_DATA_MD5 = "6e47046882bad158b0efbb84cd5cb987"
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
]


def folder(data_dir: str | Path | None = None) -> Path:
    return Path(default_data_dir(data_dir)) / "ml-100k"


def is_available(data_dir: str | Path | None = None) -> bool:
    d = folder(data_dir)
    return (d / "u.data").exists() and (d / "u.item").exists()


def download(data_dir: str | Path | None = None, timeout: float = 30.0) -> Path:
    """Fetch the official archive, unpack u.data / u.item / u.genre / README, verify u.data's md5."""
    target = folder(data_dir)
    try:
        with urllib.request.urlopen(URL, timeout=timeout) as r:  # noqa: S310 (fixed https URL)
            blob = r.read()
    except Exception as e:  # network errors come in many types
        raise DataError(
            f"Could not download MovieLens-100K from {URL} ({e.__class__.__name__}: {e}). "
            f"Download ml-100k.zip by hand and unpack it so that {target / 'u.data'} exists, "
            "or point the data directory there with --data-dir / EMBEDLAB_DATA_DIR.",
            code="ml_download", url=URL, detail=f"{e.__class__.__name__}: {e}", path=str(target / "u.data"),
        ) from e
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if base in {"u.data", "u.item", "u.genre", "u.info", "u.user", "u.occupation", "README"}:
                (target / base).write_bytes(z.read(name))
    got = md5sum(target / "u.data")
    if got != U_DATA_MD5:
        (target / "u.data").unlink()
        raise DataError(f"The downloaded u.data has md5 {got}, expected {U_DATA_MD5}; it was removed. Try again.", code="ml_damaged",
                        got=got, md5=U_DATA_MD5)
    return target


def load(data_dir: str | Path | None = None, fetch: bool = True, verify: bool = True) -> Interactions:
    """Parse ratings (u.data) and titles, years and genres (u.item, latin-1). Every rating is one interaction."""
    d = folder(data_dir)
    if not is_available(data_dir):
        if not fetch:
            raise DataError(f"MovieLens-100K is not in {d}. Fetch it from the home page or put u.data and u.item there.", code="ml_missing", dir=str(d))
        download(data_dir)
    if verify and md5sum(d / "u.data") != U_DATA_MD5:
        raise DataError(f"{d / 'u.data'} does not match the official MovieLens-100K file (md5). Delete it and download again.",
                        code="ml_md5", path=str(d / "u.data"))
    try:
        log = pd.read_csv(d / "u.data", sep="\t", header=None, names=["user", "item", "rating", "timestamp"],
                          dtype="int64")
        cols = ["item", "title", "release", "video_release", "url"] + GENRES
        raw = pd.read_csv(d / "u.item", sep="|", header=None, names=cols, encoding="latin-1", dtype={"title": str})
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"Could not parse MovieLens files in {d}: {e}. Delete them and download again.", code="ml_parse",
                        dir=str(d), detail=str(e)) from e
    flags = raw[GENRES].to_numpy().astype(bool)
    genres = ["|".join(g for g, f in zip(GENRES, row) if f) or "unknown" for row in flags]
    items = pd.DataFrame(
        {
            "title": raw["title"].fillna("").astype(str).str.strip().to_numpy(),
            "year": pd.to_datetime(raw["release"], format="%d-%b-%Y", errors="coerce").dt.year.astype("Int64").array,
            "genres": genres,
            "category": [g.split("|")[0] for g in genres],
        },
        index=raw["item"].astype("int64").rename("item"),
    )
    return Interactions(name="ml-100k", log=log[["user", "item", "timestamp"]], items=items)
