"""A generated language whose probabilities are known exactly, for training small models.

:class:`TopicGrammar` is a probabilistic finite-state grammar with three *topics* (farm, kitchen,
city). A sentence first draws its topic, then walks the grammar::

    the [adjective] SUBJECT VERB (a|the) [adjective] OBJECT [PREPOSITION the PLACE] .

Subjects, objects and places belong to one topic; the adjectives, the function words and the verb
``likes`` are shared. Word choices follow Zipf-like weights, the adjectives' order of preference
depends on the topic, and the object depends on the verb (``eats`` prefers ``bone``, ``chases``
prefers ``ball``), two or three words back: a bigram model cannot see that far.

Because every probability is known, the chapters can compare a model's loss with the best loss any
model can reach: the **true conditional probability** of each token given the ones before it
(:meth:`TopicGrammar.token_log_probs`), averaged over a test set, and the exact **entropy rate**
(:meth:`TopicGrammar.entropy_rate`). Sentences are lists of words ending with ``"."``; the end of the
sentence itself (a tokenizer's ``<eos>``) follows ``"."`` with probability 1.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence

from ..device import shift_seed

TOPICS: dict[str, dict[str, list[str]]] = {
    "farm": {
        "subject": ["cat", "dog", "cow", "hen"],
        "verb": ["sees", "chases", "eats", "likes"],
        "object": ["mouse", "ball", "bone", "seed"],
        "place": ["barn", "field", "pond"],
    },
    "kitchen": {
        "subject": ["cook", "chef", "baker", "waiter"],
        "verb": ["cuts", "bakes", "tastes", "likes"],
        "object": ["pie", "bread", "soup", "cake"],
        "place": ["oven", "table", "sink"],
    },
    "city": {
        "subject": ["driver", "girl", "boy", "guard"],
        "verb": ["drives", "rides", "washes", "likes"],
        "object": ["bus", "bike", "car", "train"],
        "place": ["station", "street", "bridge"],
    },
}
ADJECTIVES = ["big", "small", "old", "red"]
PREPOSITIONS = ["near", "in", "at"]

State = tuple  # a grammar state, e.g. ("object", verb_index)
Table = dict[State, dict[str, tuple[float, State | None]]]  # state -> word -> (probability, next state)


def _zipf(words: Sequence[str], shift: int = 0) -> dict[str, float]:
    """Probabilities proportional to 1, 1/2, 1/3, ... over ``words`` rotated by ``shift``."""
    n = len(words)
    weights = {words[(i + shift) % n]: 1.0 / (i + 1) for i in range(n)}
    total = sum(weights.values())
    return {w: p / total for w, p in weights.items()}


def _topic_table(index: int, words: dict[str, list[str]]) -> Table:
    """The grammar of one topic: for each state, the next word's probability and the state it leads to.

    States are listed in the order a sentence visits them (the grammar has no loops), which
    :meth:`TopicGrammar.entropy_rate` relies on.
    """
    adjectives = _zipf(ADJECTIVES, shift=index)
    table: Table = {("start",): {"the": (1.0, ("subject?",))}}
    table[("subject?",)] = {a: (0.3 * p, ("subject",)) for a, p in adjectives.items()}
    table[("subject?",)].update({s: (0.7 * p, ("verb",)) for s, p in _zipf(words["subject"]).items()})
    table[("subject",)] = {s: (p, ("verb",)) for s, p in _zipf(words["subject"]).items()}
    table[("verb",)] = {v: (p, ("det", v)) for v, p in _zipf(words["verb"]).items()}
    for j, verb in enumerate(words["verb"]):
        objects = _zipf(words["object"], shift=j)  # each verb prefers its own object
        table[("det", verb)] = {"a": (0.6, ("object?", verb)), "the": (0.4, ("object?", verb))}
        table[("object?", verb)] = {a: (0.3 * p, ("object", verb)) for a, p in adjectives.items()}
        table[("object?", verb)].update({o: (0.7 * p, ("end?",)) for o, p in objects.items()})
        table[("object", verb)] = {o: (p, ("end?",)) for o, p in objects.items()}
    table[("end?",)] = {".": (0.6, None), **{q: (0.4 * p, ("place_det",)) for q, p in _zipf(PREPOSITIONS).items()}}
    table[("place_det",)] = {"the": (1.0, ("place",))}
    table[("place",)] = {w: (p, ("stop",)) for w, p in _zipf(words["place"]).items()}
    table[("stop",)] = {".": (1.0, None)}
    return table


class TopicGrammar:
    """Three-topic probabilistic grammar with exact probabilities (see the module docstring).

    Args:
        topic_probs: prior probability of each topic (default: uniform).
    """

    def __init__(self, topic_probs: Sequence[float] | None = None):
        self.topics = list(TOPICS)
        probs = [1 / len(self.topics)] * len(self.topics) if topic_probs is None else list(topic_probs)
        if len(probs) != len(self.topics) or any(p <= 0 for p in probs) or abs(sum(probs) - 1) > 1e-9:
            raise ValueError(f"topic_probs must be {len(self.topics)} positive numbers summing to 1, got {probs}")
        self.topic_probs = probs
        self.tables = [_topic_table(i, TOPICS[t]) for i, t in enumerate(self.topics)]
        seen = {w: None for table in self.tables for options in table.values() for w in options}
        self.vocab: list[str] = list(seen)
        longest: dict[State | None, int] = defaultdict(int)
        for state, options in self.tables[0].items():  # states are in visiting order
            for _, nxt in options.values():
                longest[nxt] = max(longest[nxt], longest[state] + 1)
        self.max_words = longest[None]  # the longest sentence, in words

    def sample(self, n: int, seed: int = 0) -> list[tuple[list[str], int]]:
        """Draw ``n`` sentences: a list of ``(words, topic_index)``, reproducible from ``seed``."""
        rng = random.Random(shift_seed(seed))
        out = []
        for _ in range(n):
            topic = rng.choices(range(len(self.topics)), weights=self.topic_probs)[0]
            table, state, words = self.tables[topic], ("start",), []
            while state is not None:
                options = table[state]
                word = rng.choices(list(options), weights=[p for p, _ in options.values()])[0]
                words.append(word)
                state = options[word][1]
            out.append((words, topic))
        return out

    def log_prob(self, words: Sequence[str], topic: int) -> float:
        """Natural log-probability of a whole sentence given its topic; ``-inf`` if the grammar rejects it."""
        table, state, total = self.tables[topic], ("start",), 0.0
        for word in words:
            if state is None or word not in table[state]:
                return -math.inf
            p, state = table[state][word]
            total += math.log(p)
        return total if state is None else -math.inf

    def is_grammatical(self, words: Sequence[str]) -> bool:
        """Whether some topic generates this exact sentence."""
        return any(self.log_prob(words, k) > -math.inf for k in range(len(self.topics)))

    def token_log_probs(self, words: Sequence[str]) -> list[float]:
        """True ``log p(word_t | words_<t)`` of each word, then of the end of the sentence.

        The topic is unknown to a reader of the prefix, so each conditional mixes the topics with
        their posterior probabilities given the prefix (Bayes' rule). Returns ``len(words) + 1``
        numbers; the last one is 0 when the sentence ended (the end always follows ``"."``).
        """
        posterior = list(self.topic_probs)
        states: list[State | None] = [("start",)] * len(self.topics)
        out = []
        for word in [*words, None]:  # None: the end of the sentence
            likelihood = []
            for k, table in enumerate(self.tables):
                s = states[k]
                if word is None:
                    likelihood.append(1.0 if s is None else 0.0)
                elif s is not None and word in table[s]:
                    p, states[k] = table[s][word]
                    likelihood.append(p)
                else:
                    likelihood.append(0.0)
                    states[k] = s
            p_word = sum(q * lik for q, lik in zip(posterior, likelihood, strict=True))
            if p_word == 0.0:
                return [*out, -math.inf]
            out.append(math.log(p_word))
            posterior = [q * lik / p_word for q, lik in zip(posterior, likelihood, strict=True)]
        return out

    def fill_probs(self, words: Sequence[str], position: int) -> dict[str, float]:
        """True ``p(word at position | every other word)``: the best any fill-in-the-blank model can do."""
        if not 0 <= position < len(words):
            raise ValueError(f"position must be in [0, {len(words)}), got {position}")
        scores = {}
        for w in self.vocab:
            candidate = [*words[:position], w, *words[position + 1 :]]
            scores[w] = sum(q * math.exp(self.log_prob(candidate, k)) for k, q in enumerate(self.topic_probs))
        total = sum(scores.values())
        if total == 0.0:
            raise ValueError("no word at this position makes the sentence grammatical")
        return {w: s / total for w, s in scores.items() if s > 0}

    def entropy_rate(self) -> float:
        """Exact entropy of the language in nats per token (words plus the end of the sentence).

        Each topic's subjects are its own, so a sentence reveals its topic and
        ``H(sentence) = H(topic) + sum_k p(k) H(sentence | k)``. Within a topic the grammar has no loops:
        ``H(sentence | k)`` is the sum over states of (probability of visiting the state) x (entropy of
        the word chosen there). Dividing by the expected number of tokens gives the rate per token.
        """
        h_topic = -sum(q * math.log(q) for q in self.topic_probs)
        h_sentence, tokens = h_topic, 0.0
        for q, table in zip(self.topic_probs, self.tables, strict=True):
            visit: dict[State | None, float] = defaultdict(float)
            visit[("start",)] = 1.0
            for state, options in table.items():  # states are in visiting order
                h_state = -sum(p * math.log(p) for p, _ in options.values())
                h_sentence += q * visit[state] * h_state
                tokens += q * visit[state]
                for p, nxt in options.values():
                    visit[nxt] += visit[state] * p
        return h_sentence / (tokens + 1)  # + 1: the end-of-sentence token, certain after "."
