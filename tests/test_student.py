"""Coursework: `make student` removes the solutions, and the student copies still run with helpful checks.

The book's own run (nbval) already executes every chapter with its solutions and compares the checks'
outputs (all ✅). What a student copy adds is the exercises left untouched, so this test runs only
that: the setup cell, every cell from the first exercise on (stubs and checks; the solutions are gone),
and the earlier cells that define a name those cells use, found by reading the code. A chapter's
training cells run here only when an exercise needs what they define. A cell run only for its
definitions may find a model untrained and fail an assertion that nbval has already checked on the
full chapter: it is allowed to raise. The check cells are not: each must run and print a hint.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from tests.kernels import unix_socket_manager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
STUDENT = ROOT / "_build" / "student"


def is_check(cell) -> bool:
    return cell.cell_type == "code" and "checks.check_" in cell.source


def names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell defines at module level and the names it reads from earlier cells (IPython
    syntax turned into Python first). Names local to a function, lambda or comprehension of the cell
    (its parameters, its assignments) are neither; a name the cell defines itself is not read."""
    from IPython.core.inputtransformer2 import TransformerManager

    defined: set[str] = set()
    used: set[str] = set()
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)
    scopes += (ast.GeneratorExp,)

    def local_names(scope: ast.AST) -> set[str]:
        bound = {a.arg for a in ast.walk(scope.args) if isinstance(a, ast.arg)} if hasattr(scope, "args") else set()
        for node in ast.walk(scope):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
        return bound

    def visit(node: ast.AST, local: set[str]) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in local:
                used.add(node.id)
            elif not local and not isinstance(node.ctx, ast.Load):
                defined.add(node.id)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not local:
            defined.add(node.name)
        if isinstance(node, ast.Import | ast.ImportFrom) and not local:
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        inner = local | local_names(node) if isinstance(node, scopes) else local
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(TransformerManager().transform_cell(source)), set())
    return defined, used - defined


def cells_a_student_copy_needs(nb) -> list[int]:
    """Indices of the cells to run: setup, everything from the first exercise on, and what those read."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "### Exercise " in c.source)
    keep = {code[0], *(i for i in code if i >= first)}
    needed: set[str] = set()
    defined_here: set[str] = set()  # by the exercise cells above the one read
    for i in sorted(keep - {code[0]}):
        defined, used = names(nb.cells[i].source)
        needed |= used - defined_here
        defined_here |= defined
    for i in reversed([i for i in code if code[0] < i < first]):
        defined, used = names(nb.cells[i].source)
        if defined & needed:
            keep.add(i)
            needed = (needed - defined) | used
    return sorted(keep)


@pytest.fixture(scope="module")
def student_copies() -> Path:
    subprocess.run(["make", "-s", "student", f"VENV={sys.prefix}"], cwd=ROOT, check=True, capture_output=True)
    return STUDENT


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_book_checks_pass_with_the_reference_solutions(path):
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if is_check(c)]
    assert len(checks) >= 3, f"{path.name} has {len(checks)} auto-checked exercises, expected at least 3"
    for cell in checks:
        text = json.dumps([o.get("data", o.get("text")) for o in cell.outputs], ensure_ascii=False)
        assert "\u2705" in text and "\u274c" not in text, (
            f"{path.name}: a check fails with the solutions:\n{cell.source}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_has_no_solutions_and_checks_give_hints(path, student_copies):
    nb = nbformat.read(student_copies / path.name, as_version=4)
    assert not [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert not [c for c in nb.cells if "solution-start" in c.source or "solution-end" in c.source]
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be cleared"
    exercises = [c for c in nb.cells if c.cell_type == "markdown" and "### Exercise " in c.source]
    assert len(exercises) >= 3, f"{path.name}: the student copy lost its exercise prompts"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    website_only = re.findall(
        r"```\{|:::\{|\{[\w:-]+\}`|^:(?:label|nonumber|class):|solutions are hidden", markdown, re.M
    )
    assert not website_only, f"{path.name}: MyST that Jupyter shows raw in the student copy: {website_only}"

    keep = cells_a_student_copy_needs(nb)
    nb.cells = [nb.cells[i] for i in keep]
    for cell in nb.cells[1:]:
        if not is_check(cell):
            cell.metadata.setdefault("tags", []).append("raises-exception")
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=unix_socket_manager(AsyncKernelManager),
        resources={"metadata": {"path": str(ROOT / "book")}},
    ).execute()

    for cell in (c for c in nb.cells if is_check(c)):
        text = json.dumps([o.get("data", o.get("text")) for o in cell.outputs], ensure_ascii=False)
        assert "\u274c" in text, f"{path.name}: this check does not fail on the empty exercise:\n{cell.source}\n{text}"
        assert "\u2705" not in text


def literal(node: ast.AST) -> bool:
    """A value written out in the source: a number, a string, or a tuple/list/arithmetic of them."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple | ast.List):
        return all(literal(e) for e in node.elts)
    if isinstance(node, ast.BinOp):
        return literal(node.left) and literal(node.right)
    return isinstance(node, ast.UnaryOp) and literal(node.operand)


