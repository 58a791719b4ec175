"""The canonical numeric settings: one file read by the Makefile, the library and the test suite."""

from __future__ import annotations

import os
from pathlib import Path

from transformer_lib.tools import numerics

ROOT = Path(__file__).resolve().parents[1]


def test_settings_are_read_from_the_package_file():
    settings = numerics.canonical_settings()
    assert settings["OMP_NUM_THREADS"] == "1"
    assert settings["ATEN_CPU_CAPABILITY"] == "default"
    assert settings["TRANSFORMER_LIB_DEVICE"] == "cpu"
    assert all(name.isupper() and value for name, value in settings.items())


def test_the_makefile_exports_the_same_file():
    makefile = (ROOT / "Makefile").read_text()
    assert "include transformer_lib/numerics.env" in makefile
    assert "export $(CANONICAL)" in makefile


def test_the_test_process_runs_under_the_canonical_settings():
    if os.environ.get("TRANSFORMER_LIB_NUMERICS") == "native":
        return
    for name, value in numerics.canonical_settings().items():
        assert os.environ.get(name) == value, name


def test_native_environ_drops_every_setting(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HOME_OF_SOMETHING_ELSE", "kept")
    env = numerics.native_environ()
    assert not set(numerics.canonical_settings()) & set(env)
    assert env["HOME_OF_SOMETHING_ELSE"] == "kept"
    assert env["TRANSFORMER_LIB_NUMERICS"] == "native"
