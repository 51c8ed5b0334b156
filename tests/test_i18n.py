"""Both languages, everywhere: the catalogues agree (keys and {placeholders}), no page passes a bare English
string to a Streamlit call that shows text (an AST check that fails on a literal added later), and every page
runs in English and in Chinese with no exception and no missing key."""
from __future__ import annotations

import ast
import os
import re
import string
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from conftest import PAGES

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "assets" / "i18n"
LANGS = ("en", "zh")


# -- catalogues ------------------------------------------------------------------------------------
def flat(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def placeholders(text: str) -> set[str]:
    """The {name} fields of a str.format template; LaTeX's braces ({\\text{...}}) are not fields."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:  # unbalanced braces: LaTeX, shown as written (t() formats only when given values)
        return set()
    return {name for name in fields if name.isidentifier()}


def topics() -> list[str]:
    return sorted({p.stem for lang in LANGS for p in (I18N / lang).glob("*.toml")})


def test_every_topic_has_a_catalogue_in_both_languages():
    assert {"app", "common", "errors", "glossary"} <= set(topics())
    for topic in topics():
        for lang in LANGS:
            assert (I18N / lang / f"{topic}.toml").exists(), f"{lang}/{topic}.toml is missing (the other language has it)"


@pytest.mark.parametrize("topic", topics())
def test_catalogues_have_the_same_keys_and_placeholders(topic):
    cats = {}
    for lang in LANGS:
        path = I18N / lang / f"{topic}.toml"
        if not path.exists():
            pytest.fail(f"{path} is missing")
        with path.open("rb") as f:
            cats[lang] = flat(tomllib.load(f))
    en, zh = cats["en"], cats["zh"]
    assert set(en) == set(zh), f"{topic}: only in en {sorted(set(en) - set(zh))}, only in zh {sorted(set(zh) - set(en))}"
    for key in en:
        assert isinstance(en[key], str) and isinstance(zh[key], str), f"{topic}.{key} is not a string"
        assert en[key].strip() and zh[key].strip(), f"{topic}.{key} is empty"
        assert placeholders(en[key]) == placeholders(zh[key]), f"{topic}.{key}: {en[key]!r} vs {zh[key]!r}"


def test_chinese_catalogues_are_chinese():
    """A zh file that is mostly English was copied, not translated."""
    for path in sorted((I18N / "zh").glob("*.toml")):
        with path.open("rb") as f:
            values = list(flat(tomllib.load(f)).values())
        cjk = sum(bool(re.search(r"[\u4e00-\u9fff]", v)) for v in values)
        assert cjk >= 0.5 * len(values), f"{path.name}: only {cjk} of {len(values)} messages contain Chinese"


def test_t_fills_values_falls_back_and_records_missing_keys():
    from pages import i18n

    assert i18n.catalogue("zh")["app.page_glossary"] == "术语表"
    assert i18n.lang_from_locale("zh-CN") == "zh" and i18n.lang_from_locale("zh-Hant-TW") == "zh"
    assert i18n.lang_from_locale("en-GB") == "en" and i18n.lang_from_locale(None) == "en"
    assert i18n.t("common.user_option", user=7, n=3, held=2) == "user 7 · 3 behaviours · 2 held out"  # no session: English
    assert i18n.t("common.no_such_key") == "common.no_such_key"


def test_engine_errors_keep_english_and_carry_a_code_the_page_translates():
    from engine.errors import ConfigError
    from pages import i18n

    e = ConfigError("nprobe (9) must be between 1 and nlist (4): lower nprobe or raise nlist.", code="nprobe_range", nprobe=9, nlist=4)
    assert str(e).startswith("nprobe (9)") and e.code == "nprobe_range" and e.params == {"nprobe": 9, "nlist": 4}
    assert i18n.error_text(e) == i18n.catalogue("en")["errors.nprobe_range"].format(nprobe=9, nlist=4)
    assert i18n.error_text(ConfigError("plain")) == "plain"  # no code: the English message


# -- no bare text passed to Streamlit ----------------------------------------------------------------
TEXT_FIRST_ARG = {  # calls whose first positional argument is shown as text (a label, a title, markdown)
    "title", "header", "subheader", "markdown", "caption", "write", "info", "warning", "error", "success", "toast",
    "text", "selectbox", "multiselect", "slider", "select_slider", "button", "form_submit_button", "download_button",
    "radio", "checkbox", "number_input", "text_input", "text_area", "file_uploader", "toggle", "expander", "metric",
    "status", "spinner", "pills", "segmented_control", "popover", "date_input", "color_picker", "tabs",
    "set_page_config",
}
TEXT_KEYWORDS = {  # keyword arguments shown as text, whatever the call (widgets, plotly figures and traces)
    "label", "help", "placeholder", "caption", "text", "title", "title_text", "xaxis_title", "yaxis_title",
    "annotation_text", "page_title", "name", "hovertemplate",
}
CALLS_WITH_TEXT_NAME = {"Scatter", "Scattergl", "Bar", "Heatmap", "Histogram", "Box", "Frame", "Page", "page_link"}
# Names and symbols that stay as they are in every language: models, metrics, methods, math symbols.
KEEP = {
    "Recall", "NDCG", "HitRate", "Diversity", "AUC", "ACC", "ROC", "PCA", "t-SNE", "IVF", "HNSW", "MIND", "ComiRec",
    "ComiRec-DR", "ComiRec-SA", "YouTubeDNN", "GRU4Rec", "MostPopular", "MovieLens-100K", "Grad-CAM", "faiss",
    "nlist", "nprobe", "efSearch", "M", "K", "N", "A", "p", "d", "L", "r", "x", "y", "w_ij", "c_ij", "ms", "µs",
    "Embedding", "Lab", "ℹ",
}
_STRIP = re.compile(r"%\{[^}]*\}|\{[^}]*\}|<[^>]*>|%[-+ #0]*\d*(?:\.\d+)?[a-zA-Z%]|\$[^$]*\$")


def is_text(s: str) -> bool:
    """A literal a person reads: letters left once placeholders, tags, formats, LaTeX and kept names are gone."""
    s = _STRIP.sub(" ", s)
    words = re.findall(r"[^\W\d_](?:[\w@\-]*\w)?", s)
    return any(w not in KEEP and not re.fullmatch(r"[A-Za-z]\w*@\w*", w) and w.split("@")[0] not in KEEP for w in words)


def literal_texts(node: ast.AST) -> list[str]:
    """The human-readable text literals an argument expression passes as-is (t(...) calls and variables pass nothing)."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) and is_text(node.value) else []
    if isinstance(node, ast.JoinedStr):
        lit = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return [lit] if is_text(lit) else []
    if isinstance(node, (ast.List, ast.Tuple)):
        return [s for e in node.elts for s in literal_texts(e)]
    if isinstance(node, ast.IfExp):
        return literal_texts(node.body) + literal_texts(node.orelse)
    if isinstance(node, ast.BinOp):
        return literal_texts(node.left) + literal_texts(node.right)
    if isinstance(node, ast.Dict):  # dict(title=...) style layout pieces and {value: label} maps
        return [s for v in node.values for s in literal_texts(v)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return [s for kw in node.keywords for s in (literal_texts(kw.value) if kw.arg in TEXT_KEYWORDS else nested(kw.value))]
    return []


def nested(node: ast.AST) -> list[str]:
    """Text inside layout structures (lists of dict(label=...), e.g. plotly buttons and sliders), not their plain values."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [s for e in node.elts for s in nested(e)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return literal_texts(node)
    return []


def format_func_texts(node: ast.AST) -> list[str]:
    """Labels a format_func= hands out: dict values ({...}.get, {...}[m]) and literal lambda bodies."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Dict):
            out += [s for v in sub.values for s in literal_texts(v)]
        elif isinstance(sub, ast.Lambda):
            out += literal_texts(sub.body)
    return out


def violations(source: str, filename: str = "<page>") -> list[str]:
    """Every bare text literal passed to a call that shows text, as 'file:line: text'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "t":
            continue
        args: list[ast.AST] = []
        if name in TEXT_FIRST_ARG and node.args:
            args += node.args if name == "write" else node.args[:1]
        if name == "metric":
            args += node.args[1:2]  # the value is read too ("3 of 5")
        if name == "progress":
            args += node.args[1:2]
        for kw in node.keywords:
            if kw.arg in TEXT_KEYWORDS and (kw.arg != "name" or name in CALLS_WITH_TEXT_NAME):
                args.append(kw.value)
            elif kw.arg in ("value", "delta") and name == "metric":
                args.append(kw.value)
            elif kw.arg == "format_func":
                found += [f"{filename}:{node.lineno}: {s!r} (format_func)" for s in format_func_texts(kw.value)]
            elif kw.arg in ("xaxis", "yaxis", "colorbar", "legend", "updatemenus", "sliders", "marker", "currentvalue") or (
                    kw.arg == "layout" and name == "Figure"):
                found += [f"{filename}:{node.lineno}: {s!r}" for s in nested(kw.value)]
        for a in args:
            found += [f"{filename}:{getattr(a, 'lineno', node.lineno)}: {s!r}" for s in literal_texts(a)]
    return found


def page_sources() -> list[Path]:
    return [ROOT / "app.py"] + sorted(p for p in (ROOT / PAGES).glob("*.py") if p.name != "i18n.py")


@pytest.mark.parametrize("path", page_sources(), ids=lambda p: p.name)
def test_no_bare_text_literal_reaches_streamlit(path):
    found = violations(path.read_text(), path.name)
    assert not found, "wrap these in t(...) with keys in assets/i18n/{en,zh}/<topic>.toml:\n" + "\n".join(found)


def test_the_checker_catches_planted_literals_and_lets_translated_text_through():
    planted = '''
st.title("Nearest items")
c1.slider("N (list length)", 5, 50, 20, key="n", help="How many items")
fig.update_layout(title=f"Attention of user {u}", xaxis_title="iteration")
fig.add_trace(go.Scatter(x=x, y=y, name="entropy"))
st.radio("Index", ["exact", "ivf"], format_func={"exact": "exact (flat)", "ivf": "IVF"}.get)
m.metric("hits", f"{a} of {b}")
st.tabs(["Data", "Try an X-ray"])
fig.update_layout(updatemenus=[dict(type="buttons", buttons=[dict(label="animate iterations", method="animate")])])
st.status(f"Training {title}")
go.Figure(go.Heatmap(z=z, colorbar=dict(title="coupling")))
'''
    found = violations(planted)
    for text in ("Nearest items", "N (list length)", "How many items", "Attention of user ", "iteration", "entropy",
                 "exact (flat)", "hits", " of ", "Data", "Try an X-ray", "Training ", "coupling", "animate iterations"):
        assert any(repr(text) in f for f in found), (text, found)
    clean = '''
st.title(t("nearest.title"))
st.metric(f"Recall@{n}", f"{r:.3f}", help=t("nearest.help"))
st.dataframe(df, column_config={"score": st.column_config.NumberColumn(format="%.3f")})
fig.update_layout(title=t("x.title", user=u), xaxis_title="p", height=300)
st.selectbox(label, opts, format_func=lambda m: {"tsne": "t-SNE", "pca": "PCA"}[m], key="map_method")
fig.add_trace(go.Scatter(x=x, y=y, hovertemplate="%{y}<br>%{x}: " + sym + " = %{z:.3f}<extra></extra>"))
st.latex(r"\\mathcal{L} = -\\sum \\log p")
st.plotly_chart(fig, key="couplings")
fig.update_yaxes(title_text=t("x.loss"), rangemode="tozero", secondary_y=False)
st.page_link("pages/glossary.py", label=t("app.glossary_link"))
st.set_page_config(page_title=t("app.name"), layout="wide")
'''
    assert violations(clean) == []


# -- every page in both languages -----------------------------------------------------------------------
from test_pages_recall import tiny_runs  # noqa: E402,F401  (session fixture: tiny stored runs of every recall model)

# Every page file (pages added later included); the X-ray page needs its own data and run, below (xray_curve is part of it).
RECALL_PAGES = tuple(f"{PAGES}/{p.name}" for p in sorted((ROOT / PAGES).glob("*.py")) if p.stem not in ("common", "i18n", "xray", "xray_curve"))


def open_page(path: str, lang: str | None = None, locale: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if lang:
        at.query_params["lang"] = lang
    if locale:
        at.context["locale"] = locale
    at.session_state["map_method"] = "pca"  # t-SNE is the map's default; PCA keeps the test short
    at.run()
    if path != f"{PAGES}/home.py":
        at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    missing = at.session_state["_i18n_missing"] if "_i18n_missing" in at.session_state else set()
    assert not missing, f"keys missing from the catalogues: {sorted(missing)}"
    return at


def shown_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "subheader", "info", "warning", "success") for e in at.get(kind)]
    parts += [w.label for kind in ("selectbox", "slider", "radio", "button", "metric") for w in at.get(kind)]
    return " ".join(str(p) for p in parts)


@pytest.mark.parametrize("path", [p for p in RECALL_PAGES if (ROOT / p).exists()])
def test_every_page_runs_in_chinese_and_english_with_no_missing_key(tiny_runs, path):
    zh = open_page(path, lang="zh")
    assert zh.session_state["lang"] == "zh"
    assert re.search(r"[\u4e00-\u9fff]", shown_text(zh)), f"{path}: no Chinese on screen"
    en = open_page(path, lang="en")
    if path != f"{PAGES}/glossary.py":  # the glossary shows both names on purpose
        assert not re.search(r"[\u4e00-\u9fff]", shown_text(en).replace("语言", "").replace("中文", "")), f"{path}: Chinese in English"


def test_the_browser_locale_picks_the_default_and_the_url_wins(tiny_runs):
    at = open_page(f"{PAGES}/home.py", locale="zh-CN")
    assert at.session_state["lang"] == "zh" and at.query_params.get("lang") in ("zh", ["zh"])
    at = open_page(f"{PAGES}/home.py", locale="zh-CN", lang="en")
    assert at.session_state["lang"] == "en"
    at = open_page(f"{PAGES}/home.py", locale="de-DE")
    assert at.session_state["lang"] == "en"


def test_switching_language_in_the_sidebar_translates_the_page_and_the_url(tiny_runs):
    at = open_page(f"{PAGES}/home.py")
    assert at.title[0].value.startswith("🧭")
    at.radio(key="lang_picker").set_value("zh").run()
    assert not at.exception
    assert at.session_state["lang"] == "zh"
    assert re.search(r"[\u4e00-\u9fff]", shown_text(at))


def test_glossary_lists_every_term_in_both_languages_and_the_search_filters_it(tiny_runs):
    from pages.i18n import catalogue

    ids = {k.split(".")[2] for k in catalogue("en") if k.startswith("glossary.terms.")}
    assert len(ids) >= 40
    for i in ids:  # a name, a definition and a source in both languages
        for lang in LANGS:
            assert all(catalogue(lang).get(f"glossary.terms.{i}.{f}") for f in ("term", "definition", "source")), (lang, i)
    at = open_page(f"{PAGES}/glossary.py", lang="zh")
    terms = [m.value for m in at.markdown if m.value.startswith("**")]
    assert len(terms) == len(ids)
    assert any("**behaviour capsule** · **行为胶囊**" in m for m in terms)
    at.text_input(key="glossary_q").set_value("胶囊").run()  # Chinese query
    hits = [m.value for m in at.markdown if m.value.startswith("**")]
    assert 2 <= len(hits) < len(ids) and all("胶囊" in h or "capsule" in h.lower() for h in hits)
    at.text_input(key="glossary_q").set_value("augru").run()  # English, any case
    assert [m.value.split(" · ")[0] for m in at.markdown if m.value.startswith("**")] == ["**AUGRU**"]
    at.text_input(key="glossary_q").set_value("no such term").run()
    assert not at.exception and at.info and "no such term" in at.info[0].value


def test_real_engine_errors_and_notes_read_the_same_in_english_from_the_catalogue():
    """The English template of each code reproduces the engine's own message, so no translation drifts from it."""
    import numpy as np

    from engine.data.images import preprocess
    from engine.data.uploads import save_upload
    from engine.errors import EmbedLabError, Message
    from engine.recsys import inspect as ins
    from engine.retrieval import IndexSpec, VectorIndex
    from pages import i18n

    def raised(fn) -> EmbedLabError:
        with pytest.raises(EmbedLabError) as info:
            fn()
        return info.value

    vecs = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    errors = [
        raised(lambda: VectorIndex(vecs, IndexSpec(kind="ivf", nlist=4, nprobe=9))),
        raised(lambda: VectorIndex(vecs, IndexSpec(kind="ivf", nlist=99, nprobe=1))),
        raised(lambda: preprocess(b"")),
        raised(lambda: preprocess(b"not an image at all")),
        raised(lambda: save_upload("clicks.png", b"x")),
        raised(lambda: save_upload("clicks.csv", b"user,item\n1,2\n")),
    ]
    notes = [s for s, _ in preprocess(np.full((40, 60), 7, np.uint8), keep_steps=True).steps]
    notes += list(preprocess(np.full((40, 60), 7, np.uint8)).warnings)
    assert len(notes) >= 4 and all(isinstance(n, Message) and n.code for n in notes)
    for e in errors + notes:
        assert e.code, e
        assert i18n.catalogue("en")[f"errors.{e.code}"].format(**e.params) == str(e)
        zh = i18n.catalogue("zh")[f"errors.{e.code}"].format(**e.params)
        assert re.search(r"[\u4e00-\u9fff]", zh), zh


def test_every_code_the_engine_sends_has_a_sentence_in_both_languages():
    from pages.i18n import catalogue

    """Every `code="..."` of an engine error and every coded Message("...", "code") has errors.<code> in en and zh."""
    import ast as ast_

    codes: dict[str, str] = {}
    for f in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast_.walk(ast_.parse(f.read_text(), str(f))):
            if not isinstance(node, ast_.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast_.Constant) and isinstance(kw.value.value, str):
                    codes[kw.value.value] = f"{f.name}:{node.lineno}"
            name = node.func.attr if isinstance(node.func, ast_.Attribute) else getattr(node.func, "id", "")
            if name == "Message" and len(node.args) >= 2 and isinstance(node.args[1], ast_.Constant):
                codes[node.args[1].value] = f"{f.name}:{node.lineno}"
    assert len(codes) > 40, codes  # the scan finds the engine's codes
    for lang in ("en", "zh"):
        missing = {c: where for c, where in codes.items() if f"errors.{c}" not in catalogue(lang)}
        assert not missing, f"{lang}: add errors.<code> to assets/i18n/{lang}/errors.toml for {missing}"


def test_damaged_runs_and_a_modified_dataset_copy_are_said_in_chinese(tmp_path, monkeypatch):
    """Two notes a visitor meets on real data: a damaged stored run and a PneumoniaMNIST file that is not the official one."""
    import numpy as np

    from engine import store
    from engine.data.medmnist import load_pneumoniamnist
    from pages import i18n

    run = tmp_path / "runs" / "mind-abc"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    why = store.problem(run)
    root = tmp_path / "data"
    (root / "medmnist").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(root / "medmnist" / "pneumoniamnist.npz", **{
        f"{s}_{k}": (rng.integers(0, 255, (6, 28, 28), dtype=np.uint8) if k == "images" else np.array([[0], [1]] * 3))
        for s in ("train", "val", "test") for k in ("images", "labels")})
    notes = load_pneumoniamnist(root=root, allow_download=False).warnings
    assert why is not None and len(notes) == 1 and notes[0].code == "xray_modified_copy"
    for m in (why, notes[0]):
        assert i18n.catalogue("en")[f"errors.{m.code}"].format(**m.params) == str(m)  # the English template is the engine's sentence
        zh = i18n.catalogue("zh")[f"errors.{m.code}"].format(**m.params)
        assert re.search(r"[\u4e00-\u9fff]", zh) and m.params["md5" if m is notes[0] else "name"] in zh, zh
    # the part that says what is wrong is itself coded, so no English is left inside the Chinese sentence
    def broken_json() -> None:
        (run / "model.pt").write_bytes(b"")
        (run / "metrics.json").write_text("{")

    for damage, part in ((lambda: None, "缺少 model.pt"), (broken_json, "metrics.json 不是有效的 JSON")):
        damage()
        why = store.problem(run)
        monkeypatch.setattr(i18n, "current_lang", lambda: "zh")
        zh = i18n.error_text(why)
        monkeypatch.setattr(i18n, "current_lang", lambda: "en")
        assert part in zh and "missing" not in zh and "valid" not in zh, zh
        assert i18n.error_text(why) == str(why)
