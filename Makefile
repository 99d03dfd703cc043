# Two entry points, both idempotent on a fresh clone: `make run` and `make test`.
# The virtualenv is (re)built only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint pytest browser bench clean

# The browser tests (tests/e2e) drive Debian's Chromium through Playwright; never a browser
# download. Installed with apt-get where it is missing and apt-get can run (root, or sudo
# without a password); elsewhere those tests skip and say why (under CI=true they fail).
CHROMIUM ?= /usr/bin/chromium
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || (command -v sudo >/dev/null && sudo -n true 2>/dev/null && echo "sudo -n apt-get"))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/futarchy run

test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

browser:
	@if [ ! -x "$(CHROMIUM)" ] && [ -n "$(APT)" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$(APT) install -y -qq chromium >/dev/null 2>&1 \
			|| ($(APT) update -qq >/dev/null 2>&1 && $(APT) install -y -qq chromium >/dev/null) \
			|| echo "could not install chromium: the browser tests will skip (fail under CI=true)"; \
	fi

pytest: $(STAMP) browser
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.settle
	$(BIN)/python -m bench.api_load
	$(BIN)/python -m bench.backtest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
