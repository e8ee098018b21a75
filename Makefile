# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint schema services tools clean loadtest

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The embedded default: SQLite under var/, in-process broker, file outbox under var/outbox/.
run: $(STAMP)
	$(BIN)/despacho validate
	$(BIN)/despacho db upgrade
	$(BIN)/despacho run

test: $(STAMP) services tools
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/despacho schema --check
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	  exit $$status

# The load, soak and fault suite (bench/loadtest/, docs/operations.md): private Redis and PostgreSQL,
# real worker processes; the defaults take about an hour (100,000 events, a 30-minute soak). Not part
# of `make test`. Smaller: make loadtest LOADTEST_ARGS="--events 5000 --soak-minutes 2".
loadtest: $(STAMP)
	$(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

schema: $(STAMP)
	$(BIN)/despacho schema

# Redis, PostgreSQL and RabbitMQ answer on loopback, or are started.
services:
	@scripts/ensure-services

# Tools the tests run for real (jq, for the log recipe in docs/operations.md; restic, the backup
# repository), installed when missing.
tools:
	@scripts/ensure-tools

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
