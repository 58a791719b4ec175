"""Proof that the stored outputs do not depend on the CPU: the same bytes natively and on emulated CPUs.

``tests/fingerprint.py`` hashes what the chapters compute. Under the canonical numeric settings
(``transformer_lib/numerics.env``) it must print the same hashes on this machine and under QEMU's
user-mode emulation of an SSE4.2-only CPU (Nehalem, 2008) and an AVX2 one (Haswell). A whole chapter
executed under QEMU is compared with its stored outputs in ``test_cross_cpu_chapter.py``.

QEMU comes from Debian's ``qemu-user`` package. Without it these tests skip, unless REQUIRE_QEMU=1
(CI sets it), where a missing emulator fails.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from transformer_lib.tools import numerics

ROOT = Path(__file__).resolve().parents[1]
CPUS = ("Nehalem", "Haswell-v4")


def qemu() -> str:
    """The emulator's path; skips (or fails under REQUIRE_QEMU=1) where it cannot be used."""
    if not numerics.exact_platform():
        pytest.skip("bit-for-bit outputs are promised on x86-64 Linux only")
    path = shutil.which("qemu-x86_64")
    if path is None:
        message = "qemu-x86_64 not found: apt-get install qemu-user"
        if os.environ.get("REQUIRE_QEMU") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def emulated(cpu: str, *args: str) -> list[str]:
    """A command line running this Python with ``args`` on an emulated ``cpu``."""
    return [qemu(), "-cpu", cpu, os.path.realpath(sys.executable), *args]


def canonical_environ() -> dict[str, str]:
    """The environment of an emulated process: canonical settings, and the packages of this venv.

    The emulated interpreter is the venv's real binary, which does not know it is in a venv, so the
    venv's site-packages and the repository go on PYTHONPATH.
    """
    env = {**numerics.native_environ(), **numerics.canonical_settings()}
    env.pop("TRANSFORMER_LIB_NUMERICS")
    env["PYTHONPATH"] = os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT)])
    return env


def test_fingerprint_is_identical_on_other_cpus():
    script = str(ROOT / "tests" / "fingerprint.py")
    env = canonical_environ()
    runs = {"this CPU": [sys.executable, script]} | {cpu: emulated(cpu, script) for cpu in CPUS}
    procs = {
        name: subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, cmd in runs.items()
    }
    hashes = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"fingerprint on {name} failed:\n{err[-3000:]}"
        hashes[name] = json.loads(out)
    native = hashes.pop("this CPU")
    assert len(native) > 50
    for cpu, other in hashes.items():
        differ = sorted(name for name in native if other.get(name) != native[name])
        assert not differ, f"under qemu -cpu {cpu}, these computations give other bytes: {differ}"


# Library modules whose code the chapters run but whose results the fingerprint need not hash, and why.
NOT_FINGERPRINTED = {
    "transformer_lib": "the package itself: it re-exports the modules below",
    "transformer_lib.nn": "a package: it re-exports the modules below it",
    "transformer_lib.models": "a package: it re-exports the modules below it",
    "transformer_lib.data": "a package: it re-exports the modules below it",
    "transformer_lib.training": "a package: it re-exports the modules below it",
    "transformer_lib.tools": "a package: it re-exports the modules below it",
    "transformer_lib.tools.checks": "prints whether a result matches a reference (✅/❌), no numbers of its own",
    "transformer_lib.tools.references": "reference answers compared inside checks with a tolerance; only ✅ is printed",
    "transformer_lib.tools.glue": "stores a value for the prose; the value is computed elsewhere",
    "transformer_lib.tools.plotting": "figures are PNG, which nbval does not compare",
    "transformer_lib.tools.diagrams": "figures are PNG, which nbval does not compare",
    "transformer_lib.tools.attention_view": "writes weights the attention modules computed (hashed) as HTML, rounded "
    "to 3 decimals; record_attention calls those modules' own forward again",
    "transformer_lib.tools.numerics": "reads numerics.env; sets nothing inside a process",
    "transformer_lib.data.tokens": "constants",
    "transformer_lib.models.checkpoint": "torch.save and torch.load: bytes in, the same bytes out",
    "transformer_lib.training.distributed": "process groups and sharding by index; the model's numerics are GPT's",
    "transformer_lib.training.train_gpt": "chapter 12's launcher: GPT (hashed), its AdamW steps and integer batches",
    "transformer_lib.models.hub": "copies, transposes and splits weights (exact); chapter 9b prints True and counts",
    "transformer_lib.models.options": "how a config prints: no arithmetic",
    "transformer_lib.nn.flash_triton": "Triton's interpreter runs it with NumPy; chapter 10b prints only comparisons "
    "within a tolerance (its forward's algorithm is nn.flash's, hashed); on a GPU it is compiled",
}


