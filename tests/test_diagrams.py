"""The architecture diagrams: they draw, say what their arguments say, and fit the page."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from transformer_lib.tools import diagrams, plotting


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in [*ax.texts, ax.title]] + [
        t.get_text() for legend in fig.legends for t in legend.get_texts()
    ]


def fits_the_page(fig):
    # drawn at most 6.5 inches wide, so shown at the text column's width its lettering is not shrunk
    assert fig.get_size_inches()[0] <= 6.5
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts]
    assert min(sizes) >= 8.5


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_diagram_places_the_norms(norm_first):
    fig = plotting.draw_transformer(norm_first=norm_first, num_layers="6")
    words = texts(fig)
    assert "Cross-attention" in words and "memory" in words and words.count("× 6") == 2
    assert ("final LayerNorm" in words) == norm_first
    assert (words.count("Add & Norm") == 5) != norm_first and (words.count("LayerNorm") == 5) == norm_first
    fits_the_page(fig)
    plt.close(fig)


def test_multihead_diagram_shows_the_shapes_of_its_arguments():
    fig = plotting.draw_multihead(seq=10, d_model=64, num_heads=4)
    words = " ".join(texts(fig))
    assert "(10, 64)" in words and "(4, 10, 16)" in words and "4·16 = 64" in words
    fits_the_page(fig)
    with pytest.raises(ValueError, match="divisible"):
        plotting.draw_multihead(d_model=10, num_heads=4)
    plt.close(fig)


def test_cross_attention_diagram_feeds_every_decoder_layer():
    fig = plotting.draw_cross_attention(num_layers=4)
    words = texts(fig)
    assert words.count("K, V") == 4 and sum("cross-attention" in w for w in words) == 4
    fits_the_page(fig)
    plt.close(fig)


def test_kv_cache_diagram_counts_the_work():
    steps, prompt = 6, 2
    fig = plotting.draw_kv_cache(steps=steps, prompt=prompt)
    titles = [ax.get_title() for ax in fig.axes]
    without = sum(prompt + t for t in range(steps))
    assert titles == [
        f"without cache: {without} positions computed",
        f"with cache: {prompt + steps - 1} positions computed",
    ]
    assert "read from the cache" in texts(fig)
    with pytest.raises(ValueError, match="steps and prompt"):
        plotting.draw_kv_cache(steps=0)
    plt.close(fig)


def text_extent(fig, words):
    fig.canvas.draw()
    (text,) = [t for ax in fig.axes for t in ax.texts if t.get_text() == words]
    return text.get_window_extent()


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_diagram_label_crosses_no_line(norm_first):
    """ "keys, values" once sat over the decoder's frame and a residual line (issue 28)."""
    fig = plotting.draw_transformer(norm_first=norm_first)
    label = text_extent(fig, "keys, values")
    ax = fig.axes[0]
    crossed = [a for a in [*ax.patches, *ax.lines] if a.get_window_extent().overlaps(label)]
    assert not crossed, f"'keys, values' overlaps {crossed}"
    plt.close(fig)


def test_multihead_diagram_counts_heads_beside_their_cards():
    """The "x h heads" note once sat above and far right of the stack of attention cards (issue 28)."""
    fig = plotting.draw_multihead(seq=4, d_model=8, num_heads=2)
    note = text_extent(fig, "× 2 heads,\nin parallel")
    ax = fig.axes[0]
    attention = to_rgb(diagrams.COLORS["attention"])
    cards = [p.get_window_extent() for p in ax.patches if to_rgb(p.get_facecolor()) == attention]
    right = max(card.x1 for card in cards)
    gap = (note.x0 - right) / fig.dpi  # inches
    assert 0 < gap < 0.25, f"the note is {gap:.2f} in from the cards"
    assert min(c.y0 for c in cards) < (note.y0 + note.y1) / 2 < max(c.y1 for c in cards)
    plt.close(fig)
