"""The library's GPT, Llama, BERT and T5 are Hugging Face's (transformer_lib.models.hub).

Tiny random configs of Hugging Face's own modules, built locally (no download, no network): every
weight randomised (LayerNorms too, so a misplaced weight cannot hide behind ones and zeros), converted
into the library's model and back, and the logits compared with ``torch.testing.assert_close``:
float32 to 1e-5 (absolute and relative), float64 to 1e-10 (Llama's and T5's to 1e-5: Hugging Face's
compute their norms, and Llama's rotations, in float32 even in float64). Greedy generation gives the same 20 tokens.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

from transformer_lib.models import hub
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.t5 import T5, T5Config

transformers.logging.set_verbosity_error()

VOCAB, MAX_LEN = 97, 48
F32 = {"atol": 1e-5, "rtol": 1e-5}
F64 = {"atol": 1e-10, "rtol": 1e-10}


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``model`` with every parameter drawn at random (a norm's weight around 1), in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.3
            p.copy_(1 + noise if "norm" in name.lower() and name.endswith("weight") else noise)
    return model.eval()


def hf_gpt2(**overrides) -> transformers.GPT2LMHeadModel:
    kwargs = {"vocab_size": VOCAB, "n_positions": MAX_LEN, "n_embd": 32, "n_layer": 2, "n_head": 4}
    kwargs |= {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0} | overrides
    return randomised(transformers.GPT2LMHeadModel(transformers.GPT2Config(**kwargs)))


def hf_llama(**overrides) -> transformers.LlamaForCausalLM:
    kwargs = {"vocab_size": VOCAB, "max_position_embeddings": MAX_LEN, "hidden_size": 32, "intermediate_size": 48}
    kwargs |= {"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5}
    kwargs |= {"rope_parameters": {"rope_type": "default", "rope_theta": 50000.0}}
    kwargs |= {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0} | overrides
    return randomised(transformers.LlamaForCausalLM(transformers.LlamaConfig(**kwargs)))


def hf_bert(**overrides) -> transformers.BertForMaskedLM:
    kwargs = {"vocab_size": VOCAB, "max_position_embeddings": MAX_LEN, "hidden_size": 32, "intermediate_size": 48}
    kwargs |= {"num_hidden_layers": 2, "num_attention_heads": 4, "pad_token_id": 0} | overrides
    return randomised(transformers.BertForMaskedLM(transformers.BertConfig(**kwargs)))


def hf_t5(**overrides) -> transformers.T5ForConditionalGeneration:
    """T5 v1.0 (ReLU, tied and scaled head) unless overridden; few buckets and a short maximum distance, so
    that the test's lengths reach the logarithmic buckets and the shared last one."""
    kwargs = {"vocab_size": VOCAB, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4}
    kwargs |= {"relative_attention_num_buckets": 8, "relative_attention_max_distance": 12, "n_positions": MAX_LEN}
    kwargs |= {"pad_token_id": 0, "decoder_start_token_id": 0, "eos_token_id": 1} | overrides
    return t5_queries(randomised(transformers.T5ForConditionalGeneration(transformers.T5Config(**kwargs))), 8)


def t5_queries(model: torch.nn.Module, d_kv: int) -> torch.nn.Module:
    """T5 does not divide its scores by sqrt(d_k): it initialises the query weights that much smaller
    instead. Random weights need the same, or their scores are so large that float32 rounding shows at
    1e-5; an untied head (v1.1; a tied one is listed as the embedding) is made as small as a tied head's
    scale makes it. ``model``: Hugging Face's T5 (``...q.weight``) or ours (``...q_proj.weight``)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith((".q.weight", ".q_proj.weight")):
                p.mul_(d_kv**-0.5)
            elif name == "lm_head.weight":
                p.mul_(p.shape[1] ** -0.5)
    return model


# T5 v1.1 / Flan-T5: gated GELU, an untied head, heads narrower than d_model / num_heads (6 x 8 < 32)
T5_V11 = {"feed_forward_proj": "gated-gelu", "tie_word_embeddings": False, "num_heads": 6, "num_decoder_layers": 3}


def batch(seed: int = 1, lengths: tuple[int, ...] = (12, 9, 5)) -> tuple[torch.Tensor, torch.Tensor]:
    """``(batch, seq)`` ids right-padded with 0 to the longest length, and the mask of real tokens."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (len(lengths), max(lengths)), generator=g)
    real = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return ids.masked_fill(~real, 0), real


