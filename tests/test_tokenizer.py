"""Tests of the download-free tokenizer and the generated topic language."""

import math

import pytest
import torch

from transformer_lib.data.corpus import TopicGrammar
from transformer_lib.data.tokenizer import SPECIALS, Tokenizer
from transformer_lib.data.tokens import BOS, EOS, MASK, PAD, UNK


def test_specials_come_first_and_round_trip():
    tok = Tokenizer(sorted(set("the cat sat . the dog ran .".split())))
    assert tok.tokens[: len(SPECIALS)] == list(SPECIALS)
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id, tok.mask_id) == (PAD, BOS, EOS, UNK, MASK)
    assert (PAD, BOS, EOS, UNK, MASK) == (0, 1, 2, 3, 4)
    assert tok.sentinel_ids == list(range(5, 13)) and tok.first_word_id == 13
    ids = tok.encode("the dog sat .", bos=True, eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == "the dog sat ."
    assert tok.decode(torch.tensor(ids), skip_special=False) == "<bos> the dog sat . <eos>"


def test_unknown_words_and_char_level():
    tok = Tokenizer(["a", "b", " "], level="char", num_sentinels=0)
    assert tok.decode(tok.encode("abz")) == "ab<unk>"
    word = Tokenizer(["a", "b"])
    assert word.encode("a c") == [word.ids["a"], word.unk_id]
    with pytest.raises(ValueError, match="level"):
        Tokenizer(["a"], level="bpe")


def test_pad():
    tok = Tokenizer(["a", "b"])
    batch = tok.pad([[5, 6, 7], [8]])
    assert batch.dtype == torch.long and batch.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert tok.pad([[5]], length=3).shape == (1, 3)
    with pytest.raises(ValueError, match="length"):
        tok.pad([[5, 6]], length=1)


def test_grammar_samples_are_grammatical_and_reproducible():
    g = TopicGrammar()
    data = g.sample(200, seed=3)
    assert data == g.sample(200, seed=3)
    for words, topic in data:
        assert words[0] == "the" and words[-1] == "." and len(words) <= g.max_words
        assert g.log_prob(words, topic) > -math.inf and g.is_grammatical(words)
    assert not g.is_grammatical(["the", "cat", "bakes", "a", "bus", "."])  # topics do not mix


def test_token_log_probs_sum_to_the_sentence_probability():
    g = TopicGrammar()
    for words, topic in g.sample(20, seed=4):
        lp = g.token_log_probs(words)
        assert len(lp) == len(words) + 1 and lp[-1] == 0.0
        # a sentence reveals its topic, so p(sentence) = p(topic) p(sentence | topic)
        assert math.isclose(sum(lp), math.log(g.topic_probs[topic]) + g.log_prob(words, topic), rel_tol=1e-9)


def test_entropy_rate_matches_the_sample_average():
    g = TopicGrammar()
    lps = [g.token_log_probs(w) for w, _ in g.sample(4000, seed=5)]
    estimate = -sum(map(sum, lps)) / sum(map(len, lps))
    assert abs(estimate - g.entropy_rate()) < 0.02


def test_fill_probs_is_a_distribution_that_uses_both_sides():
    g = TopicGrammar()
    words = ["the", "cat", "eats", "a", "seed", "."]
    probs = g.fill_probs(words, 2)
    assert math.isclose(sum(probs.values()), 1.0)
    assert set(probs) == {"sees", "chases", "eats", "likes"}  # farm verbs only: the right side matters too
    with pytest.raises(ValueError, match="position"):
        g.fill_probs(words, 6)
