"""Hugging Face's checkpoints in the library's models, and the library's models in Hugging Face's.

The library's models, configured with a checkpoint's options, compute what Hugging Face's compute:

* :class:`~transformer_lib.models.gpt.GPT` (:meth:`~transformer_lib.models.gpt.GPTConfig.gpt2`) is
  ``GPT2LMHeadModel``;
* :class:`~transformer_lib.models.llama.Llama` is ``LlamaForCausalLM``, and with ``qkv_bias`` or
  ``qk_norm`` ``Qwen2ForCausalLM`` or ``Qwen3ForCausalLM``;
* :class:`~transformer_lib.models.bert.Bert` (:meth:`~transformer_lib.models.bert.BertConfig.bert`) is
  ``BertForMaskedLM``;
* :class:`~transformer_lib.models.t5.T5` (:meth:`~transformer_lib.models.t5.T5Config.t5`) is
  ``T5ForConditionalGeneration``, T5 v1.0 or v1.1 / Flan-T5.

Only the names and layouts of the weights differ. This module maps them, both ways, from one table per
family (so the two directions cannot disagree):

* :func:`from_hf`: a Hugging Face model object -> the library's model with the same weights;
* :func:`to_hf`: the library's model -> a Hugging Face model object (needs ``transformers``);
* :func:`load_hf_state_dict` / :func:`hf_state_dict`: the same between state dicts (no ``transformers``);
* :func:`config_from_hf` / :func:`hf_config`: the configurations (a ``config.json`` dict either way);
* :func:`from_pretrained` / :func:`pretrained_tokenizer`: a checkpoint from the Hugging Face Hub or a local
  folder (``huggingface_hub`` and ``safetensors``; never needed by the chapters' outputs or the tests).

A state dict of another architecture or size raises a ``ValueError`` that names the key. Nothing here
imports ``transformers`` until :func:`to_hf` is called: the library does not depend on it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from .bert import Bert, BertConfig
from .gpt import GPT, GPTConfig
from .llama import Llama, LlamaConfig
from .t5 import T5, T5Config

Tensors = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Rule:
    """One Hugging Face weight and the library's weights it becomes: ``to_ours`` splits or transposes it
    into ``len(ours)`` tensors, ``to_hf`` puts them back together."""

    hf: str
    ours: tuple[str, ...]
    to_ours: Callable[[torch.Tensor], Tensors] = lambda t: (t,)
    to_hf: Callable[[Tensors], torch.Tensor] = lambda ts: ts[0]


def same(hf: str, *ours: str) -> Rule:
    """A weight stored the same way on both sides; several ``ours`` for one parameter shared under several
    names (a tied embedding: our state dict lists it under each)."""
    return Rule(hf, ours, lambda t: (t,) * len(ours), lambda ts: ts[0])


def transposed(hf: str, ours: str) -> Rule:
    """GPT-2's ``Conv1D`` stores a linear map as ``(in, out)``, ``nn.Linear`` as ``(out, in)``."""
    return Rule(hf, (ours,), lambda t: (t.t(),), lambda ts: ts[0].t())


def split_qkv(hf: str, q: str, k: str, v: str, *, conv1d: bool) -> Rule:
    """GPT-2's ``c_attn``: the query, key and value maps side by side in one ``Conv1D``, ``(d_model,
    3 d_model)`` (its bias ``(3 d_model,)``), which our attention keeps as three ``nn.Linear``."""
    if conv1d:
        return Rule(hf, (q, k, v), lambda t: t.t().chunk(3), lambda ts: torch.cat(ts).t())
    return Rule(hf, (q, k, v), lambda t: t.chunk(3), torch.cat)


@dataclass(frozen=True)
class Family:
    """What the converters know of one family: the two model classes, the configurations, the table of
    weights for a configuration, and the keys that a Hugging Face state dict may hold besides.

    ``aliases``: Hugging Face keys that hold a tied tensor under a second name (``lm_head.weight`` for
    ``wte.weight``), mapped to the key they copy; they are written by :func:`hf_state_dict` and need not
    be in a loaded state dict. ``ignored``: key prefixes and suffixes of a checkpoint that the model does
    not use (buffers old checkpoints saved, the pre-training heads of ``bert-base-uncased``).
    ``prefix``: what Hugging Face's model class puts before the base model's keys; a checkpoint saved
    from the base model alone (``gpt2``'s ``model.safetensors``) lacks it. ``embedding``: the key of the
    token embedding, which tells whether a checkpoint has the prefix.
    """

    name: str
    model_class: type[nn.Module]
    hf_class: str
    prefix: str
    embedding: str
    config_from_hf: Callable[[dict], object]
    hf_config: Callable[[object], dict]
    rules: Callable[[object], list[Rule]]
    aliases: Callable[[object], dict[str, str]]
    ignored: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------- GPT-2


