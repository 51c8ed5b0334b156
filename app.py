"""Embedding Lab: see inside sequence-recall models and a chest X-ray classifier.

Run: streamlit run app.py
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from engine.data.datasets import available
from engine.data.uploads import list_uploads
from engine.jobs import APP_THREADS
from engine.threads import set_threads
from pages.common import DATASET_KEY, SEED_KEY


@st.cache_resource
def _threads() -> int:
    # One torch / faiss thread for the whole server: trainings run as jobs beside the page reruns, one per core
    # (engine/jobs.py explains the choice); set once per process.
    return set_threads(APP_THREADS)


st.set_page_config(page_title="Embedding Lab", page_icon="🧭", layout="wide")
_threads()

HERE = Path(__file__).parent
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
        st.Page(path, title=title, icon=icon, url_path=url or None, default=not url)
        for path, title, icon, url in pages
        if (HERE / path).exists()
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
