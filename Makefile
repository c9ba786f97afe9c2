# Two commands on a fresh machine: `make serve` and `make test`. Everything else is a detail.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= .ledger-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test browser lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/ledger serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT) --sandbox

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@# Bytecode for our packages once: with PYTHONDONTWRITEBYTECODE set (as on our CI machines) every server,
	@# worker and CLI process the tests start would otherwise compile the sources again (~0.3-0.5 s of CPU each).
	$(BIN)/python -m compileall -q ledger_core proofs adapters api >/dev/null
	$(BIN)/pytest -n 3 --dist loadfile --durations=25

# The page tests drive the OS's Chromium (Playwright downloads no browser); installed here when missing and
# possible (root with apt), else those tests skip (CI sets LEDGER_REQUIRE_BROWSER=1 and they fail instead).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		echo "installing Chromium for the browser tests" && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "Chromium is not installed and cannot be installed here: the browser tests will skip"

bench: $(STAMP)
	$(BIN)/python benchmarks/append.py --quick

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
