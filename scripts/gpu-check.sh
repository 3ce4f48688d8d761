#!/usr/bin/env bash
# The device check for a machine with a GPU, in one run:
#   1. the Vulkan loader: the system's libvulkan.so.1, else the Debian packages (.deb files:
#      libvulkan1, and for wgpu's GL backend libegl1, libegl-mesa0, libgl1, libglvnd0...) found
#      in VENDOR, unpacked into a private folder put on LD_LIBRARY_PATH;
#   2. NVIDIA's Vulkan driver: VK_DRIVER_FILES pointed at the ICD file NVIDIA's driver installed
#      (nvidia_icd.json), or, where the driver's libraries are there without one, at a file
#      written for libGLX_nvidia.so.0;
#   3. the adapters wgpu sees (hrcast devices);
#   4. the GPU tests with CI=true (a missing adapter fails them): through cargo where there is
#      one, else the test binaries already built in target/release/deps;
#   5. hrcast bench --device gpu --json for LSTM and GRU at each batch of BATCHES (hidden 128,
#      2 layers, 500 steps), each after hrcast bench --tune at the same shape (the tuning cache
#      then holds the last shape's winner; HRCAST_GPU_TUNING names another cache file);
#   6. the same training step in PyTorch with cuDNN (benches/pytorch_cpu.py --device cuda),
#      where PYTHON has torch with CUDA;
# then prints one table. It builds nothing: target/release/hrcast must exist (and the test
# binaries, where the machine has no cargo).
#
# Usage: scripts/gpu-check.sh [--quick] [--no-nvidia] [--no-tests]
#   --quick      a smoke test: batch 16 only, 50 steps per window, 2 timed steps
#   --no-nvidia  skip 2 and 6 (a machine without NVIDIA's driver, such as one with lavapipe)
#   --no-tests   skip 4
# Environment: HRCAST (default target/release/hrcast), PYTHON (default python3), VENDOR
# (default vendor/gpu-check), BATCHES (default "16 64 256"), STEPS (timed steps, default 10),
# SEQ_LEN (default 500).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
HRCAST=${HRCAST:-$root/target/release/hrcast}
PYTHON=${PYTHON:-python3}
VENDOR=${VENDOR:-$root/vendor/gpu-check}
BATCHES=${BATCHES:-16 64 256}
STEPS=${STEPS:-10}
SEQ_LEN=${SEQ_LEN:-500}
nvidia=1
tests=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) BATCHES=16 STEPS=2 SEQ_LEN=50 ;;
        --no-nvidia) nvidia=0 ;;
        --no-tests) tests=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ ! -x "$HRCAST" ]; then
    echo "gpu-check: no $HRCAST; build it first (cargo build --release)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Mesa complains on stderr when XDG_RUNTIME_DIR is unset; give it a private folder.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    export XDG_RUNTIME_DIR=$work/xdg
    mkdir -m 0700 "$XDG_RUNTIME_DIR"
fi
say() { printf '\n== %s\n' "$*"; }

say "1. Vulkan loader"
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
    echo "the system has libvulkan.so.1"
