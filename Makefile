# Two entry points for a newcomer: `make demo` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-dev delta-jars validate reference clean

# The Delta Lake jars the Spark engine loads from the local Maven repository (keep in step with
# DELTA_VERSION in odibi_core/engines/spark_session.py and delta-spark in pyproject.toml).
DELTA_VERSION := 4.2.0
DELTA_JAR     := $(HOME)/.m2/repository/io/delta/delta-spark_2.13/$(DELTA_VERSION)/delta-spark_2.13-$(DELTA_VERSION).jar

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,spark,observability,deploy,dg]"
	touch $@

$(DELTA_JAR):
	mvn -q dependency:get -Dartifact=io.delta:delta-spark_2.13:$(DELTA_VERSION)

delta-jars: $(DELTA_JAR)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Materialize examples/retail end to end through Dagster (pandas, local files, a throw-away
# Dagster instance), then say where the outputs and the story are.
demo: install
	@home=$$(mktemp -d) && DAGSTER_HOME=$$home $(BIN)/odibi run examples/retail; \
	status=$$?; rm -rf $$home; \
	if [ $$status -eq 0 ]; then \
	  echo "Outputs: examples/retail/lake/ (bronze/ silver/ gold/)"; \
	  echo "Stories: examples/retail/lake/_stories/  (open the .html in a browser)"; \
	fi; exit $$status

# Every test runs, Spark included (a local SparkSession with Delta Lake; Java 17 and Maven).
test: install-dev delta-jars
	$(BIN)/python -m pytest

validate: install
	$(BIN)/odibi validate examples/retail

# docs/reference.md and docs/odibi.schema.json from the models in odibi_core/config/ (a test
# fails when the committed files are out of date).
reference: install
	$(BIN)/python -m odibi_core.config.reference

clean:
	rm -rf examples/retail/lake examples/retail/lake_prod examples/retail/.odibi
