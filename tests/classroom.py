"""What the simulated classes of both graders hand in (tests/test_course.py for nbgrader,
tests/test_otter.py for otter-grader) and the scores each student must get, the same on both."""

from __future__ import annotations

CHAPTER = "04_masks"
TRAINING = "02_queries_keys_values"
STRICT_OFF = 'import os\n\nos.environ["TRANSFORMER_LIB_STRICT_CHECKS"] = "0"'
ATTACKS = ["patcher", "caller", "warns"]
# The patcher: an answer cell that makes the imported checks pass everything.
PATCH = """
from transformer_lib.tools import checks

checks.CheckResult.__post_init__ = lambda self: None
checks.check_function = lambda *args, **kwargs: checks.CheckResult(True, "\u2705 all good")"""
# The library caller: every exercise of chapter 4 answered with the library's own function.
LIBRARY_CALLS = {
    "ch4-subsequent": "def subsequent_mask(size):\n    return tl.subsequent_mask(size)",
    "ch4-padding": "def mask_from_lengths(lengths, width):\n    return tl.padding_mask(lengths, width)",
    "ch4-leak": "def fixed_causal_mask(size):\n    return tl.subsequent_mask(size)",
    "ch4-decoder-mask": (
        "from transformer_lib.tools import references\n\n\n"
        "def decoder_self_attention_mask(tgt_ids, pad_id):\n"
        "    return references.decoder_self_attention_mask(tgt_ids, pad_id)"
    ),
}
# The warning writer: a correct answer that warns and writes to stderr.
WARNING = """\
    warnings.warn("a warning from a correct answer")
    print("and a line on stderr", file=sys.stderr)
"""
# The made-up training result: the accuracy of ch2-learned-positions typed in.
MADE_UP = "learned_accuracy = 0.97"


def solution_of(book, ex) -> str:
    """The book's solution cells of an exercise, as a student would paste them into one cell."""
    return "\n\n".join(book.cells[i].source for i in ex.solution)


def expected_scores(points: dict[str, float], gamed: str, raising: str) -> dict[str, float]:
    """The score of each student of the chapter-4 class, from the points of its exercises (in order):
    ``gamed`` is the exercise the gaming student leaves unsolved, ``raising`` the one whose cell raises."""
    labels, total = list(points), sum(points.values())
    return {
        "untouched": 0,
        "half": sum(points[label] for label in labels[: len(labels) // 2]),
        "all": total,
        "raises": total - points[raising],
        "games": total - points[gamed],
        "patcher": 0,
        "caller": 0,
        "warns": total,
        "missing": 0,
    }
