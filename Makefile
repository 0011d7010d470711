# Two commands on a fresh machine with Python 3.11, Node/npm and terraform on PATH:
#   make synth   set up, then synthesize every stack into cdktf.out/
#   make test    set up, then run every test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SCAN_VENV := .venv-scan
CHECKOV_VERSION := 3.3.30

# jsii's Node 20 end-of-life banner is noise on every run; cdktf's CLI must not phone home.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(SCAN_VENV)/bin:$(PATH)

.PHONY: setup synth test test-fast scan bench golden clean

setup: $(VENV)/.installed node_modules/.installed $(SCAN_VENV)/.installed

$(VENV)/.installed: pyproject.toml image/pyproject.toml image/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r image/requirements.txt -e '.[dev]' -e ./image
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins boto3/botocore to releases that moto and the worker cannot use: own virtualenv.
$(SCAN_VENV)/.installed:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

synth: setup
	npx cdktf synth

test: setup
	$(VENV)/bin/pytest

test-fast: setup
	$(VENV)/bin/pytest -m "not terraform and not scan and not ocr and not moto and not slow"

scan: synth
	$(SCAN_VENV)/bin/checkov -d cdktf.out/stacks --config-file .checkov.yaml --compact --quiet

bench: setup
	$(VENV)/bin/python tests/bench/bench_synth.py
	$(VENV)/bin/python tests/bench/bench_worker.py

golden: setup
	UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/test_golden.py

clean:
	rm -rf cdktf.out .pytest_cache
