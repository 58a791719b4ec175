"""Attention you can hover: a notebook output that shows attention weights as a grid of queries by keys,
with a layer and a head selector, and the query, the key and the weight under the pointer.

The output is self-contained HTML (the weights as JSON and a small script, nothing loaded from
elsewhere): it works in Jupyter, on Colab and on the book's website, offline. Where scripts do not
run (a PDF, a plain-text reader) the chapters keep their static heatmap next to it, and the text
output says what the view holds.

    view = attention_view(weights, queries, keys, title="...")   # weights: (layers, heads, q, k)
    weights = record_attention(model, ids)                        # every attention module's weights
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence

import torch
from torch import nn

from ..nn.multihead import attention_weights

DIGITS = 3  # the weights are stored, and shown, rounded to this many decimals

SCRIPT = """
(function () {
  var root = document.getElementById("%(id)s");
  if (!root || root.dataset.drawn) return;
  root.dataset.drawn = "1";
  var data = JSON.parse(root.dataset.attention);
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  var words = zh ? {layer: "层", head: "头", query: "查询", key: "键", hover: "把指针移到格子上，读出它的权重。"}
                 : {layer: "layer", head: "head", query: "query", key: "key",
                    hover: "Point at a cell to read its weight."};
  var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(t) {
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
    var c = stops[i].map(function (a, n) { return Math.round(a + f * (stops[i + 1][n] - a)); });
    return "rgb(" + c.join(",") + ")";
  }
  var controls = document.createElement("div");
  controls.className = "attention-view-controls";
  var selects = {};
  [["layer", data.weights.length], ["head", data.weights[0].length]].forEach(function (pair) {
    if (pair[1] < 2) return;
    var label = document.createElement("label");
    label.textContent = words[pair[0]] + " ";
    var select = document.createElement("select");
    for (var n = 0; n < pair[1]; n++) {
      var option = document.createElement("option");
      option.value = n;
      option.textContent = pair[0] === "layer" ? data.layers[n] : String(n);
      select.appendChild(option);
    }
    select.addEventListener("change", draw);
    label.appendChild(select);
    controls.appendChild(label);
    selects[pair[0]] = select;
  });
  var box = document.createElement("div");
  box.className = "attention-view-grid";
  var readout = document.createElement("p");
  readout.className = "attention-view-readout";
  readout.setAttribute("aria-live", "polite");
  readout.textContent = words.hover;
  root.appendChild(controls);
  root.appendChild(box);
  root.appendChild(readout);
  function draw() {
    var layer = selects.layer ? +selects.layer.value : 0, head = selects.head ? +selects.head.value : 0;
    var w = data.weights[layer][head];
    var top = Math.max.apply(null, w.map(function (row) { return Math.max.apply(null, row); })) || 1;
    var table = document.createElement("table");
    var header = table.insertRow();
    header.appendChild(document.createElement("th"));
    data.keys.forEach(function (k) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = k;
      header.appendChild(th);
    });
    w.forEach(function (row, q) {
      var tr = table.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = data.queries[q];
      tr.appendChild(th);
      row.forEach(function (value, k) {
        var td = tr.insertCell();
        var text = words.query + " " + data.queries[q] + " \\u2192 " + words.key + " " + data.keys[k] + ": "
          + value.toFixed(%(digits)d);
        td.style.background = colour(value / top);
        td.title = text;
        td.dataset.query = q;
        td.dataset.key = k;
        td.addEventListener("mouseenter", function () {
          readout.textContent = (data.weights.length > 1 ? words.layer + " " + data.layers[layer] + ", " : "")
            + (data.weights[0].length > 1 ? words.head + " " + head + ", " : "") + text;
        });
      });
    });
    box.replaceChildren(table);
  }
  draw();
})();
"""


class AttentionView:
    """The interactive grid of :func:`attention_view`; a notebook shows it through ``_repr_html_``."""

    def __init__(self, weights: torch.Tensor, queries: Sequence[str], keys: Sequence[str], title: str, layers):
        self.weights, self.queries, self.keys, self.title, self.layers = weights, queries, keys, title, layers

    def data(self) -> dict:
        """What the page holds: the tokens, the layers' names and the weights rounded to ``DIGITS``."""
        return {
            "title": self.title,
            "layers": list(self.layers),
            "queries": list(self.queries),
            "keys": list(self.keys),
            "weights": self.weights.double().round(decimals=DIGITS).tolist(),
        }

    def _repr_html_(self) -> str:
        text = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":"))
        # a name from the data: the same weights give the same output (stored outputs are compared)
        name = "attention-view-" + hashlib.sha256(text.encode()).hexdigest()[:12]
        return (
            f'<div class="attention-view" id="{name}" data-attention="{html.escape(text)}">'
            f'<p class="attention-view-title">{html.escape(self.title)}</p></div>'
            f"<script>{SCRIPT % {'id': name, 'digits': DIGITS}}</script>"
        )

    def __repr__(self) -> str:
        layers, heads, q, k = self.weights.shape
        return (
            f"{self.title}: interactive attention weights, {layers} layer(s) x {heads} head(s), "
            f"{q} queries x {k} keys (shown where a browser runs scripts)"
        )


def attention_view(
    weights: torch.Tensor,
    queries: Sequence[str],
    keys: Sequence[str] | None = None,
    title: str = "Attention weights",
    layers: Sequence[str] | None = None,
) -> AttentionView:
    """An interactive view of attention weights: ``(seq_q, seq_k)``, ``(heads, seq_q, seq_k)`` or
    ``(layers, heads, seq_q, seq_k)``, one example (no batch). Rows are queries, columns keys, as in
    :func:`transformer_lib.tools.plotting.plot_attention`; ``layers`` names the layers (default 1, 2, ...).

    Raises:
        ValueError: naming the argument, when the weights have another rank or the tokens do not match
            their sizes.
    """
    if not isinstance(weights, torch.Tensor):
        weights = torch.as_tensor(weights)
    if weights.dim() not in (2, 3, 4):
        raise ValueError(f"weights must be (q, k), (heads, q, k) or (layers, heads, q, k), got {tuple(weights.shape)}")
    w = weights.detach().float().cpu()
    while w.dim() < 4:
        w = w.unsqueeze(0)
    keys = queries if keys is None else keys
    if len(queries) != w.shape[2]:
        raise ValueError(f"queries must name the {w.shape[2]} query positions, got {len(queries)}")
    if len(keys) != w.shape[3]:
        raise ValueError(f"keys must name the {w.shape[3]} key positions, got {len(keys)}")
    layers = [str(n + 1) for n in range(w.shape[0])] if layers is None else [str(x) for x in layers]
    if len(layers) != w.shape[0]:
        raise ValueError(f"layers must name the {w.shape[0]} layers, got {len(layers)}")
    return AttentionView(w, [str(t) for t in queries], [str(t) for t in keys], title, layers)


def record_attention(model: nn.Module, *args, **kwargs) -> list[torch.Tensor]:
    """Run ``model(*args, **kwargs)`` and return the weights of every attention module it calls, in the
    order they run: one ``(batch, heads, seq_q, seq_k)`` tensor a call (for a decoder-only model, one a
    layer). Each module's forward is called again with ``need_weights=True`` on the same inputs
    (:func:`transformer_lib.nn.multihead.attention_weights`)."""
    return [weights for _, weights in attention_weights(model, *args, **kwargs)]
