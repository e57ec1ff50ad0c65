# Shipshape: the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv (Python 3.12, like the Lambda runtime) and install the pinned lock first.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Python 3.12 (what the Lambda runtime runs): pyenv's 3.12 if installed, else python3.12 on
# PATH. Each candidate must really run as 3.12 (a pyenv shim on PATH may not).
PYTHON312 ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n 1) $$(command -v python3.12 2>/dev/null); do "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null && echo "$$p" && break; done)
STAMP := $(VENV)/.installed
# checkov (the IaC scanner of `make static`) pins a boto3 the project cannot use: own virtualenv.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: dev pilot bench mutate demo test lint typecheck static unit integration format serve build deploy lock clean chromium

dev: $(STAMP)

$(STAMP): requirements/dev.lock pyproject.toml
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is needed (python3.12 on PATH, or pyenv's 3.12)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON312) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(CHECKOV_STAMP): requirements/checkov.lock
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is needed (python3.12 on PATH, or pyenv's 3.12)"; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.lock
	@touch $(CHECKOV_STAMP)

## The main job: a pilot of 500 orders through the embedded stack, and its report.
pilot: dev
	$(BIN)/shipshape pilot --out pilot-report

## A guided tour: a handful of signed orders through the stack until they ship.
demo: dev
	$(BIN)/shipshape demo

## Benchmarks (not tests): cold starts, webhook ingest, the sweeper's reads, the 500-order pilot
## and its cost per 1,000 orders; one table of figures against their floors and targets.
bench: dev
	$(BIN)/python bench/run.py

## Mutation testing of the safety-critical code (not part of `make test`): the surviving
## mutants by file and line, and a report in mutation-report/; fails below 90 % killed.
mutate: dev
	$(BIN)/python scripts/mutate.py

## Everything CI checks: lint, types, template and ASL, then the test suite.
test: dev lint typecheck static chromium
	$(BIN)/python -m pytest -q

## Debian's chromium, which the dashboard's browser tests drive through Playwright (Playwright
## downloads no browser of its own here). Installed with apt as root, or through sudo.
chromium:
	@test -x /usr/bin/chromium || { \
	  command -v apt-get >/dev/null || { echo "chromium is missing and there is no apt-get: install Chromium as /usr/bin/chromium"; exit 1; }; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null; then sudo="sudo"; \
	  else echo "chromium is missing: run 'apt-get install -y --no-install-recommends chromium' as root"; exit 1; fi; \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev
	$(BIN)/mypy layers/shipshape local functions scripts

## SAM transform + cfn-lint, statelint, the generated ASL, and checkov on template.yaml.
static: dev $(CHECKOV_STAMP)
	$(BIN)/python scripts/static_checks.py --checkov $(CHECKOV_VENV)/bin/checkov
	$(BIN)/python scripts/event_schemas.py --check

unit: dev
	$(BIN)/python -m pytest -q tests/unit

integration: dev
	$(BIN)/python -m pytest -q tests/integration

format: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The embedded stack over HTTP on 127.0.0.1:8787 (PORT=... to change).
serve: dev
	$(BIN)/shipshape serve --port $${PORT:-8787} --clock-speed $${CLOCK_SPEED:-1}

## Build and deploy to AWS (needs AWS credentials; sam runs from its own virtualenv).
build:
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is needed for sam build"; exit 1; }
	@test -x .venv-sam/bin/sam || { $(PYTHON312) -m venv .venv-sam && .venv-sam/bin/pip install --quiet aws-sam-cli; }
	PATH="$$(dirname $(PYTHON312)):$$PATH" .venv-sam/bin/sam build

deploy: build
	.venv-sam/bin/sam deploy --guided

## Re-resolve requirements/dev.in into requirements/dev.lock, checkov's pin into
## requirements/checkov.lock (each in a throwaway virtualenv; the header comments are kept),
## and the layer's requirements.txt into its complete, hashed requirements.lock (pip-tools).
CHECKOV_PIN := checkov==3.3.30
PIP_TOOLS_PIN := pip-tools==7.7.0
lock:
	rm -rf .venv-lock && $(PYTHON312) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet '$(PIP_TOOLS_PIN)'
	cd layers/shipshape && ../../.venv-lock/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-trusted-host \
		--no-emit-find-links --output-file=requirements.lock requirements.txt
	rm -rf .venv-lock
	rm -rf .venv-lock && $(PYTHON312) -m venv .venv-lock
	cd requirements && ../.venv-lock/bin/pip install --quiet -r dev.in
	{ head -n 2 requirements/dev.lock; .venv-lock/bin/pip freeze --all --exclude-editable | grep -v '^pip==\|^setuptools=='; } > requirements/dev.lock.new
	mv requirements/dev.lock.new requirements/dev.lock && rm -rf .venv-lock
	$(PYTHON312) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet '$(CHECKOV_PIN)'
	{ head -n 2 requirements/checkov.lock; .venv-lock/bin/pip freeze --all | grep -v '^pip==\|^setuptools=='; } > requirements/checkov.lock.new
	mv requirements/checkov.lock.new requirements/checkov.lock && rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-sam .aws-sam .pytest_cache .mypy_cache .ruff_cache