GPT2_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}


def gpt2_config_from_hf(d: dict) -> GPTConfig:
    """A ``GPT2Config`` (as its ``config.json`` dict) -> :class:`GPTConfig` with GPT-2's options."""
    require(d, "activation_function", GPT2_ACTIVATIONS)
    require(d, "scale_attn_weights", (True,))
    require(d, "scale_attn_by_inverse_layer_idx", (False,))
    require(d, "add_cross_attention", (False,))
    # an untied GPT-2 head would have no bias, which our untied head has
    require(d, "tie_word_embeddings", (True,))
    return GPTConfig.gpt2(
        vocab_size=d["vocab_size"],
        d_model=d["n_embd"],
        num_heads=d["n_head"],
        num_layers=d["n_layer"],
        d_ff=d.get("n_inner") or 4 * d["n_embd"],
        max_len=d["n_positions"],
        dropout=d.get("resid_pdrop", 0.0),
        activation=GPT2_ACTIVATIONS[d.get("activation_function", "gelu_new")],
        norm_eps=d.get("layer_norm_epsilon", 1e-5),
        # GPT-2 has no padding token: a finished sequence continues with its end token
        pad_id=pad_or_eos(d),
    )


def gpt2_hf_config(c: GPTConfig) -> dict:
    """:class:`GPTConfig` -> the keyword arguments of ``transformers.GPT2Config``."""
    require_ours(c, "positions", "learned")
    require_ours(c, "embed_scale", False)
    require_ours(c, "tie_embeddings", True)
    activation = {"gelu_tanh": "gelu_new", "gelu": "gelu"}[c.activation]
    return {
        "model_type": "gpt2",
        "vocab_size": c.vocab_size,
        "n_embd": c.d_model,
        "n_head": c.num_heads,
        "n_layer": c.num_layers,
        "n_inner": c.d_ff,
        "n_positions": c.max_len,
        "activation_function": activation,
        "layer_norm_epsilon": c.norm_eps,
        **dict.fromkeys(("resid_pdrop", "embd_pdrop", "attn_pdrop"), c.dropout),
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": c.pad_id,
    }


def gpt2_rules(c: GPTConfig) -> list[Rule]:
    rules = [
        same("transformer.wte.weight", "embed.token.weight", "lm_head.weight"),
        same("transformer.wpe.weight", "embed.position.weight"),
    ]
    for i in range(c.num_layers):
        h, b = f"transformer.h.{i}.", f"blocks.layers.{i}."
        attn = b + "self_attn."
        for p in ("weight", "bias"):
            rules.append(same(f"{h}ln_1.{p}", f"{b}sublayer1.add_norm.ln.{p}"))
            rules.append(same(f"{h}ln_2.{p}", f"{b}sublayer2.add_norm.ln.{p}"))
        qkv = (f"{attn}q_proj", f"{attn}k_proj", f"{attn}v_proj")
        rules += [
            split_qkv(f"{h}attn.c_attn.weight", *(n + ".weight" for n in qkv), conv1d=True),
            split_qkv(f"{h}attn.c_attn.bias", *(n + ".bias" for n in qkv), conv1d=False),
            transposed(f"{h}attn.c_proj.weight", f"{attn}out_proj.weight"),
            same(f"{h}attn.c_proj.bias", f"{attn}out_proj.bias"),
            transposed(f"{h}mlp.c_fc.weight", f"{b}ffn.linear1.weight"),
            same(f"{h}mlp.c_fc.bias", f"{b}ffn.linear1.bias"),
            transposed(f"{h}mlp.c_proj.weight", f"{b}ffn.linear2.weight"),
            same(f"{h}mlp.c_proj.bias", f"{b}ffn.linear2.bias"),
        ]
    return rules + [same(f"transformer.ln_f.{p}", f"blocks.norm.{p}") for p in ("weight", "bias")]


GPT2 = Family(
    name="GPT-2",
    model_class=GPT,
    hf_class="GPT2LMHeadModel",
    prefix="transformer.",
    embedding="transformer.wte.weight",
    config_from_hf=gpt2_config_from_hf,
    hf_config=gpt2_hf_config,
    rules=gpt2_rules,
    aliases=lambda c: {"lm_head.weight": "transformer.wte.weight"},
    # the causal-mask buffers that checkpoints saved before transformers 4.x
    ignored=(".attn.bias", ".attn.masked_bias"),
)


