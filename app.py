"""Embedding Lab: see inside sequence-recall models and a chest X-ray classifier.

Run: streamlit run app.py
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from engine.data.datasets import available
from engine.data.uploads import list_uploads
from engine.threads import set_threads
from pages.common import DATASET_KEY, SEED_KEY
from pages.i18n import language_picker, resolve_lang, t


@st.cache_resource
def _threads() -> int:
    return set_threads()  # torch + faiss share the machine's cores; set once per process


st.set_page_config(page_title=t("app.name"), page_icon="🧭", layout="wide")
_threads()
resolve_lang()  # ?lang= in the URL, else this session's choice, else the browser's locale

HERE = Path(__file__).parent
SECTIONS = {
    "": [("pages/home.py", t("app.page_home"), "🏠", "")],
    t("app.section_recall"): [
        ("pages/train.py", t("app.page_train"), "🏋️", "train"),
        ("pages/map.py", t("app.page_map"), "🗺️", "map"),
        ("pages/routing.py", t("app.page_routing"), "🔀", "routing"),
        ("pages/nearest.py", t("app.page_nearest"), "🎯", "nearest"),
        ("pages/scale.py", t("scale.nav"), "📈", "scale"),
    ],
    t("rank.nav_section"): [("pages/rank.py", t("rank.nav_title"), "🏁", "rank")],
    t("app.section_imaging"): [("pages/xray.py", t("app.page_xray"), "🩻", "xray")],
    t("app.section_reference"): [("pages/glossary.py", t("app.page_glossary"), "📖", "glossary")],
}
nav = {
    section: [
        st.Page(path, title=title, icon=icon, url_path=url or None, default=not url)
        for path, title, icon, url in pages
        if (HERE / path).exists()
    ]
    for section, pages in SECTIONS.items()
}
page = st.navigation({s: ps for s, ps in nav.items() if ps})

with st.sidebar:
    language_picker()
    if (HERE / "pages/glossary.py").exists():
        st.page_link("pages/glossary.py", label=t("app.glossary_link"), icon="📖")
    st.markdown(t("app.sidebar_data"))
    options = ["synthetic"] + [n for n, ok in available().items() if ok and n != "synthetic"] + list_uploads()
    st.selectbox(
        t("app.dataset"),
        options,
        key=DATASET_KEY,
        format_func={n: {"synthetic": t("common.synthetic"), "ml-100k": "MovieLens-100K"}.get(n, t("app.your_log", name=Path(n).name)) for n in options}.get,
        help=t("app.dataset_help"),
        bind="query-params",
    )
    st.number_input(t("app.seed"), min_value=0, max_value=99, value=0, step=1, key=SEED_KEY,
                    help=t("app.seed_help"), bind="query-params")

page.run()
