# The book's two commands are `make book` and `make test`; see README.md.
# VENV can point anywhere (CI keeps one outside the clone): make test VENV=~/.cache/tbook-venv
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The environment is current when its stamp, named after the checksum of what it installed, exists: its
# contents decide, not file dates (a fresh clone's files are always newer than a kept environment).
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
# Every target imports this clone's transformer_lib, whichever clone the environment's editable install
# points to (VENV/.clone says which): a kept environment serves several clones and is never re-pointed.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
SERVES := $(shell cat $(VENV)/.clone 2>/dev/null)
ifneq ($(SERVES),)
ifneq ($(SERVES),$(CURDIR))
$(info note: $(VENV) was installed from the clone $(SERVES); this clone's transformer_lib is used through PYTHONPATH)
endif
endif
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

# Stored outputs depend on the CPU's instruction set, the thread count and the device: every target
# runs under the canonical numeric settings of transformer_lib/numerics.env (the one place that sets them), so that
# `make execute` and `make test` compute the same bytes on any x86-64 CPU.
include transformer_lib/numerics.env
CANONICAL := $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' transformer_lib/numerics.env)
export $(CANONICAL)
# The machine as it is (for timings and the robust run): none of the canonical settings, 2 threads.
NATIVE := env $(foreach v,$(CANONICAL),-u $(v)) TRANSFORMER_LIB_NUMERICS=native OMP_NUM_THREADS=2
ROBUST_OFFSET ?= 1000
# pytest-xdist workers: every core, and at least 2 (each chapter is one process of one thread).
JOBS ?= $(shell $(PYTHON) -c 'import os; print(max(2, os.cpu_count() or 2))')

.PHONY: book book-zh translations pdf screenshots test execute robust drift aarch64 lint bench env student clean fuzz

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@if [ -n "$(SERVES)" ] && [ "$(SERVES)" != "$(CURDIR)" ]; then \
		echo "make: re-pointing the editable transformer_lib of $(VENV) from $(SERVES) to $(CURDIR)"; fi
	$(BIN)/python -m pip install -q --no-deps -e .
	echo "$(CURDIR)" > $(VENV)/.clone
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build -W -n --keep-going .
	@echo "Site built: open _build/html/book/intro.html"

# The Chinese edition, from the same notebooks: the English prose replaced by the translations in
# locales/zh_CN/LC_MESSAGES/book/*.po (warnings are errors), under the English site in _build/html/zh
# (one site for both editions: python3 -m http.server -d _build/html).
book-zh: $(STAMP)
	$(BIN)/python scripts/translations.py build
	@echo "Chinese edition built: open _build/html/zh/book/intro.html"

# After changing English prose: bring the catalogues up to date (new messages empty, changed ones fuzzy
# with their old translation), then translate (scripts/translations.py sheet/apply) and check.
translations: $(STAMP)
	$(BIN)/python scripts/translations.py extract
	$(BIN)/python scripts/translations.py check || true

# The printable edition: the built site's pages, in the order of _toc.yml, printed by headless Chromium
# (apt-get install chromium) into one PDF with a title page, contents, page numbers and bookmarks.
# It prints _build/html as it is (building it only when missing): run `make book` after changing a chapter.
# PDF_FLAGS=--with-solutions prints the exercises' solutions too (an instructor's copy).
PDF_FLAGS ?=
pdf: $(STAMP)
	test -f _build/html/book/intro.html || $(MAKE) book
	$(BIN)/python scripts/build_pdf.py --site _build/html --out _build/pdf/transformer-book.pdf $(PDF_FLAGS)

# Full-page pictures of both editions at 1280 and 390 px, for people to look at (PAGES= picks pages).
screenshots: $(STAMP)
	test -f _build/html/book/intro.html || $(MAKE) book
	$(BIN)/python scripts/screenshots.py $(PAGES)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

# The second pass stores what Jupyter shows: consecutive stream outputs merged and text overwritten by a
# carriage return dropped, so a progress bar leaves its final state, not one line per refresh.
execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=600 --ExecutePreprocessor.record_timing=False $(NOTEBOOKS)
	$(BIN)/jupyter nbconvert --to notebook --inplace --CoalesceStreamsPreprocessor.enabled=True $(NOTEBOOKS)

# Claims that hold for any run: every chapter executed (outputs not compared) with strict checks
# (a failed exercise check raises), (a) with the machine's native numerics and 2 threads,
# (b) with the canonical numerics and every seed shifted by ROBUST_OFFSET. $(1) is the venv's bin/.
ROBUST_BOOK ?= book
define robust_run
	@echo "robust (a): native numerics, 2 threads"
	$(NATIVE) TRANSFORMER_LIB_STRICT_CHECKS=1 $(1)/python -m pytest $(ROBUST_BOOK) --nbval-lax -p no:cacheprovider -q
	@echo "robust (b): canonical numerics, every seed shifted by $(ROBUST_OFFSET)"
	TRANSFORMER_LIB_SEED_OFFSET=$(ROBUST_OFFSET) TRANSFORMER_LIB_STRICT_CHECKS=1 \
		$(1)/python -m pytest $(ROBUST_BOOK) --nbval-lax -p no:cacheprovider -q -n $(JOBS) --dist loadfile
endef

robust: $(STAMP)
	$(call robust_run,$(BIN))

# Drift: the robust run in a second environment built from pyproject.toml's loose ranges at their
# newest releases (what Colab or a new laptop brings), so an API change shows here before a class
# meets it. Downloads a large torch build: not part of CI. Record the result in README.md.
DRIFT_VENV ?= $(HOME)/.cache/transformer-book/drift-venv
DRIFT_TOOLS := pytest pytest-xdist nbval ipykernel
drift:
	rm -rf $(DRIFT_VENV)
	$(PYTHON) -m venv $(DRIFT_VENV)
	$(DRIFT_VENV)/bin/python -m pip install -q --upgrade pip
	$(DRIFT_VENV)/bin/python -m pip install -q --upgrade -e ".[book]" $(DRIFT_TOOLS)
	$(DRIFT_VENV)/bin/python -c "import sys, torch, numpy, matplotlib, nbval; \
		print('drift: Python', sys.version.split()[0], 'torch', torch.__version__, 'numpy', \
		numpy.__version__, 'matplotlib', matplotlib.__version__, 'nbval', nbval.__version__)"
	$(call robust_run,$(DRIFT_VENV)/bin)

# arm64 Linux, emulated: the library's unit tests and two chapters (lax outputs, strict checks) under
# QEMU's user-mode emulator with Debian's arm64 Python and arm64 wheels (scripts/aarch64.sh says which
# torch and why). Downloads about 700 MB into ~/.cache the first time; record the result in README.md.
aarch64:
	bash scripts/aarch64.sh

lint: $(STAMP)
	$(BIN)/ruff check conftest.py transformer_lib tests benchmarks scripts book/_ext
	$(BIN)/ruff format --check conftest.py transformer_lib tests benchmarks scripts book/_ext

# Student copies for coursework (scripts/coursework.py): solutions removed, outputs cleared, the website's
# MyST (exercise directives, admonitions, glued numbers, citations) turned into Markdown Jupyter and Colab show.
student: $(STAMP)
	$(BIN)/python scripts/coursework.py student --out _build/student

# The course (points and hidden tests in course.yml), every chapter as an assignment twice: for nbgrader
# (scripts/course.py: source/ with the solutions, release/ for the students) and for otter-grader
# (scripts/otter_course.py: otter/<chapter>/student/ for Colab, otter/<chapter>/autograder/ with the
# Gradescope zip). The gradebook and the grades in COURSE are kept; book/instructors.md has the commands.
COURSE ?= _build/course
course: $(STAMP)
	$(BIN)/python -m scripts.course --out $(COURSE)
	$(BIN)/python -m scripts.otter_course assign --out $(COURSE)/otter

# The property-based tests with the large profile: FUZZ_EXAMPLES fresh random draws per test
# (make test runs the same tests with a small, derandomized profile).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py -q -p no:randomly

# Timings measure the machine as it is, not the canonical settings.
bench: $(STAMP)
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/attention.py
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/attention_cost.py
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/input_checks.py
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/compiled_step.py
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/modern_decoder.py
	$(NATIVE) OMP_NUM_THREADS=1 $(BIN)/python benchmarks/hugging_face.py

clean:
	rm -rf _build
