# The book's two commands are `make book` and `make test`; see README.md.
# VENV can point anywhere (CI keeps one outside the clone): make test VENV=~/.cache/tbook-venv
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

# Stored outputs depend on the thread count (float reductions) and the device: execute and test
# with the same settings so nbval compares like with like.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export TRANSFORMER_LIB_DEVICE := cpu
export PYTHONHASHSEED := 0

.PHONY: book test execute lint bench env student clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build -W -n --keep-going .
	@echo "Site built: open _build/html/book/intro.html"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=600 --ExecutePreprocessor.record_timing=False $(NOTEBOOKS)

lint: $(STAMP)
	$(BIN)/ruff check transformer_lib tests benchmarks book/_ext
	$(BIN)/ruff format --check transformer_lib tests benchmarks book/_ext

# Student copies for coursework: solution cells (tagged `solution`) removed, outputs cleared.
student: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --output-dir _build/student \
		--TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags='["solution"]' \
		--ClearOutputPreprocessor.enabled=True $(NOTEBOOKS)
	@echo "Student copies written to _build/student/"

bench: $(STAMP)
	$(BIN)/python benchmarks/attention.py
	$(BIN)/python benchmarks/attention_cost.py

clean:
	rm -rf _build
