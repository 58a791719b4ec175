"""What a reader of the site (and of the PDF printed from it) need not see of the notebooks' plumbing.

- **The setup cell, folded.** A chapter's first code cell makes ``transformer_lib`` importable
  (installing it on Colab), imports and picks the device: it is folded to one line saying so, the code
  a click away. It is found by its first line, ``# Setup:``, so the notebooks carry no tag for it.
  MyST-NB folds a cell tagged ``hide-input`` in a post-transform (priority 199); this one runs just
  before and marks the setup cells the same way, with a summary in the edition's language.
- **Glue and test markers, left out.** ``tl.glue(...)`` calls hand numbers to the prose (MyST-NB's
  ``{glue}``) and ``# NBVAL_IGNORE_OUTPUT`` tells the test suite not to compare a cell's output: both
  are for the book's machinery. The shown code drops them (and a loop or ``with`` left with nothing
  else in it); the notebooks keep them, so Colab runs them and nbval still compares every output.
"""

from __future__ import annotations

import ast

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

SETUP = "# Setup:"
NBVAL = "# NBVAL_"
PROMPTS = {
    "en": ("Make transformer_lib importable, import, pick the device (show the code)", "Hide the setup code"),
    "zh_CN": ("让本书的库可以导入，导入所需模块，选择设备（显示代码）", "隐藏准备代码"),
}


def is_glue(statement: ast.stmt) -> bool:
    """``tl.glue(...)`` or ``glue(...)`` as a statement of its own."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    return (isinstance(func, ast.Attribute) and func.attr == "glue") or (
        isinstance(func, ast.Name) and func.id == "glue"
    )


def plumbing_lines(tree: ast.Module) -> set[int]:
    """The line numbers (from 1) of glue statements, and of compound statements holding nothing else."""
    lines: set[int] = set()

    def only_plumbing(statements: list[ast.stmt]) -> bool:
        found = [visit(s) for s in statements]
        return all(found)

    def visit(statement: ast.stmt) -> bool:
        drop = is_glue(statement)
        bodies = [getattr(statement, name, None) for name in ("body", "orelse", "finalbody")]
        bodies = [b for b in bodies if isinstance(b, list) and b]
        if not drop and bodies and not isinstance(statement, ast.FunctionDef | ast.ClassDef):
            kept = [not only_plumbing(body) for body in bodies]
            drop = not any(kept)
        if drop:
            lines.update(range(statement.lineno, statement.end_lineno + 1))
        return drop

    only_plumbing(tree.body)
    return lines


def shown_source(source: str) -> str:
    """``source`` without its glue statements and test markers; unchanged if it is not Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    dropped = plumbing_lines(tree)
    kept = [
        line
        for number, line in enumerate(source.splitlines(), start=1)
        if number not in dropped and not line.lstrip().startswith(NBVAL)
    ]
    text = "\n".join(kept).strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


class HidePlumbing(SphinxPostTransform):
    default_priority = 198
    formats = ("html",)

    def run(self, **kwargs) -> None:
        show, hide = PROMPTS.get(self.app.config.language or "en", PROMPTS["en"])
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code" or not cell.children:
                continue
            source = cell.children[0]
            if source.get("nb_element") != "cell_code_source":
                continue
            if source.astext().startswith(SETUP) and not cell.get("hide_mode"):
                cell["hide_mode"], cell["prompt_show"], cell["prompt_hide"] = "input", show, hide
                cell["classes"].append("setup-cell")
            for block in source.findall(nodes.literal_block):
                text = shown_source(block.astext())
                if text != block.astext():
                    block.children = [nodes.Text(text)]
                    block.rawsource = text
            if not source.astext().strip():
                cell.remove(source)


def setup(app):
    app.add_post_transform(HidePlumbing)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
