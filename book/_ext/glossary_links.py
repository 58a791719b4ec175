"""The glossary's terms linked at their first use in each chapter, with the definition on hover.

The glossary (book/glossary.md) defines each term under one or more names: "subsequent mask, causal
mask (因果掩码、序列掩码)". After every page is read, this takes the names from the glossary's own
doctree, in the edition being built (the Chinese edition's terms are the translated ones), and in each
chapter links the first use of each term in running text to its entry; the link's title is the
definition's first sentence, which a browser shows on hover. Code, outputs, math, headings, links and
the glossary itself are left alone. Names too common to mean the term ("value", "key") and
one-character names are not matched.
"""

from __future__ import annotations

import re

from chapter_links import prose_texts, replace_text
from docutils import nodes
from numbering import chapter_number
from sphinx.transforms.post_transforms import SphinxPostTransform

GLOSSARY = "book/glossary"
COMMON = {"query", "key", "value", "rank", "键", "值"}
SEPARATORS = re.compile(r"\s*[,;，；、]\s*")


def names_of(term: str) -> list[str]:
    """ "subsequent mask, causal mask (因果掩码、序列掩码)" -> the names the edition's text uses: the part
    before the parenthesis, split at its commas."""
    head = term.split(" (")[0]
    return [n for n in SEPARATORS.split(head) if len(n) > 1 and n.casefold() not in COMMON]


# The glossary's math as a hover title can show it: plain text, no TeX.
TEX = [
    (re.compile(r"\\(?:mathrm|text|operatorname)\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\sqrt\{([^{}]*)\}"), r"√\1"),
    (re.compile(r"\^\\top"), "ᵀ"),
    (re.compile(r"\\le\b"), "≤"),
    (re.compile(r"\\varepsilon\b"), "ε"),
    (re.compile(r"\\odot\b"), "⊙"),
    (re.compile(r"[{}]"), ""),
]


def plain_math(tex: str) -> str:
    """``\\mathrm{softmax}(QK^\\top/\\sqrt{d_k})V`` -> ``softmax(QKᵀ/√d_k)V``."""
    for pattern, replacement in TEX:
        while pattern.search(tex):
            tex = pattern.sub(replacement, tex)
    return tex


def text_of(node: nodes.Node) -> str:
    """A definition's text, its math as plain text."""
    if isinstance(node, nodes.math):
        return plain_math(node.astext())
    if isinstance(node, nodes.Text):
        return node.astext()
    return "".join(text_of(child) for child in node.children)


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    found = re.match(r"(.+?(?:。|\.(?=\s|$)))", text)
    return found.group(1) if found else text


def pattern_of(name: str) -> str:
    """A name as a regular expression: whole words, a plural allowed, any case unless it is an acronym."""
    body = re.escape(name).replace(r"\ ", r"\s+")
    if re.search(r"[\u4e00-\u9fff]", name):
        return body
    plural = "" if name[-1].isupper() else "(?:s|es)?"
    flags = "" if any(c.isupper() for c in name[1:]) else "(?i:"
    return rf"(?<![\w-]){flags}{body}{plural}{')' if flags else ''}(?![\w-])"


class LinkGlossaryTerms(SphinxPostTransform):
    default_priority = 31
    formats = ("html",)

    def terms(self) -> list[tuple[str, str, str]]:
        """``(name, anchor, definition)`` of every name of every term, the longest names first."""
        cached = getattr(self.app, "_glossary_terms", None)
        if cached is None:
            cached = []
            if GLOSSARY in self.env.all_docs:
                doctree = self.env.get_doctree(GLOSSARY)
                for item in doctree.findall(nodes.definition_list_item):
                    term = item.next_node(nodes.term)
                    definition = item.next_node(nodes.definition)
                    if term is None or definition is None or not term.get("ids"):
                        continue
                    meaning = first_sentence(text_of(definition))
                    cached += [(name, term["ids"][0], meaning) for name in names_of(term.astext())]
            cached.sort(key=lambda t: -len(t[0]))
            self.app._glossary_terms = cached
        return cached

    def run(self, **kwargs) -> None:
        section = next(iter(self.document.findall(nodes.section)), None)
        if self.env.docname == GLOSSARY or section is None or chapter_number(section[0].astext()) is None:
            return
        terms = self.terms()
        if not terms:
            return
        matcher = re.compile("|".join(f"(?P<t{i}>{pattern_of(name)})" for i, (name, _, _) in enumerate(terms)))
        uri = self.app.builder.get_relative_uri(self.env.docname, GLOSSARY)
        linked: set[str] = set()
        for text in prose_texts(self.document):
            source, new, at = text.astext(), [], 0
            for found in matcher.finditer(source):
                _, anchor, meaning = terms[int(found.lastgroup[1:])]
                if anchor in linked:
                    continue
                linked.add(anchor)
                new.append(nodes.Text(source[at : found.start()]))
                word = found.group()
                new.append(
                    nodes.reference(
                        word, word, internal=True, refuri=f"{uri}#{anchor}", reftitle=meaning, classes=["term-link"]
                    )
                )
                at = found.end()
            if new:
                new.append(nodes.Text(source[at:]))
                replace_text(text, new)


def setup(app):
    app.setup_extension("chapter_links")
    app.add_post_transform(LinkGlossaryTerms)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
