# riffgen — two commands for a fresh machine: `make demo` and `make test`.
# Every target creates or refreshes .venv itself; system packages come from scripts/setup-system.sh.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.riffgen-installed
# Every installed version comes from the lock, so a fresh clone gets exactly what was tested;
# pyproject.toml keeps compatible ranges for library users. pip is pinned too: it does the installing.
LOCK := requirements.lock
PIP_VERSION := 26.3
TORCH := torch==2.13.0

.PHONY: setup lock lock-check demo test test-fast bench lint format clean train-mini

$(STAMP): $(LOCK) pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q pip==$(PIP_VERSION)
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	@# A lock that lacks a requirement of pyproject.toml shows here, not in a test.
	$(PY) -m pip check || { echo "$(LOCK) does not satisfy pyproject.toml: run make lock"; exit 1; }
	touch $(STAMP)

setup: $(STAMP)

# Re-resolves pyproject.toml (with the dev extra) in a throwaway venv and writes every installed
# version to the lock. Review the diff and commit it; the next make target then reinstalls.
lock:
	set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q pip==$(PIP_VERSION); \
	"$$tmp/venv/bin/python" -m pip install -q "$(TORCH)" -e ".[dev]"; \
	{ echo "# Every dependency of riffgen (with the dev extra), pinned; written by make lock."; \
	  echo "# For Python 3.11 on linux x86_64 with the CPU build of torch. Install: make setup"; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable; } > "$$tmp/lock"; \
	mv "$$tmp/lock" $(LOCK)

# Fails when .venv holds anything other than exactly the locked versions (CI runs it on a fresh clone).
lock-check: $(STAMP)
	diff <(grep -v '^#' $(LOCK)) <($(PY) -m pip freeze --exclude-editable) \
		|| { echo ".venv differs from $(LOCK) (< lock, > installed)"; exit 1; }

# Round-trips a shipped clip, then generates one from a prompt with riffgen's own mini model.
demo: $(STAMP)
	$(PY) -m riffgen.demo --model mini --prompt "fast punk drum beat with distorted guitar at 170 bpm" --steps 20

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Rebuilds riffgen's own small model from scratch in two stages, as the shipped v2 was made
# (<= 2 h on 2 CPU cores): 3,000 clips, VAE, 3,600 UNet steps; then 3,000 new clips (seed 1)
# and 3,600 more UNet steps from there. Each stage installs src/riffgen/data/models/mini.
MINI_DIR := src/riffgen/data/models/mini
train-mini: $(STAMP)
	$(PY) scripts/train_mini.py --threads 2 --work build/mini
	$(PY) scripts/train_mini.py --threads 2 --work build/mini-stage2 --init-from $(MINI_DIR) --seed 1 \
		--keep-classifier

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist .pytest_cache

# Rebuilds the neural vocoder (image -> audio) from scratch in two stages, as the shipped weights
# were made (~80 min on 2 CPU cores, nice): 800 FluidSynth clips + noise, 4,000 steps (~34 min);
# then 800 new clips (seed 1) and 40 min more from there at half the learning rate. Installs
# src/riffgen/data/vocoder/. Then: bench/bench_decoder.py
.PHONY: train-decoder
train-decoder: $(STAMP)
	nice -n 19 $(PY) scripts/train_decoder.py --out build/decoder --clips 800 --steps 4000 --time-limit 80
	nice -n 19 $(PY) scripts/train_decoder.py --out build/decoder-stage2 --seed 1 --clips 800 \
		--init-from build/decoder/model/vocoder.safetensors --lr 4e-4 --steps 100000 --time-limit 40 \
		--install
