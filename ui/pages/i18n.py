"""One translation helper for every page: `t(key, **values)`.

Catalogues are TOML files, one per page or topic, under `assets/i18n/<lang>/<topic>.toml`
(read with the standard library's `tomllib`); a key is `<topic>.<name>`, e.g. `t("rank.title")`
reads `title` from `assets/i18n/<lang>/rank.toml`. Values are `str.format` templates:
`t("rank.moved", n=3)` with `moved = "{n} items moved"`. The language lives in the session
(`st.session_state["lang"]`), never in a module global.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

import streamlit as st

from engine.paths import ASSETS_DIR

LANGS = ("en", "zh")
LANG_KEY = "lang"
CATALOGUE_DIR = ASSETS_DIR / "i18n"


def _flatten(prefix: str, table: dict, out: dict[str, str]) -> None:
    for k, v in table.items():
        if isinstance(v, dict):
            _flatten(f"{prefix}.{k}", v, out)
        else:
            out[f"{prefix}.{k}"] = str(v)


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, keyed `<topic>.<name>`."""
    out: dict[str, str] = {}
    for f in sorted((CATALOGUE_DIR / lang).glob("*.toml")):
        with f.open("rb") as fh:
            _flatten(f.stem, tomllib.load(fh), out)
    return out


def current_lang() -> str:
    """The session's language (default English)."""
    lang = st.session_state.get(LANG_KEY)
    return lang if lang in LANGS else "en"


def t(key: str, **values) -> str:
    """The message `key` in the session's language, with `values` filled in."""
    text = catalogue(current_lang()).get(key)
    if text is None:
        text = catalogue("en").get(key, key)
    return text.format(**values) if values else text
