"""The order in which `make test` hands test files to its workers: the longest first.

`make test` runs pytest-xdist with ``--dist loadfile``: each file goes whole to one worker (a notebook's
cells must share one kernel), and a worker gets its next file when it is about to run out. xdist's own
order is by the number of tests in a file, which says little about time here: a chapter is one test per
cell, a 30-page browser check is 30 tests, the cross-CPU proof is one test of 100 s. A long file that
starts last keeps one worker busy while the others idle. Handing out the longest files first (the
classic longest-processing-time rule) lets the short ones fill the gaps at the end.

``SECONDS`` holds what each file took on a 2-core machine (one worker's share, children included;
README, *Where the test time goes*); only the order matters, so a rough or stale figure costs some
idle time, never a test. A file missing from it counts as its number of tests times ``UNLISTED_S``.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

# Measured 2026-12-07 on a 2-core machine, scaled to an unloaded one (wall seconds of one worker, its
# browsers, kernels and emulators included), after the site tests' audit and PDF text got faster.
SECONDS = {
    "tests/test_course.py": 216,
    "tests/test_translations.py": 210,
    "tests/test_site.py": 170,
    "tests/test_cross_cpu.py": 140,
    "tests/test_student.py": 118,
    "tests/test_otter.py": 90,
    "tests/test_distributed.py": 76,
    "book/09d_modern_decoder.ipynb": 65,
    "book/08b_recipe.ipynb": 60,
    "book/09a_encoder_only.ipynb": 57,
    "tests/test_cross_cpu_chapter.py": 57,
    "book/11_regression.ipynb": 55,
    "book/09c_encoder_decoder.ipynb": 52,
    "book/07_residual_norm.ipynb": 49,
    "book/09b_decoder_only.ipynb": 47,
    "book/12_distributed.ipynb": 43,
    "book/06_cross_attention.ipynb": 40,
    "book/10b_flash_attention.ipynb": 37,
    "tests/test_compile.py": 36,
    "book/08_transformer.ipynb": 25,
    "tests/test_platforms.py": 21,
    "book/10_attention_cost.ipynb": 19,
    "tests/test_flash.py": 18,
    "tests/test_colab.py": 17,
    "book/05_multihead.ipynb": 10,
    "book/02_queries_keys_values.ipynb": 8,
    "tests/test_environment.py": 8,
    "book/03_scaled_dot_product.ipynb": 6,
    "tests/test_benchmarks.py": 6,
    "tests/test_hub.py": 5,
}
UNLISTED_S = 0.05


class LongestFirst(LoadFileScheduling):
    """``--dist loadfile``, with the files handed out in the order of ``SECONDS`` (longest first).

    Only the queue of files is reordered: each worker's collection keeps its order, since the
    controller tells a worker which tests to run by their index in that collection."""

    ordered = False

    def _assign_work_unit(self, node) -> None:
        if not self.ordered:  # the queue is complete before the first file is handed out
            for file in sorted(self.workqueue, key=lambda file: -seconds(file, len(self.workqueue[file]))):
                self.workqueue.move_to_end(file)
            self.ordered = True
        super()._assign_work_unit(node)


def seconds(file: str, tests: int) -> float:
    """The expected time of a file of ``tests`` tests."""
    return SECONDS.get(file, tests * UNLISTED_S)
