# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint pytest protos clean servers model-servers kafka

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,tensorflow]'
	touch $(STAMP)

install: $(STAMP)

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy

model-servers:
	PYTHON=$(PYTHON) bash scripts/model_servers/install.sh

# Apache Kafka broker jars from Maven Central into .cache/kafka/libs (skipped when present).
kafka: $(STAMP)
	VENV_PYTHON=$(BIN)/python bash scripts/kafka/install.sh

# Every server or tool the tests talk to has an idempotent installer, scripts/<name>/install.sh
# (cached: a second run only checks). PYTHON makes virtualenvs; VENV_PYTHON runs the project's code.
INSTALLERS := $(sort $(wildcard scripts/*/install.sh))
servers: $(STAMP)
	@set -e; for f in $(INSTALLERS); do echo "== $$f"; PYTHON=$(PYTHON) VENV_PYTHON=$(BIN)/python bash $$f; done
	PYTHON=$(PYTHON) bash benchmarks/peers/install.sh

pytest: $(STAMP) servers
	$(BIN)/pytest

test: lint pytest

demo: $(STAMP)  ## train if needed, serve, stream the sample through fraud-grpc for 30 s
	$(BIN)/inferstream demo

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
