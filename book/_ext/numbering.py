"""Exercises numbered by chapter: "Exercise 4.2", and its solution "Solution to Exercise 4.2".

The chapters number themselves in their titles ("4. Masks", "9a. Encoder-only models"), which
Sphinx's own numbering (a numbered table of contents) would number again, and sphinx-exercise then
numbers exercises through the whole book. So the exercises are written ``:nonumber:`` and numbered
here: the chapter's number from its title, then the exercise's place in the chapter. It runs after
sphinx-exercise has made the titles (post-transforms 20 and 21), in both editions ("练习 4.2").
The student copies (``scripts/coursework.py``) use the same numbers.
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


def setup(app):
    app.add_post_transform(NumberExercises)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
