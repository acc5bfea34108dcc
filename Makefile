# riffgen — two commands for a fresh machine: `make demo` and `make test`.
# Every target creates or refreshes .venv itself; system packages come from scripts/setup-system.sh.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.riffgen-installed

.PHONY: setup demo test test-fast bench lint format clean train-mini

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Round-trips a shipped clip, then generates one from a prompt with riffgen's own mini model.
demo: $(STAMP)
	$(PY) -m riffgen.demo --model mini --prompt "fast punk drum beat with distorted guitar" --steps 20

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Rebuilds riffgen's own small model from scratch (data, VAE, UNet; <= 2 h on 2 CPU cores).
train-mini: $(STAMP)
	$(PY) scripts/train_mini.py --threads 1

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist .pytest_cache
