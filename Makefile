# ChargeLedger — every command a user needs. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export CHARGELEDGER_LANDING ?= $(CURDIR)/data/landing
export CHARGELEDGER_WAREHOUSE ?= $(CURDIR)/data/warehouse
DEMO_SEED ?= 7
DEMO_ARGS ?=
TEST_WORKERS ?= auto

.PHONY: help setup demo generate settle warm test test-ui ui bench gateway webhook standins quotes clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ChargeLedger needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) -m pip install --user --quiet virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@mkdir -p $(DAGSTER_HOME) $(NUMBA_CACHE_DIR)
	@cp pipelines/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@touch $@

setup: $(VENV)/.installed  ## create .venv and install the project with its test tools

generate: setup  ## (re)generate the demo fleet into data/landing (DEMO_SEED, DEMO_ARGS)
	rm -rf $(CHARGELEDGER_LANDING)
	$(BIN)/python -m data.generate --out $(CHARGELEDGER_LANDING) --seed $(DEMO_SEED) $(DEMO_ARGS)

settle: setup  ## run the nightly settlement for every day in the landing zone and print the summary (EXECUTOR=multiprocess: a process per step, every core)
	$(BIN)/python -m pipelines.demo $(if $(EXECUTOR),--executor $(EXECUTOR))

demo: generate settle  ## set up, generate the demo fleet, settle it, print where the results are

test: setup  ## set up and run the whole test suite (TEST_WORKERS processes, default one per core up to 4)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4

test-ui: setup  ## browser test of the finance UI (headless Chromium from Debian's packages, installed if missing)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; } \
		|| { echo "test-ui needs Debian's chromium: run as root or sudo apt-get install chromium"; exit 1; }
	CHARGELEDGER_UI_TESTS=1 $(BIN)/python -m pytest tests/ui -q

ui: setup  ## the Dagster UI on the same data (http://127.0.0.1:3000)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

warm: setup  ## compile the numba kernels into .numba_cache once (a small day settled in a temporary folder): after setup or an upgrade, so the first nightly run does not pay ~2 CPU-minutes of compiling
	$(BIN)/python -m pipelines.warm_kernels

bench: setup  ## benchmarks (ratios measured in one run); BENCH_ARGS=--quick for a short run
	$(BIN)/python -m bench $(BENCH_ARGS)

gateway: setup  ## the OCPP central system (1.6J/2.0.1) on port 9000; credentials from CHARGELEDGER_OCPP_CREDENTIALS
	$(BIN)/python -m resources.ocpp_gateway --port 9000 --landing $(CHARGELEDGER_LANDING) \
		--state-dir data/gateway_state --credentials-env CHARGELEDGER_OCPP_CREDENTIALS

webhook: setup  ## the Eevion webhook receiver on port 8090 (secret path token from EEVION_WEBHOOK_TOKEN)
	$(BIN)/python -m resources.eevion_webhook --port 8090

standins: setup  ## loopback stand-ins of the platform (8801), Eevion (8802) and Charge API (8803); Ctrl-C stops them
	$(BIN)/python -m tests.standins.platform --port 8801 & \
	$(BIN)/python -m tests.standins.eevion --port 8802 & \
	$(BIN)/python -m tests.standins.charge_api --port 8803 & \
	trap 'kill 0' INT TERM; wait

quotes: setup  ## the Chargeprice-style quote service (seed 002) on port 8810 over the warehouse's tariffs; API keys from CHARGELEDGER_QUOTE_API_KEYS
	$(BIN)/python -m resources.quote_service --port 8810

clean:  ## remove generated data, the warehouse and caches (keeps .venv)
	rm -rf data/landing data/warehouse .dagster_home .numba_cache .pytest_cache .hypothesis
