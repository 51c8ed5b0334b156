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


@st.cache_resource
def _threads() -> int:
    # One torch / faiss thread for the whole server: trainings run as jobs beside the page reruns, one per core
    # (engine/jobs.py explains the choice); set once per process.
    return set_threads(APP_THREADS)


st.set_page_config(page_title="Embedding Lab", page_icon="🧭", layout="wide")
_threads()

SECTIONS = {
    "": [("pages/home.py", "Home", "🏠", "")],
    "Sequence recall": [
        ("pages/train.py", "Train and compare", "🏋️", "train"),
        ("pages/map.py", "Embedding map", "🗺️", "map"),
        ("pages/routing.py", "Routing", "🔀", "routing"),
        ("pages/nearest.py", "Nearest items", "🎯", "nearest"),
    ],
    "Medical imaging": [("pages/xray.py", "Chest X-ray", "🩻", "xray")],
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
    st.markdown("### Recommendation data")
    options = ["synthetic"] + [n for n, ok in available().items() if ok and n != "synthetic"] + list_uploads()
    st.selectbox(
        "Dataset",
        options,
        key=DATASET_KEY,
        format_func=lambda n: {"synthetic": "Synthetic (planted interests)", "ml-100k": "MovieLens-100K"}.get(n, f"Your log: {Path(n).name}"),
        help="Synthetic data is generated offline and carries its ground truth. MovieLens-100K appears once it is on disk, "
             "your own logs once uploaded (see Home).",
        bind="query-params",
    )
    st.number_input("Split seed", min_value=0, max_value=99, value=0, step=1, key=SEED_KEY,
                    help="Protocol R1's user split (and training) seed.", bind="query-params")

page.run()
