"""Tests of the pre-training objectives: MLM masking, the causal shift, span corruption, infilling."""

import itertools

import pytest
import torch

from transformer_lib.data.tokens import BOS, IGNORE, MASK, PAD
from transformer_lib.training import objectives as obj

LOW, HIGH = 13, 60


def batch(n=64, seq=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(LOW, HIGH, (n, seq), generator=g)
    ids[:, 0] = BOS
    ids[n // 2 :, seq - 3 :] = PAD  # padding in half the rows
    return ids, (ids >= LOW)


def test_mask_tokens_follows_the_80_10_10_rule():
    ids, maskable = batch(4000, 20)
    inputs, labels = obj.mask_tokens(ids, maskable, MASK, (LOW, HIGH), 0.15, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    assert not (chosen & ~maskable).any(), "only maskable positions are chosen"
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen]), "positions not chosen are untouched"
    frac = chosen.sum() / maskable.sum()
    assert abs(frac - 0.15) < 0.01
    masked = (inputs[chosen] == MASK).float().mean()
    kept = (inputs[chosen] == ids[chosen]).float().mean()  # includes random draws of the same token
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1 - 0.1 / (HIGH - LOW)) < 0.02
    assert ((inputs[chosen] >= LOW) | (inputs[chosen] == MASK)).all()


def test_mask_tokens_gives_every_sequence_a_target():
    ids, maskable = batch(50, 6)
    maskable[-1] = False  # a row with nothing to mask gets no target
    _, labels = obj.mask_tokens(ids, maskable, MASK, (LOW, HIGH), 0.01, torch.Generator().manual_seed(2))
    targets = (labels != IGNORE).sum(dim=1)
    assert (targets[:-1] >= 1).all() and targets[-1] == 0


def test_mask_tokens_validates():
    ids, maskable = batch(2, 5)
    with pytest.raises(ValueError, match="maskable"):
        obj.mask_tokens(ids, maskable[:, :3], MASK, (LOW, HIGH))
    with pytest.raises(ValueError, match="ids"):
        obj.mask_tokens(ids.float(), maskable, MASK, (LOW, HIGH))


def test_token_loss_counts_only_the_labelled_positions():
    ids, maskable = batch(8, 10)
    _, labels = obj.mask_tokens(ids, maskable, MASK, (LOW, HIGH), 0.3, torch.Generator().manual_seed(3))
    logits = torch.randn(8, 10, HIGH, generator=torch.Generator().manual_seed(4))
    loss = obj.token_loss(logits, labels)
    chosen = labels != IGNORE
    by_hand = -logits.log_softmax(-1)[chosen].gather(1, labels[chosen][:, None]).mean()
    torch.testing.assert_close(loss, by_hand)
    changed = logits.clone()
    changed[~chosen] = 100 * torch.randn_like(changed[~chosen])
    torch.testing.assert_close(obj.token_loss(changed, labels), loss)
    with pytest.raises(ValueError, match="labels"):
        obj.token_loss(logits, labels[:, :5])


def test_causal_lm_shift():
    ids = torch.tensor([[2, 20, 21, 3, 0], [2, 22, 23, 24, 3]])
    x, y = obj.causal_lm_shift(ids, pad_id=0)
    assert x.tolist() == [[2, 20, 21, 3], [2, 22, 23, 24]]
    assert y.tolist() == [[20, 21, 3, IGNORE], [22, 23, 24, 3]]
    with pytest.raises(ValueError, match="ids"):
        obj.causal_lm_shift(ids[:, :1], 0)


@pytest.mark.parametrize("length", [1, 2, 5, 11, 40])
@pytest.mark.parametrize("density", [0.15, 0.3, 0.5])
def test_random_spans_are_sorted_disjoint_and_sized(length, density):
    g = torch.Generator().manual_seed(length)
    spans = obj.random_spans(length, density, 2.0, g)
    noise = sum(e - s for s, e in spans)
    assert noise == min(max(1, round(length * density)), length)
    assert all(0 <= s < e <= length for s, e in spans)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(spans)), "spans never touch"


def test_span_corruption_round_trips():
    sentinels = list(range(5, 13))
    g = torch.Generator().manual_seed(0)
    for n in range(1, 30):
        ids = list(range(20, 20 + n))
        inputs, targets = obj.span_corrupt(ids, sentinels, 0.3, 2.0, g)
        assert obj.span_restore(inputs, targets, sentinels) == ids
        used = [t for t in targets if t in sentinels]
        assert used == sentinels[: len(used)] and [t for t in inputs if t in sentinels] == used
    with pytest.raises(ValueError, match="sentinel"):
        obj.span_corrupt(list(range(20, 60)), sentinels[:1], 0.5, 1.0, g)


def test_text_infill_replaces_each_span_by_one_mask():
    g = torch.Generator().manual_seed(1)
    ids = list(range(20, 32))
    inputs, target = obj.text_infill(ids, MASK, 0.4, 2.0, g)
    assert target == ids and MASK in inputs
    kept = [t for t in inputs if t != MASK]
    assert kept == [t for t in ids if t in kept] and len(kept) == len(ids) - round(0.4 * len(ids))
