"""Measuring what a layer costs: wall-clock time, the memory saved for backward, log-log slopes.

Used by the chapter "What attention costs" and by ``benchmarks/attention_cost.py``.

* :func:`median_seconds` times a function (median of repeats, after warm-up; it waits for CUDA).
* :func:`saved_tensor_bytes` counts the bytes of the storages autograd keeps for the backward pass,
  each storage once: a deterministic measure of training memory that does not depend on the
  allocator or on other processes.
* :func:`loglog_slope` fits ``log y = slope * log x + c``: cost growing like ``n^p`` has slope ``p``.
* :func:`check_calls` counts the input checks a call makes (:mod:`transformer_lib._validate`'s
  functions), which a model makes once, at its door, not per layer.
* :func:`attention_and_gru` builds the three layers the chapter compares, :func:`layer_times` and
  :func:`generation_speed` time them and a small language model.
* :func:`run_native` runs one of those two timings in a fresh Python process with the machine's own
  numeric settings. The book's outputs are recorded under canonical settings (one thread, baseline
  kernels; see :mod:`transformer_lib.tools.numerics`) that act when a process starts, so a timing taken
  inside such a process would measure those settings, not the machine.

``python -m transformer_lib.tools.cost layer_times '{"lengths": [128, 256]}'`` prints a timing as JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import _validate as validate
from ..device import get_device, set_seed
from ..models.gpt import GPT, GPTConfig
from ..nn.multihead import MultiHeadAttention
from . import numerics


def check_calls(call: Callable[[], Any]) -> Counter:
    """Run ``call()`` and count the calls of :mod:`transformer_lib._validate`'s functions, by name (a check
    that calls another counts both), through Python's profiling hook."""
    calls: Counter = Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == validate.__file__:
            calls[frame.f_code.co_name] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls.

    On a shared, noisy machine the median is far more stable than the mean or the minimum of a few
    runs. CUDA work is asynchronous, so the clock is read only after the GPU has finished.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _synchronize()
        start = time.perf_counter()
        fn()
        _synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Bytes of the storages autograd saves for the backward pass while ``fn()`` runs, each counted once.

    Call it on a forward pass whose inputs require grad. Autograd often saves the same storage more
    than once: a recurrent layer saves its hidden-to-hidden weight at every step, a softmax output is
    saved for the softmax's backward and again for the product that follows. Each storage is counted
    once, with its full size (a saved view keeps its whole storage alive). Saved inputs and weights
    count too. The count depends only on the computation, not on the machine or the allocator; it is
    not the process's peak memory, which also holds temporary buffers and the gradients.
    """
    storages: dict[tuple[str, int], int] = {}
    unshared = 0  # tensors without a plain storage (sparse, ...): counted each time
    alive = []  # keeps every counted storage alive, so that no address is reused while fn() runs

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal unshared
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            unshared += t.numel() * t.element_size()
            return t
        key = (str(t.device), storage.data_ptr())
        if storage.nbytes() and key not in storages:
            storages[key] = storage.nbytes()
            alive.append(storage)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values()) + unshared


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``log(ys)`` against ``log(xs)``: ``p`` when ``y`` grows like ``x^p``.

    Args:
        xs, ys: positive numbers, at least two, the same count.
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"xs and ys must have the same length >= 2, got {len(xs)} and {len(ys)}")
    if min(xs) <= 0 or min(ys) <= 0:
        raise ValueError("xs and ys must be positive to take logarithms")
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("xs must not all be equal")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx


def attention_and_gru(
    d_model: int = 64, heads: int = 4, device: torch.device | str | None = None
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Three layers of width ``d_model``, each ``(batch, seq, d_model) -> (batch, seq, d_model)``.

    * ``"naive"``: :class:`~transformer_lib.MultiHeadAttention` (``heads`` heads, four projections)
      with ``need_weights=True``, which materialises the ``(batch, heads, seq, seq)`` weights;
    * ``"fused"``: the same module without the weights (``F.scaled_dot_product_attention``);
    * ``"GRU"``: ``nn.GRU(d_model, d_model)``, the recurrent layer of equal width.

    The weights are drawn from torch's global generator (seed it first for repeatable layers).
    """
    mha = MultiHeadAttention(d_model, heads).to(device)
    gru = nn.GRU(d_model, d_model, batch_first=True).to(device)
    return {
        "naive": lambda x: mha(x, need_weights=True)[0],
        "fused": lambda x: mha(x)[0],
        "GRU": lambda x: gru(x)[0],
    }


