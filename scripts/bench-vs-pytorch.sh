#!/usr/bin/env bash
# Compares `hrcast bench --device cpu` with the same configuration in PyTorch
# (benches/pytorch_cpu.py) and prints one markdown table.
#
# Builds nothing: it expects target/release/hrcast (cargo build --release) and a python with
# torch, given as PYTHON (e.g. PYTHON=/tmp/venv/bin/python). For each model (lstm, gru) and each
# thread count (1: taskset -c 0; 2: taskset -c 0,1) it runs hrcast and PyTorch alternately ROUNDS
# times, both pinned to the same cores, PyTorch with --threads equal to the cores (hrcast uses
# available_parallelism, which honours taskset). Who goes first alternates from round to round.
#
# Usage: PYTHON=/tmp/venv/bin/python scripts/bench-vs-pytorch.sh [--quick] [--rounds N]
#            [--steps N] [--keep FILE] [-- ARGS...]
#   --quick      smoke test: 1 round, 2 timed steps
#   --rounds N   rounds per model and thread count (default: ROUNDS or 3)
#   --steps N    timed steps per run (default: STEPS or 10, hrcast's default)
#   --keep FILE  also write the collected JSON lines (one per run) to FILE
#   ARGS         passed to both (--batch-size, --seq-len, --hidden-size, --num-layers)
# Environment: PYTHON (default python3), HRCAST (default target/release/hrcast), ROUNDS, STEPS.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
HRCAST=${HRCAST:-$root/target/release/hrcast}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10}
keep=
extra=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) ROUNDS=1 STEPS=2 ;;
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
        --steps) STEPS=${2:?--steps needs a number}; shift ;;
        --keep) keep=${2:?--keep needs a file}; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "bench-vs-pytorch: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for n in "$ROUNDS" "$STEPS"; do
    case $n in '' | *[!0-9]* | 0) echo "bench-vs-pytorch: rounds and steps are positive integers" >&2; exit 2 ;; esac
done

if [ ! -x "$HRCAST" ]; then
    echo "bench-vs-pytorch: no $HRCAST; build it first (cargo build --release)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "bench-vs-pytorch: $PYTHON cannot import torch; give a python with torch as PYTHON=..." >&2
    exit 1
fi
command -v taskset >/dev/null || { echo "bench-vs-pytorch: taskset (util-linux) is needed" >&2; exit 1; }

pytorch=$root/benches/pytorch_cpu.py
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT

# One run: tags its JSON line with the engine, the cores and the round.
run() {
    local engine=$1 cores=$2 threads=$3 round=$4 model=$5 json
    echo "bench-vs-pytorch: $engine $model, cores $cores, round $round" >&2
    if [ "$engine" = hrcast ]; then
        json=$(taskset -c "$cores" "$HRCAST" bench --device cpu --model "$model" \
            --steps "$STEPS" --json "${extra[@]}")
    else
        json=$(taskset -c "$cores" "$PYTHON" "$pytorch" --model "$model" --threads "$threads" \
            --steps "$STEPS" --json "${extra[@]}")
    fi
    printf '{"engine":"%s","cores":"%s","want_threads":%s,"round":%s,"report":%s}\n' \
        "$engine" "$cores" "$threads" "$round" "$json" >>"$lines"
}

for model in lstm gru; do
    for threads in 1 2; do
        if [ "$threads" = 1 ]; then cores=0; else cores=0,1; fi
        for round in $(seq 1 "$ROUNDS"); do
            if [ $((round % 2)) = 1 ]; then
                run hrcast "$cores" "$threads" "$round" "$model"
                run pytorch "$cores" "$threads" "$round" "$model"
            else
                run pytorch "$cores" "$threads" "$round" "$model"
                run hrcast "$cores" "$threads" "$round" "$model"
            fi
        done
    done
done
[ -z "$keep" ] || cp "$lines" "$keep"

"$PYTHON" - "$lines" "$ROUNDS" "$STEPS" <<'EOF'
import json
import statistics
import sys

path, rounds, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = [json.loads(line) for line in open(path)]
first = runs[0]["report"]
torch = next(r["report"] for r in runs if r["engine"] == "pytorch")


def pick(engine, model, threads):
    return [
        r["report"]
        for r in runs
        if r["engine"] == engine and r["report"]["model"] == model and r["want_threads"] == threads
    ]


def ms(reports, key):
    """Median over the rounds of the per-run medians, and their range."""
    values = [r[key] for r in reports]
    return statistics.median(values), min(values), max(values)


def cell(m):
    median, low, high = m
    return f"{median:.1f}" if low == high else f"{median:.1f} ({low:.1f}–{high:.1f})"


def rss(reports):
    values = [r["peak_rss_mib"] for r in reports if r.get("peak_rss_mib") is not None]
    return f"{max(values):.0f}" if values else "–"


print(
    f"hrcast vs PyTorch {torch['torch_version']} (mkldnn {torch['mkldnn']}) on the CPU: "
    f"B={first['batch_size']} T={first['seq_len']} H={first['hidden_size']} "
    f"L={first['num_layers']}, {steps} timed steps after 2 warm-up, {rounds} round(s); "
    "ms = median over rounds of each run's median (range of those medians); "
    "ratio = PyTorch ms / hrcast ms (> 1: hrcast faster); peak RSS = max over rounds, MiB"
)
print()
print(
    "| model | threads | hrcast train ms | PyTorch train ms | train ratio "
    "| hrcast eval ms | PyTorch eval ms | eval ratio | hrcast RSS | PyTorch RSS |"
)
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
warnings = []
for model in ("lstm", "gru"):
    for threads in (1, 2):
        h, p = pick("hrcast", model, threads), pick("pytorch", model, threads)
        if not h or not p:
            continue
        for name, reports in (("hrcast", h), ("PyTorch", p)):
            seen = {r["threads"] for r in reports}
            if seen != {threads}:
                warnings.append(f"{name} {model} reported threads {sorted(seen)}, not {threads}")
        ht, pt = ms(h, "ms_per_step"), ms(p, "ms_per_step")
        he, pe = ms(h, "eval_ms_per_batch"), ms(p, "eval_ms_per_batch")
        print(
            f"| {model} | {threads} | {cell(ht)} | {cell(pt)} | {pt[0] / ht[0]:.2f} "
            f"| {cell(he)} | {cell(pe)} | {pe[0] / he[0]:.2f} | {rss(h)} | {rss(p)} |"
        )
for w in warnings:
    print(f"\nwarning: {w}")
EOF
