# Two commands on a fresh machine with Python 3.11, Node/npm and terraform on PATH:
#   make synth   set up what synth needs (the library, the cdktf bindings, Node), then synthesize
#                every stack into cdktf.out/
#   make test    set up everything (make dev), then run every test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SCAN_VENV := .venv-scan
# CDK Terrain, the community fork of cdktf: its own virtualenv, so that each framework is tested
# as a consumer who installed only it would run it.
CDKTN_VENV := .venv-cdktn
# What make test runs on cdktn besides cdktf: unit, golden, terraform validate and checkov tiers.
CDKTN_TIERS := not ocr and not moto and not e2e and not runner and not chaos and not cdktf and not cdktn
CHECKOV_VERSION := 3.3.30

# cdktf's CLI must not phone home.
export CHECKPOINT_DISABLE := 1
# Node 22 from the npm registry (package.json pins it) comes first, for the cdktf CLI and for the
# jsii runtime of the Python bindings: jsii no longer supports the Node 20 many systems ship.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(CURDIR)/$(SCAN_VENV)/bin:$(PATH)

# The container tests build, push and run images without a Docker engine (README: Prerequisites).
CONTAINER_PACKAGES := podman buildah catatonit debootstrap docker-registry runc openssl busybox-static

# The stacks in deployment order; `make deploy STACK=service` deploys one.
STACKS := bootstrap network model-cache service
# CI=1: the cdktf CLI draws its final spinner frame only, and NO_SPINNER drops that line (a
# Braille character, two spaces, a status word), so logs hold no frames; pipefail keeps the CLI's
# exit code. --skip-synth: `make synth` has written the JSON (a config error exits 2 there,
# printed once; through the CLI it would exit 1, twice).
CDKTF_RUN := set -o pipefail; CI=1 npx cdktf
NO_SPINNER := | LC_ALL=C sed -u '/^\xe2[\xa0-\xa3][\x80-\xbf]  /d'

.PHONY: setup dev container-tools synth synth-cdktn deploy diff destroy lint test test-cdktn test-fast scan bench \
	image-lock golden run-task clean

setup: $(VENV)/.dev-installed node_modules/.installed $(SCAN_VENV)/.installed $(CDKTN_VENV)/.installed
# Everything `make test` needs, without running a test.
dev: setup container-tools

