# Intraday trader: every target creates the virtualenv and installs the project on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYX := $(wildcard engine_core/*.pyx engine_core/*.pxd)
BUILT := engine_core/.built

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): setup.py pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the project and its dependencies into $(VENV) (log: $(VENV)/install.log) ..."
	@{ $(PY) -m pip install --disable-pip-version-check --upgrade pip && \
	   $(PY) -m pip install --disable-pip-version-check "setuptools>=68" wheel "Cython>=3.0" "numpy>=1.26" && \
	   ENGINE_CORE_SKIP_BUILD=1 $(PY) -m pip install --disable-pip-version-check --no-build-isolation \
	     --config-settings editable_mode=compat -e '.[test]'; } > $(VENV)/install.log 2>&1 \
	  || { tail -40 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

$(BUILT): $(STAMP) $(PYX) setup.py
	@$(PY) setup.py -q build_ext --inplace -j 2 >/dev/null
	@touch $(BUILT)

install: $(BUILT) ## create .venv, install the project and compile the Cython core

mock: $(BUILT) ## run a whole mock trading session on the synthetic market and print its summary
	@$(PY) -m launch mock

live: $(BUILT) ## trade today's session on the account of config.env (paper unless told otherwise)
	@$(PY) -m launch live

tail: ## follow the latest run's logs (launch, bridge, trader); MODE=live|mock picks one
	@dir=$${MODE:+logs/$${MODE}_trading}; dir=$${dir:-$$(ls -1td logs/*_trading 2>/dev/null | head -1)}; \
	  test -n "$$dir" || { echo "no logs yet: run make mock or make live first"; exit 1; }; \
	  echo "following $$dir/{launch,bridge,trader}.log (Ctrl-C to stop)"; \
	  tail -n 20 -F $$dir/launch.log $$dir/bridge.log $$dir/trader.log

test: $(BUILT) ## lint, then run the whole test suite (unit, integration, e2e)
	@$(PY) -m ruff check .
	@$(PY) -m pytest

bench: $(BUILT) ## run every benchmark under bench/ and print the figures
	@$(PY) -m bench

lint: $(STAMP) ## ruff check and format check
	@$(PY) -m ruff check .

clean: ## remove builds (keeps .venv, data and logs)
	rm -rf build engine_core/*.c engine_core/*.so engine_core/*.html $(BUILT)

.PHONY: help install mock live tail test bench lint clean
