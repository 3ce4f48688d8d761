#!/usr/bin/env python3
"""`hrcast bench` in PyTorch: the same model, data shape, loss and optimizer, timed the same way,
so that the two can be compared: on the CPU (oneDNN; scripts/bench-vs-pytorch.sh), or with
--device cuda on an NVIDIA GPU (cuDNN's fused LSTM and GRU; scripts/gpu-check.sh).

What hrcast's bench (src/bench.rs) runs, and what this script runs in its place:

  model      nn.LSTM / nn.GRU, batch_first, input 11, hidden H, L layers, unidirectional,
             dropout 0.3 between layers (not after the last; inverted dropout, as PyTorch's),
             then Linear(H, 1) on every step
  data       one batch of B windows of T steps, inputs and targets uniform in [-1, 1), mask all
             ones (every step valid), reused for every step
  loss       masked MSE: sum(mask (pred - y)^2) / sum(mask)  (use_masking = true)
  step       forward (training mode: dropout on), loss, backward, clip_grad_norm_(max_norm=1.0),
             Adam(lr=5e-4, betas 0.9/0.999, eps 1e-8, weight_decay=1e-4, L2 added to the
             gradient, not AdamW); then the running tallies a trainer keeps (loss and the mean
             absolute error of the valid steps), as hrcast's CpuEngine::train_step does
  evaluation model.eval() under torch.inference_mode(): forward pass only, no dropout
  timing      2 untimed warm-up steps, then --steps timed steps (median/min/max, ms); then 2
             untimed warm-up evaluation batches and --steps timed ones; on CUDA each timed
             step ends with torch.cuda.synchronize() (hrcast's GPU steps end with a finish)
  memory     peak RSS of the whole process (ru_maxrss; hrcast reads VmHWM), so it includes
             the Python interpreter and the torch libraries

Prints a table, or with --json one JSON object on one line, with hrcast's field names where they
correspond (ms_per_step, eval_ms_per_batch, peak_rss_mib, threads, ...).
"""

import argparse
import json
import resource
import statistics
import sys
import time
import warnings

with warnings.catch_warnings():
    # torch warns at import where NumPy is missing; this script does not use NumPy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

INPUTS = 11  # the 11 features
WARMUP = 2  # untimed steps first, as hrcast's bench
DROPOUT = 0.3  # ModelConfig.dropout in src/bench.rs
LR = 5e-4  # StepConfig.lr
WEIGHT_DECAY = 1e-4  # StepConfig.weight_decay
GRAD_CLIP = 1.0  # StepConfig.grad_clip


class Model(nn.Module):
    """A recurrent stack and a Linear(H, 1) head on every step (hrcast's model)."""

    def __init__(self, cell, hidden_size, num_layers):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(
            input_size=INPUTS,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=DROPOUT if num_layers > 1 else 0.0,
            bidirectional=False,
        )
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out).squeeze(-1)  # [B, T]


def masked_mse(pred, y, mask):
    """sum(mask (pred - y)^2) / sum(mask), 0 where no step is valid (tape.masked_mse)."""
    count = mask.sum()
    return (mask * (pred - y) ** 2).sum() / count.clamp_min(1.0)


def stats(ms):
    """Median, min and max of timings in ms."""
    return statistics.median(ms), min(ms), max(ms)


def flops_forward(args, gates):
    """FLOPs of one forward pass, counted as hrcast's bench::forward_flops does."""
    b, t, h = args.batch_size, args.seq_len, args.hidden_size
    flops = 2.0 * b * t * h
    for layer in range(args.num_layers):
        inputs = INPUTS if layer == 0 else h
        flops += 2.0 * b * t * gates * h * (inputs + h)
    return flops


