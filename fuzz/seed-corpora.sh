#!/bin/sh
# Copies the seed inputs into fuzz/corpus/<target>: the real workouts of tests/data/workouts
# by format, the planned routes of fuzz/seeds/tcx and fuzz/seeds/gpx, the synthetic FitRec lines
# of fuzz/seeds/fitrec, and the workouts and FitRec lines for `prepare`.
# Run from anywhere; existing corpus entries are kept.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
workouts="$fuzz/../tests/data/workouts"
for target in fit tcx gpx fitrec prepare; do
    mkdir -p "$fuzz/corpus/$target"
done
cp "$workouts"/*/*.fit "$fuzz/corpus/fit/"
cp "$workouts"/*/*.tcx "$fuzz/corpus/tcx/"
cp "$workouts"/*/*.gpx "$fuzz/corpus/gpx/"
cp "$fuzz"/seeds/tcx/*.tcx "$fuzz/corpus/tcx/"
cp "$fuzz"/seeds/gpx/*.gpx "$fuzz/corpus/gpx/"
cp "$fuzz"/seeds/fitrec/*.jsonl "$fuzz/corpus/fitrec/"
cp "$workouts"/*/*.fit "$workouts"/*/*.tcx "$workouts"/*/*.gpx "$fuzz"/seeds/fitrec/*.jsonl \
    "$fuzz/corpus/prepare/"
