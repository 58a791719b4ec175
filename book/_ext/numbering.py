"""Exercises and figures numbered by chapter: "Exercise 4.2", its solution "Solution to Exercise 4.2",
and "Figure 4.2".

The chapters number themselves in their titles ("4. Masks", "9a. Encoder-only models"), which
Sphinx's own numbering (a numbered table of contents) would number again, and sphinx-exercise then
numbers exercises through the whole book. So the exercises are written ``:nonumber:`` and numbered
here: the chapter's number from its title, then the exercise's place in the chapter. It runs after
sphinx-exercise has made the titles (post-transforms 20 and 21), in both editions ("练习 4.2").
The student copies (``scripts/coursework.py``) use the same numbers.

Figures (an image output whose cell's metadata gives ``mystnb.figure``, a caption and a name) get
Sphinx's numbers, rewritten per page: Sphinx numbers them through the whole book (1, 2, ... 48),
and each chapter's become its number from the title, then the figure's place in the chapter. They
are rewritten where Sphinx keeps them (``env.toc_fignumbers``), so the caption ("Figure 4.2:") and
every ``{numref}`` to the figure, from any page, say the same number. A reference gives its text,
``{numref}`Figure %s <fig-name>```, since the caption's prefix ends in a colon.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx_exercise.nodes import is_exercise_node, solution_node

CHAPTER = re.compile(r"(\d+[a-z]?)\.\s")


def chapter_number(title: str) -> str | None:
    """ "4. Masks" -> "4", "9a. Encoder-only models" -> "9a"; None for a page that is not a chapter."""
    found = CHAPTER.match(title)
    return found.group(1) if found else None


class NumberExercises(SphinxPostTransform):
    default_priority = 22
    formats = ("html",)

    def run(self, **kwargs) -> None:
        section = next(iter(self.document.findall(nodes.section)), None)
        chapter = chapter_number(section[0].astext()) if section else None
        if chapter is None:
            return
        numbers = {}
        for k, exercise in enumerate(self.document.findall(is_exercise_node), start=1):
            numbers[exercise["label"]] = number = f"{chapter}.{k}"
            title = exercise.children[0]
            word = title.children[0]
            title.replace(word, nodes.Text(f"{word.astext().strip()} {number}"))
        for solution in self.document.findall(solution_node):
            reference = next(iter(solution.children[0].findall(nodes.reference)), None)
            number = numbers.get(solution.get("target_label"))
            if reference is not None and number:
                reference.children = [nodes.Text(f"{reference.astext().rstrip()} {number}")]


# The caption's prefix per language; a reference's text is written in the prose (and translated).
FIGURE_PREFIX = {"zh_CN": "图 %s"}
FIGURE_PREFIX_DEFAULT = "Figure %s:"


def figure_prefix(app, config) -> None:
    config.numfig_format = {"figure": FIGURE_PREFIX.get(config.language, FIGURE_PREFIX_DEFAULT)} | dict(
        config.numfig_format
    )


def number_figures(app, env) -> list[str]:
    """After Sphinx has numbered the figures through the book: each chapter's from 1, as "4.k"."""
    for docname, by_type in env.toc_fignumbers.items():
        title = env.titles.get(docname)
        chapter = chapter_number(title.astext()) if title is not None else None
        if chapter is None:
            continue
        for figtype, numbers in by_type.items():
            in_order = sorted(numbers, key=numbers.get)
            by_type[figtype] = {node_id: (chapter, k) for k, node_id in enumerate(in_order, start=1)}
    return []


def setup(app):
    app.add_post_transform(NumberExercises)
    # after Sphinx's own figure numbers (its table-of-contents collector, priority 500); and before its
    # numfig_format defaults are filled in (priority 800), so that an explicit format still wins
    app.connect("env-get-updated", number_figures, priority=900)
    app.connect("config-inited", figure_prefix, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