# Installs the Debian packages when it can (root with apt-get, as in CI); otherwise stops at once
# with one line naming them.
container-tools:
	@missing=$$(for p in $(CONTAINER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | xargs); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make test: missing packages: $$missing; install them with: sudo apt-get install $$missing" >&2; exit 1; \
	  fi; \
	fi

# What synth needs: the library, cdktf and its AWS bindings, and boto3 for the operator command.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[cdktf,operate]'
	touch $@

# The worker, PaddleOCR and the test tools, into the same virtualenv.
$(VENV)/.dev-installed: $(VENV)/.installed image/pyproject.toml image/requirements.txt
	$(VENV)/bin/pip install --quiet -c requirements.lock -r image/requirements.txt -e '.[dev,cdktf,operate]' -e ./image
	touch $@

$(CDKTN_VENV)/.installed: pyproject.toml requirements-cdktn.lock
	$(PYTHON) -m venv $(CDKTN_VENV)
	$(CDKTN_VENV)/bin/pip install --quiet --upgrade pip
	$(CDKTN_VENV)/bin/pip install --quiet -c requirements-cdktn.lock -e '.[cdktn]' pytest
	touch $@

# Node 22 alone (package.json's dependencies), for the jsii runtime of synth; the CLIs
# (devDependencies) come with node_modules/.installed.
node_modules/.node-installed: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.node-installed $@

# checkov pins boto3/botocore to releases that moto and the worker cannot use: own virtualenv.
$(SCAN_VENV)/.installed:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

synth: $(VENV)/.installed node_modules/.node-installed
	$(VENV)/bin/python main.py

# make deploy: every stack, in order; make deploy STACK=service: one. DEPLOY_ARGS adds cdktf
# deploy flags (--skip-provider-lock offline). Each stack is its own Terraform root.
deploy: synth node_modules/.installed
	@for stack in $(or $(STACK),$(STACKS)); do \
	  ($(CDKTF_RUN) deploy $$stack --skip-synth --auto-approve --ignore-missing-stack-dependencies $(DEPLOY_ARGS) \
	    $(NO_SPINNER)) || exit $$?; \
	done

diff: synth node_modules/.installed
	@for stack in $(or $(STACK),$(STACKS)); do \
	  ($(CDKTF_RUN) diff $$stack --skip-synth $(DEPLOY_ARGS) $(NO_SPINNER)) || exit $$?; \
	done

# In reverse order. The state bucket (bootstrap) stays unless STACK=bootstrap names it.
destroy: synth node_modules/.installed
	@for stack in $(or $(STACK),service model-cache network); do \
	  ($(CDKTF_RUN) destroy $$stack --skip-synth --auto-approve --ignore-missing-stack-dependencies $(DEPLOY_ARGS) \
	    $(NO_SPINNER)) || exit $$?; \
	done

# The same app on CDK Terrain: same JSON apart from the version stamp and the provider source.
synth-cdktn: $(CDKTN_VENV)/.installed node_modules/.installed
	CDKTF_OUTDIR=cdktf.out.cdktn $(CDKTN_VENV)/bin/python main.py

# ruff with the project's own rules, and mypy over the library, the worker, the runner and main.py
# (pyproject.toml: [tool.ruff], [tool.mypy]). The first mypy run reads the provider bindings (about
# a minute); later runs use .mypy_cache.
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check constructs_lib image/ocr_worker fargate_local main.py
	$(VENV)/bin/mypy

test: dev lint
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory test-cdktn

# parliament lints the policies once, on cdktf: their JSON is the same on cdktn (tests/test_framework.py).
# The operator command and the worker-settings copy import no framework, and their tests need
# boto3 and the worker: they run on cdktf only.
test-cdktn: setup
	$(CDKTN_VENV)/bin/pytest -m "$(CDKTN_TIERS)" tests --ignore=tests/worker --ignore=tests/e2e \
	  --ignore=tests/test_parliament.py --ignore=tests/operate --ignore=tests/test_worker.py

test-fast: setup
	$(VENV)/bin/pytest -m "not terraform and not scan and not ocr and not moto and not slow and not runner"

# Run the synthesized task locally under Fargate's rules (see fargate_local/), e.g.
#   sudo make run-task ARGS="--image ocr-worker:dev --env OCR_QUEUE_URL=... --env OCR_OUTPUT_BUCKET=..."
run-task: synth
	$(VENV)/bin/python -m fargate_local $(ARGS)

scan: synth
	$(SCAN_VENV)/bin/checkov -d cdktf.out/stacks --config-file .checkov.yaml --compact --quiet

bench: setup
	$(VENV)/bin/python tests/bench/bench_synth.py
	$(VENV)/bin/python tests/bench/bench_worker.py
	$(VENV)/bin/python tests/bench/bench_serve.py 3
	$(VENV)/bin/python tests/bench/bench_parts.py 300

# Re-pin the image's packages, with hashes, at the versions the tests run on (requirements.lock).
image-lock:
	python3 -m venv .venv-uv && .venv-uv/bin/pip install --quiet uv==0.13.9
	.venv-uv/bin/uv pip compile image/requirements.txt -c requirements.lock --generate-hashes --no-header \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o image/requirements.lock.new
	(sed -n 1,3p image/requirements.lock && cat image/requirements.lock.new) > image/requirements.lock.tmp
	mv image/requirements.lock.tmp image/requirements.lock && rm image/requirements.lock.new

golden: setup
	UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/test_golden.py tests/test_worker.py

clean:
	rm -rf cdktf.out cdktf.out.cdktn .pytest_cache
