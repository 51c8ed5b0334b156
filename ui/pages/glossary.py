"""Glossary (术语表): every term in English and Chinese, with a one-line definition and the paper section it
comes from. The terms live in the catalogues (assets/i18n/<lang>/glossary.toml, [terms.<id>]), not here."""
from __future__ import annotations

import streamlit as st

import pages.common  # noqa: F401  (routes a first direct visit through app.py)
from pages.i18n import catalogue, t

PREFIX = "glossary.terms."


def term_ids() -> list[str]:
    """Term ids in catalogue order."""
    return list(dict.fromkeys(k[len(PREFIX):].split(".")[0] for k in catalogue("en") if k.startswith(PREFIX)))


st.title("📖 " + t("glossary.title"))
st.markdown(t("glossary.intro"))
query = st.text_input(t("glossary.search"), key="glossary_q", placeholder=t("glossary.search_placeholder"), bind="query-params")

en, zh = catalogue("en"), catalogue("zh")
ids = term_ids()
q = (query or "").strip().lower()
shown = [i for i in ids if not q or any(q in c.get(f"{PREFIX}{i}.{f}", "").lower() for c in (en, zh) for f in ("term", "definition", "source"))]
st.caption(t("glossary.count", n=len(shown), total=len(ids)))
if not shown:
    st.info(t("glossary.no_match", q=query))
for i in shown:
    name_en, name_zh = en[f"{PREFIX}{i}.term"], zh[f"{PREFIX}{i}.term"]
    st.markdown(f"**{name_en}** · **{name_zh}**  \n{t(f'{PREFIX}{i}.definition')}  \n"
                f"<small>{t('glossary.source')}: {t(f'{PREFIX}{i}.source')}</small>", unsafe_allow_html=True)