# ---------------------------------------------------------------------------------------------- Llama


def llama_config_from_hf(d: dict) -> LlamaConfig:
    """A ``LlamaConfig``, ``Qwen2Config`` or ``Qwen3Config`` (as its ``config.json`` dict) -> :class:`LlamaConfig`."""
    require(d, "hidden_act", ("silu",))
    require(d, "use_sliding_window", (False,))
    require(d, "attention_bias", (False,))
    require(d, "mlp_bias", (False,))
    # older config.json files (SmolLM2's) have rope_theta; transformers 5 writes rope_parameters
    rope = d.get("rope_parameters") or {"rope_type": "default", "rope_theta": d.get("rope_theta", 10000.0)}
    if rope.get("rope_type", "default") != "default" or d.get("rope_scaling"):
        raise ValueError(
            f"rope_parameters must have rope_type 'default' (our RoPE has no scaling, such as Llama 3.1's "
            f"'llama3'), got {rope}"
        )
    heads, head_dim = d["num_attention_heads"], d.get("head_dim")
    return LlamaConfig(
        vocab_size=d["vocab_size"],
        d_model=d["hidden_size"],
        num_heads=d["num_attention_heads"],
        num_kv_heads=d.get("num_key_value_heads") or d["num_attention_heads"],
        num_layers=d["num_hidden_layers"],
        d_ff=d["intermediate_size"],
        max_len=d["max_position_embeddings"],
        dropout=d.get("attention_dropout", 0.0),
        rope_base=rope["rope_theta"],
        norm_eps=d.get("rms_norm_eps", 1e-6),
        pad_id=pad_or_eos(d),
        tie_embeddings=d.get("tie_word_embeddings", False),
        head_dim=None if head_dim is None or head_dim * heads == d["hidden_size"] else head_dim,
        qkv_bias=d.get("model_type") == "qwen2",
        qk_norm=d.get("model_type") == "qwen3",
    )


def llama_hf_config(c: LlamaConfig) -> dict:
    """:class:`LlamaConfig` -> the keyword arguments of ``transformers.LlamaConfig`` (``Qwen2Config`` with
    ``qkv_bias``, ``Qwen3Config`` with ``qk_norm``)."""
    if c.qkv_bias and c.qk_norm:
        raise ValueError("LlamaConfig.qkv_bias (Qwen2) and qk_norm (Qwen3) have no Hugging Face model together")
    model_type = "qwen2" if c.qkv_bias else "qwen3" if c.qk_norm else "llama"
    return {
        "model_type": model_type,
        "head_dim": c.head_dim or c.d_model // c.num_heads,
        "use_sliding_window": False,
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "num_attention_heads": c.num_heads,
        "num_key_value_heads": c.num_kv_heads,
        "num_hidden_layers": c.num_layers,
        "intermediate_size": c.d_ff,
        "max_position_embeddings": c.max_len,
        "attention_dropout": c.dropout,
        "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_base},
        "rms_norm_eps": c.norm_eps,
        "tie_word_embeddings": c.tie_embeddings,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": c.pad_id,
    }


def llama_rules(c: LlamaConfig) -> list[Rule]:
    embed = ("embed.weight", "lm_head.weight") if c.tie_embeddings else ("embed.weight",)
    rules = [same("model.embed_tokens.weight", *embed)]
    for i in range(c.num_layers):
        h, b = f"model.layers.{i}.", f"blocks.{i}."
        rules += [
            same(f"{h}input_layernorm.weight", f"{b}attn_norm.weight"),
            same(f"{h}self_attn.q_proj.weight", f"{b}attn.q_proj.weight"),
            same(f"{h}self_attn.k_proj.weight", f"{b}attn.k_proj.weight"),
            same(f"{h}self_attn.v_proj.weight", f"{b}attn.v_proj.weight"),
            same(f"{h}self_attn.o_proj.weight", f"{b}attn.out_proj.weight"),
            *(same(f"{h}self_attn.{p}_proj.bias", f"{b}attn.{p}_proj.bias") for p in "qkv" if c.qkv_bias),
            *(same(f"{h}self_attn.{p}_norm.weight", f"{b}attn.{p}_norm.weight") for p in "qk" if c.qk_norm),
            same(f"{h}post_attention_layernorm.weight", f"{b}ffn_norm.weight"),
            same(f"{h}mlp.gate_proj.weight", f"{b}ffn.w_gate.weight"),
            same(f"{h}mlp.up_proj.weight", f"{b}ffn.w_up.weight"),
            same(f"{h}mlp.down_proj.weight", f"{b}ffn.w_down.weight"),
        ]
    rules.append(same("model.norm.weight", "norm.weight"))
    if not c.tie_embeddings:
        rules.append(same("lm_head.weight", "lm_head.weight"))
    return rules


