"""Embedding Lab engine: datasets, protocols, models, retrieval. Never imports streamlit."""
