#!/usr/bin/env bash
# Train a config on one GPU from the self-contained gpu_bundle/ folder and write the model, its learning curve
# and a summary into OUT_DIR (at most 8 files; see benchmarks/gpu_train.py).
#
#   python benchmarks/gpu_bundle.py                 # once, where ../shared/data is: writes gpu_bundle/
#   bash benchmarks/gpu_train.sh OUT_DIR [CONFIG] [--cpu] [--set KEY=VALUE ...] [gpu_train.py options]
#
# CONFIG defaults to configs/gpu.toml (the tournament recipe sized for one H100 / H200, ~7.5 min of training:
# --train-seconds 450; about 9 min in all). Needs no network: the bundle's wheels that this Python lacks
# (biotite) are installed into $PROTOK_SITE (default /tmp/protok-site). Without a CUDA device it stops with
# a message, unless --cpu is given (a CPU run, for tests). Environment: PYTHON (default python3),
# PROTOK_GPU_BUNDLE (default gpu_bundle/ in the repository), PROTOK_SITE.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    usage
    [[ $# -ge 1 ]] && exit 0 || exit 2
fi
OUT=$1
shift
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=$REPO/configs/gpu.toml
if [[ $# -gt 0 && $1 != -* ]]; then
    CONFIG=$1
    shift
fi
PY=${PYTHON:-python3}
BUNDLE=${PROTOK_GPU_BUNDLE:-$REPO/gpu_bundle}
SITE=${PROTOK_SITE:-/tmp/protok-site}
cpu=0
args=()
for a in "$@"; do
    if [[ $a == --cpu ]]; then cpu=1; else args+=("$a"); fi
done
t0=$SECONDS

# wheels of what this Python lacks (module name = distribution name, lower case, '-' -> '_')
need=()
if compgen -G "$BUNDLE/wheels/*.whl" >/dev/null; then
    for whl in "$BUNDLE"/wheels/*.whl; do
        mod=$(basename "$whl" | cut -d- -f1 | tr 'A-Z-' 'a-z_')
        if ! "$PY" -c "import $mod" 2>/dev/null; then need+=("$whl"); fi
    done
fi
if [[ ${#need[@]} -gt 0 ]]; then
    echo "gpu_train.sh: installing ${need[*]##*/} into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${need[@]}"
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

if [[ $cpu == 1 ]]; then
    args+=(--device cpu)
else
    if ! "$PY" - <<'EOF'; then
import sys

import torch

ok = torch.cuda.is_available()
name = f", {torch.cuda.get_device_name(0)}" if ok else ""
print(f"gpu_train.sh: torch {torch.__version__}, CUDA {torch.version.cuda}, device available: {ok}{name}")
sys.exit(0 if ok else 1)
EOF
        echo "gpu_train.sh: PyTorch sees no CUDA device (torch.cuda.is_available() is False)." >&2
        echo "gpu_train.sh: run on a GPU machine, or pass --cpu for a CPU run." >&2
        exit 3
    fi
    args+=(--device cuda)
fi
if [[ ! -f $BUNDLE/chains.npz ]] && grep -q 'gpu_bundle/' "$CONFIG"; then
    echo "gpu_train.sh: $BUNDLE/chains.npz is missing: run python benchmarks/gpu_bundle.py first" >&2
    exit 4
fi

"$PY" "$REPO/benchmarks/gpu_train.py" "$OUT" --config "$CONFIG" "${args[@]}"
echo "gpu_train.sh: done in $((SECONDS - t0)) s; $OUT holds: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