LLAMA = Family(
    name="Llama",
    model_class=Llama,
    hf_class="LlamaForCausalLM",
    prefix="model.",
    embedding="model.embed_tokens.weight",
    config_from_hf=llama_config_from_hf,
    hf_config=llama_hf_config,
    rules=llama_rules,
    aliases=lambda c: {"lm_head.weight": "model.embed_tokens.weight"} if c.tie_embeddings else {},
    # the rotation frequencies that checkpoints of transformers 4.3x saved; ours follow from the config
    ignored=(".rotary_emb.inv_freq",),
)


# ---------------------------------------------------------------------------------------------- BERT


def bert_config_from_hf(d: dict) -> BertConfig:
    """A ``BertConfig`` (as its ``config.json`` dict) -> :class:`BertConfig` with BERT's options."""
    require(d, "hidden_act", ("gelu",))
    require(d, "position_embedding_type", ("absolute",))
    require(d, "is_decoder", (False,))
    require(d, "add_cross_attention", (False,))
    require(d, "tie_word_embeddings", (True,))
    return BertConfig.bert(
        vocab_size=d["vocab_size"],
        d_model=d["hidden_size"],
        num_heads=d["num_attention_heads"],
        num_layers=d["num_hidden_layers"],
        d_ff=d["intermediate_size"],
        max_len=d["max_position_embeddings"],
        dropout=d.get("hidden_dropout_prob", 0.0),
        type_vocab_size=d.get("type_vocab_size", 2),
        norm_eps=d.get("layer_norm_eps", 1e-12),
        pad_id=d.get("pad_token_id") or 0,
    )


def bert_hf_config(c: BertConfig) -> dict:
    """:class:`BertConfig` -> the keyword arguments of ``transformers.BertConfig``."""
    require_ours(c, "positions", "learned")
    require_ours(c, "embed_scale", False)
    require_ours(c, "embedding_norm", True)
    require_ours(c, "tie_embeddings", True)
    if c.type_vocab_size < 1:
        raise ValueError(f"type_vocab_size must be >= 1 for a Hugging Face BERT, got {c.type_vocab_size}")
    return {
        "model_type": "bert",
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "num_attention_heads": c.num_heads,
        "num_hidden_layers": c.num_layers,
        "intermediate_size": c.d_ff,
        "max_position_embeddings": c.max_len,
        "hidden_dropout_prob": c.dropout,
        "attention_probs_dropout_prob": c.dropout,
        "type_vocab_size": c.type_vocab_size,
        "layer_norm_eps": c.norm_eps,
        "pad_token_id": c.pad_id,
        "tie_word_embeddings": True,
    }


def bert_rules(c: BertConfig) -> list[Rule]:
    e = "bert.embeddings."
    rules = [
        same(f"{e}word_embeddings.weight", "embed.token.weight", "lm_head.3.weight"),
        same(f"{e}position_embeddings.weight", "embed.position.weight"),
        same(f"{e}token_type_embeddings.weight", "embed.token_type.weight"),
    ]
    for p in ("weight", "bias"):
        rules.append(same(f"{e}LayerNorm.{p}", f"embed.norm.{p}"))
        for i in range(c.num_layers):
            h, b = f"bert.encoder.layer.{i}.", f"encoder.layers.{i}."
            rules += [
                same(f"{h}attention.self.query.{p}", f"{b}self_attn.q_proj.{p}"),
                same(f"{h}attention.self.key.{p}", f"{b}self_attn.k_proj.{p}"),
                same(f"{h}attention.self.value.{p}", f"{b}self_attn.v_proj.{p}"),
                same(f"{h}attention.output.dense.{p}", f"{b}self_attn.out_proj.{p}"),
                same(f"{h}attention.output.LayerNorm.{p}", f"{b}sublayer1.add_norm.ln.{p}"),
                same(f"{h}intermediate.dense.{p}", f"{b}ffn.linear1.{p}"),
                same(f"{h}output.dense.{p}", f"{b}ffn.linear2.{p}"),
                same(f"{h}output.LayerNorm.{p}", f"{b}sublayer2.add_norm.ln.{p}"),
            ]
        # the MLM head's transform: Linear, GELU, LayerNorm (lm_head[0], [1], [2])
        rules.append(same(f"cls.predictions.transform.dense.{p}", f"lm_head.0.{p}"))
        rules.append(same(f"cls.predictions.transform.LayerNorm.{p}", f"lm_head.2.{p}"))
    # the decoder's own bias, over the vocabulary (its weight is the word embedding)
    return [*rules, same("cls.predictions.bias", "lm_head.3.bias")]