# ------------------------------------------------------------------------------------------- logits


def decoder_logits_agree(hf_model, ours, tol) -> None:
    """Right-padded batch: Hugging Face with its attention mask, ours with none (a causal model's real
    tokens never see the later padding); compared at the real tokens."""
    ids, real = batch()
    expected = hf_model(ids, attention_mask=real.long()).logits
    torch.testing.assert_close(ours(ids)[real], expected[real], **tol)


@pytest.mark.parametrize("family", ["gpt2", "llama", "llama_tied"])
def test_decoder_logits_equal_hugging_face_both_ways(family):
    hf_model = {"gpt2": hf_gpt2, "llama": hf_llama, "llama_tied": lambda: hf_llama(tie_word_embeddings=True)}[family]()
    ours = hub.from_hf(hf_model)
    assert type(ours) is {"gpt2": GPT}.get(family, Llama)
    decoder_logits_agree(hf_model, ours, F32)
    # the other way: our model, with our own random weights, converted to Hugging Face's
    ours = randomised(ours, seed=5)
    decoder_logits_agree(hub.to_hf(ours), ours, F32)


def test_gpt2_float64_to_1e_10():
    hf_model = hf_gpt2().double()
    ours = hub.from_hf(hf_model)
    assert ours.lm_head.weight.dtype == torch.float64
    decoder_logits_agree(hf_model, ours, F64)


def test_llama_float64_to_float32_precision():
    """Hugging Face's Llama computes its RMSNorms and RoPE's cos and sin in float32 even in a float64
    model (ours in the model's dtype; our RoPE tables are computed in float64 and kept in float32): in
    float64 the two agree to float32's precision, about 2e-6, not to 1e-10."""
    hf_model = hf_llama().double()
    ours = hub.from_hf(hf_model)
    assert ours.lm_head.weight.dtype == torch.float64
    decoder_logits_agree(hf_model, ours, F32)


def test_the_options_matter():
    """Each GPT-2 option changes the logits: a parity test that passed without them would prove nothing."""
    hf_model = hf_gpt2()
    state_dict = hf_model.state_dict()
    ids, _ = batch()
    expected = hf_model(ids).logits
    config = hub.config_from_hf(hf_model.config)
    for option, value in (("embed_scale", True), ("activation", "gelu"), ("norm_eps", 1e-3)):
        model = hub.load_hf_state_dict(GPT(GPTConfig(**{**vars(config), option: value})), state_dict).eval()
        assert not torch.allclose(model(ids), expected, atol=1e-4), option


def test_bert_logits_equal_hugging_face_both_ways_with_padding_and_token_types():
    hf_model = hf_bert()
    ours = hub.from_hf(hf_model)
    ids, real = batch()
    types = (torch.arange(ids.shape[1]) >= 4).long().expand_as(ids) * real
    expected = hf_model(ids, attention_mask=real.long(), token_type_ids=types).logits
    # every position, padding included: a padding query attends to the real keys on both sides
    torch.testing.assert_close(ours(ids, types), expected, **F32)
    ours = randomised(ours, seed=5)
    back = hub.to_hf(ours)
    torch.testing.assert_close(
        back(ids, attention_mask=real.long(), token_type_ids=types).logits, ours(ids, types), **F32
    )
    ours64, hf64 = hub.from_hf(hf_model.double()), hf_model
    torch.testing.assert_close(
        ours64(ids, types), hf64(ids, attention_mask=real.long(), token_type_ids=types).logits, **F64
    )


