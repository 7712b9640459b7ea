# vgcourse — the two commands are `make book` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help setup book executed render pdf student book-student strip test bench lint clean golden axe format

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
JOBS ?= 2

PDF := vgcourse.pdf
book: executed  ## build the HTML book into _build/html and the PDF _build/html/vgcourse.pdf
	@$(MAKE) --no-print-directory render

executed: $(STAMP)  ## execute the chapters into the build's jupyter-cache (make book's slow half)
	@if [ "$$(cat $(BUILD)/.package-hash 2>/dev/null)" != "$(PACKAGE_HASH)" ]; then \
		rm -rf $(BUILD)/.jupyter_cache $(BUILD)/jupyter_execute; mkdir -p $(BUILD); \
		echo $(PACKAGE_HASH) > $(BUILD)/.package-hash; fi
	@# jupyter-book executes one notebook at a time; tools/execute.py fills its cache first,
	@# JOBS chapters at a time (each uses one torch thread), so the build only renders.
	VGCOURSE_EXPLORE=static $(BIN)/python tools/execute.py --toc $(TOC) \
		--cache $(BUILD)/.jupyter_cache --jobs $(JOBS)

render: $(STAMP)  ## render the executed chapters to HTML and print the PDF (make book's other half)
	VGCOURSE_EXPLORE=static $(BIN)/jupyter-book build . --toc $(TOC) --path-output $(OUT) \
		--warningiserror --nitpick --keep-going
	@# myst-nb writes a notebook it took from the cache to jupyter_execute without its outputs.
	$(BIN)/python tools/execute.py --toc $(TOC) --cache $(BUILD)/.jupyter_cache \
		--executed $(BUILD)/jupyter_execute
	@# The whole book as one PDF, printed from those pages (the intro links to it).
	$(BIN)/python tools/pdf.py --html $(BUILD)/html --toc $(TOC) --out $(BUILD)/html/$(PDF)
	@# Every internal link, image, script and stylesheet of the built pages must resolve locally
	@# (`make test` runs this test with the others, so its own build skips it: LINKS=0).
	@if [ "$(LINKS)" != 0 ]; then VGCOURSE_BOOK_HTML=$(BUILD)/html VGCOURSE_TOC=$(TOC) \
		$(BIN)/python -m pytest -q -p no:xdist \
		"tests/test_book.py::test_internal_links_and_assets_resolve"; fi
	@echo "Open the book: file://$$(cd $(BUILD) && pwd)/html/index.html"

pdf: book  ## the whole book as one PDF, printed offline by Chromium: _build/html/vgcourse.pdf
	@echo "The PDF: $(BUILD)/html/$(PDF)"

student: $(STAMP)  ## write student/ notebooks: solutions stubbed, solution cells removed, no outputs
	$(BIN)/python -m vgcourse.authoring.assign --toc $(TOC) --out student

# The student website is built from the student notebooks themselves (a generated copy of the
# book in $(STUDENT)/src), not by hiding solutions: no solution reaches its HTML, and the page
# shows the stubs and "not yet solved" checks a student sees. Instructor pages are left out.
STUDENT := $(BUILD)/student
book-student: $(STAMP)  ## build the student website (no solutions) and its PDF into _build/student/_build/html
	$(BIN)/python -m vgcourse.authoring.assign --toc $(TOC) --out student --site $(STUDENT)/src
	@if [ "$$(cat $(STUDENT)/_build/.package-hash 2>/dev/null)" != "$(PACKAGE_HASH)" ]; then \
		rm -rf $(STUDENT)/_build/.jupyter_cache $(STUDENT)/_build/jupyter_execute; \
		mkdir -p $(STUDENT)/_build; echo $(PACKAGE_HASH) > $(STUDENT)/_build/.package-hash; fi
	VGCOURSE_EXPLORE=static $(BIN)/jupyter-book build $(STUDENT)/src --path-output $(STUDENT) \
		--warningiserror --nitpick --keep-going
	@# Its own PDF (the intro links to it): the exercises with stubs, printable as a handout.
	$(BIN)/python tools/pdf.py --html $(STUDENT)/_build/html --toc $(STUDENT)/src/_toc.yml \
		--out $(STUDENT)/_build/html/$(PDF)
	@echo "Open the student book: file://$$(cd $(STUDENT)/_build && pwd)/html/index.html"

# The nbgrader course (book/instructors.md, "Grading with nbgrader"): source/, release/, hidden
# tests' grader, rubrics and answer key in $(COURSE) (gitignored). It reuses the book build: its
# executed notebooks are the answer key and its recorded timings set the cell timeout.
COURSE ?= nbgrader_course
.PHONY: nbgrader
nbgrader: book  ## write the nbgrader course into nbgrader_course/ (COURSE=dir to choose)
	$(BIN)/python -m vgcourse.authoring.grading --toc $(TOC) --out $(COURSE) --build $(BUILD)

