import re

import numpy as np
import pytest
import torch

import transformer_lib as tl


def test_padding_mask_from_lengths():
    mask = tl.padding_mask(torch.tensor([3, 1, 0]), width=4)
    expected = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_padding_mask_defaults_to_longest():
    assert tl.padding_mask(torch.tensor([2, 5])).shape == (2, 5)


def test_padding_mask_from_ids():
    ids = torch.tensor([[5, 6, 0, 0], [7, 0, 0, 0]])
    assert torch.equal(tl.padding_mask_from_ids(ids, pad_id=0), ids != 0)


def test_subsequent_mask_matches_article_construction():
    # The source article's construction: np.triu(ones, k=1) == 0.
    article = torch.from_numpy(np.triu(np.ones((1, 6, 6)), k=1).astype("uint8")) == 0
    assert torch.equal(tl.subsequent_mask(6), article[0])


def test_combine_masks_is_logical_and_with_broadcasting():
    causal = tl.subsequent_mask(3)
    pad = tl.key_mask_for_attention(tl.padding_mask(torch.tensor([3, 2])))
    combined = tl.combine_masks(causal, pad)
    assert combined.shape == (2, 1, 3, 3)
    assert torch.equal(combined[1, 0], causal & torch.tensor([True, True, False]))
    assert tl.combine_masks(None, None) is None
    assert torch.equal(tl.combine_masks(None, causal), causal)


def test_to_additive_and_torch_mha_forms():
    mask = tl.subsequent_mask(3)
    additive = tl.to_additive(mask)
    assert torch.equal(additive == 0, mask)
    assert torch.isinf(additive[~mask]).all()
    assert torch.equal(tl.to_torch_mha(mask), ~mask)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tl.padding_mask(torch.tensor([[1, 2]])), "lengths must have shape (batch,)"),
        (lambda: tl.padding_mask(torch.tensor([1.0, 2.0])), "integer tensor"),
        (lambda: tl.padding_mask(torch.tensor([3]), width=2), "width"),
        (lambda: tl.padding_mask_from_ids(torch.tensor([1, 2]), 0), "ids must have shape (batch, seq)"),
        (lambda: tl.subsequent_mask(0), "size must be a positive int"),
        (lambda: tl.combine_masks(torch.ones(2, 2)), "boolean"),
        (lambda: tl.combine_masks(torch.ones(2, 3, dtype=torch.bool), torch.ones(4, 5, dtype=torch.bool)), "broadcast"),
        (lambda: tl.to_additive(torch.zeros(2, 2)), "boolean"),
    ],
)
def test_bad_inputs_raise_readable_errors(call, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        call()