# What a check cell may build its reference from: the library's functions (`references.*`, `tl.*`),
# names of earlier cells, and the glue between them (calls, attributes, constant indices, tuples,
# lambdas that only forward their arguments). Arithmetic, comparisons, comprehensions and loops would
# compute the answer under the exercise, where the site and every student copy show it.
ADAPTER = (ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.keyword)
ADAPTER += (ast.Subscript, ast.Starred, ast.Lambda, ast.arguments, ast.arg, ast.expr_context)


def computations(node: ast.AST, functions: dict[str, ast.FunctionDef], seen: set[str]) -> list[str]:
    """What a reference computes by itself: expressions that are not adapters, in ``node`` and in the
    functions of the same cell it calls (``functions``), each followed once."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.operator | ast.unaryop | ast.cmpop | ast.boolop | ast.comprehension):
            continue  # reported with the expression they belong to
        index = (
            sub.slice.operand if isinstance(getattr(sub, "slice", None), ast.UnaryOp) else getattr(sub, "slice", None)
        )
        if isinstance(sub, ast.Subscript) and not isinstance(index, ast.Constant):
            found.append(ast.unparse(sub))
        elif isinstance(sub, ast.UnaryOp) and isinstance(sub.operand, ast.Constant):
            continue  # a negative number
        elif not isinstance(sub, ADAPTER):
            found.append(ast.unparse(sub))
        if isinstance(sub, ast.Name) and sub.id in functions and sub.id not in seen:
            seen.add(sub.id)
            found += function_computations(functions[sub.id], functions, seen)
    return found


def function_computations(fn: ast.FunctionDef, functions: dict[str, ast.FunctionDef], seen: set[str]) -> list[str]:
    """A helper of a check cell may assign, call, return and use a ``with`` block, nothing else."""
    found = []
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    while body:
        statement = body.pop(0)
        if isinstance(statement, ast.With):
            body = list(statement.body) + body
            found += [c for item in statement.items for c in computations(item.context_expr, functions, seen)]
        elif isinstance(statement, ast.Assign | ast.Return | ast.Expr) and statement.value is not None:
            found += computations(statement.value, functions, seen)
        else:
            found.append(ast.unparse(statement).splitlines()[0])
    return found


def references_of(tree: ast.Module) -> list[ast.AST]:
    """The reference of every check in a cell: check_function's second argument, check_value's
    expected value; a name assigned in the cell stands for the value assigned to it."""
    assigned = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        assigned[name.id] = node.value
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            keyword = {"check_function": "reference", "check_value": "expected"}.get(node.func.attr)
            if keyword is None:
                continue
            arg = (
                node.args[1]
                if len(node.args) >= 2
                else next((k.value for k in node.keywords if k.arg == keyword), None)
            )
            if arg is not None:
                found.append(assigned.get(arg.id, arg) if isinstance(arg, ast.Name) else arg)
    return found


def test_the_reference_rule_catches_helpers_and_expressions():
    """The rule below fails on what it guards against: a helper that computes, an expression."""

    def flagged(source: str) -> list[str]:
        tree = ast.parse(source)
        functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        return [c for ref in references_of(tree) for c in computations(ref, functions, set())]

    assert not flagged("checks.check_function(f, references.f, cases)")
    assert not flagged("checks.check_function(f, lambda x, k: tl.attention(x, k, k)[1], cases)")
    assert not flagged(
        "def _ref(x):\n    m = tl.Layer(x.shape[-1])\n    return m(x)\nchecks.check_function(f, _ref, c)"
    )
    assert not flagged("expected = references.g(a, 3)\nchecks.check_value(v, expected)")
    assert flagged("checks.check_function(f, lambda x, w: tl.attention(x @ w), cases)")
    assert flagged("def _ref(n, p):\n    return 2 * (p - 1) / p * n\nchecks.check_function(f, _ref, c)")
    assert flagged(
        "def _a(x):\n    return [y for y in x]\ndef _ref(x):\n    return g(_a(x))\nchecks.check_function(f, _ref, c)"
    )
    assert flagged("def _ref(x):\n    for r in x:\n        pass\nchecks.check_function(f, _ref, c)")
    assert flagged("e = _count(64) / 64 * 1.5e9\nchecks.check_value(v, e)")
    assert flagged("checks.check_value(n, sum(p.numel() for p in m.parameters()) - 5)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checks_do_not_show_the_answer(path):
    """A check cell sits right under its exercise on the site and in every student copy: it must not
    compute the reference answer (references live in the library, `transformer_lib.tools.references`: a
    check cell may only call them, or the library's function, adapting the arguments) nor write the
    expected value out (`check_value(x, 513)`)."""
    nb = nbformat.read(path, as_version=4)
    for cell in (c for c in nb.cells if is_check(c)):
        tree = ast.parse(cell.source)
        functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        for reference in references_of(tree):
            computed = computations(reference, functions, set())
            assert not computed, (
                f"{path.name}: a check computes its reference ({'; '.join(computed)}): move it to "
                f"transformer_lib/tools/references.py:\n{cell.source}"
            )
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert "reference" not in node.name, f"{path.name}: a check defines {node.name}:\n{cell.source}"
            is_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if is_call and node.func.attr == "check_value" and len(node.args) >= 2 and node.args[1] is not None:
                expected = node.args[1]
                # a claim checked as True or False ("accuracy above 0.9") gives nothing away
                assert not literal(expected) or ast.unparse(expected) in ("None", "True", "False"), (
                    f"{path.name}: a check writes its expected value out ({ast.unparse(expected)}):\n{cell.source}"
                )
