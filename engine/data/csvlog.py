"""Your own interaction log: a CSV or TSV with user, item and timestamp columns (title, category optional)."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from engine.data.interactions import Interactions
from engine.errors import DataError

ALIASES = {
    "user": ["user", "user_id", "userid", "uid"],
    "item": ["item", "item_id", "itemid", "iid", "movie_id", "product_id"],
    "timestamp": ["timestamp", "time", "ts", "datetime", "date"],
    "title": ["title", "name", "item_title"],
    "category": ["category", "genre", "cat"],
}
MAX_BYTES = 500 * 1024 * 1024
MAX_ROWS = 2_000_000  # interactions; MovieLens-1M fits. A bigger log is refused before pandas parses it (memory).


def count_rows(source: str | Path | bytes, cap: int = MAX_ROWS) -> int:
    """Data rows (lines after the header) of a log, counted in 1 MB chunks; stops counting past `cap`."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return max(0, data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1) - 1)
    n, last = 0, b"\n"
    with open(source, "rb") as f:
        while n <= cap + 1 and (chunk := f.read(1 << 20)):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return max(0, n + (0 if last == b"\n" else 1) - 1)


def too_many_rows(name: str, rows: int, cap: int = MAX_ROWS) -> DataError:
    return DataError(f"{name} has more than {cap:,} rows ({rows:,}+ counted); this app takes logs of at most {cap:,} "
                     "interactions. Sample it down (for example, keep a random subset of users) and use it again.")


def _ids(col: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """Integer ids as they are; other ids become 1..n codes (their original text kept)."""
    as_num = pd.to_numeric(col, errors="coerce")
    if as_num.notna().all() and (as_num == as_num.round()).all():
        return as_num.astype("int64"), None
    codes, uniques = pd.factorize(col.astype(str))
    return pd.Series(codes + 1, index=col.index, dtype="int64"), pd.Series(uniques)


def load_csv(path: str | Path) -> Interactions:
    """Read and check a log; every problem raises one DataError that names it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"No file at {path}.")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path.name} is empty: it needs a header row with user, item and timestamp columns.", code="log_empty", name=path.name)
    if size > MAX_BYTES:
        raise DataError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB; sample it down first.", code="log_too_large", name=path.name, mb=MAX_BYTES // 2**20)
    rows = count_rows(path)
    if rows > MAX_ROWS:
        raise too_many_rows(path.name, rows)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
        if path.suffix.lower() in {".tsv", ".tab"}:
            sep = "\t"
        else:
            try:
                sep = csv.Sniffer().sniff(head.splitlines()[0], delimiters=",\t;|").delimiter
            except csv.Error:
                sep = ","
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, IndexError) as e:
        raise DataError(f"{path.name} is not a readable CSV/TSV file ({e}).", code="log_unreadable", name=path.name, detail=str(e)) from e
    cols = {c.strip().lower(): c for c in df.columns}
    found = {}
    for key, names in ALIASES.items():
        for n in names:
            if n in cols:
                found[key] = cols[n]
                break
    missing = [k for k in ("user", "item", "timestamp") if k not in found]
    if missing:
        raise DataError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns)) or 'none'}. "
            "It needs a header row with user, item and timestamp (title and category are optional).",
            code="log_columns", name=path.name, missing=", ".join(missing), found=", ".join(map(str, df.columns)) or "none",
        )
    if df.empty:
        raise DataError(f"{path.name} has a header but no rows.", code="log_no_rows", name=path.name)
    ts = pd.to_numeric(df[found["timestamp"]], errors="coerce")
    if ts.isna().any():
        bad = df.loc[ts.isna(), found["timestamp"]].iloc[0]
        row = int(ts.isna().to_numpy().argmax()) + 2
        raise DataError(
            f"{path.name}: timestamp {bad!r} on line {row} is not a number. "
            "Use numbers that order the events (Unix seconds, for example).", code="log_timestamp", name=path.name, value=repr(bad), line=row,
        )
    user, _ = _ids(df[found["user"]])
    item, item_names = _ids(df[found["item"]])
    log = pd.DataFrame({"user": user, "item": item, "timestamp": ts.astype("float64")})
    if (log["timestamp"] == log["timestamp"].round()).all():
        log["timestamp"] = log["timestamp"].astype("int64")
    first = df.assign(_item=item).drop_duplicates("_item").set_index("_item")
    first.index = first.index.astype("int64").rename("item")
    if "title" in found:
        title = first[found["title"]].astype(str)
    elif item_names is not None:
        title = pd.Series(item_names.to_numpy()[first.index.to_numpy() - 1], index=first.index)
    else:
        title = first.index.astype(str).to_series(index=first.index)
    category = first[found["category"]].astype(str) if "category" in found else pd.Series("all", index=first.index)
    items = pd.DataFrame({"title": title, "category": category.replace("", "unknown")}, index=first.index)
    return Interactions(name=path.name, log=log, items=items.sort_index())
