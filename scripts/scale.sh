#!/usr/bin/env bash
# How hrcast's synth, prepare and one epoch of train scale with the number of workouts: wall
# time and peak RSS of each step for N people of 10 workouts each, the line fitted through them
# evaluated at FitRec's 168,000 workouts, beside the same steps of a previous hrcast binary (run
# alternately, in the same session) and Python's line-by-line parsing of the same file
# (ast.literal_eval, as the PyTorch tool reads it). Prints a markdown table; the measurements
# are in $WORK/scale.tsv.
#
#   scripts/scale.sh                                   # this checkout's release build
#   BASE=/tmp/base/target/release/hrcast scripts/scale.sh
#
# Environment: HRCAST (the binary measured, target/release/hrcast), BASE (a previous binary to
# run beside it, none by default), SIZES (people, "400 1600 6400"; empty: only the table of
# the measurements so far), BASE_MAX (the most people
# the previous binary runs, 1600: before 2026-12 its prepare held ~5x its input in memory,
# ~17 GB at 6400), PYTHON_MAX (the most people Python parses, 1600: ~15 s per 1,000 workouts),
# WORK (a scratch folder with room for ~1.1 GB per 1,000 people, /tmp/hrcast-scale). The
# measurements add up in $WORK/scale.tsv over runs (remove it to start afresh), and the table
# is made of all of them.
set -euo pipefail

HRCAST=${HRCAST:-target/release/hrcast}
BASE=${BASE:-}
SIZES=${SIZES-400 1600 6400}
BASE_MAX=${BASE_MAX:-1600}
PYTHON_MAX=${PYTHON_MAX:-1600}
WORK=${WORK:-/tmp/hrcast-scale}
WORKOUTS_PER_USER=10
TARGET_WORKOUTS=168000

HRCAST=$(realpath "$HRCAST")
[ -n "$BASE" ] && BASE=$(realpath "$BASE")
mkdir -p "$WORK"
TSV="$WORK/scale.tsv"
[ -f "$TSV" ] || printf 'tool\tstep\tworkouts\twall_s\tpeak_rss_mb\n' >"$TSV"

# measure TOOL STEP WORKOUTS COMMAND...: runs the command, appends its wall time and peak RSS.
measure() {
  local tool=$1 step=$2 workouts=$3
  shift 3
  local stats="$WORK/time.txt"
  /usr/bin/time -f '%e %M' -o "$stats" "$@" >"$WORK/last.log" 2>&1 || {
    cat "$WORK/last.log" >&2
    exit 1
  }
  read -r wall kb <"$stats"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$step" "$workouts" "$wall" "$((kb / 1024))" >>"$TSV"
  printf '%-8s %-8s %7s workouts: %8s s %7s MB\n' "$tool" "$step" "$workouts" "$wall" "$((kb / 1024))" >&2
}

# steps TOOL BINARY PEOPLE: synth, prepare and one epoch of train of PEOPLE people.
steps() {
  local tool=$1 bin=$2 people=$3
  local workouts=$((people * WORKOUTS_PER_USER)) dir="$WORK/$tool-$people"
  rm -rf "$dir"
  measure "$tool" synth "$workouts" "$bin" synth --out "$dir/raw" --users "$people" \
    --workouts-per-user "$WORKOUTS_PER_USER" --seed 1
  local data="$dir/processed"
  measure "$tool" prepare "$workouts" "$bin" prepare --input "$dir/raw" --out "$data"
  measure "$tool" train "$workouts" "$bin" train --data "$data" --epochs 1 --device cpu \
    --checkpoints "$dir/checkpoints" --results "$dir/results" --logs "$dir/logs"
  rm -rf "$dir/checkpoints" "$dir/results" "$dir/logs"
}

for people in $SIZES; do
  steps hrcast "$HRCAST" "$people"
  if [ -n "$BASE" ] && [ "$people" -le "$BASE_MAX" ]; then
    steps previous "$BASE" "$people"
  fi
  if [ "$people" -le "$PYTHON_MAX" ]; then
    measure python parse $((people * WORKOUTS_PER_USER)) python3 -c '
import ast, sys
with open(sys.argv[1]) as f:
    for line in f:
        ast.literal_eval(line)' "$WORK/hrcast-$people/raw/endomondoHR_proper.json"
  fi
  rm -rf "$WORK/previous-$people"
done

python3 - "$TSV" "$TARGET_WORKOUTS" <<'EOF'
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
target = int(sys.argv[2])
runs = defaultdict(list)
for r in rows:
    runs[(r["tool"], r["step"])].append((int(r["workouts"]), float(r["wall_s"]), float(r["peak_rss_mb"])))
sizes = sorted({int(r["workouts"]) for r in rows})

def fit(points):
    """Least-squares line through (x, y): the value at `target`."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my + slope * (target - mx)

# A cell holds every run at its size ("first / second"); the line is fitted through all of them.
head = " | ".join(f"{s:,} workouts" for s in sizes)
print(f"| tool | step | {head} | {target:,} workouts (fitted) |")
print("| --- | --- |" + " --- |" * (len(sizes) + 1))
for (tool, step), points in runs.items():
    cells = [
        " / ".join(f"{t:.1f} s, {m:,.0f} MB" for w, t, m in points if w == s) for s in sizes
    ]
    t = fit([(w, t) for w, t, _ in points])
    m = fit([(w, m) for w, _, m in points])
    fitted = f"{t:,.0f} s, {m:,.0f} MB" if t is not None else ""
    print(f"| {tool} | {step} | " + " | ".join(cells) + f" | {fitted} |")
EOF
