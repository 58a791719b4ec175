"""The special-token layout of the whole library, and the one label that losses ignore.

Every vocabulary of the book begins with the same special tokens, in the same order:

* ``PAD = 0`` fills sequences up to the length of the longest in a batch;
* ``BOS = 1`` begins a sequence (the decoder's start token; BERT's ``[CLS]`` plays this role);
* ``EOS = 2`` ends a sequence, so a model can learn when to stop generating;
* ``UNK = 3`` stands for a piece of text the vocabulary does not have;
* ``MASK = 4`` hides a token in masked language modelling (BERT) and BART's infilling.

The generated digit tasks of :mod:`transformer_lib.data.tasks` need only the first three (their digits
follow ``EOS``); the word and character vocabularies of :mod:`transformer_lib.data.tokenizer` and the BPE
vocabulary of :mod:`transformer_lib.data.python_docs` use all five, written as ``SPECIALS``.

``IGNORE = -100`` is the label of a position that does not count in a loss (the default
``ignore_index`` of ``F.cross_entropy``): every loss of the library ignores it and only it.
"""

PAD, BOS, EOS, UNK, MASK = 0, 1, 2, 3, 4
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>", "<mask>")  # their written forms, at ids PAD .. MASK
IGNORE = -100
