# The two commands of the README, plus helpers. Everything lives in .venv inside the repo.
#   make lab    open the tutorial in JupyterLab at notebook 00
#   make test   lint + every test + every notebook (fast mode)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
LINT_PATHS := hjepa_lite tests notebooks benchmarks site docs tools
LAB_ARGS ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test install git-filter lock lint format clean-venv site site-test site-lock

# Re-installs only when the lock or pyproject.toml is newer than the stamp.
install: $(STAMP) git-filter

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements-lock.txt
	$(BIN)/python -m pip install --no-deps -e .
	mkdir -p $(LAB_SETTINGS)
	cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	touch $(STAMP)

# Notebooks reach git without outputs: nbstripout becomes this clone's clean filter (.git/config
# only; .gitattributes names the filter), so a saved notebook with outputs commits clean.
# --keep-id keeps the cell ids the notebooks are stored with. Skipped outside a git clone.
NBSTRIPOUT := "$(abspath $(BIN))/python" -m nbstripout --keep-id
git-filter: $(STAMP)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		$(BIN)/nbstripout --install --attributes .gitattributes && \
		git config filter.nbstripout.clean '$(NBSTRIPOUT)' && \
		git config diff.ipynb.textconv '$(NBSTRIPOUT) -t'; \
	fi

# Recompiles requirements-lock.txt: one lock with environment markers for Linux x86_64 and
# aarch64 and macOS arm64, Python 3.11+ (the torch pair is pinned in pyproject.toml's
# [tool.uv]). Existing pins are kept unless a dependency needs a change.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--no-python-downloads --custom-compile-command "make lock" -o requirements-lock.txt

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

# HJEPA_FAST=1: notebooks run in their fast CI mode. Two workers, one thread each. A cell over
# 120 s is a stall (fast cells take seconds): its test reruns once, counted in the summary
# line, with the stalled kernel's stacks in the warnings summary (tests/notebook_stalls.py).
test: lint
	HJEPA_FAST=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --nbmake \
		--nbmake-timeout=120 --reruns 1 --only-rerun "timed out while it was being executed" \
		tests notebooks $(PYTEST_ARGS)

# The tutorial's static site (Sphinx + MyST-NB; site/build.py says how it is made), with its
# own lock, installed on first use: learners who never build the site never install Sphinx.
SITE_STAMP := $(VENV)/.site-installed
SITE_ARGS ?=
$(SITE_STAMP): $(STAMP) requirements-site-lock.txt
	$(BIN)/python -m pip install -r requirements-site-lock.txt
	touch $(SITE_STAMP)

site: $(SITE_STAMP)
	$(BIN)/python site/build.py $(SITE_ARGS)

# Builds the site in fast mode and reads it in headless Chromium (site/test_site.py).
site-test: $(SITE_STAMP)
	$(BIN)/python site/build.py --fast
	$(BIN)/python -m pytest -q -p no:cacheprovider site/test_site.py

# Recompiles requirements-site-lock.txt against the main lock (whose pins it keeps).
site-lock: $(STAMP)
	$(BIN)/uv pip compile site/requirements.in -c requirements-lock.txt --universal \
		--python-version 3.11 --no-python-downloads --custom-compile-command "make site-lock" \
		-o requirements-site-lock.txt

clean-venv:
	rm -rf $(VENV)
