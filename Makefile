# Intraday trader: every target creates the virtualenv and installs the project on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYX := $(wildcard engine_core/*.pyx engine_core/*.pxd)
BUILT := engine_core/.built
MINDEPS := .venv-mindeps
# pyproject.toml's build requirements, each quoted for the shell (evaluated only when used)
BUILD_REQUIRES = $(shell $(PYTHON) -c 'import tomllib; print(" ".join(chr(39) + r + chr(39) for r in tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): setup.py pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the project and its dependencies into $(VENV) (log: $(VENV)/install.log) ..."
	@{ $(PY) -m pip install --disable-pip-version-check --upgrade pip && \
	   $(PY) -m pip install --disable-pip-version-check $(BUILD_REQUIRES) && \
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

test: $(BUILT) tools ## lint, then run the whole test suite (unit, integration, e2e)
	@$(PY) -m ruff check .
	@$(PY) -m pytest -n 2 --dist loadgroup

# what the report's browser test and the status view's terminal test drive: Debian's packages,
# installed once (as root with apt-get usable; elsewhere those tests are skipped, and say why)
TOOLS := chromium tmux
tools: ## install the browser and terminal multiplexer the tests drive (chromium, tmux), once
	@missing=$$(for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || echo -n "$$t "; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$missing(Debian packages, once; log: /tmp/make-tools.log) ..."; \
	    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } >/tmp/make-tools.log 2>&1 \
	      || echo "could not install $$missing(see /tmp/make-tools.log): the tests that need them are skipped"; \
	  else echo "$$missing: not installed and apt-get not usable here: the tests that need them are skipped"; fi; \
	fi

docs: $(STAMP) ## regenerate the README's configuration reference from the config models
	@$(PY) -m launch.config_reference --write README.md

SEED ?= 1
KILLS ?= 8
SESSIONS ?= 12
CHAOS_DIR := logs/chaos
chaos: chaos-fuzz chaos-kills ## the long proofs: fuzzing, then seeded kills and the fault matrix (SEED=n KILLS=k replays)

chaos-kills: $(BUILT) ## seeded SIGKILLs of the engine, bridge and launcher in whole mock sessions, the fault matrix; one table
	@rm -rf $(CHAOS_DIR) && mkdir -p $(CHAOS_DIR)
	@echo "chaos: $(SESSIONS) lockstep sessions of $(KILLS) kills from seed $(SEED), the real-time sessions and the fault matrix, in 2 processes (logs: $(CHAOS_DIR)/shard*.log) ..."
	@export CHAOS_RESULTS=$(CURDIR)/$(CHAOS_DIR) CHAOS_SEED=$(SEED) CHAOS_KILLS=$(KILLS) CHAOS_SESSIONS=$(SESSIONS); \
	  CHAOS_SHARD=0/2 $(PY) -m pytest tests/e2e/chaos tests/e2e/launch/test_launch_chaos.py -p no:randomly > $(CHAOS_DIR)/shard0.log 2>&1 & p0=$$!; \
	  CHAOS_SHARD=1/2 $(PY) -m pytest tests/e2e/chaos tests/e2e/launch/test_launch_chaos.py -p no:randomly > $(CHAOS_DIR)/shard1.log 2>&1 & p1=$$!; \
	  wait $$p0; r0=$$?; wait $$p1; r1=$$?; \
	  tail -n 3 $(CHAOS_DIR)/shard0.log $(CHAOS_DIR)/shard1.log; \
	  $(PY) -m tests.support.chaos_table $(CHAOS_DIR); rt=$$?; \
	  test $$r0 -eq 0 -a $$r1 -eq 0 -a $$rt -eq 0 || { echo "chaos: FAILED (replay: make chaos-kills SEED=$(SEED) KILLS=$(KILLS) SESSIONS=$(SESSIONS); see $(CHAOS_DIR)/shard*.log)"; exit 1; }

chaos-fuzz: $(BUILT) ## fuzz every parser (>= 100,000 inputs each), then mutation-test the order-safety core
	@FUZZ_PROFILE=long $(PY) -m pytest tests/fuzz -n 2 -p no:randomly -p no:timeout
	@$(PY) -m pip install --disable-pip-version-check -q 'mutmut==3.8.1'
	@rm -rf mutants && $(PY) -m mutmut run --max-children 2 >/dev/null; $(PY) tests/fuzz/mutation_report.py

bench: $(BUILT) ## run every benchmark under bench/ and print the figures
	@$(PY) -m bench

lint: $(STAMP) ## ruff check (lint rules and import order; formatting is not enforced)
	@$(PY) -m ruff check .

mindeps: ## prove setup.py's lower bounds: every dependency at its bound in .venv-mindeps, build, unit tests
	@rm -rf $(MINDEPS)
	@$(PYTHON) -m venv $(MINDEPS)
	@$(PYTHON) tests/mindeps.py constraints > $(MINDEPS)/constraints.txt
	@$(PYTHON) tests/mindeps.py copy $(MINDEPS)/src
	@echo "every dependency at its lower bound: $$(tr '\n' ' ' < $(MINDEPS)/constraints.txt)"
	@echo "installing into $(MINDEPS) (log: $(MINDEPS)/install.log) ..."
	@cd $(MINDEPS)/src && { ../bin/python -m pip install --disable-pip-version-check --upgrade pip && \
	   ../bin/python -m pip install --disable-pip-version-check -c ../constraints.txt $(BUILD_REQUIRES) && \
	   ENGINE_CORE_SKIP_BUILD=1 ../bin/python -m pip install --disable-pip-version-check --no-build-isolation \
	     -c ../constraints.txt --config-settings editable_mode=compat -e '.[test]' && \
	   ../bin/python -m pip check; } > ../install.log 2>&1 \
	  || { tail -40 ../install.log; echo "mindeps: install failed: see $(MINDEPS)/install.log"; exit 1; }
	@echo "compiling the Cython core against them (log: $(MINDEPS)/build.log) ..."
	@cd $(MINDEPS)/src && ../bin/python setup.py -q build_ext --inplace -j 2 > ../build.log 2>&1 \
	  || { tail -40 ../build.log; echo "mindeps: build failed: see $(MINDEPS)/build.log"; exit 1; }
	@cd $(MINDEPS)/src && ../bin/python -m ruff check . && \
	  ../bin/python -m pytest tests/unit tests/integration/common_rest -p no:randomly

clean: ## remove builds (keeps .venv, data and logs)
	rm -rf build engine_core/*.c engine_core/*.so engine_core/*.html $(BUILT)

.PHONY: help install mock live tail test tools docs bench lint mindeps clean chaos chaos-kills chaos-fuzz
