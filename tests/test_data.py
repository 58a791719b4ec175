"""Tests of transformer_lib.data.tasks: the generated copy / reverse / sort tasks."""

import pytest
import torch

from transformer_lib.data.tasks import BOS, EOS, NUM_SPECIAL, PAD, Batch, ToyTask, digit_tuples, to_digits, token_names


def test_make_batch_layout():
    b = ToyTask("reverse").make_batch([[3, 1, 4], [1, 5]])
    d = NUM_SPECIAL
    assert b.src.tolist() == [[3 + d, 1 + d, 4 + d], [1 + d, 5 + d, PAD]]
    assert b.tgt_in.tolist() == [[BOS, 4 + d, 1 + d, 3 + d], [BOS, 5 + d, 1 + d, PAD]]
    assert b.tgt_out.tolist() == [[4 + d, 1 + d, 3 + d, EOS], [5 + d, 1 + d, EOS, PAD]]
    assert b.src_padding_mask.tolist() == [[True, True, True], [True, True, False]]
    assert b.tgt_padding_mask.tolist() == [[True] * 4, [True, True, True, False]]
    assert b.src_padding_mask.dtype == torch.bool


@pytest.mark.parametrize("task, expected", [("copy", [2, 0, 1]), ("reverse", [1, 0, 2]), ("sort", [0, 1, 2])])
def test_tasks(task, expected):
    b = ToyTask(task).make_batch([[2, 0, 1]])
    assert to_digits(b.tgt_out[0]) == expected
    assert to_digits(b.tgt_in[0]) == expected


def test_random_batches_are_seeded_and_consistent():
    a, b = ToyTask("sort", seed=3).batch(16), ToyTask("sort", seed=3).batch(16)
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt_out, b.tgt_out)
    task = ToyTask("sort", shortest=2, longest=5, num_digits=7)
    assert task.vocab_size == 10
    batch = task.batch(64)
    lengths = batch.src_padding_mask.sum(1)
    assert lengths.min() >= 2 and lengths.max() <= 5
    assert batch.src.max() < task.vocab_size
    for src, out in zip(batch.src, batch.tgt_out, strict=True):
        assert to_digits(out) == sorted(to_digits(src))
    # tgt_out is tgt_in shifted left by one, with EOS where tgt_in has its first PAD (or the end)
    assert torch.equal(
        batch.tgt_in[:, 1:][batch.tgt_padding_mask[:, 1:]], batch.tgt_out[:, :-1][batch.tgt_padding_mask[:, 1:]]
    )
    assert (batch.tgt_out == EOS).sum() == 64


def test_batch_to_device_and_names():
    b = ToyTask().batch(2).to("cpu")
    assert isinstance(b, Batch)
    assert token_names([PAD, BOS, EOS, NUM_SPECIAL + 7]) == ["PAD", "BOS", "EOS", "7"]
    assert to_digits([BOS, 3, 4, EOS, 5]) == [0, 1]


def test_validation():
    with pytest.raises(ValueError, match="task"):
        ToyTask("rotate")
    with pytest.raises(ValueError, match="shortest"):
        ToyTask(shortest=5, longest=3)
    with pytest.raises(ValueError, match="batch_size"):
        ToyTask().batch(0)
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        ToyTask(num_digits=5).make_batch([[1], [7]])


def test_unseen_holds_out_the_training_sequences():
    """Chapters 8 and 8b measure on sequences the model never trained on: another seed alone is not
    enough, since short sequences recur."""
    train = ToyTask("sort", shortest=2, longest=3, seed=0)
    seen = {s for _ in range(20) for s in digit_tuples(train.batch(64).src)}
    again = ToyTask("sort", shortest=2, longest=3, seed=1)
    assert set(digit_tuples(again.batch(300).src)) & seen, "another seed alone repeats some"
    held_out = ToyTask("sort", shortest=2, longest=3, seed=1).unseen(300, seen)
    got = digit_tuples(held_out.src)
    assert len(got) == 300 and not set(got) & seen
    # the same sequences, in order, as drawing by hand and skipping the seen ones
    by_hand, source = [], ToyTask("sort", shortest=2, longest=3, seed=1)
    draw = 300
    while len(by_hand) < 300:
        by_hand += [s for s in digit_tuples(source.batch(draw).src) if s not in seen]
        draw = 100
    assert got == by_hand[:300]
    assert torch.equal(held_out.tgt_out, ToyTask("sort").make_batch(by_hand[:300]).tgt_out)
    assert digit_tuples(torch.tensor([[4, 3, PAD], [NUM_SPECIAL, 5, 6]])) == [(1, 0), (0, 2, 3)]
    with pytest.raises(ValueError, match="only 1000 sequences"):
        ToyTask("sort", shortest=3, longest=3).unseen(1001, set())
