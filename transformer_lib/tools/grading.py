"""What the graded copies of the course (``make course``, ``scripts/course.py``) run around the checks.

A graded notebook runs the student's cells and the checks in one Python process, so a student's cell
can reach everything the checks use. Three things here keep a grade from being faked that way:

- :func:`fresh_checks` loads a new copy of :mod:`transformer_lib.tools.checks` (and of
  :mod:`~transformer_lib.tools.references`) from its file: a cell that patched ``CheckResult`` or the
  imported module does not reach the copy the hidden tests use. The copy is strict whatever the
  environment says, prints no expected value, and labels its messages as a hidden test's.
- :class:`Guard` replaces the library's own answers to a chapter's exercises (``tl.to_additive`` for
  the exercise that rebuilds it, everything in ``references``) by a *tripwire* wherever the library
  and the notebook hold them. Called from the chapter's own cells (and from the library), a tripwire
  calls the function; called from a cell the student wrote, it raises: an answer that only calls
  the library scores nothing. A cell is the chapter's when the hash of its source is one that
  ``make course`` listed.
- :func:`quiet_stderr`: nbgrader scores a graded cell that writes to stderr as failed, so a correct
  answer that triggers a warning would lose its points; graded notebooks send stderr to stdout.

What it cannot stop: a student who reads this module can take a function back out of a tripwire's
closure, forge a cell hash, or patch ``torch`` itself, which the copies share. Those are deliberate
attacks on the grader, left to the instructor's reading of the code (book/instructors.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import transformer_lib

HIDDEN_LABEL, PUBLIC_LABEL = "hidden test", "public test"
# nbgrader's markers of a hidden part: the release holds a graded cell without it.
HIDDEN_PART = re.compile(r"^### BEGIN HIDDEN TESTS$.*?^### END HIDDEN TESTS$\n?", re.M | re.S)


def cell_hash(source: str) -> str:
    """A short hash of a cell's source as IPython runs it, without its hidden parts (lines stripped at
    the end, ends trimmed): a graded check cell hashes as the release shows it."""
    text = HIDDEN_PART.sub("", source)
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fresh_module(name: str) -> ModuleType:
    """A new copy of ``transformer_lib.tools.<name>`` loaded from its file, under a private name.

    Relative imports in it still resolve to the imported library (``..device``), but its own classes
    and functions are new objects that no cell has seen."""
    path = Path(transformer_lib.__file__).parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"transformer_lib.tools._graded_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fresh_checks(label: str = HIDDEN_LABEL) -> ModuleType:
    """A fresh copy of ``checks``: strict, without expected values, its messages labelled ``label``."""
    checks = fresh_module("checks")
    checks.ALWAYS_STRICT = True
    checks.LABEL = label
    return checks


def quiet_stderr() -> None:
    """Send what the notebook writes to stderr (warnings included) to stdout, where nbgrader does not
    read it as a failure."""
    sys.stderr = sys.stdout


def run_hidden(
    namespace: dict,
    label: str,
    sources: list[str],
    known: Iterable[str],
    bar: Iterable[str] = (),
    always: Iterable[str] = (),
    answers: Iterable[str] = (),
    public: bool = False,
) -> None:
    """Run a graded cell's hidden tests: ``sources`` (the visible check, then the hidden tests of
    ``course.yml``) in a copy of the notebook's ``namespace``, with fresh copies of ``checks`` and
    ``references`` (:func:`fresh_checks`) where their imports and names find them, and the functions
    ``bar`` and ``always`` behind tripwires (:class:`Guard`). ``answers``, the names the exercise's
    cell defines, must not be the library's functions themselves. A failure raises ``AssertionError``
    labelled as a hidden test's (a public test's when ``public``: otter's ``grader.check`` runs the
    visible check this way); a pass prints one line."""
    kind = PUBLIC_LABEL if public else HIDDEN_LABEL
    os.environ["TRANSFORMER_LIB_STRICT_CHECKS"] = os.environ["TRANSFORMER_LIB_GRADED"] = "1"
    quiet_stderr()
    fresh = {"checks": fresh_checks(kind), "references": fresh_module("references")}
    tools = importlib.import_module("transformer_lib.tools")
    for name in fresh:  # imported before they are swapped, so that they can be put back
        importlib.import_module(f"transformer_lib.tools.{name}")
    saved = {name: (sys.modules.get(f"transformer_lib.tools.{name}"), getattr(tools, name, None)) for name in fresh}
    guard = Guard(namespace, known, always)
    guard.bar(bar)
    for name in answers:
        answer = _unwrap(namespace.get(name))
        if id(answer) in guard.barred and answer is guard.barred[id(answer)][1]:
            message = (
                f"your {name} is transformer_lib's {guard.barred[id(answer)][0]}, the library's own answer: "
                f"the graded copy counts only code you write ({kind})."
            )
            guard.allow(bar)
            raise AssertionError(message)
    try:
        for name, module in fresh.items():
            sys.modules[f"transformer_lib.tools.{name}"] = module
            setattr(tools, name, module)
        scope = {**namespace, **fresh}
        for number, source in enumerate(sources):
            # a file name that linecache knows: the tripwires read the source of the code calling them
            filename = f"<hidden test {label} {number}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec"), scope)
    finally:
        for name, (module, attribute) in saved.items():
            sys.modules[f"transformer_lib.tools.{name}"] = module
            setattr(tools, name, attribute)
        guard.allow(bar)
    print(f"\u2705 {label}: the {kind}s pass.")


def unguard(namespace: dict | None = None) -> None:
    """Put the library's functions back where tripwires replaced them (in ``namespace`` too): for a
    process that runs a graded copy's code and then goes on (the tests)."""
    spaces = [vars(m) for n, m in list(sys.modules.items()) if n.startswith("transformer_lib") and m]
    for space in [*spaces, *([namespace] if namespace is not None else [])]:
        for name, value in list(space.items()):
            if hasattr(value, "__wrapped_original__") and not isinstance(value, ModuleType):
                space[name] = value.__wrapped_original__


