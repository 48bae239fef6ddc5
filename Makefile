# The two commands of the README, plus helpers. Everything lives in .venv inside the repo.
#   make lab    open the tutorial in JupyterLab at notebook 00
#   make test   lint + every test + every notebook (fast mode)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
LINT_PATHS := hjepa_lite tests notebooks benchmarks
LAB_ARGS ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test install lint format clean-venv

# Re-installs only when the lock or pyproject.toml is newer than the stamp.
install: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements-lock.txt
	$(BIN)/python -m pip install --no-deps -e .
	mkdir -p $(LAB_SETTINGS)
	cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	touch $(STAMP)

# Jupyter's config, data, settings and workspaces live inside .venv too: nothing is written
# to ~/.jupyter or ~/.local/share/jupyter.
JUPYTER_ENV := JUPYTER_CONFIG_DIR=$(VENV)/etc/jupyter JUPYTER_DATA_DIR=$(VENV)/share/jupyter \
	JUPYTERLAB_SETTINGS_DIR=$(VENV)/share/jupyter/lab/user-settings \
	JUPYTERLAB_WORKSPACES_DIR=$(VENV)/share/jupyter/lab/workspaces

lab: install
	$(JUPYTER_ENV) $(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/00_overview.ipynb

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

# HJEPA_FAST=1: notebooks run in their fast CI mode. Two workers, one thread each.
test: lint
	HJEPA_FAST=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --nbmake \
		--nbmake-timeout=600 tests notebooks $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