def is_module(name: str) -> bool:
    """Whether ``name`` is an importable module of the library (not a function or class in one)."""
    try:
        return name.startswith("transformer_lib") and importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def library_modules(name: str) -> set[str]:
    """``name`` and the library modules it imports, transitively (read from the sources)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        spec = importlib.util.find_spec(module)
        package = module if spec.submodule_search_locations else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
            if isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            todo += [c for c in candidates if is_module(c)]
    return seen


def chapter_modules() -> dict[str, set[str]]:
    """``{module: chapters}`` for every library module a chapter's code uses, directly or through
    another library module: ``import transformer_lib as tl`` with ``tl.<name>``, and ``from`` imports."""
    from IPython.core.inputtransformer2 import TransformerManager

    import transformer_lib as tl

    used: dict[str, set[str]] = {}
    for where, source in notebook_sources():
        tree = ast.parse(TransformerManager().transform_cell(source))
        direct: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformer_lib"):
                direct.add(node.module)
                direct.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tl":
                value = getattr(tl, node.attr)
                direct.add(value.__name__ if isinstance(value, types.ModuleType) else value.__module__)
        for name in direct:
            if is_module(name):
                for module in library_modules(name):
                    used.setdefault(module, set()).add(where.split(" ")[0])
    return used


def test_fingerprint_covers_every_module_the_chapters_use():
    """A chapter's stored outputs are proven CPU-independent only through what the fingerprint hashes:
    a library module a chapter runs must run in the fingerprint too (or say above why it need not)."""
    env = canonical_environ()
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fingerprint.py"), "--modules"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    fingerprinted = set(json.loads(run.stdout))
    used = chapter_modules()
    assert {"transformer_lib.nn.rotary", "transformer_lib.models.llama", "transformer_lib.nn.layers"} <= set(used)
    missing = {m: sorted(c) for m, c in used.items() if m not in fingerprinted and m not in NOT_FINGERPRINTED}
    assert not missing, f"chapters use library modules the fingerprint never runs (add entries): {missing}"


# MKL's vector square root (behind torch.sqrt and Tensor.sqrt, and x ** 0.5 on tensors, which
# this check cannot tell from floats) rounds
# differently on different CPUs whatever the settings (measured: 972 of 6208 floats not correctly
# rounded natively, 889 under -cpu Nehalem, even for a one-element tensor). The book uses
# Tensor.rsqrt, math.sqrt or fused kernels instead; this keeps it that way.
MKL_SQRT = re.compile(r"torch\.sqrt\(|\.sqrt\(\)|\.pow\(0\.5\)")


def code_sources():
    for path in sorted((ROOT / "transformer_lib").rglob("*.py")):
        yield path.relative_to(ROOT), path.read_text()
    yield from notebook_sources()


def notebook_sources():
    """``(where, source)`` of every code cell of every chapter."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{path.relative_to(ROOT)} cell {i}", "".join(cell["source"])


def test_no_code_calls_mkl_sqrt():
    found = [
        f"{where}: {line.strip()}"
        for where, source in code_sources()
        for line in source.splitlines()
        if MKL_SQRT.search(line.split("#")[0])
    ]
    assert not found, "torch.sqrt rounds per CPU; use .rsqrt() or math.sqrt:\n" + "\n".join(found)
