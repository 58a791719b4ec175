"""How long each chapter takes to run, measured, and the instructors' table written from the measurement.

    python scripts/chapter_times.py measure [CHAPTER ...]   execute the chapters (all by default) in
                                                            memory, outputs thrown away, and record their
                                                            times in benchmarks/chapter_times.json
    python scripts/chapter_times.py table                   rewrite the table of book/instructors.md
                                                            from the JSON (and the Chinese catalogue's
                                                            "N s" cells)

Each chapter runs from the top in a fresh kernel under the canonical numerics
(``transformer_lib/numerics.env``: one thread). The table shows the kernel's **CPU seconds** (user +
system, of the kernel and the processes it starts, read in the kernel after the last cell): they
include starting Python and importing PyTorch, and they depend much less than the wall-clock time on
what else the machine is running. The JSON keeps the wall-clock seconds too, with the date, the
number of cores and the load average before each run, so that a reader can judge a measurement.
``tests/test_book.py`` fails when the table is not the JSON's, when a chapter has no measurement, or
when the introduction's claim fails (every chapter under a minute and a half, most under a minute).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "benchmarks" / "chapter_times.json"
INSTRUCTORS = ROOT / "book" / "instructors.md"
CATALOGUE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "book" / "instructors.po"
START, END = "% chapter-times: start (written by scripts/chapter_times.py table)", "% chapter-times: end"

# the table's row titles, in the order of the book
TITLES = {
    "01_self_attention": "1. Self-attention, step by step",
    "02_queries_keys_values": "2. Queries, keys and values",
    "03_scaled_dot_product": "3. Scaled dot-product attention",
    "04_masks": "4. Masks",
    "05_multihead": "5. Multi-head attention",
    "06_cross_attention": "6. Encoder-decoder attention",
    "07_residual_norm": "7. Residual connections and normalization",
    "08_transformer": "8. The whole Transformer",
    "08b_recipe": "8b. The paper's training recipe and beam search",
    "09a_encoder_only": "9a. Encoder-only (BERT-like)",
    "09b_decoder_only": "9b. Decoder-only (GPT-like)",
    "09c_encoder_decoder": "9c. Encoder-decoder (T5-like)",
    "09d_modern_decoder": "9d. The modern decoder (Llama-like, real text)",
    "10_attention_cost": "10. What attention costs",
    "10b_flash_attention": "10b. FlashAttention, derived and written",
    "11_regression": "11. Transformers for regression",
    "12_distributed": "12. Appendix: when one device is not enough",
}


def numerics_env() -> dict[str, str]:
    values = {"PYTHONPATH": str(ROOT)}
    for line in (ROOT / "transformer_lib" / "numerics.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


# run in the chapter's kernel after its last cell: the CPU seconds, user + system, of the kernel and
# of the processes it started (chapter 10's benchmarks, chapter 12's torchrun)
CPU_CELL = """import resource as _r
_u = [_r.getrusage(w) for w in (_r.RUSAGE_SELF, _r.RUSAGE_CHILDREN)]
print(sum(u.ru_utime + u.ru_stime for u in _u))"""


def measure(chapter: str, path: Path | None = None) -> dict:
    """Execute one chapter from the top in a fresh kernel under the canonical numerics; the kernel's
    CPU seconds (starting Python, importing PyTorch and every cell) and the wall-clock seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path or ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    load = os.getloadavg()[0]
    os.environ.update(numerics_env())  # the kernel inherits them
    start = time.perf_counter()
    resources = {"metadata": {"path": str(ROOT / "book")}}
    NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
    wall = time.perf_counter() - start
    cpu = float(nb.cells[-1].outputs[0]["text"])
    return {
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "load_before": round(load, 2),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }


def render(times: dict[str, dict]) -> str:
    rows = ["| chapter | CPU time to run the whole notebook |", "|---|---|"]
    rows += [f"| {title} | {round(times[name]['cpu_s'])} s |" for name, title in TITLES.items()]
    return "\n".join(rows)


def table_in(text: str) -> str:
    """The table between the markers of book/instructors.md."""
    return text.split(START + "\n", 1)[1].split("\n" + END, 1)[0]


def write_table() -> None:
    times = json.loads(TIMES.read_text())
    text = INSTRUCTORS.read_text()
    INSTRUCTORS.write_text(text.replace(table_in(text), render(times)))
    # the Chinese catalogue: every "N s" cell as "N 秒" (scripts/translations.py extract drops the
    # ones no longer used)
    sys.path.insert(0, str(ROOT / "scripts"))
    import translations

    catalog = translations.load(CATALOGUE)
    for cell in re.findall(r"\| (\d+ s) \|", render(times)):
        if cell not in catalog or not catalog[cell].string or catalog[cell].fuzzy:
            catalog.add(cell, cell.replace(" s", " 秒"))
    translations.save(catalog, CATALOGUE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("measure", help="execute chapters and record their times")
    run.add_argument("chapters", nargs="*", help="chapter names such as 08_transformer (default: all)")
    commands.add_parser("table", help="rewrite the instructors' table from the measurements")
    args = parser.parse_args()
    if args.command == "measure":
        times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        for chapter in args.chapters or list(TITLES):
            if chapter not in TITLES:
                sys.exit(f"unknown chapter {chapter!r}: one of {', '.join(TITLES)}")
            times[chapter] = measure(chapter)
            print(chapter, times[chapter], flush=True)
            TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
    else:
        write_table()


if __name__ == "__main__":
    main()
