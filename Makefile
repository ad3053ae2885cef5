# kube2zk: `make demo` shows it working on a fresh machine, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-unit test-zk test-kube test-image image unit lint testbed-up testbed-down venv clean tools

$(VENV)/.installed: requirements.txt requirements-dev.txt bench/requirements.txt
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

testbed-up: venv
	bash testbed/up.sh

testbed-down:
	bash testbed/down.sh

# helm and promtool for the chart and the alerts, built once into the bed's
# cache (the Kubernetes tier builds them itself when missing).
tools:
	bash testbed/tools.sh helm promtool

demo: testbed-up
	bash demo/demo.sh

# Every tier, cheapest first: unit (no server), zookeeper (a ZooKeeper of its
# own, or the bed's), kubernetes (brings the bed up itself, or reuses it; its
# image tests build the container image through testbed/image.sh).
test: venv
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest tests/unit

unit: test-unit

test-zk: venv
	$(PY) -m pytest tests/zookeeper

test-kube: venv
	$(PY) -m pytest tests/kubernetes

# The container image (podman, on a Debian base built locally; cached).
image:
	bash testbed/image.sh build

# The image run as the manifests run it, and the Python package.
test-image: venv
	$(PY) -m pytest tests/kubernetes/test_image.py tests/kubernetes/test_package.py tests/unit/test_packaging.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lib kube2zk_job.py --ignore-missing-imports

clean: testbed-down
	rm -rf $(VENV)