def machine() -> dict[str, Any]:
    """What a timing ran on: threads, the CPU kernels torch chose, and which canonical settings were set."""
    return {
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "canonical_settings": sorted(name for name in numerics.canonical_settings() if name in os.environ),
    }


def _device_and_batch(device: str | None, batch: int | None) -> tuple[torch.device, int]:
    dev = get_device() if device is None else torch.device(device)
    if batch is None:
        batch = 1 if dev.type == "cpu" else 16  # a GPU needs more work before the length dominates
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    return dev, batch


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` CPU threads (``None``: leave torch's choice), then restore."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def layer_times(
    lengths: Sequence[int],
    d_model: int = 64,
    heads: int = 4,
    batch: int | None = None,
    repeats: int = 5,
    device: str | None = None,
    threads: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Median seconds of the layers of :func:`attention_and_gru`, forward and forward + backward.

    The measurements are interleaved: each round times every layer, pass and length once, and the
    median is taken over ``repeats`` rounds (after one warm-up round). A burst of load from another
    program then slows one round of everything instead of one length, which would bend the slopes.

    Args:
        lengths: sequence lengths to time, each >= 1.
        batch: sequences per batch; ``None`` means 1 on the CPU and 16 on an accelerator.
        device: e.g. ``"cpu"``, ``"cuda"``; ``None`` means :func:`~transformer_lib.get_device`.
        threads: CPU threads for torch; ``None`` leaves torch's default (one per core).

    Returns:
        A dict (plain JSON types): ``"times"`` maps layer -> ``"forward"`` / ``"forward + backward"``
        -> seconds per length; also ``"lengths"``, ``"device"``, ``"batch"`` and ``"machine"``
        (:func:`machine`).
    """
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be a non-empty list of positive ints, got {list(lengths)}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    dev, batch = _device_and_batch(device, batch)
    passes = ("forward", "forward + backward")
    with _threads(threads):
        set_seed(seed)
        layers = attention_and_gru(d_model, heads, dev)
        runs: dict[tuple[str, str, int], Callable[[], Any]] = {}
        for n in lengths:
            x = torch.randn(batch, n, d_model, device=dev, requires_grad=True)
            for name, layer in layers.items():
                runs[name, passes[0], n] = lambda layer=layer, x=x: _forward_only(layer, x)
                runs[name, passes[1], n] = lambda layer=layer, x=x: layer(x).sum().backward()
        samples: dict[tuple[str, str, int], list[float]] = {key: [] for key in runs}
        for _ in range(repeats + 1):  # the first round warms up
            for key, run in runs.items():
                samples[key].append(median_seconds(run, repeats=1, warmup=0))
        info = machine()
    times = {
        name: {p: [statistics.median(samples[name, p, n][1:]) for n in lengths] for p in passes} for name in layers
    }
    return {"lengths": list(lengths), "device": str(dev), "batch": batch, "times": times, "machine": info}


def _forward_only(layer: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x)


def generation_speed(
    steps: int = 256,
    d_model: int = 64,
    heads: int = 4,
    vocab_size: int = 64,
    prompt_len: int = 8,
    repeats: int = 3,
    device: str | None = None,
    threads: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Tokens per second of greedy generation, without and with a KV cache, by a small causal LM.

    The model is the library's GPT (random weights, 2 layers), as in the chapter. Both ways must
    produce the same tokens, or this raises ``AssertionError``.

    Returns:
        A dict (plain JSON types): ``"tokens_per_second"`` maps ``"without cache"`` and ``"with cache"``
        to a rate; also ``"steps"``, ``"device"`` and ``"machine"`` (:func:`machine`).
    """
    if steps < 1 or prompt_len < 1 or repeats < 1:
        raise ValueError(f"steps, prompt_len and repeats must be >= 1, got {steps}, {prompt_len} and {repeats}")
    dev, _ = _device_and_batch(device, 1)
    with _threads(threads):
        set_seed(seed)
        config = GPTConfig(vocab_size, d_model, heads, num_layers=2, d_ff=4 * d_model, max_len=prompt_len + steps)
        model = GPT(config).to(dev).eval()
        prompt = torch.randint(0, vocab_size, (1, prompt_len), device=dev)

        def without_cache() -> torch.Tensor:  # the whole prefix, every step
            return model.generate(prompt, steps, use_cache=False)

        def with_cache() -> torch.Tensor:  # only the newest position
            return model.generate(prompt, steps, use_cache=True)

        # This first call of each also warms up.
        if not torch.equal(without_cache(), with_cache()):
            raise AssertionError("generation with and without the KV cache gave different tokens")
        samples: dict[str, list[float]] = {"without cache": [], "with cache": []}
        for _ in range(repeats):  # interleaved, like layer_times
            samples["without cache"].append(median_seconds(without_cache, repeats=1, warmup=0))
            samples["with cache"].append(median_seconds(with_cache, repeats=1, warmup=0))
        info = machine()
    rates = {way: steps / statistics.median(seconds) for way, seconds in samples.items()}
    return {"steps": steps, "device": str(dev), "tokens_per_second": rates, "machine": info}


_TIMINGS: dict[str, Callable[..., dict[str, Any]]] = {"layer_times": layer_times, "generation_speed": generation_speed}


def run_native(fn: Callable[..., dict[str, Any]], /, *, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """``fn(**kwargs)`` measured with the machine's own numeric settings; ``fn`` is :func:`layer_times`
    or :func:`generation_speed`.

    When this process runs under the canonical settings (:func:`~transformer_lib.tools.numerics.runs_native`
    is false, as in the book's recorded runs), the timing runs in a fresh Python process whose environment is
    :func:`transformer_lib.tools.numerics.native_environ` (the CPU's best kernels, torch's default thread
    count unless ``threads`` is given, any device), and its result comes back as JSON. Otherwise it
    runs here. Either way the result has plain JSON types, and ``result["machine"]`` says what
    measured it.

    Args:
        timeout: seconds to wait for the subprocess (``None``: no limit).
        kwargs: JSON-serialisable arguments of ``fn``.
    """
    name = getattr(fn, "__name__", None)
    if _TIMINGS.get(name) is not fn:
        raise ValueError(f"fn must be one of transformer_lib.tools.cost.{', '.join(_TIMINGS)}, got {fn!r}")
    try:
        arguments = json.dumps(kwargs)
    except TypeError as error:
        raise ValueError(f"the arguments of {name} must be JSON-serialisable: {error}") from None
    if numerics.runs_native():
        return json.loads(json.dumps(fn(**kwargs)))
    # The child imports this very package, wherever it was imported from (a clone or site-packages).
    package_parent = str(Path(__file__).resolve().parent.parent)
    bootstrap = (
        f"import sys; p = {package_parent!r}\n"
        "if p not in sys.path: sys.path.insert(0, p)\n"
        "from transformer_lib.tools.cost import _main; _main(sys.argv[1:])"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        done = subprocess.run(
            [sys.executable, "-c", bootstrap, name, arguments, str(out)],
            env=numerics.native_environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"{name} failed in the native subprocess (exit {done.returncode}):\n{done.stderr[-3000:]}"
            )
        return json.loads(out.read_text())


def _main(argv: Sequence[str] | None = None) -> None:
    """``NAME [JSON_KWARGS [OUTPUT_FILE]]``: run a timing here, write its result as JSON."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not 1 <= len(argv) <= 3 or argv[0] not in _TIMINGS:
        raise SystemExit(f"usage: python -m transformer_lib.tools.cost {{{','.join(_TIMINGS)}}} [JSON_KWARGS [OUTPUT]]")
    result = json.dumps(_TIMINGS[argv[0]](**(json.loads(argv[1]) if len(argv) > 1 else {})))
    if len(argv) == 3:
        Path(argv[2]).write_text(result)
    else:
        print(result)


if __name__ == "__main__":
    _main()
