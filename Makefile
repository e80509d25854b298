# DataQuarantine developer commands. Every target creates .venv and installs the project first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# PostgreSQL of the gates example (its tables go to schema crm_example) and of bench-gates.
DQ_EXAMPLE_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install demo demo-stream test lint format bench bench-stream bench-gates example-gates clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev,bench]'
	touch $(STAMP)

install: $(STAMP)

## Sample events with ~5% bad records through validate + quarantine, on embedded defaults.
demo: install
	$(VENV)/bin/dataquarantine demo

## The Kafka path: embedded broker, stream worker, valid topic + DLQ + quarantine store.
demo-stream: install
	$(VENV)/bin/dataquarantine demo --stream

## The whole test suite (unit, conformance, integration against real PostgreSQL and S3).
test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

## Benchmarks: engine and CLI vs same-run baselines (orjson parse floor, seed design),
## then the stream worker vs passthrough and seed design on the embedded broker.
bench: install bench-stream
	$(PY) bench/run.py

## Streaming: passthrough vs seed design vs ours on the embedded broker, latency at 10k/s (~2 min).
bench-stream: install
	$(PY) bench/stream/run.py

## Quality gates vs hand-written SELECT count(*) on a 10M-row table (PostgreSQL; ~1.5 min).
bench-gates: install
	DQ_BENCH_PG_URL="$${DQ_BENCH_PG_URL:-$(DQ_EXAMPLE_PG_URL)}" $(PY) bench/gates/run.py

## Quality gates on a small CRM database with planted violations: which gates fail, and why.
example-gates: install
	$(PY) examples/gates/build_crm_db.py --db "$(DQ_EXAMPLE_PG_URL)" --schema crm_example
	$(VENV)/bin/dataquarantine gates run examples/gates/crm_backfill.yaml \
		--db "$(DQ_EXAMPLE_PG_URL)?schema=crm_example" || [ $$? -eq 1 ]

clean:
	rm -rf $(VENV) .dataquarantine .pytest_cache .mypy_cache .ruff_cache bench/.data bench/results
