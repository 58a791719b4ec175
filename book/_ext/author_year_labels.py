"""Bibliography labels in the style of the citations: "[Vaswani et al., 2017]", not "[VSP+17]".

The text cites author-year ({cite:t} gives "Vaswani et al. [2017]"), but sphinxcontrib-bibtex's
default formatting style labels the bibliography's entries alphabetically ("alpha" labels). This
registers a pybtex style, ``authoryear``: unsrt's formatting, entries sorted by author and year, and
labels made of the authors' last names and the year (a, b, ... where two entries would share one).
Sorting reads names as they print: pybtex's own key keeps BibTeX's braces, and ``{Anonymous
compilation}`` (a name kept whole) sorted after every letter, last.
"""

from __future__ import annotations

import string
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitle


def _plain(latex: str) -> str:
    return Text.from_latex(latex).render_as("text")


def _names(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
    if not last:
        return _plain(entry.fields.get("organization", entry.key))
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [f"{_names(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter[str] = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                yield label + string.ascii_lowercase[seen[label] - 1]
            else:
                yield label


class AuthorYearSorting(AuthorYearTitle):
    """Author, year, title, compared as printed (no braces, no case)."""

    def sorting_key(self, entry):
        author, year, title = super().sorting_key(entry)
        return (_plain(author).lower() or _names(entry).lower(), year, _plain(title).lower())


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearSorting


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