def peak_rss_mib():
    """Peak resident memory of this process, MiB (ru_maxrss is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there
        kib /= 1024
    return kib / 1024


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=500)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="timed steps (hrcast's default: 10)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads (interop threads: 1)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="cuda: the first NVIDIA GPU"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on one line")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: this torch sees no CUDA device")
    for name in ("batch_size", "seq_len", "hidden_size", "num_layers", "steps", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def bench(args):
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    b, t = args.batch_size, args.seq_len
    device = torch.device(args.device)
    x = (torch.rand(b, t, INPUTS) * 2 - 1).to(device)
    y = (torch.rand(b, t) * 2 - 1).to(device)
    mask = torch.ones(b, t, device=device)
    model = Model(args.model, args.hidden_size, args.num_layers).to(device)

    def finish():
        if device.type == "cuda":
            torch.cuda.synchronize()

    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    tallies = {"loss": 0.0, "abs_error": 0.0, "valid_steps": 0.0, "batches": 0}

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        pred = model(x)
        loss = masked_mse(pred, y, mask)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        with torch.no_grad():
            valid = mask > 0
            tallies["loss"] += loss.item()
            tallies["abs_error"] += (pred - y).abs()[valid].sum().item()
            tallies["valid_steps"] += valid.sum().item()
            tallies["batches"] += 1

    model.train()
    train_ms = []
    for i in range(WARMUP + args.steps):
        start = time.perf_counter()
        train_step()
        finish()
        if i >= WARMUP:
            train_ms.append((time.perf_counter() - start) * 1e3)

    model.eval()
    eval_ms = []
    with torch.inference_mode():
        for i in range(WARMUP + args.steps):
            start = time.perf_counter()
            model(x)
            finish()
            if i >= WARMUP:
                eval_ms.append((time.perf_counter() - start) * 1e3)

    ms, ms_min, ms_max = stats(train_ms)
    ev, ev_min, ev_max = stats(eval_ms)
    gates = {"lstm": 4, "gru": 3}[args.model]
    return {
        "device": args.device,
        "adapter": torch.cuda.get_device_name(device) if device.type == "cuda" else "PyTorch",
        "backend": "cuda" if device.type == "cuda" else "none",
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "model": args.model,
        "batch_size": b,
        "seq_len": t,
        "hidden_size": args.hidden_size,
        "num_layers": args.num_layers,
        "steps": args.steps,
        "ms_per_step": ms,
        "ms_per_step_min": ms_min,
        "ms_per_step_max": ms_max,
        "timesteps_per_s": b * t / (ms / 1e3),
        "gflops": 3.0 * flops_forward(args, gates) / (ms / 1e3) / 1e9,
        "eval_ms_per_batch": ev,
        "eval_ms_per_batch_min": ev_min,
        "eval_ms_per_batch_max": ev_max,
        "peak_rss_mib": peak_rss_mib(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "torch_version": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mean_loss": tallies["loss"] / tallies["batches"],
    }


def table(r):
    return (
        f"PyTorch {r['torch_version']} on "
        + (
            f"{r['adapter']} (cuDNN {r['cudnn']})"
            if r["device"] == "cuda"
            else f"the CPU ({r['threads']} threads, mkldnn {r['mkldnn']})"
        )
        + f", {r['model']} B={r['batch_size']} T={r['seq_len']} "
        f"H={r['hidden_size']} L={r['num_layers']}, {r['steps']} timed steps\n"
        f"training step  {r['ms_per_step']:.1f} ms median (min {r['ms_per_step_min']:.1f}, "
        f"max {r['ms_per_step_max']:.1f}), {r['timesteps_per_s']:.0f} timesteps/s, "
        f"{r['gflops']:.2f} GFLOP/s\n"
        f"evaluation     {r['eval_ms_per_batch']:.1f} ms per batch median "
        f"(min {r['eval_ms_per_batch_min']:.1f}, max {r['eval_ms_per_batch_max']:.1f})\n"
        f"process        peak RSS {r['peak_rss_mib']:.1f} MiB\n"
    )


def main(argv=None):
    args = parse_args(argv)
    report = bench(args)
    if args.json:
        print(json.dumps(report))
    else:
        print(table(report), end="")


if __name__ == "__main__":
    main()
