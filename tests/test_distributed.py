"""Distributed training on CPU processes (``gloo``), started by torchrun as a user would start it.

Every run is a subprocess with a time limit, so a deadlock fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from transformer_lib.models.checkpoint import load_model
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.training import distributed, train_gpt
from transformer_lib.training.objectives import token_loss

SMALL = ["--d-model", "32", "--num-layers", "1", "--seq-len", "16", "--batch-size", "8", "--checkpoint-every", "3"]
# A deadlock fails instead of hanging. Emulated machines (make aarch64) start Python and torch ~50x
# slower and scale the limit with TRANSFORMER_BOOK_TIME_SCALE.
LIMIT_S = 120 * float(os.environ.get("TRANSFORMER_BOOK_TIME_SCALE", "1"))


def run(out: Path, *args: str, processes: int = 1) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=processes -m transformer_lib.training.train_gpt --out out ...`` on the CPU."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [*launcher, "-m", "transformer_lib.training.train_gpt", "--out", str(out), *SMALL, *args]
    env = {**os.environ, "TRANSFORMER_LIB_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, env=env)


def final_state(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    """Six steps on one process: the run the others must reproduce."""
    out = tmp_path_factory.mktemp("one")
    result = run(out, "--steps", "6")
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_end_where_one_process_ends(tmp_path, one_process, strategy):
    two = run(tmp_path / "two", "--steps", "6", "--strategy", strategy, processes=2)
    assert two.returncode == 0, two.stderr
    a, b = final_state(one_process), final_state(tmp_path / "two")
    assert a["step"] == b["step"] == 6
    for name in a["state_dict"]:
        if name.endswith("k_proj.bias"):
            continue  # see test_the_key_bias_has_no_gradient: AdamW amplifies its rounding noise
        torch.testing.assert_close(b["state_dict"][name], a["state_dict"][name], msg=name)
    assert "(2 process(es))" in two.stdout
    model = load_model(GPT, tmp_path / "two" / "checkpoint.pt")  # the checkpoint is a plain model file too
    assert model.config.d_model == 32


def test_a_stopped_run_resumes_where_an_uninterrupted_run_ends(tmp_path):
    whole = run(tmp_path / "whole", "--steps", "6", processes=2)
    first = run(tmp_path / "part", "--steps", "6", "--stop-after", "3", processes=2)
    assert whole.returncode == 0 and first.returncode == 0, whole.stderr + first.stderr
    assert final_state(tmp_path / "part")["step"] == 3
    rest = run(tmp_path / "part", "--steps", "6", "--resume", str(tmp_path / "part" / "checkpoint.pt"), processes=2)
    assert rest.returncode == 0, rest.stderr
    a, b = final_state(tmp_path / "whole"), final_state(tmp_path / "part")
    assert b["step"] == 6
    for name in a["state_dict"]:
        torch.testing.assert_close(b["state_dict"][name], a["state_dict"][name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(
    ("args", "processes", "sentence"),
    [
        (["--steps", "2", "--batch-size", "7"], 2, "--batch-size 7 does not divide among 2 processes"),
        (["--steps", "2", "--resume", "missing.pt"], 2, "--resume missing.pt: no such checkpoint file"),
        (["--steps", "2", "--strategy", "zero"], 1, "--strategy must be 'ddp' or 'fsdp'"),
    ],
)
def test_a_bad_launch_stops_with_a_sentence(tmp_path, args, processes, sentence):
    result = run(tmp_path / "bad", *args, processes=processes)
    assert result.returncode != 0
    assert sentence in result.stderr


def test_shard_splits_a_batch_by_rank():
    batch = torch.arange(12).view(6, 2)
    parts = [distributed.shard(batch, distributed.Process(r, 3, torch.device("cpu"))) for r in range(3)]
    assert torch.equal(torch.cat(parts), batch) and all(p.shape == (2, 2) for p in parts)
    with pytest.raises(ValueError, match="do not divide among 4 processes"):
        distributed.shard(batch, distributed.Process(0, 4, torch.device("cpu")))


def test_the_key_bias_has_no_gradient():
    """Adding a constant vector to every key adds the same number to every score of a query, which the
    softmax ignores: the key projection's bias gets a zero gradient in exact arithmetic, and rounding noise
    (different for one process and for two) in floats. AdamW divides a gradient by its own size (plus
    eps), so that noise becomes steps far larger than itself (here about lr/100): the one parameter on
    which two runs legitimately differ."""
    stream, vocab_size = train_gpt.token_stream(num_sentences=200)
    cfg = train_gpt.RunConfig(batch_size=8, seq_len=16, d_model=32, num_layers=1)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size, 32, 4, 1, 128, max_len=16))
    inputs, targets = train_gpt.global_batch(stream, 0, cfg)
    token_loss(model(inputs), targets).backward()
    attn = model.blocks.layers[0].self_attn
    assert attn.k_proj.bias.grad.abs().max() < 1e-6 * attn.q_proj.bias.grad.abs().max()