def test_bert_padding_masks_behave_the_same():
    """Padding after a sequence changes none of its logits, on either side: our mask (from the padding id)
    hides the keys Hugging Face's attention mask hides."""
    hf_model = hf_bert()
    ours = hub.from_hf(hf_model)
    ids, real = batch()
    short = ids[2:, :5]  # the last row (5 tokens) without its padding
    torch.testing.assert_close(ours(ids)[2:, :5], ours(short), **F32)
    torch.testing.assert_close(hf_model(ids, attention_mask=real.long()).logits[2:, :5], hf_model(short).logits, **F32)
    torch.testing.assert_close(ours(short), hf_model(short).logits, **F32)


# ------------------------------------------------------------------------------------------- generation


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_greedy_generation_gives_hugging_faces_tokens(family):
    hf_model = {"gpt2": hf_gpt2, "llama": hf_llama}[family]()
    ours = hub.from_hf(hf_model)
    # no end token: 20 tokens on both sides (min_new_tokens would forbid the end token on theirs only)
    hf_model.generation_config.eos_token_id = None
    prompt = batch(lengths=(6, 6))[0]
    expected = hf_model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20, do_sample=False)
    got = ours.generate(prompt, 20)
    assert got.shape == (2, 26)
    assert torch.equal(got, expected)


# ------------------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_parameter_counts_equal(family):
    hf_model = {"gpt2": hf_gpt2, "llama": hf_llama, "bert": hf_bert}[family]()
    ours = hub.from_hf(hf_model)
    assert sum(p.numel() for p in ours.parameters()) == hf_model.num_parameters()


def test_gpt2_small_on_the_meta_device_has_hugging_faces_124m_parameters():
    with torch.device("meta"):
        ours = GPT(GPTConfig.gpt2())
        theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert sum(p.numel() for p in ours.parameters()) == theirs.num_parameters() == 124_439_808
    # GPT-2 has no padding token (ours: its end token) and trained with dropout 0.1
    assert hub.config_from_hf(theirs.config) == dataclasses.replace(ours.config, pad_id=50256, dropout=0.1)


def test_config_round_trip():
    tiny = {"vocab_size": VOCAB, "d_model": 32, "num_heads": 4, "d_ff": 64, "max_len": MAX_LEN}
    configs = [
        GPTConfig.gpt2(**tiny, num_layers=2),
        LlamaConfig(vocab_size=VOCAB, rope_base=5e5, norm_eps=1e-5, tie_embeddings=True),
        LlamaConfig(vocab_size=VOCAB, qkv_bias=True),
        LlamaConfig(vocab_size=VOCAB, head_dim=32, qk_norm=True),
        BertConfig.bert(**tiny, num_layers=2),
        T5Config.t5(**tiny),
        T5Config.t5(**tiny, head_dim=16, activation="gated-gelu", tie_embeddings=False, bos_id=3),
    ]
    for config in configs:
        assert hub.config_from_hf(hub.hf_config(config)) == config


# ------------------------------------------------------------------------------------------- errors


def test_a_state_dict_of_another_architecture_names_the_key():
    model = GPT(hub.config_from_hf(hf_gpt2().config))
    with pytest.raises(ValueError, match=r"no key 'transformer\.wte\.weight': not a GPT-2 checkpoint"):
        hub.load_hf_state_dict(model, hf_llama().state_dict())
    with pytest.raises(ValueError, match=r"no key 'bert\.embeddings\.word_embeddings\.weight'"):
        hub.load_hf_state_dict(hub.from_hf(hf_bert()), hf_gpt2().state_dict())


