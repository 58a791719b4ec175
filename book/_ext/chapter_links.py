"""Every "chapter N" in the prose a link to chapter N, in both editions ("第 N 章" in Chinese).

The chapters name each other by number ("as chapter 4 showed", "chapters 9a, 9b and 9c", "第 5 至 7
章"), which MyST leaves as plain text. After every page is read, the chapters' numbers are known from
their titles ("4. Masks" -> 4, book/_ext/numbering.py); this turns each mention in running text into a
link: the whole "chapter 4" where one chapter is named, each number where several are. A number without
a page of its own names the first of its parts ("chapter 9" -> 9a). Code, outputs, math, headings and
existing links are left alone.
"""

from __future__ import annotations

import re

from docutils import nodes
from numbering import chapter_number
from sphinx.transforms.post_transforms import SphinxPostTransform

NUMBER = r"\d+[a-d]?(?!\w)(?!\.\d)"
JOIN = r"(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or|to)\s+|\s*[–-]\s*|\s*[、和至到及与]\s*)"
ENGLISH = re.compile(rf"\b[Cc]hapters?\s+{NUMBER}(?:{JOIN}{NUMBER})*")
CHINESE = re.compile(rf"第\s*{NUMBER}(?:{JOIN}{NUMBER})*\s*章")
NUMBERS = re.compile(NUMBER)
# Where a mention stays text: code, printed outputs, math, headings, links and the glossary's terms
# (and a notebook's Markdown outputs: outside_prose).
SKIP = (
    nodes.literal,
    nodes.literal_block,
    nodes.reference,
    nodes.title,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.term,
    nodes.FixedTextElement,
)


def mentions(text: str) -> list[re.Match]:
    """The mentions of chapters in ``text``, English and Chinese, in order."""
    return sorted([*ENGLISH.finditer(text), *CHINESE.finditer(text)], key=lambda m: m.start())


class LinkChapters(SphinxPostTransform):
    default_priority = 30
    formats = ("html",)

    def chapters(self) -> dict[str, str]:
        """Chapter number -> docname, "9" naming 9a as well."""
        found = {}
        for docname, title in self.env.titles.items():
            number = chapter_number(title.astext())
            if number:
                found[number] = docname
        for number in sorted(found):
            found.setdefault(number.rstrip("abcd"), found[number])
        return found

    def link(self, text: str, number: str, chapters: dict[str, str]) -> nodes.Node:
        target = chapters.get(number)
        if target is None:
            return nodes.Text(text)
        uri = self.app.builder.get_relative_uri(self.env.docname, target)
        return nodes.reference(text, text, internal=True, refuri=uri, classes=["chapter-link"])

    def run(self, **kwargs) -> None:
        chapters = self.chapters()
        for text in prose_texts(self.document):
            found = mentions(text.astext())
            if not found:
                continue
            source, new, at = text.astext(), [], 0
            for mention in found:
                new.append(nodes.Text(source[at : mention.start()]))
                numbers = list(NUMBERS.finditer(mention.group()))
                if len(numbers) == 1:
                    new.append(self.link(mention.group(), numbers[0].group(), chapters))
                else:
                    inner = 0
                    for number in numbers:
                        new.append(nodes.Text(mention.group()[inner : number.start()]))
                        new.append(self.link(number.group(), number.group(), chapters))
                        inner = number.end()
                    new.append(nodes.Text(mention.group()[inner:]))
                at = mention.end()
            new.append(nodes.Text(source[at:]))
            replace_text(text, new)


def prose_texts(document: nodes.document) -> list[nodes.Text]:
    """The text nodes of a page's running text (not :func:`outside_prose`), each paragraph's lines
    joined first (:func:`_join_texts`)."""
    for element in list(document.findall(nodes.TextElement)):
        _join_texts(element)
    return [t for t in document.findall(nodes.Text) if t.parent is not None and not outside_prose(t.parent)]


def replace_text(text: nodes.Text, pieces: list[nodes.Node]) -> None:
    """Put ``pieces`` (text and links) where ``text`` was, leaving out empty text."""
    text.parent.replace(text, [n for n in pieces if not (isinstance(n, nodes.Text) and not n.astext())])


def _join_texts(element: nodes.Element) -> None:
    """Adjacent text children as one: MyST keeps each line of a paragraph apart, and a mention may
    break across two ("chapters" at the end of one line, "8 and 9b" on the next)."""
    children, run = [], []
    for child in element.children:
        if isinstance(child, nodes.Text):
            run.append(child.astext())
            continue
        if run:
            children.append(nodes.Text("".join(run)))
            run = []
        children.append(child)
    if run:
        children.append(nodes.Text("".join(run)))
    if len(children) != len(element.children):
        element.children = []
        element.extend(children)


def outside_prose(node: nodes.Node) -> bool:
    """Whether ``node`` is in code, an output (a notebook's Markdown output too), math, a heading, a
    link or a glossary term: what neither edition links in."""
    return any(
        isinstance(a, SKIP) or (isinstance(a, nodes.container) and "cell_output" in a.get("classes", []))
        for a in _ancestors(node)
    )


def _ancestors(node: nodes.Node):
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    app.add_post_transform(LinkChapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