BERT = Family(
    name="BERT",
    model_class=Bert,
    hf_class="BertForMaskedLM",
    prefix="bert.",
    embedding="bert.embeddings.word_embeddings.weight",
    config_from_hf=bert_config_from_hf,
    hf_config=bert_hf_config,
    rules=bert_rules,
    aliases=lambda c: {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    },
    # bert-base-uncased is a BertForPreTraining checkpoint: its pooler and next-sentence head are not the
    # MLM model's; position_ids is a buffer older checkpoints saved
    ignored=("bert.pooler.", "cls.seq_relationship.", "bert.embeddings.position_ids"),
)


# ---------------------------------------------------------------------------------------------- T5

T5_ACTIVATIONS = {"relu": "relu", "gated-gelu": "gated-gelu", "gelu": "gelu"}


def t5_config_from_hf(d: dict) -> T5Config:
    """A ``T5Config`` (as its ``config.json`` dict) -> :class:`T5Config` with T5's options."""
    require(d, "feed_forward_proj", T5_ACTIVATIONS)
    heads, d_kv = d["num_heads"], d["d_kv"]
    # transformers 5 keeps the head tied and records in scale_decoder_outputs what tie_word_embeddings was
    # (and still is, in the config.json of a checkpoint): T5 v1.0's tied and scaled head, or v1.1's own
    tied = d.get("scale_decoder_outputs", d.get("tie_word_embeddings", True))
    return T5Config.t5(
        vocab_size=d["vocab_size"],
        d_model=d["d_model"],
        num_heads=heads,
        head_dim=None if heads * d_kv == d["d_model"] else d_kv,
        num_encoder_layers=d["num_layers"],
        num_decoder_layers=d.get("num_decoder_layers") or d["num_layers"],
        d_ff=d["d_ff"],
        # T5 has no longest sequence (its positions are relative); its checkpoints were trained on 512
        max_len=d.get("n_positions", 512),
        dropout=d.get("dropout_rate", 0.0),
        relative_buckets=d.get("relative_attention_num_buckets", 32),
        relative_max_distance=d.get("relative_attention_max_distance", 128),
        activation=T5_ACTIVATIONS[d.get("feed_forward_proj", "relu")],
        norm_eps=d.get("layer_norm_epsilon", 1e-6),
        tie_embeddings=tied,
        pad_id=d.get("pad_token_id", 0),
        bos_id=d.get("decoder_start_token_id", d.get("pad_token_id", 0)),
    )


def t5_hf_config(c: T5Config) -> dict:
    """:class:`T5Config` -> the keyword arguments of ``transformers.T5Config``."""
    require_ours(c, "relative_attention", True)
    return {
        "model_type": "t5",
        "vocab_size": c.vocab_size,
        "d_model": c.d_model,
        "num_heads": c.num_heads,
        "d_kv": c.head_dim or c.d_model // c.num_heads,
        "num_layers": c.num_encoder_layers,
        "num_decoder_layers": c.num_decoder_layers,
        "d_ff": c.d_ff,
        "n_positions": c.max_len,
        "dropout_rate": c.dropout,
        "relative_attention_num_buckets": c.relative_buckets,
        "relative_attention_max_distance": c.relative_max_distance,
        "feed_forward_proj": c.activation,
        "layer_norm_epsilon": c.norm_eps,
        "tie_word_embeddings": c.tie_embeddings,
        "pad_token_id": c.pad_id,
        "decoder_start_token_id": c.bos_id,
        "eos_token_id": None,
    }