def test_a_state_dict_of_another_size_names_the_key():
    model = GPT(hub.config_from_hf(hf_gpt2().config))
    with pytest.raises(ValueError, match=r"state_dict\['transformer\.wte\.weight'\] has shape \(97, 48\).*\(97, 32\)"):
        hub.load_hf_state_dict(model, hf_gpt2(n_embd=48).state_dict())
    with pytest.raises(ValueError, match=r"has key 'transformer\.h\.2\.ln_1\.weight'.*its 2 layers"):
        hub.load_hf_state_dict(model, hf_gpt2(n_layer=3).state_dict())
    llama = hub.from_hf(hf_llama())
    with pytest.raises(ValueError, match=r"k_proj\.weight'\] has shape \(32, 32\).*\(16, 32\)"):
        hub.load_hf_state_dict(llama, hf_llama(num_key_value_heads=4).state_dict())


def test_options_the_library_lacks_are_refused_by_name():
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        hub.config_from_hf(hf_gpt2(scale_attn_by_inverse_layer_idx=True).config)
    with pytest.raises(ValueError, match="rope_parameters"):
        hub.config_from_hf({"model_type": "llama", "rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5}})
    with pytest.raises(ValueError, match="hidden_act"):
        hub.config_from_hf(hf_bert(hidden_act="relu").config)
    with pytest.raises(ValueError, match=r"GPTConfig\.positions must be 'learned'"):
        hub.to_hf(GPT(GPTConfig(vocab_size=VOCAB)))
    with pytest.raises(ValueError, match="model_type must be one of"):
        hub.config_from_hf({"model_type": "mamba"})


# ------------------------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_saved_from_the_base_model_loads():
    """``gpt2``'s ``model.safetensors`` has no ``transformer.`` prefix and no ``lm_head.weight`` (tied)."""
    hf_model = hf_gpt2()
    bare = {k.removeprefix("transformer."): v for k, v in hf_model.state_dict().items() if k != "lm_head.weight"}
    model = hub.load_hf_state_dict(GPT(hub.config_from_hf(hf_model.config)), bare).eval()
    decoder_logits_agree(hf_model, model, F32)


def test_hf_state_dict_is_hugging_faces_layout():
    hf_model = hf_gpt2()
    exported = hub.hf_state_dict(hub.from_hf(hf_model))
    expected = hf_model.state_dict()
    assert exported.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(exported[key], tensor), key


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert", "t5"])
def test_from_pretrained_reads_a_local_folder(tmp_path, family):
    hf_model = {"gpt2": hf_gpt2, "llama": hf_llama, "bert": hf_bert, "t5": hf_t5}[family]()
    hf_model.save_pretrained(tmp_path)
    model_class = {"gpt2": GPT, "llama": Llama, "bert": Bert, "t5": T5}[family]
    model = model_class.from_pretrained(str(tmp_path))
    assert not model.training
    ids, _ = batch(lengths=(7, 7))
    if family == "t5":
        torch.testing.assert_close(model(ids, ids), hf_model(input_ids=ids, decoder_input_ids=ids).logits, **F32)
    else:
        torch.testing.assert_close(model(ids), hf_model(ids).logits, **F32)
    other = GPT if model_class is not GPT else Llama
    with pytest.raises(ValueError, match=f"not a {other.__name__}"):
        other.from_pretrained(str(tmp_path))


def test_from_pretrained_offline_says_so_in_one_sentence(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(OSError, match=r"Could not download 'gpt2'.*chapters do not need it.*pass its folder"):
        GPT.from_pretrained("gpt2")


# ------------------------------------------------------------------------------------------- T5


def t5_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded sources (20, 14 and 6 tokens), their mask, and decoder inputs from the start token."""
    src, real = batch(lengths=(20, 14, 6))
    tgt = batch(seed=2, lengths=(16, 16, 16))[0]
    tgt[:, 0] = 0  # T5's decoder starts from the padding id
    return src, real, tgt


def t5_logits_agree(hf_model, ours, tol) -> None:
    src, real, tgt = t5_batch()
    expected = hf_model(input_ids=src, attention_mask=real.long(), decoder_input_ids=tgt).logits
    torch.testing.assert_close(ours(src, tgt), expected, **tol)


@pytest.mark.parametrize("version", ["v1.0", "v1.1"])
def test_t5_logits_equal_hugging_face(version):
    hf_model = hf_t5(**(T5_V11 if version == "v1.1" else {}))
    ours = hub.from_hf(hf_model)
    assert type(ours) is T5
    assert ours.config.tie_embeddings == (version == "v1.0")
    t5_logits_agree(hf_model, ours, F32)
    # Hugging Face's T5 computes its norms' mean square in float32 even in float64, as its Llama does
    t5_logits_agree(hf_model.double(), hub.from_hf(hf_model), F32)


@pytest.mark.parametrize("version", ["v1.0", "v1.1"])
def test_t5_converted_to_hugging_face(version):
    # v1.1: transformers 5 ties T5's head to the embedding whatever the config says; to_hf unties them
    ours = t5_queries(randomised(hub.from_hf(hf_t5(**(T5_V11 if version == "v1.1" else {}))), seed=5), 8)
    theirs = hub.to_hf(ours)
    assert (theirs.lm_head.weight is theirs.shared.weight) == (version == "v1.0")
    t5_logits_agree(theirs, ours, F32)


def test_t5_relative_position_buckets_are_hugging_faces():
    from transformers.models.t5.modeling_t5 import T5Attention

    ours = hub.from_hf(hf_t5())
    distance = torch.arange(-40, 41)
    for bidirectional, bias in ((True, ours.encoder.relative_bias), (False, ours.decoder.relative_bias)):
        expected = T5Attention._relative_position_bucket(distance, bidirectional, 8, 12)
        assert torch.equal(bias.bucket(distance), expected)


def test_t5_the_options_matter():
    """Relative positions, the head's scale, unscaled scores: without each, T5's logits differ."""
    hf_model = hf_t5()
    src, real, tgt = t5_batch()
    expected = hf_model(input_ids=src, attention_mask=real.long(), decoder_input_ids=tgt).logits
    ours = hub.from_hf(hf_model)
    with torch.no_grad():
        ours.encoder.relative_bias.bias.weight.zero_()
    assert not torch.allclose(ours(src, tgt), expected, atol=1e-4)
    ours = hub.from_hf(hf_model)
    ours.lm_head.scale = 1.0
    assert not torch.allclose(ours(src, tgt), expected, atol=1e-4)
    ours = hub.from_hf(hf_model)
    ours.encoder.layers[0].self_attn.scale = None
    assert not torch.allclose(ours(src, tgt), expected, atol=1e-4)


def test_t5_padding_masks_behave_the_same():
    """A source's padding changes none of its logits: our mask (from the padding id) hides what Hugging
    Face's attention mask hides, in the encoder and in the cross-attention."""
    hf_model = hf_t5()
    ours = hub.from_hf(hf_model)
    src, _, tgt = t5_batch()
    short = src[2:, :6]  # the last source (6 tokens) without its padding
    torch.testing.assert_close(ours(src, tgt)[2:], ours(short, tgt[2:]), **F32)
    torch.testing.assert_close(ours(short, tgt[2:]), hf_model(input_ids=short, decoder_input_ids=tgt[2:]).logits, **F32)


@pytest.mark.parametrize("version", ["v1.0", "v1.1"])
def test_t5_greedy_generation_gives_hugging_faces_tokens(version):
    # transformers 5.23's generate fails with more decoder than encoder layers: the same number here
    hf_model = hf_t5(**({**T5_V11, "num_decoder_layers": 2} if version == "v1.1" else {}))
    hf_model.generation_config.eos_token_id = None
    ours = hub.from_hf(hf_model)
    src, real, _ = t5_batch()
    expected = hf_model.generate(src, attention_mask=real.long(), max_new_tokens=20, do_sample=False)
    got = ours.generate(src, 20)
    assert got.shape == (3, 21)
    assert torch.equal(got, expected)


def test_t5_parameter_counts_and_errors():
    # tied: transformers 5 ties T5's head whatever the config says, so an untied v1.1 head has no count there
    hf_model = hf_t5(**{**T5_V11, "tie_word_embeddings": True})
    ours = hub.from_hf(hf_model)
    assert sum(p.numel() for p in ours.parameters()) == hf_model.num_parameters()
    assert ours.parameter_counts()["total"] == hf_model.num_parameters()
    with pytest.raises(ValueError, match=r"no key 'encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight'"):
        # a v1.0 checkpoint (wi) into a v1.1 model (wi_0, wi_1)
        hub.load_hf_state_dict(ours, hf_t5(num_heads=6, num_decoder_layers=3).state_dict())
    with pytest.raises(ValueError, match=r"no key 'shared\.weight': not a T5 checkpoint"):
        hub.load_hf_state_dict(ours, hf_gpt2().state_dict())
    with pytest.raises(ValueError, match=r"relative_attention must be True"):
        hub.to_hf(T5(T5Config(vocab_size=VOCAB)))


def test_t5_small_shape_has_hugging_faces_parameter_count():
    with torch.device("meta"):
        ours = T5(T5Config.t5())
        theirs = transformers.T5ForConditionalGeneration(transformers.T5Config())
    assert sum(p.numel() for p in ours.parameters()) == theirs.num_parameters() == 60_506_624


def test_the_library_does_not_import_transformers():
    """The converters import ``transformers`` only inside :func:`hub.to_hf`: the library needs none of it."""
    imported = "sorted(set(sys.modules) & {'transformers', 'safetensors', 'huggingface_hub'})"
    code = f"import sys, transformer_lib, transformer_lib.models.hub; print({imported})"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------- Qwen


def hf_qwen(version: str, **overrides) -> torch.nn.Module:
    """Qwen2 (q/k/v biases) or Qwen3 (QK-norm, heads of 16 in d_model 32: 4 x 16 = 64), tied as the small ones."""
    kwargs = {"vocab_size": VOCAB, "max_position_embeddings": MAX_LEN, "hidden_size": 32, "intermediate_size": 48}
    kwargs |= {"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6}
    kwargs |= {"rope_parameters": {"rope_type": "default", "rope_theta": 1e6}, "tie_word_embeddings": True}
    kwargs |= {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
    if version == "qwen3":
        kwargs["head_dim"] = 16
        model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**kwargs | overrides))
    else:
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**kwargs | overrides))
    return randomised(model)


@pytest.mark.parametrize("version", ["qwen2", "qwen3"])
def test_qwen_is_llama_with_three_options(version):
    hf_model = hf_qwen(version)
    ours = hub.from_hf(hf_model)
    assert type(ours) is Llama
    assert (ours.config.qkv_bias, ours.config.qk_norm) == (version == "qwen2", version == "qwen3")
    decoder_logits_agree(hf_model, ours, F32)
    assert sum(p.numel() for p in ours.parameters()) == hf_model.num_parameters()
    ours = randomised(ours, seed=5)
    back = hub.to_hf(ours)
    assert type(back).__name__ == type(hf_model).__name__
    decoder_logits_agree(back, ours, F32)
    hf_model.generation_config.eos_token_id = None
    prompt = batch(lengths=(6, 6))[0]
    expected = hf_model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20, do_sample=False)
    assert torch.equal(hub.from_hf(hf_model).generate(prompt, 20), expected)
    with pytest.raises(ValueError, match="use_sliding_window"):
        hub.config_from_hf(hf_qwen(version, use_sliding_window=True, sliding_window=8).config)


