"""Benchmarks are code too: every script in ``benchmarks/`` runs (at a tiny size, in seconds) and is
part of ``make bench``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))

# The arguments that shrink each benchmark to a few seconds; a new benchmark must add its own here.
TINY = {
    "attention.py": ["--batch", "1", "--heads", "2", "--seq", "8", "--d-model", "16", "--repeats", "1"],
    "attention_cost.py": ["--lengths", "8", "16", "32", "--repeats", "1", "--steps", "4", "--threads", "1"],
    "compiled_step.py": ["--steps", "2", "--batch", "2", "--seq", "8", "--d-model", "16", "--backend", "eager"],
    "hugging_face.py": [
        *("--layers", "1", "--d-model", "16", "--heads", "2", "--vocab", "50", "--seq", "8"),
        *("--prompt", "4", "--new-tokens", "4", "--repeats", "1"),
    ],
    "input_checks.py": ["--steps", "2", "--batch", "2", "--seq", "8"],
    "modern_decoder.py": ["--d-model", "16", "--heads", "2", "--layers", "1", "--prompt", "4", "--steps", "4"],
}


def test_every_benchmark_has_a_tiny_size_and_runs_in_make_bench():
    assert sorted(TINY) == BENCHMARKS
    recipe = re.search(r"^bench:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert sorted(re.findall(r"benchmarks/(\w+\.py)", recipe)) == BENCHMARKS


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_at_a_tiny_size(name, capsys):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name[:-3]}", ROOT / "benchmarks" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(TINY[name])
    printed = capsys.readouterr().out
    assert printed.strip() and "nan" not in printed.lower(), printed