def t5_rules(c: T5Config) -> list[Rule]:
    embed = ("embed.token.weight", "lm_head.weight") if c.tie_embeddings else ("embed.token.weight",)
    rules = [same("shared.weight", *embed)]
    if c.activation == "gated-gelu":
        ffn = {"wi_0": "w_gate", "wi_1": "w_up", "wo": "w_down"}
    else:
        ffn = {"wi": "linear1", "wo": "linear2"}
    for stack, num_layers in (("encoder", c.num_encoder_layers), ("decoder", c.num_decoder_layers)):
        # T5 keeps the relative position bias in the first layer's attention; the others reuse it
        if num_layers:
            bias = f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
            rules.append(same(bias, f"{stack}.relative_bias.bias.weight"))
        for i in range(num_layers):
            h, b = f"{stack}.block.{i}.layer.", f"{stack}.layers.{i}."
            sublayers = [("SelfAttention", "self_attn", "self_norm")]
            if stack == "decoder":
                sublayers.append(("EncDecAttention", "cross_attn", "cross_norm"))
            for j, (theirs, ours, norm) in enumerate(sublayers):
                for proj, our_proj in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
                    rules.append(same(f"{h}{j}.{theirs}.{proj}.weight", f"{b}{ours}.{our_proj}.weight"))
                rules.append(same(f"{h}{j}.layer_norm.weight", f"{b}{norm}.weight"))
            j = len(sublayers)
            rules += [same(f"{h}{j}.DenseReluDense.{k}.weight", f"{b}ffn.{v}.weight") for k, v in ffn.items()]
            rules.append(same(f"{h}{j}.layer_norm.weight", f"{b}ffn_norm.weight"))
        rules.append(same(f"{stack}.final_layer_norm.weight", f"{stack}.norm.weight"))
    if not c.tie_embeddings:
        rules.append(same("lm_head.weight", "lm_head.weight"))
    return rules