def test_t5_own_stacks_keep_the_encoder_decoder_contract():
    """T5's own stacks work with what every encoder-decoder of the library has: beam search (a beam of
    one is greedy decoding, through the reordered caches) and the attention maps (rows that sum to 1)."""
    ours = hub.from_hf(hf_t5())
    src, _, tgt = t5_batch()
    assert torch.equal(ours.beam_search(src, 10, beam_size=1), ours.generate(src, 10))
    assert ours.beam_search(src, 10, beam_size=3).shape[0] == src.shape[0]
    maps = ours.attention_maps(src, tgt)
    assert [len(maps[k]) for k in ("encoder", "decoder_self", "cross")] == [2, 2, 2]
    for weights in maps["decoder_self"]:
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        assert not weights.triu(diagonal=1).any()  # causal


# ------------------------------------------------------------------------------------------- published checkpoints

#: the ``config.json`` of each checkpoint the chapters' Colab cells load, as published on the Hugging Face
#: Hub (tests/data/hub_configs/), with the parameter count its model card gives
PUBLISHED = {
    "gpt2": 124_439_808,
    "bert-base-uncased": 109_514_298,  # BertForMaskedLM: the pooler out, the MLM transform in
    "t5-small": 60_506_624,
    "flan-t5-small": 76_961_152,  # its head is its own (transformers 5 ties it anyway: it counts 60,511,616)
    "SmolLM2-135M": 134_515_008,
}
HUB_CONFIGS = Path(__file__).parent / "data" / "hub_configs"


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_published_checkpoints_configs_build_their_models(name):
    """The real checkpoints cannot be downloaded here; their configs can be shipped. Each reads into our
    config, builds (on the meta device) the published number of parameters, and converts to exactly the
    keys and shapes of Hugging Face's model built from the same file, which its weights are stored under."""
    raw = json.loads((HUB_CONFIGS / f"{name}.json").read_text())
    family = hub.family_of(raw)
    with torch.device("meta"):
        ours = family.model_class(hub.config_from_hf(raw))
        theirs = getattr(transformers, family.hf_class)(transformers.AutoConfig.for_model(**raw))
    assert sum(p.numel() for p in ours.parameters()) == PUBLISHED[name]
    expected = {k: t.shape for k, t in theirs.state_dict().items()}
    assert {k: t.shape for k, t in hub.hf_state_dict(ours).items()} == expected


