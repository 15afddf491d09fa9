# Two promises: `make demo` and `make test` work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo lab test lint typecheck unit browser-deps pdf-deps test-deps sample-data clean

# Debian packages: WeasyPrint draws PDFs with Pango and HarfBuzz; the QR-bill's font is Arial
# or a metric twin (Liberation Sans). The tests read PDFs back with poppler, let LibreOffice
# Calc (headless) save spreadsheets as a spreadsheet program does, start Dovecot on
# 127.0.0.1 as the IMAP server and PostgreSQL (a cluster of their own, made by initdb) for the
# shared ledger (their own configuration; no system service is used).
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation2
TEST_DEBS := poppler-utils libreoffice-calc-nogui dovecot-imapd postgresql
# the extras the tests need (a variable: a comma would split the arguments of $(call ...))
TEST_EXTRAS := .[test,postgresql]

# $(call quietly,COMMAND): run COMMAND with its output kept aside; shown only when it fails
define quietly
log=$$(mktemp); if { $(1); } >"$$log" 2>&1; then rm -f "$$log"; \
else status=$$?; cat "$$log" >&2; rm -f "$$log"; exit $$status; fi
endef

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing (Debian/Ubuntu only)
define apt_install
missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
  | grep -q 'install ok installed' || echo $$p; done); \
if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  echo "Installing Debian packages:" $$missing; \
  $(call quietly,$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing); \
fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@$(call quietly,$(BIN)/python -m pip install --quiet --upgrade pip)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	@echo "Installing docmail_nb into $(VENV) …"
	@$(call quietly,$(BIN)/python -m pip install --quiet -e .)
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	@echo "Installing docmail_nb with its test tools into $(VENV) …"
	@$(call quietly,$(BIN)/python -m pip install --quiet -e '$(TEST_EXTRAS)')
	touch $@ $(VENV)/.runtime

## demo: set up and run the demo on the embedded capture server
demo: $(VENV)/.runtime pdf-deps
	$(BIN)/docmail demo

$(VENV)/.lab: pyproject.toml | $(BIN)/python
	@echo "Installing docmail_nb with JupyterLab into $(VENV) …"
	@$(call quietly,$(BIN)/python -m pip install --quiet -e '.[lab]')
	touch $@ $(VENV)/.runtime

## lab: a working folder (lab-work/) opened in JupyterLab
lab: $(VENV)/.lab pdf-deps
	[ -d lab-work ] || $(BIN)/docmail init lab-work
	$(BIN)/jupyter lab lab-work

## wheelhouse: the wheels of every dependency with [lab], for the test that installs the
## built wheel into a fresh venv without reaching a package index
.wheelhouse/.done: pyproject.toml | $(BIN)/python
	@echo "Collecting the wheels of every dependency in .wheelhouse …"
	@$(call quietly,$(BIN)/python -m pip wheel --quiet --wheel-dir .wheelhouse '.[lab]')
	rm -f .wheelhouse/docmail_nb-*.whl
	touch $@

## browser-deps: Debian's Chromium for the browser tests (never a browser download)
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $(call quietly,$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium); \
	fi

## pdf-deps: the libraries and fonts WeasyPrint draws documents with
pdf-deps:
	@$(call apt_install,$(PDF_DEBS))

## test-deps: poppler-utils (PDFs read back), LibreOffice Calc (files saved as by a
## spreadsheet program), Dovecot (the IMAP server of the mailbox tests) and PostgreSQL (the
## shared ledger's tests start a private cluster with initdb; no system service is used)
test-deps: pdf-deps
	@$(call apt_install,$(TEST_DEBS))

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test
	$(BIN)/mypy

unit: $(VENV)/.test browser-deps test-deps .wheelhouse/.done
	$(BIN)/pytest -n auto

## test: set up and run the whole test suite (lint, types, tests incl. browser tests)
test: lint typecheck unit

## sample-data: regenerate data/orders.xlsx, orders.csv and the PDFs
sample-data: $(VENV)/.test
	$(BIN)/python data/make_sample_data.py

clean:
	rm -rf $(VENV) .wheelhouse lab-work .pytest_cache .mypy_cache .ruff_cache test-artifacts docmail-demo
