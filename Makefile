# wattlens — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := influxdb mosquitto chromium chromium-driver fonts-noto-cjk
CAMBRIDGE ?= ../shared/data/cambridge
# The dashboard's gettext catalogs: English source strings, one .po per language; the .mo files
# are compiled here (and by setup.py into wheels), never committed.
PYBABEL := $(BIN)/python -m babel.messages.frontend
TRANSLATIONS := dashboard/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: demo test lint lint-imports typecheck wheel-check system-deps venv venv-opendsm bench sample clean notebooks docs screenshots catalogs i18n i18n-merge

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP) catalogs

# Compile each language's catalog (.po -> .mo) when it changed.
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(PYBABEL) compile --statistics -l $* -i $< -o $@

catalogs: $(COMPILED)

# Extract every marked string of the dashboard into messages.pot, merge it into each language's
# messages.po (new strings arrive untranslated: translate them, then `make catalogs`), compile.
# A new language: $(PYBABEL) init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l ja
i18n: $(STAMP)
	$(PYBABEL) extract -F babel.cfg -k lazy_gettext -k N_ --sort-output \
	  --add-location=file --add-comments=TRANSLATORS: --project wattlens \
	  --copyright-holder "wattlens contributors" --msgid-bugs-address "" \
	  -o $(TRANSLATIONS)/messages.pot .
	$(PYBABEL) update --no-fuzzy-matching --ignore-obsolete \
	  -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)
	$(PYBABEL) compile --statistics -d $(TRANSLATIONS)

# Merge translations handed in as .po snippets (msgid/msgstr pairs, UTF-8) into one language's
# catalog: each msgid the catalog has (run `make i18n` first) takes the snippet's msgstr; the
# msgids it lacks are listed. make i18n-merge SNIPPETS="savings-ko.po report-ko.po" [TO=ko]
TO ?= ko
define MERGE_PO
import sys
from babel.messages.pofile import read_po, write_po
target, *snippets = sys.argv[1:]
with open(target, "rb") as f:
    catalog = read_po(f)
for path in snippets:
    with open(path, "rb") as f:
        for message in read_po(f):
            if not message.id or not message.string:
                continue
            if message.id in catalog:
                catalog[message.id].string = message.string
                catalog[message.id].flags.discard("fuzzy")
            else:
                print(f"{path}: not in the code (yet): {message.id!r}")
with open(target, "wb") as f:
    write_po(f, catalog, sort_output=True, include_lineno=False)
endef
export MERGE_PO
i18n-merge: $(STAMP)
	$(BIN)/python -c "$$MERGE_PO" $(TRANSLATIONS)/$(TO)/LC_MESSAGES/messages.po $(SNIPPETS)
	$(PYBABEL) compile --statistics -d $(TRANSLATIONS)

# OpenDSM for the M&V parity test: it needs pandas < 3, so it gets a venv of its own.
OPENDSM_STAMP := .venv-opendsm/.installed
$(OPENDSM_STAMP): requirements-opendsm.txt
	$(PYTHON) -m venv .venv-opendsm
	.venv-opendsm/bin/pip install --quiet -r requirements-opendsm.txt
	touch $(OPENDSM_STAMP)

venv-opendsm: $(OPENDSM_STAMP)

# Debian packages the integration and browser tests talk to, pango for WeasyPrint's PDF reports
# and the fonts that render Hangul in the browser and in PDF reports, installed only when missing.
system-deps:
	@missing=""; \
	command -v influxd >/dev/null || missing="$$missing influxdb"; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	dpkg -s libpango-1.0-0 libpangoft2-1.0-0 >/dev/null 2>&1 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	fc-list 2>/dev/null | grep -q "Noto Sans CJK KR" || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing — run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

# `wattlens demo`: the sample moved to now, served by `wattlens run` (Ctrl-C stops it); options
# through DEMO_ARGS, e.g. make demo DEMO_ARGS="--speed 30 --port 8051".
DEMO_ARGS ?=
demo: $(STAMP) catalogs
	$(BIN)/wattlens demo $(DEMO_ARGS)

test: $(STAMP) $(OPENDSM_STAMP) system-deps catalogs
	$(BIN)/ruff check .
	$(BIN)/python .ci/lint-imports
	PYTHON_BIN=$(BIN) bash .ci/typecheck
	$(BIN)/pytest
	bash .ci/wheel-check $(BIN)/python

lint: $(STAMP)
	$(BIN)/ruff check .

# Build the wheel, install it with the runtime requirements only in a fresh venv and check it
# from outside the repository (every source type's config loads, wattlens --help, coexistence
# with Segment's analytics-python).
wheel-check: $(STAMP)
	bash .ci/wheel-check $(BIN)/python

# The import contracts of [tool.importlinter] in pyproject.toml (layers; config only at the top).
lint-imports: $(STAMP)
	$(BIN)/python .ci/lint-imports

# mypy with the pydantic plugin over the whole package ([tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	PYTHON_BIN=$(BIN) bash .ci/typecheck

# Each benchmark runs as a module from the repository root (python -m benchmarks.bench_x): Python
# then puts the root on sys.path, so the test helpers import as tests.support, no sys.path edits.
bench: $(STAMP) system-deps
	for b in benchmarks/bench_*.py; do $(BIN)/python -m benchmarks.$$(basename $$b .py) || exit 1; done

# Re-execute the notebooks in place (outputs committed); regenerate docs/config.md and cli.md.
notebooks: $(STAMP)
	$(BIN)/python notebooks/execute.py

docs: $(STAMP)
	$(BIN)/python docs/generate.py

# Rewrite the README's dashboard screenshots (docs/screenshots) from the browser test.
screenshots: $(STAMP) system-deps catalogs
	WATTLENS_SCREENSHOTS=1 $(BIN)/pytest tests/dashboard_ui/test_browser.py -k duckdb
	WATTLENS_SCREENSHOTS=1 $(BIN)/pytest tests/dashboard_ui/test_i18n_browser.py

sample: $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from wattlens.sample import build; build(Path('$(CAMBRIDGE)'), Path('wattlens/sample'))"

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info
