# python/python.mk - the pip-installable Python package (included by the Makefile).
#   make test-python-pkg   a venv under $(BUILD) (Debian's python3 with its
#                          system packages), pip install . --no-build-isolation
#                          --no-index (Debian's setuptools and wheel: no
#                          network), then pytest python/tests against the
#                          installed package, outside the source tree, with
#                          HARDREID_LIB unset (the package's own library)
#   make test-python-pkg-matrix  pip install . and -e ., each with and
#                          without build isolation (isolation needs a
#                          reachable package index: skipped without one)
# Needs python3-venv python3-setuptools python3-wheel python3-pytest
# python3-numpy (+ python3-torch for the torch tests); deps.sh test has them.

PY_PKG_PYTHON ?= /usr/bin/python3
PY_PKG_VENV   := $(BUILD)/py-venv
PY_PKG_NEEDS  := python3-venv python3-setuptools python3-wheel python3-pytest python3-numpy

.PHONY: test-python-pkg test-python-pkg-matrix

test-all: test-python-pkg

test-python-pkg:
	@echo "== Python package: pip install --no-build-isolation, pytest =="
	@if ! $(PY_PKG_PYTHON) -c 'import venv, ensurepip, setuptools, wheel, numpy, pytest' >/dev/null 2>&1; then \
	  sh scripts/missing.sh "a python3 with venv, setuptools, wheel, pytest and numpy (the Python package test)" \
	    "apt-get install $(PY_PKG_NEEDS)"; exit $$?; \
	fi; \
	if ! $(PY_PKG_PYTHON) -c 'import torch' >/dev/null 2>&1; then \
	  sh scripts/missing.sh "PyTorch (the package's torch tests)" "apt-get install python3-torch" || exit 1; \
	fi; \
	rm -rf $(PY_PKG_VENV) && mkdir -p $(BUILD) && \
	$(PY_PKG_PYTHON) -m venv --system-site-packages $(PY_PKG_VENV) && \
	HARDREID_BUILD_DIR=$(abspath $(BUILD))/py-setuptools \
	  $(PY_PKG_VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-index . && \
	cd $(PY_PKG_VENV) && env -u HARDREID_LIB ./bin/python -m pytest -q -rs -p no:cacheprovider $(CURDIR)/python/tests

test-python-pkg-matrix:
	@PYTHON=$(PY_PKG_PYTHON) sh python/install_matrix.sh $(abspath $(BUILD))/py-matrix
