"""Train the library's GPT on the generated topic language, on one process or many.

    python -m transformer_lib.training.train_gpt --steps 300 --out runs/gpt
    torchrun --nproc_per_node=4 -m transformer_lib.training.train_gpt --steps 300 --out runs/gpt
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST:29500 -m transformer_lib.training.train_gpt --steps 300 --out runs/gpt

The same command trains on one CPU process, on N CPU processes (``gloo``) or on N GPUs (``nccl``), and
ends with the same model (up to float rounding): every process draws the same global batch of
``--batch-size`` windows of the token stream and keeps its ``batch-size / N`` rows
(:func:`~transformer_lib.training.distributed.shard`); DistributedDataParallel averages the gradients
(``--strategy ddp``), or FSDP shards parameters, gradients and optimizer state over the processes as
well (``--strategy fsdp``). The loss printed is the mean over all processes.

Rank 0 writes ``OUT/checkpoint.pt`` every ``--checkpoint-every`` steps and at the end: the model
(loadable with ``transformer_lib.models.checkpoint.load_model(GPT, path)``), the optimizer and the step, all
readable with ``torch.load(weights_only=True)``. ``--resume OUT/checkpoint.pt`` continues exactly where
that run stopped: the batch of step ``s`` depends only on the seed and ``s``. ``--stop-after K`` ends a
run after ``K`` steps with a checkpoint, as a job whose time ran out.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

from ..data.corpus import TopicGrammar
from ..data.tokenizer import Tokenizer
from ..device import generator, set_seed
from ..models.checkpoint import save_model
from ..models.gpt import GPT, GPTConfig
from .distributed import Process, launched_world_size, mean_over_processes, setup, shard, teardown
from .objectives import token_loss


@dataclass
class RunConfig:
    """What a run does; written into its checkpoints."""

    steps: int = 300
    batch_size: int = 32  # the global batch, over all processes
    seq_len: int = 32
    lr: float = 3e-3
    seed: int = 0
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    checkpoint_every: int = 100
    print_every: int = 20
    strategy: str = "ddp"


def token_stream(num_sentences: int = 4000, seed: int = 0) -> tuple[torch.Tensor, int]:
    """The generated language as one long stream of word ids, each sentence followed by ``<eos>``.

    Returns ``(stream, vocab_size)``; the same stream on every process and every machine.
    """
    grammar = TopicGrammar()
    tok = Tokenizer(grammar.vocab, num_sentinels=0)
    ids = [i for words, _ in grammar.sample(num_sentences, seed=seed) for i in tok.encode(" ".join(words), eos=True)]
    return torch.tensor(ids), len(tok)


def global_batch(stream: torch.Tensor, step: int, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(batch_size, seq_len)`` inputs and targets of step ``step``: windows of the stream at
    offsets drawn from a generator seeded with ``(seed, step)``, so any process can draw any step's batch."""
    g = generator(cfg.seed * 1_000_003 + step)
    starts = torch.randint(0, len(stream) - cfg.seq_len - 1, (cfg.batch_size,), generator=g)
    windows = torch.stack([stream[s : s + cfg.seq_len + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def full_state(trained: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """The whole model's and optimizer's state, keyed by parameter name, on the CPU. Under FSDP each
    process holds a shard: every process must call this, and together they gather it."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_state_dict(trained, optimizer, options=options)


def save_checkpoint(path: Path, model: GPT, state: tuple[dict, dict], step: int, cfg: RunConfig) -> None:
    """Write the run's state: a model file of :func:`~transformer_lib.models.checkpoint.save_model`, with the
    optimizer's state, the step and the run's settings added."""
    model_state, optimizer_state = state
    extra = {"optimizer": optimizer_state, "step": step, "run": asdict(cfg)}
    save_model(model, path, state_dict=model_state, extra=extra)


def parse(argv: list[str] | None) -> tuple[RunConfig, Path, Path | None, int | None]:
    defaults = RunConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, value in asdict(defaults).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt")
    p.add_argument("--resume", type=Path, default=None, help="a checkpoint.pt to continue from")
    p.add_argument("--stop-after", type=int, default=None, help="end after this many steps of this run")
    args = vars(p.parse_args(argv))
    out, resume, stop_after = args.pop("out"), args.pop("resume"), args.pop("stop_after")
    return RunConfig(**args), out, resume, stop_after


def check_launch(cfg: RunConfig, world_size: int, resume: Path | None) -> None:
    """The mistakes a launch can make, found before any process waits for another."""
    if cfg.batch_size % world_size:
        raise ValueError(
            f"--batch-size {cfg.batch_size} does not divide among {world_size} processes; "
            f"use a multiple of {world_size}"
        )
    if cfg.strategy not in ("ddp", "fsdp"):
        raise ValueError(f"--strategy must be 'ddp' or 'fsdp', got {cfg.strategy!r}")
    if resume is not None and not resume.is_file():
        raise ValueError(f"--resume {resume}: no such checkpoint file")


def wrap(model: GPT, cfg: RunConfig, process: Process) -> nn.Module:
    """The model as the processes train it: itself (one process), under DDP, or sharded by FSDP."""
    if process.world_size == 1:
        return model
    if cfg.strategy == "ddp":
        return nn.parallel.DistributedDataParallel(model)
    from torch.distributed.fsdp import fully_shard

    # FSDP warns that the model returns a view (nn.Linear on 3 axes reshapes); only the loss reads it.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module")
    for block in model.blocks.layers:
        fully_shard(block)
    return fully_shard(model)


def train(argv: list[str] | None = None) -> list[float]:
    """Run the training the command line describes; returns the loss of every step (all processes)."""
    cfg, out, resume, stop_after = parse(argv)
    check_launch(cfg, launched_world_size(), resume)
    process = setup()
    try:
        return _train(cfg, out, resume, stop_after, process)
    finally:
        teardown(process)


def _train(cfg: RunConfig, out: Path, resume: Path | None, stop_after: int | None, process: Process) -> list[float]:
    stream, vocab_size = token_stream(seed=cfg.seed)
    set_seed(cfg.seed)  # the same initial weights on every process
    config = GPTConfig(vocab_size, cfg.d_model, cfg.num_heads, cfg.num_layers, 4 * cfg.d_model, max_len=cfg.seq_len)
    model = GPT(config).to(process.device)
    trained = wrap(model, cfg, process)
    fused = process.device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(trained.parameters(), lr=cfg.lr, fused=fused)
    start = 0
    if resume is not None:
        saved = torch.load(resume, map_location="cpu", weights_only=True)
        options = StateDictOptions(full_state_dict=True)
        set_state_dict(
            trained,
            optimizer,
            model_state_dict=saved["state_dict"],
            optim_state_dict=saved["optimizer"],
            options=options,
        )
        start = saved["step"]
    out.mkdir(parents=True, exist_ok=True)
    last = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    losses = []
    for step in range(start, last):
        inputs, targets = (shard(t, process).to(process.device) for t in global_batch(stream, step, cfg))
        loss = token_loss(trained(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP the gradients arrive averaged over the processes
        optimizer.step()
        losses.append(mean_over_processes(loss, process))
        done = step + 1
        if process.is_main and (done % cfg.print_every == 0 or done == last):
            print(f"step {done:5d}  loss {losses[-1]:.4f}  ({process.world_size} process(es))", flush=True)
        if done % cfg.checkpoint_every == 0 or done == last:
            state = full_state(trained, optimizer)
            if process.is_main:
                save_checkpoint(out / "checkpoint.pt", model, state, done, cfg)
    return losses


def main() -> None:
    try:
        train()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
