"""The order in which `make test` hands out its test files (tests/schedule.py): longest first, none lost."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from tests import schedule

ROOT = Path(__file__).resolve().parents[1]


def test_every_timed_file_exists():
    """A file renamed or removed leaves a stale entry, and its successor would be scheduled as short."""
    missing = [file for file in schedule.SECONDS if not (ROOT / file).is_file()]
    assert not missing, f"tests/schedule.py times files that do not exist (rename or remove them): {missing}"


def test_the_queue_is_handed_out_longest_first_and_whole(monkeypatch):
    """Files go out in the order of their expected time (an unlisted one by its number of tests), each
    with all its tests; xdist's own hand-out (replaced here by a list) does the rest."""
    handed = []
    hand_out = lambda self, node: handed.append(self.workqueue.popitem(last=False))  # noqa: E731
    monkeypatch.setattr(schedule.LoadFileScheduling, "_assign_work_unit", hand_out)
    scheduler = object.__new__(schedule.LongestFirst)  # only its queue: no pytest session or workers
    scheduler.workqueue = OrderedDict(
        (file, dict.fromkeys(f"{file}::t{i}" for i in range(tests)))
        for file, tests in [("tests/test_a.py", 200), ("tests/test_site.py", 25), ("tests/test_b.py", 3)]
    )
    for _ in range(3):
        scheduler._assign_work_unit(None)
    assert [file for file, _ in handed] == ["tests/test_site.py", "tests/test_a.py", "tests/test_b.py"]
    assert [len(tests) for _, tests in handed] == [25, 200, 3]
