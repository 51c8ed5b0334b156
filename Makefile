# Two entry points (see README):  make app  |  make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)
# Development and CI read the datasets from ../shared/data when it is there.
export EMBEDLAB_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),$(abspath data))

.PHONY: app test venv dev-venv chromium bench

$(BIN)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.installed-dev: requirements-dev.txt $(BIN)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed
dev-venv: $(BIN)/.installed-dev

# Browser tests drive Debian's chromium (never `playwright install`), with a CJK font for the Chinese pages.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; }
	@# Chinese pages render in CJK glyphs, not boxes, only with a CJK font.
	@fc-list :lang=zh family 2>/dev/null | grep -q . || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; }

app: venv
	$(BIN)/streamlit run app.py

test: dev-venv chromium
	$(BIN)/python -m pytest -q

bench: dev-venv
	$(BIN)/python -m engine recsys bench --dataset ml-100k --seeds 0 1 2
