"""Embedding Lab: see inside sequence-recall models and a chest X-ray classifier.

Run: streamlit run app.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# The page files live in ui/pages/, not in a pages/ folder beside this script: Streamlit runs a folder named pages/
# beside the entry script as a v1 multipage app (each file on its own, without this script's navigation and
# sidebar) until the first st.navigation call of the process, so a fresh server's first visits to /routing, /map...
# would skip app.py (and, at the same moment, crash). Streamlit's own advice for apps that use st.navigation is to
# name that folder otherwise. `pages` stays the package name (ui/ goes on sys.path), so no page file changes.
HERE = Path(__file__).parent
PAGES_ROOT = HERE / "ui" if (HERE / "ui" / "pages").is_dir() else HERE
if str(PAGES_ROOT) not in sys.path:
    sys.path.insert(0, str(PAGES_ROOT))

from engine.data.datasets import available  # noqa: E402
from engine.data.uploads import list_uploads  # noqa: E402
from engine.jobs import APP_THREADS  # noqa: E402
from engine.threads import set_threads  # noqa: E402
from pages.common import DATASET_KEY, SEED_KEY  # noqa: E402
from pages.i18n import language_picker, localize_builtin_widgets, resolve_lang, t  # noqa: E402


@st.cache_resource
def _threads() -> int:
    # One torch / faiss thread for the whole server: trainings run as jobs beside the page reruns, one per core
    # (engine/jobs.py explains the choice); set once per process.
    return set_threads(APP_THREADS)


st.set_page_config(page_title=t("app.name"), page_icon="🧭", layout="wide")
_threads()
resolve_lang()  # ?lang= in the URL, else this session's choice, else the browser's locale
localize_builtin_widgets()

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
        st.Page(str((PAGES_ROOT / path).relative_to(HERE)), title=title, icon=icon, url_path=url or None, default=not url)
        for path, title, icon, url in pages
        if (PAGES_ROOT / path).exists()
    ]
    for section, pages in SECTIONS.items()
}
page = st.navigation({s: ps for s, ps in nav.items() if ps})

with st.sidebar:
    language_picker()
    if (PAGES_ROOT / "pages/glossary.py").exists():
        st.page_link(str((PAGES_ROOT / "pages/glossary.py").relative_to(HERE)), label=t("app.glossary_link"), icon="📖")
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
