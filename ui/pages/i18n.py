"""One translation helper for every page: `t(key, **values)`.

Catalogues are TOML files, one per page or topic, under `assets/i18n/<lang>/<topic>.toml`
(read with the standard library's `tomllib`); a key is `<topic>.<name>`, e.g. `t("rank.title")`
reads `title` from `assets/i18n/<lang>/rank.toml`. Values are `str.format` templates:
`t("rank.moved", n=3)` with `moved = "{n} items moved"`.

The language lives in the session (`st.session_state["lang"]`), never in a module global: two visitors
in different languages never see each other's. app.py calls `resolve_lang()` before drawing anything:
the URL's `?lang=zh|en` wins (a shared link opens in the sender's language), then the session's choice,
then the browser's locale (`st.context.locale`: zh* -> zh, else en). `language_picker()` draws the
sidebar switch and keeps `?lang=` in the URL in step with it.

A key missing from both catalogues shows as the key itself and is recorded in
`st.session_state["_i18n_missing"]`, so a test can assert that a page needs no key the catalogues lack.
Engine errors keep English messages (CLI); `error_text(e)` shows them in the session's language via
`errors.<code>` in errors.toml, falling back to the English message.

For page authors: no bare text literal may reach a Streamlit call that shows text (tests/test_i18n.py checks
pages/ and app.py by AST); names of models, metrics and papers stay as they are. Build `format_func` labels
eagerly (`format_func={v: t(...) for v in options}.get`): AppTest calls format_func outside the session, where a
lazy `t()` would answer in English. Keep option values language-free and translate only their labels.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

import streamlit as st

from engine.paths import ASSETS_DIR

LANGS = ("en", "zh")
LANG_KEY = "lang"
PICKER_KEY = "lang_picker"  # the sidebar widget; the language itself is a plain session key (widget state is dropped on runs that skip the widget)
MISSING_KEY = "_i18n_missing"
LANG_NAMES = {"en": "English", "zh": "中文"}
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


def _state():
    """The session state, or None outside a script run (module import, CLI)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        return st.session_state if get_script_run_ctx(suppress_warning=True) is not None else None
    except Exception:  # noqa: BLE001 - no session: English
        return None


def lang_from_locale(locale: str | None) -> str:
    """A browser locale ("zh-CN", "zh-Hant-TW", "en-GB", None) mapped to a language the catalogues have."""
    return "zh" if (locale or "").lower().startswith("zh") else "en"


def current_lang() -> str:
    """The session's language (English outside a session or before `resolve_lang`)."""
    state = _state()
    lang = state.get(LANG_KEY) if state is not None else None
    return lang if lang in LANGS else "en"


def _record_missing(key: str) -> None:
    state = _state()
    if state is not None:
        state.setdefault(MISSING_KEY, set()).add(key)


def t(key: str, **values) -> str:
    """The message `key` in the session's language, with `values` filled in."""
    text = catalogue(current_lang()).get(key)
    if text is None:
        text = catalogue("en").get(key)
    if text is None:
        _record_missing(key)
        return key
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        _record_missing(key)
        return text


def missing_keys() -> set[str]:
    """Keys this session asked for that no catalogue has (or whose placeholders did not fit)."""
    state = _state()
    return set(state.get(MISSING_KEY, set())) if state is not None else set()


def _url_lang() -> str | None:
    lang = st.query_params.get(LANG_KEY)
    return lang if lang in LANGS else None


def resolve_lang() -> str:
    """Settle the session's language for this run: `?lang=` in the URL, else the session's, else the browser's locale."""
    lang = _url_lang() or st.session_state.get(LANG_KEY)
    if lang not in LANGS:
        lang = lang_from_locale(st.context.locale)
    st.session_state[LANG_KEY] = lang
    if st.query_params.get(LANG_KEY) != lang:
        st.query_params[LANG_KEY] = lang  # mirrored in the URL, so a shared link opens in this language
    return lang


def _lang_changed() -> None:
    lang = st.session_state.get(PICKER_KEY)
    if lang in LANGS:
        st.session_state[LANG_KEY] = lang
        st.query_params[LANG_KEY] = lang


def language_picker() -> str:
    """The sidebar's language switch (call inside `with st.sidebar`, after `resolve_lang`)."""
    st.session_state[PICKER_KEY] = current_lang()  # follows the URL and the session, not only clicks
    st.radio(t("app.language"), LANGS, key=PICKER_KEY, format_func=LANG_NAMES.get, horizontal=True, on_change=_lang_changed)
    return current_lang()


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def localize_builtin_widgets() -> None:
    """Streamlit draws the file uploader's button ("Upload") and size note ("20MB per file") itself, in English, with no
    parameter to change them (streamlit/streamlit#13500). In other languages, CSS swaps in the catalogue's words."""
    if current_lang() == "en":
        return
    mb = int(st.get_option("server.maxUploadSize"))
    button, limit = _css_string(t("common.uploader_button")), _css_string(t("common.uploader_limit", mb=mb))
    drop = '[data-testid="stFileUploaderDropzone"]'
    st.html(
        f"<style>{drop} button [data-testid='stMarkdownContainer'] p {{font-size: 0}}"
        f"{drop} button [data-testid='stMarkdownContainer'] p::after {{content: {button}; font-size: 0.875rem}}"
        f"[data-testid='stFileUploaderDropzoneInstructions'] span {{font-size: 0}}"
        f"[data-testid='stFileUploaderDropzoneInstructions'] span::after {{content: {limit}; font-size: 0.875rem}}</style>"
    )


def large_count(n: float) -> str:
    """A large count the way each language says it: 89 million / 8900 万 (Chinese counts in 万 = 10^4 and 亿 = 10^8)."""
    if current_lang() == "zh":
        if n >= 1e8:
            return f"{n / 1e8:.1f} 亿"
        return f"{n / 1e4:.0f} 万" if n >= 1e4 else f"{n:.0f}"
    return f"{n / 1e6:,.0f} million" if n >= 1e6 else f"{n:,.0f}"


def error_text(e: Exception | str) -> str:
    """An engine error or message (engine.errors.Message) in the session's language: `errors.<code>` filled with its
    params (a param that is itself a coded Message is translated too), else its English text."""
    code = getattr(e, "code", None)
    if code:
        key = f"errors.{code}"
        text = catalogue(current_lang()).get(key)
        if text is not None:
            try:
                params = {k: error_text(v) if getattr(v, "code", None) else v for k, v in getattr(e, "params", {}).items()}
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                pass
    return str(e)
