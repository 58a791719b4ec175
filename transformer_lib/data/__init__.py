"""Data and tokenizers: what the models read.

* ``tokens``: the one special-token layout (PAD, BOS, EOS, UNK, MASK) and the ignored label ``IGNORE``;
* ``tasks``: generated copy / reverse / sort tasks over digits (chapters 6 and 8);
* ``tokenizer``: word and character vocabularies;
* ``corpus``: a generated language whose entropy is known (chapters 9a–9c, 12);
* ``python_docs``: real text, the Python documentation, and a BPE tokenizer (chapter 9d).
"""