def test_an_old_bert_checkpoint_loads(tmp_path):
    """``bert-base-uncased``'s weights are a ``BertForPreTraining``'s, saved with TensorFlow's LayerNorm names:
    ``gamma`` and ``beta``, the pooler, the next-sentence head and the ``position_ids`` buffer."""
    from safetensors.torch import save_file

    hf_model = hf_bert()
    old = {}
    for key, tensor in hf_model.state_dict().items():
        if "LayerNorm." in key:
            key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        old[key] = tensor.clone()
    d = hf_model.config.hidden_size
    old |= {"bert.pooler.dense.weight": torch.randn(d, d), "bert.pooler.dense.bias": torch.randn(d)}
    old |= {"cls.seq_relationship.weight": torch.randn(2, d), "cls.seq_relationship.bias": torch.randn(2)}
    old["bert.embeddings.position_ids"] = torch.arange(MAX_LEN)[None]
    old.pop("cls.predictions.decoder.weight")  # tied to the word embeddings: stored once
    save_file(old, tmp_path / "model.safetensors")
    hf_model.config.to_json_file(tmp_path / "config.json")
    ids, _ = batch(lengths=(7, 7))
    torch.testing.assert_close(Bert.from_pretrained(str(tmp_path))(ids), hf_model(ids).logits, **F32)


def test_a_bfloat16_checkpoint_loads_as_float32(tmp_path):
    """SmolLM2's weights are stored in bfloat16: the model is float32, holding the same numbers."""
    hf_model = hf_llama(tie_word_embeddings=True)
    with torch.no_grad():
        for p in hf_model.parameters():
            p.copy_(p.bfloat16())  # float32 holding bfloat16's numbers
    copy.deepcopy(hf_model).to(torch.bfloat16).save_pretrained(tmp_path)
    model = Llama.from_pretrained(str(tmp_path))
    assert model.lm_head.weight.dtype == torch.float32
    ids, _ = batch(lengths=(7, 7))
    torch.testing.assert_close(model(ids), hf_model(ids).logits, **F32)