def t5_aliases(c: T5Config) -> dict[str, str]:
    aliases = {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight"}
    return aliases | ({"lm_head.weight": "shared.weight"} if c.tie_embeddings else {})


T5_FAMILY = Family(
    name="T5",
    model_class=T5,
    hf_class="T5ForConditionalGeneration",
    prefix="",
    embedding="shared.weight",
    config_from_hf=t5_config_from_hf,
    hf_config=t5_hf_config,
    rules=t5_rules,
    aliases=t5_aliases,
    # a relative position bias that old checkpoints kept, unused, in the first cross-attention
    ignored=("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight",),
)


# Qwen2 and Qwen3 are Llama with Llama's weights' names and three options (qkv_bias, qk_norm, head_dim)
QWEN2 = dataclasses.replace(LLAMA, name="Qwen2", hf_class="Qwen2ForCausalLM")
QWEN3 = dataclasses.replace(LLAMA, name="Qwen3", hf_class="Qwen3ForCausalLM")

FAMILIES = {"gpt2": GPT2, "llama": LLAMA, "qwen2": QWEN2, "qwen3": QWEN3, "bert": BERT, "t5": T5_FAMILY}


# ---------------------------------------------------------------------------------------------- checks


def require(d: Mapping, key: str, allowed) -> None:
    """Raise ``ValueError`` unless the Hugging Face config ``d`` has ``key`` (where present) in ``allowed``:
    an option the library's model does not implement must not be dropped silently."""
    if key in d and d[key] not in allowed:
        raise ValueError(f"config {key} must be one of {list(allowed)} for the library's model, got {d[key]!r}")


def require_ours(config: object, name: str, expected: object) -> None:
    """Raise ``ValueError`` unless the library's config has ``name == expected`` (what the Hugging Face
    model always does)."""
    got = getattr(config, name)
    if got != expected:
        raise ValueError(f"{type(config).__name__}.{name} must be {expected!r} to convert to Hugging Face, got {got!r}")


def pad_or_eos(d: Mapping) -> int:
    """The padding id of a config without one: its end token (the first, where it lists several), else 0."""
    for key in ("pad_token_id", "eos_token_id"):
        value = d.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            return value
    return 0


def family_of(obj: object) -> Family:
    """The family of a library model or config, or of a Hugging Face config dict (its ``model_type``)."""
    if isinstance(obj, Mapping):
        model_type = obj.get("model_type")
        if model_type not in FAMILIES:
            raise ValueError(f"config model_type must be one of {sorted(FAMILIES)}, got {model_type!r}")
        return FAMILIES[model_type]
    config = getattr(obj, "config", obj)
    if isinstance(config, LlamaConfig):
        return QWEN2 if config.qkv_bias else QWEN3 if config.qk_norm else LLAMA
    for family in FAMILIES.values():
        if isinstance(obj, family.model_class | family.model_class.config_class):
            return family
    names = sorted({f.model_class.__name__ for f in FAMILIES.values()})
    raise ValueError(f"model must be one of the library's {names} (or its config), got {type(obj).__name__}")


def config_dict(config: object) -> dict:
    """A Hugging Face config object or its dict -> a dict."""
    return dict(config) if isinstance(config, Mapping) else config.to_dict()


# ---------------------------------------------------------------------------------------------- converters


def config_from_hf(config: object) -> object:
    """A Hugging Face config (object or ``config.json`` dict) -> the library's config of that family.

    Raises ``ValueError`` naming an option the library's model does not implement (GPT-2's
    ``scale_attn_by_inverse_layer_idx``, Llama 3.1's scaled RoPE, BERT's relative positions...).
    """
    d = config_dict(config)
    return family_of(d).config_from_hf(d)


def hf_config(config: object) -> dict:
    """The library's config (or model) -> the keyword arguments of the Hugging Face config class."""
    config = getattr(config, "config", config)
    return family_of(config).hf_config(config)


def load_hf_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Copy a Hugging Face state dict (``GPT2LMHeadModel``'s, ``LlamaForCausalLM``'s or ``BertForMaskedLM``'s;
    with or without the base model's prefix, e.g. ``transformer.``) into the library's ``model``.

    Raises ``ValueError`` naming the first key that is missing, of the wrong shape for ``model``'s
    config, or not a weight of this family: a state dict of another architecture or size. Returns ``model``.
    """
    family = family_of(model)
    c = model.config
    state_dict = normalise_keys(family, state_dict)
    ours = model.state_dict()
    new, used = {}, set()
    for rule in family.rules(c):
        if rule.hf not in state_dict:
            raise ValueError(
                f"state_dict has no key {rule.hf!r}: not a {family.name} checkpoint ({family.hf_class}) "
                f"of {layers_of(c)}"
            )
        tensor = state_dict[rule.hf]
        used.add(rule.hf)
        for name, part in zip(rule.ours, rule.to_ours(tensor), strict=True):
            if part.shape != ours[name].shape:
                raise ValueError(
                    f"state_dict[{rule.hf!r}] has shape {tuple(tensor.shape)}, which does not fit this "
                    f"{type(c).__name__}: {name} must be {tuple(ours[name].shape)}"
                )
            new[name] = part
    aliases = family.aliases(c)
    extra = [k for k in state_dict if k not in used and k not in aliases and not is_ignored(family, k)]
    if extra:
        raise ValueError(
            f"state_dict has key {extra[0]!r}, which a {family.name} of this config does not have "
            f"({len(extra)} such keys): another architecture, or more layers than its {layers_of(c)}"
        )
    model.load_state_dict(new, strict=True)
    return model


def hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The library's ``model`` -> the state dict of the Hugging Face model of its family (with the model
    class's prefix, tied weights under each of their names), contiguous tensors sharing no memory with
    ``model``'s."""
    family = family_of(model)
    c = model.config
    ours = model.state_dict()
    result = {}
    for rule in family.rules(c):
        result[rule.hf] = rule.to_hf(tuple(ours[name] for name in rule.ours)).detach().clone().contiguous()
    for alias, source in family.aliases(c).items():
        result[alias] = result[source]
    return result


def from_hf(hf_model: nn.Module) -> nn.Module:
    """A Hugging Face model object (``GPT2LMHeadModel``, ``LlamaForCausalLM``, ``BertForMaskedLM``) -> the
    library's model of the same configuration and weights, on the same device and dtype, in the same
    train/eval mode."""
    config = config_from_hf(hf_model.config)
    weight = next(hf_model.parameters())
    model = family_of(config).model_class(config)
    load_hf_state_dict(model, hf_model.state_dict())
    return model.to(weight.device, weight.dtype).train(hf_model.training)


def to_hf(model: nn.Module) -> nn.Module:
    """The library's ``model`` -> the Hugging Face model object of its family with the same weights, on the
    same device and dtype, in the same train/eval mode. Needs ``transformers`` (imported here, only)."""
    import transformers

    family = family_of(model)
    kwargs = family.hf_config(model.config)
    config_class = transformers.AutoConfig.for_model(kwargs.pop("model_type")).__class__
    hf_model = getattr(transformers, family.hf_class)(config_class(**kwargs))
    if family is T5_FAMILY and not model.config.tie_embeddings and hf_model.lm_head.weight is hf_model.shared.weight:
        # transformers 5 ties T5's head to the embedding whatever the config says; T5 v1.1's are two
        hf_model.lm_head.weight = nn.Parameter(hf_model.lm_head.weight.detach().clone())
    weight = next(model.parameters())
    state_dict = hf_state_dict(model)
    hf_model.load_state_dict(state_dict, strict=True)
    for key, tensor in hf_model.state_dict().items():
        if not torch.equal(tensor, state_dict[key]):  # two names of one tensor that ours keeps apart
            raise ValueError(
                f"{family.hf_class} ties {key!r} to another weight that {type(model).__name__} keeps apart"
            )
    return hf_model.to(weight.device, weight.dtype).train(model.training)


def normalise_keys(family: Family, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keys of a checkpoint as the family's model class names them: the base model's prefix added where
    the checkpoint was saved from the base model (``wte.weight`` -> ``transformer.wte.weight``), and
    TensorFlow's LayerNorm names of old BERT checkpoints (``gamma``, ``beta``) made torch's."""
    renamed = {}
    for key, tensor in state_dict.items():
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        renamed[key] = tensor
    if family.embedding not in renamed and family.embedding.removeprefix(family.prefix) in renamed:
        heads = ("lm_head.", "cls.")
        renamed = {(k if k.startswith(heads) else family.prefix + k): t for k, t in renamed.items()}
    return renamed


def is_ignored(family: Family, key: str) -> bool:
    return any(key.startswith(p) or key.endswith(p) for p in family.ignored)


def layers_of(c: object) -> str:
    """A config's number of layers, in words (T5's: encoder + decoder)."""
    if isinstance(c, T5Config):
        return f"{c.num_encoder_layers} + {c.num_decoder_layers} layers"
    return f"{c.num_layers} layers"


# ---------------------------------------------------------------------------------------------- the Hub

#: the files a checkpoint's folder needs: its configuration, its weights, its tokenizer
CHECKPOINT_FILES = ["config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json"]


def checkpoint_folder(name: str) -> str:
    """The local folder of checkpoint ``name``: ``name`` itself if it is a folder, else a download of the
    Hugging Face Hub repository ``name`` (its config, safetensors weights and tokenizer only), cached by
    ``huggingface_hub``. Raises ``OSError`` with one sentence where that fails (offline, say)."""
    if os.path.isdir(name):
        return name
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, allow_patterns=CHECKPOINT_FILES)
    except Exception as error:  # no huggingface_hub, no network, no such repository: one sentence for all
        raise OSError(
            f"Could not download {name!r} from the Hugging Face Hub ({type(error).__name__}: no network, or "
            "huggingface_hub not installed); the book's chapters do not need it, and where there is no "
            "network you can download the repository elsewhere and pass its folder instead of its name."
        ) from error


def from_pretrained(name: str, model_class: type[nn.Module] | None = None) -> nn.Module:
    """The library's model with the weights of checkpoint ``name``: a Hugging Face Hub repository
    (``"gpt2"``, ``"bert-base-uncased"``, ``"HuggingFaceTB/SmolLM2-135M"``, ...) or a local folder holding
    its ``config.json`` and ``*.safetensors`` (what ``save_pretrained`` writes).

    Safetensors files hold tensors only, no pickled code, so loading one runs nothing of the checkpoint's.
    The model is float32 and in eval mode. ``model_class``: the library's class the checkpoint must be
    (``GPT.from_pretrained`` passes its own); ``ValueError`` if it is another family's.
    """
    from safetensors.torch import load_file

    folder = checkpoint_folder(name)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        hf = json.load(f)
    family = family_of(hf)
    if model_class is not None and model_class is not family.model_class:
        raise ValueError(f"{name!r} is a {family.name} checkpoint, not a {model_class.__name__}")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    if not files:
        raise OSError(f"{folder!r} holds no *.safetensors weights")
    state_dict = {}
    for file in files:
        state_dict.update(load_file(os.path.join(folder, file)))
    config = family.config_from_hf(hf)
    model = family.model_class(config)
    # checkpoints are often bfloat16 (SmolLM2's): copying into the float32 model converts them
    return load_hf_state_dict(model, state_dict).eval()


def pretrained_tokenizer(name: str):
    """The tokenizer of checkpoint ``name`` (Hub repository or folder, as :func:`from_pretrained`), a
    ``tokenizers.Tokenizer`` read from its ``tokenizer.json``: ``encode(text).ids``, ``decode(ids)``."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(os.path.join(checkpoint_folder(name), "tokenizer.json"))
