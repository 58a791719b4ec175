"""Tests of transformer_lib.data.tasks: the generated copy / reverse / sort tasks."""

import pytest
import torch

from transformer_lib.data.tasks import BOS, EOS, NUM_SPECIAL, PAD, Batch, ToyTask, to_digits, token_names


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
