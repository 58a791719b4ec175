"""The interactive attention view (transformer_lib.tools.attention_view): what it stores is the weights
it was given, its output is the same for the same weights, and record_attention finds every attention
module's weights (the browser part: tests/test_translations.py hovers the chapters' views)."""

from __future__ import annotations

import html
import json
import re

import pytest
import torch

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.transformer import Transformer, TransformerConfig
from transformer_lib.tools.plotting import attention_view, record_attention


def stored(view) -> dict:
    found = re.search(r'data-attention="([^"]*)"', view._repr_html_())
    return json.loads(html.unescape(found[1]))


def test_the_page_holds_the_weights_rounded_and_the_tokens():
    weights = torch.softmax(torch.randn(2, 3, 4, 5, generator=tl.generator(0)), dim=-1)
    view = attention_view(weights, list("abcd"), list("vwxyz"), title="t", layers=["enc 1", "enc 2"])
    data = stored(view)
    assert torch.equal(torch.tensor(data["weights"], dtype=torch.float64), weights.double().round(decimals=3))
    assert (data["queries"], data["keys"], data["layers"], data["title"]) == (
        list("abcd"),
        list("vwxyz"),
        ["enc 1", "enc 2"],
        "t",
    )
    assert "2 layer(s) x 3 head(s), 4 queries x 5 keys" in repr(view)


def test_one_matrix_or_one_layer_is_one_layer_and_one_head():
    w = torch.softmax(torch.randn(3, 3), dim=-1)
    assert torch.tensor(stored(attention_view(w, list("abc")))["weights"]).shape == (1, 1, 3, 3)
    assert torch.tensor(stored(attention_view(w[None].expand(2, 3, 3), list("abc")))["weights"]).shape == (1, 2, 3, 3)


def test_the_same_weights_give_the_same_output_and_other_weights_another():
    w = torch.softmax(torch.randn(2, 3, 3, generator=tl.generator(1)), dim=-1)
    first, again = attention_view(w, list("abc"))._repr_html_(), attention_view(w.clone(), list("abc"))._repr_html_()
    assert first == again, "a stored output must not change from run to run"
    assert first != attention_view(w.flip(0), list("abc"))._repr_html_()
    assert re.search(r'id="(attention-view-\w+)"', first)[1] in first.split("<script>")[1], "the script finds its view"


@pytest.mark.parametrize(
    ("weights", "queries", "keys", "error"),
    [
        (torch.ones(5), list("abcde"), None, r"weights must be \(q, k\).*got \(5,\)"),
        (torch.ones(3, 4), list("ab"), list("abcd"), "queries must name the 3 query positions, got 2"),
        (torch.ones(3, 4), list("abc"), list("abc"), "keys must name the 4 key positions, got 3"),
    ],
)
def test_wrong_sizes_are_named(weights, queries, keys, error):
    with pytest.raises(ValueError, match=error):
        attention_view(weights, queries, keys)


def test_record_attention_gives_the_transformers_own_maps():
    tl.set_seed(0)
    model = Transformer(TransformerConfig(9, 9, d_model=16, num_heads=2, d_ff=32)).eval()
    src, tgt = torch.randint(3, 9, (2, 6)), torch.randint(3, 9, (2, 5))
    maps = model.attention_maps(src, tgt)
    found = record_attention(model, src, tgt)
    expected = [*maps["encoder"], *(w for pair in zip(maps["decoder_self"], maps["cross"], strict=True) for w in pair)]
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_record_attention_on_a_gpt_is_one_causal_map_a_layer():
    tl.set_seed(0)
    gpt = GPT(GPTConfig(vocab_size=11, d_model=16, num_heads=4, num_layers=3, d_ff=32, max_len=8)).eval()
    found = record_attention(gpt, torch.randint(0, 11, (1, 6)))
    assert len(found) == 3 and all(w.shape == (1, 4, 6, 6) for w in found)
    for w in found:
        torch.testing.assert_close(w.sum(-1), torch.ones(1, 4, 6))
        assert (w[0].triu(1) == 0).all(), "a weight on a later token"