elif compgen -G "$VENDOR/*.deb" >/dev/null; then
    for deb in "$VENDOR"/*.deb; do
        dpkg-deb -x "$deb" "$work/prefix"
        echo "unpacked $(basename "$deb")"
    done
    libs=$(find "$work/prefix" -name 'libvulkan.so*' -printf '%h\n' | sort -u | paste -sd:)
    libs=${libs:-$work/prefix/usr/lib/x86_64-linux-gnu}
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
else
    echo "no libvulkan.so.1 and no .deb in $VENDOR: only the GL backend can work" \
        "(apt-get download libvulkan1 libegl1 libegl-mesa0 libgl1 libglvnd0 on a Debian machine" \
        "and put the files in $VENDOR)"
fi

say "2. NVIDIA's Vulkan driver"
if [ "$nvidia" = 0 ]; then
    echo "skipped (--no-nvidia)"
else
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
        --format=csv,noheader || echo "no nvidia-smi"
    icd=
    for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json \
        /usr/share/vulkan/icd.d/nvidia*.json; do
        if [ -e "$f" ]; then icd=$f; break; fi
    done
    if [ -z "$icd" ] && ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia\.so\.0 '; then
        icd=$work/nvidia_icd.json
        printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}\n' >"$icd"
        echo "the driver installed no ICD file; wrote $icd for libGLX_nvidia.so.0"
    fi
    if [ -n "$icd" ]; then
        export VK_DRIVER_FILES=$icd
        echo "VK_DRIVER_FILES=$icd"
    else
        echo "no NVIDIA ICD file and no libGLX_nvidia.so.0: wgpu will not see the GPU through Vulkan"
    fi
fi

say "3. Adapters"
"$HRCAST" devices

say "4. GPU tests (CI=true)"
if [ "$tests" = 0 ]; then
    echo "skipped (--no-tests)"
elif command -v cargo >/dev/null; then
    (cd "$root" && CI=true cargo test --release --test gpu_engine --test gpu_kernels)
else
    # The newest test binary of each file (libtest lists its tests as "name: test"; a
    # criterion bench binary of the same name lists benchmarks).
    for name in gpu_engine gpu_kernels; do
        t=
        for candidate in $(ls -t "$root"/target/release/deps/"$name"-* 2>/dev/null); do
            if [ -x "$candidate" ] && [ -f "$candidate" ] &&
                "$candidate" --list 2>/dev/null | grep -q ': test$'; then
                t=$candidate
                break
            fi
        done
        if [ -n "$t" ]; then
            (cd "$root" && CI=true "$t")
        else
            echo "no cargo and no $name test binary in target/release/deps: not run"
        fi
    done
fi

say "5. hrcast bench --device gpu"
lines=$work/lines
for model in lstm gru; do
    for b in $BATCHES; do
        shape=(--model "$model" --batch-size "$b" --seq-len "$SEQ_LEN" --hidden-size 128
            --num-layers 2 --steps "$STEPS")
        "$HRCAST" bench --device gpu --tune "${shape[@]}"
        echo "hrcast $model batch $b" >&2
        printf '{"engine":"hrcast","report":%s}\n' \
            "$("$HRCAST" bench --device gpu "${shape[@]}" --json)" >>"$lines"
    done
done

say "6. PyTorch with cuDNN"
if [ "$nvidia" = 0 ]; then
    echo "skipped (--no-nvidia)"
elif ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "$PYTHON has no torch with CUDA: skipped"
else
    for model in lstm gru; do
        for b in $BATCHES; do
            echo "pytorch $model batch $b" >&2
            printf '{"engine":"pytorch","report":%s}\n' "$("$PYTHON" "$root/benches/pytorch_cpu.py" \
                --device cuda --model "$model" --batch-size "$b" --seq-len "$SEQ_LEN" \
                --hidden-size 128 --num-layers 2 --steps "$STEPS" --json)" >>"$lines"
        done
    done
fi

say "Table"
"$PYTHON" - "$lines" <<'EOF'
import json
import re
import sys

runs = [json.loads(line) for line in open(sys.argv[1])]
def find(engine, model, batch):
    for r in runs:
        rep = r["report"]
        if r["engine"] == engine and rep["model"] == model and rep["batch_size"] == batch:
            return rep
    return None

first = runs[0]["report"]
print(
    f"hrcast on {first['adapter']} ({first['backend']}), T={first['seq_len']} H={first['hidden_size']} "
    f"L={first['num_layers']}, {first['steps']} timed steps; ratio = PyTorch ms / hrcast ms (> 1: hrcast faster)\n"
)
print("| model | batch | hrcast kernels | hrcast train ms | hrcast eval ms | dispatches / submits per step | PyTorch cuDNN train ms | PyTorch eval ms | train ratio | eval ratio |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
seen = []
for r in runs:
    key = (r["report"]["model"], r["report"]["batch_size"])
    if r["engine"] != "hrcast" or key in seen:
        continue
    seen.append(key)
    h, t = r["report"], find("pytorch", *key)
    kernels = re.search(r"kernels (\S+)", h.get("engine", ""))
    cells = [h["model"], str(h["batch_size"]), kernels.group(1) if kernels else "–", f"{h['ms_per_step']:.1f}", f"{h['eval_ms_per_batch']:.1f}",
             f"{h['dispatches_per_step']} / {h['submits_per_step']}"]
    if t:
        cells += [f"{t['ms_per_step']:.1f}", f"{t['eval_ms_per_batch']:.1f}",
                  f"{t['ms_per_step'] / h['ms_per_step']:.2f}", f"{t['eval_ms_per_batch'] / h['eval_ms_per_batch']:.2f}"]
    else:
        cells += ["–"] * 4
    print("| " + " | ".join(cells) + " |")
EOF