def _unwrap(obj):
    """The function under a tripwire (a guard of an earlier cell may have put one there)."""
    return getattr(obj, "__wrapped_original__", obj)


def _resolve(path: str):
    """``"nn.masks.subsequent_mask"`` -> that object of the library (the function, not a tripwire)."""
    obj, prefix = transformer_lib, "transformer_lib"
    for part in path.split("."):
        prefix = f"{prefix}.{part}"
        if not hasattr(obj, part):  # a module not imported yet
            importlib.import_module(prefix)
        obj = _unwrap(getattr(obj, part))
    return obj


class Guard:
    """Tripwires over the library's own answers, for the cells whose hash is not in ``known``.

    Args:
        namespace: the notebook's globals (names a cell imported with ``from ... import``).
        known: the hashes (:func:`cell_hash`) of the chapter's own cells, as the graded copy and the
            release hold them.
        always: library paths (``"tools.references"`` for a whole module) barred for the whole chapter.
    """

    def __init__(self, namespace: dict, known: Iterable[str], always: Iterable[str] = ()) -> None:
        self.namespace, self.known = namespace, set(known)
        self.originals: dict[int, tuple[str, Callable]] = {}
        for path in always:
            target = _resolve(path)
            if isinstance(target, ModuleType):
                for name, value in vars(target).items():
                    value = _unwrap(value)
                    if callable(value) and getattr(value, "__module__", None) == target.__name__:
                        self.originals[id(value)] = (f"{path}.{name}", value)
            else:
                self.originals[id(target)] = (path, target)
        self.barred: dict[int, tuple[str, Callable]] = dict(self.originals)
        self.wires = {key: self._tripwire(name, fn) for key, (name, fn) in self.originals.items()}
        self.places = self._find_places()
        self.bar([])

    def _find_places(self) -> list[tuple[dict, str, int]]:
        """Every ``(namespace, name, id)`` where the library or the notebook holds a guarded function."""
        spaces = [vars(m) for n, m in list(sys.modules.items()) if n.startswith("transformer_lib") and m]
        places = []
        for space in [*spaces, self.namespace]:
            for name, value in list(space.items()):
                fn = _unwrap(value)
                if id(fn) in self.originals and fn is self.originals[id(fn)][1]:
                    places.append((space, name, id(fn)))
        return places

    def bar(self, paths: Iterable[str]) -> None:
        """Bar the functions ``paths`` too (the exercise being graded), and put every tripwire back where
        it was, whatever a cell assigned there since."""
        for path in paths:
            fn = _resolve(path)
            if id(fn) not in self.originals:
                self.originals[id(fn)] = (path, fn)
                self.wires[id(fn)] = self._tripwire(path, fn)
                self.places += [p for p in self._find_places() if p[2] == id(fn)]
            self.barred[id(fn)] = self.originals[id(fn)]
        for space, name, key in self.places:
            space[name] = self.wires[key] if key in self.barred else self.originals[key][1]

    def allow(self, paths: Iterable[str]) -> None:
        """Lift the bar on ``paths`` (barred for one exercise only), keeping the ones of the chapter."""
        for path in paths:
            self.barred.pop(id(_resolve(path)), None)
        self.bar([])

    def _tripwire(self, name: str, fn: Callable) -> Callable:
        guard = self

        def tripwire(*args, **kwargs):
            caller = sys._getframe(1)
            if caller.f_globals.get("__name__") == "__main__" and id(fn) in guard.barred:
                source = "".join(linecache.getlines(caller.f_code.co_filename))
                if cell_hash(source) not in guard.known:
                    who = "code" if caller.f_code.co_name.startswith("<") else caller.f_code.co_name
                    raise AssertionError(
                        f"your {who} calls transformer_lib's {name}, the library's own answer to an exercise "
                        "of this chapter: the graded copy counts only code you write."
                    )
            return fn(*args, **kwargs)

        tripwire.__wrapped_original__ = fn
        tripwire.__name__ = getattr(fn, "__name__", "tripwire")
        tripwire.__doc__ = fn.__doc__
        return tripwire
