"""The book's own tooling: what the chapters use to check, show and measure, not part of the models.

* ``checks``: the exercises' checks (✅/❌ against a reference, on several inputs);
* ``references``: the exercises' answer keys, which ``checks`` compares with; the book's, not an API;
* ``glue``: numbers in the prose that come from the run;
* ``plotting`` and ``diagrams``: the chapters' figures, drawn by code;
* ``cost``: timing and memory (chapter 10);
* ``numerics``: the canonical numeric settings the stored outputs are recorded under
  (``transformer_lib/numerics.env``).
"""
