#!/usr/bin/env bash
# The GPU checks, as one call on a machine with a CUDA device (issue 16): the `gpu`-marked
# tests (fp32 and bf16-mixed training bit-identical twice; DDP on two GPUs against one,
# where there are two), the deep-ensemble speed-up and MC dropout, and the train overhead
# against a hand-written loop, each under trainer=gpu. Results go to stdout and to $OUT (or
# ./gpu-checks/): env.txt, status.txt (each part's exit code), gpu_tests.log,
# uncertainty.log, train_overhead.log.
#
# Prepared here, run there in one call, from the repository root:
#     bash benchmarks/gpu_wheels.sh                      # here: .whl/, 35 wheels, 8 MB
#     ASSAY_COMMIT=<hash> bash benchmarks/gpu_checks.sh  # there (carry [".whl"])
# (.git may not travel: ASSAY_COMMIT names the commit in env.txt.) Each part has its own
# time limit (3, 2 and 3 minutes; CHECK_MINUTES sets all three; a part that ignores the
# stop signal is killed 15 s later), so that one that hangs leaves time for the others and
# the whole fits one device command (10 minutes at most).
# Exit code: 0 when every part passed, else the first failing part's (pytest's codes, a
# benchmark's, 124 for a part out of time); 10 if the wheels do not install, 11 if what the
# checks import does not import, 12 if torch sees no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-checks}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}

if [ -d .whl ]; then
    if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/assay-site .whl/*.whl; then
        echo "gpu_checks: the wheels in .whl/ do not install here" | tee "$OUT/env.txt"
        exit 10
    fi
    export PYTHONPATH=/tmp/assay-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}
# tests/cli_zygote.py (started by tests/cli_fork.py) serves `assay` subprocesses, which
# these tests do not start; what it preloads (the serving stack) is not among the wheels.
export PYTHONUNBUFFERED=1 NO_COLOR=1 ASSAY_TEST_FRESH_PROCESSES=1

{
    date -u +"%Y-%m-%d %H:%M UTC"
    echo "commit ${ASSAY_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PYTHON" - <<'EOF'
import importlib.metadata as metadata
import sys

import torch

print("python", sys.version.split()[0], "cuda", torch.version.cuda, "devices",
      torch.cuda.device_count(), "bf16", torch.cuda.is_available()
      and torch.cuda.is_bf16_supported())
for name in ("torch", "lightning", "numpy", "pandas", "pyarrow", "scikit-learn",
             "typing_extensions", "PyYAML", "hydra-core", "omegaconf", "pydantic"):
    try:
        print(f"  {name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"  {name}: not installed")
EOF
} 2>&1 | tee "$OUT/env.txt"
if ! "$PYTHON" -c "import hydra, omegaconf, pandera, pydantic, dvclive, assayml.train.fit" \
    2>&1 | tail -3 | tee -a "$OUT/env.txt"; then
    echo "gpu_checks: a package the checks need does not import; fetch the wheels here" \
        "(bash benchmarks/gpu_wheels.sh) and carry .whl" | tee -a "$OUT/env.txt"
    exit 11
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_checks: torch sees no CUDA device here; nothing was checked" | tee -a "$OUT/env.txt"
    exit 12
fi

: >"$OUT/status.txt"
part() {  # part NAME MINUTES COMMAND...: run it under its time limit, log and record it
    local name=$1 limit=${CHECK_MINUTES:-$2}
    shift 2
    echo "== $name: $*"
    timeout -k 15s "${limit}m" "$@" 2>&1 | tee "$OUT/$name.log"
    local code=${PIPESTATUS[0]}
    echo "$name=$code" | tee -a "$OUT/status.txt"
    return "$code"
}
codes=()
part gpu_tests 3 "$PYTHON" -m pytest tests/train/test_gpu.py -m gpu -o addopts= \
    -p no:cacheprovider --strict-markers -ra -v
codes+=($?)
part uncertainty 2 "$PYTHON" benchmarks/uncertainty.py --device cuda
codes+=($?)
part train_overhead 3 "$PYTHON" benchmarks/train_overhead.py --device cuda --epochs 3 --repeats 3
codes+=($?)
for code in "${codes[@]}"; do
    [ "$code" -eq 0 ] || exit "$code"
done
