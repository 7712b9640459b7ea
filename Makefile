# vgcourse — the two commands are `make book` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help setup book strip test bench lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(STAMP)  ## create .venv with the pinned requirements (skipped when up to date)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# VGCOURSE_EXPLORE=static makes every explore() panel a scrubbable sweep of pictures and every
# progress bar plain text, so the page shows no dead widget.
# jupyter-cache keys on the notebooks only; a change to the package must re-execute them too.
PACKAGE_HASH := $(shell cat $$(find vgcourse -name '*.py' | sort) | cksum | cut -d' ' -f1)

# TOC and OUT let a chapter author build a subset elsewhere: make book TOC=my_toc.yml OUT=/tmp/x
TOC ?= _toc.yml
OUT ?= .
BUILD := $(OUT)/_build

book: $(STAMP)  ## build the HTML book into _build/html (warnings are errors)
	@if [ "$$(cat $(BUILD)/.package-hash 2>/dev/null)" != "$(PACKAGE_HASH)" ]; then \
		rm -rf $(BUILD)/.jupyter_cache $(BUILD)/jupyter_execute; mkdir -p $(BUILD); \
		echo $(PACKAGE_HASH) > $(BUILD)/.package-hash; fi
	VGCOURSE_EXPLORE=static $(BIN)/jupyter-book build . --toc $(TOC) --path-output $(OUT) \
		--warningiserror --nitpick --keep-going
	@echo "Open the book: file://$$(cd $(BUILD) && pwd)/html/index.html"

strip:  ## clear the outputs of every chapter notebook (they are committed without)
	$(BIN)/jupyter nbconvert --clear-output --inplace book/*.ipynb

test: $(STAMP)  ## unit tests and nbval over every chapter
	$(BIN)/python -m pytest -n 2 --dist loadscope

lint: $(STAMP)  ## ruff over the package and tests
	$(BIN)/ruff check vgcourse tests benchmarks

clean:  ## remove the build (keeps .venv)
	rm -rf _build