strip:  ## clear the outputs of every chapter notebook (they are committed without)
	$(BIN)/jupyter nbconvert --clear-output --inplace book/*.ipynb

# The book and browser tests read the built book, so `make test` executes the chapters first
# (jupyter-cache re-executes only changed notebooks), then renders the book (`make render`,
# logged to _build/render.log) while the tests start: those that read the book wait for it.
# Without Chromium the browser tests skip and say how to enable them; with CI set (.ci/run) a
# skip is a failure.
# Each chapter is executed once more after the book build, in the Colab parity environment
# (tests/test_colab.py): that run compares the cells marked NBVAL_CHECK_OUTPUT and every number
# the prose prints with the book build's, so determinism is proven across two independent runs in
# two environments by the same execution. nbval over the book's executed copies does the same in
# .venv alone: `make nbval`. Progress bars are off and stderr is not compared (conftest.py).
# axe-core (the accessibility checker the browser tests inject into every page) comes from npm
# into .node/ (gitignored), pinned here; nothing is loaded from a CDN.
AXE_VERSION := 4.11.0
AXE := .node/node_modules/axe-core/axe.min.js
axe: $(AXE)  ## install axe-core from npm into .node/ for the accessibility tests
$(AXE):
	npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)

RENDER_STATUS := $(BUILD)/.render-status
test: executed $(AXE)  ## build the book and run every test: unit tests and doctests, Colab parity (outputs compared with the book's), book and browser tests
	@# Rendering and printing the PDF use about one core for a minute: the tests that do not
	@# read the built book start meanwhile, and those that do wait for it (tests/_book.py).
	@rm -f $(RENDER_STATUS)
	@( $(MAKE) --no-print-directory render LINKS=0 > $(BUILD)/render.log 2>&1; \
		echo $$? > $(RENDER_STATUS) ) & \
	VGCOURSE_RENDER_STATUS=$(RENDER_STATUS) VGCOURSE_BOOK_HTML=$(BUILD)/html VGCOURSE_TOC=$(TOC) \
		VGCOURSE_PROGRESS=off $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder \
		--doctest-modules tests vgcourse; tests=$$?; wait; \
	if [ "$$(cat $(RENDER_STATUS))" != 0 ]; then tail -40 $(BUILD)/render.log; \
		echo "make render failed: $(BUILD)/render.log"; exit 1; fi; exit $$tests

.PHONY: nbval
nbval: book  ## re-execute every chapter in .venv and compare its checked cells with the book's
	VGCOURSE_PROGRESS=off $(BIN)/python -m pytest -n 2 $(BUILD)/jupyter_execute/book

# The numbers the prose prints (vgcourse.say) are recorded in book/golden_numbers.json and
# tests/test_golden.py compares every build with them: after a deliberate change, record it.
golden: book  ## record the numbers the book's prose prints (book/golden_numbers.json)
	$(BIN)/python tools/golden.py update --out $(BUILD)

bench: $(STAMP)  ## performance suite: prints a table, writes benchmarks/results.json
	$(BIN)/python benchmarks/run.py

# Mutation testing is a measurement, not a gate: tools/mutation.py changes one operator at a time
# in a copy of each core module (comparisons, arithmetic, constants, indices, dropped factors),
# runs that module's fast unit tests against the copy, and writes the share of mutants they
# catch, with every survivor, to benchmarks/mutation.json. MODULES=... and MAX=... (mutants per
# module, a seeded sample) bound the run; about an hour for all modules with MAX=60 on 2 cores.
MODULES ?=
MAX ?= 60
.PHONY: mutation
mutation: $(STAMP)  ## mutation score of the core modules' unit tests: benchmarks/mutation.json
	$(BIN)/python tools/mutation.py $(MODULES) --max-mutants $(MAX)

# REF is a tag, branch or commit; it goes to repository.branch in _config.yml (the Colab buttons),
# the VGCOURSE_REF line of every chapter's set-up cell and the README's Colab table.
.PHONY: pin
pin: $(STAMP)  ## install and launch every chapter from one release: make pin REF=v1.0
	@test -n "$(REF)" || { echo "usage: make pin REF=v1.0 (a tag, branch or commit)"; exit 2; }
	$(BIN)/python tools/colab.py pin "$(REF)"

# Chapter code is formatted to the width of the book's code column (measured in the built page:
# tests/test_browser.py::test_no_code_block_is_wider_than_its_box: 77 characters at 1280 px with
# DejaVu Sans Mono), so no line is clipped. Strings and comments ruff cannot split are left to the
# author: tools/code_width.py lists those a reader sees (hidden inputs do not count).
CODE_WIDTH := 76
CHAPTERS ?= book/*.ipynb
lint: $(STAMP)  ## ruff over the package and tests; chapter code fits the page's code column
	$(BIN)/ruff check vgcourse tests benchmarks
	$(BIN)/ruff format --check --line-length $(CODE_WIDTH) $(CHAPTERS)
	$(BIN)/python tools/code_width.py --width 77 $(CHAPTERS)

format: $(STAMP)  ## format chapter code to the page's code column (CHAPTERS=book/03_*.ipynb for some)
	$(BIN)/ruff format --line-length $(CODE_WIDTH) $(CHAPTERS)

clean:  ## remove the build (keeps .venv)
	rm -rf _build
