#!/usr/bin/env bash
# The GPU checks, as one call on a machine with a CUDA device (issue 16): the `gpu`-marked
# tests (bf16 and fp32 training bit-identical twice; DDP on two GPUs against one, where
# there are two), the deep-ensemble speed-up and MC dropout, and the train overhead against
# a hand-written loop, each under trainer=gpu. Results go to stdout and to $OUT (or
# ./gpu-checks/): env.txt, gpu_tests.log, uncertainty.log, train_overhead.log.
#
# Prepared here, run there in one call, from the repository root:
#     bash benchmarks/gpu_wheels.sh         # here, once: .whl/, 35 wheels, 8 MB
#     bash benchmarks/gpu_checks.sh         # there (the device tool: carry [".whl"])
# Each part has its own time limit (3, 2 and 3 minutes; CHECK_MINUTES sets all three), so
# that one that hangs leaves time for the others and the whole fits one device command
# (10 minutes at most). Exit code: the tests' (0 passed, 1 failed, 5 none ran), 3 if the
# wheels do not install, 4 if torch sees no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-checks}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}

if [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/assay-site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/assay-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}
# The tests' zygote (tests/cli_fork.py) serves `assay` subprocesses, which these tests do
# not start; its preloads (the serving stack) are not among the wheels.
export PYTHONUNBUFFERED=1 NO_COLOR=1 ASSAY_TEST_FRESH_PROCESSES=1

{
    date -u +"%Y-%m-%d %H:%M UTC"
    git log -1 --format="commit %h %s" 2>/dev/null
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PYTHON" -c "import sys, torch, lightning; print('python', sys.version.split()[0],
'torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__,
'devices', torch.cuda.device_count(), 'bf16', torch.cuda.is_available()
and torch.cuda.is_bf16_supported())"
} 2>&1 | tee "$OUT/env.txt"
if ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_checks: torch sees no CUDA device here; nothing was checked" | tee -a "$OUT/env.txt"
    exit 4
fi

minutes=${CHECK_MINUTES:-}
echo "== gpu-marked tests"
timeout "${minutes:-3}m" "$PYTHON" -m pytest tests/train/test_gpu.py -m gpu -o addopts= \
    -p no:cacheprovider --strict-markers -ra -v 2>&1 | tee "$OUT/gpu_tests.log"
tests=${PIPESTATUS[0]}

echo "== deep ensemble and MC dropout (benchmarks/uncertainty.py --device cuda)"
timeout "${minutes:-2}m" "$PYTHON" benchmarks/uncertainty.py --device cuda 2>&1 \
    | tee "$OUT/uncertainty.log"

echo "== train overhead (benchmarks/train_overhead.py --device cuda --epochs 3 --repeats 3)"
timeout "${minutes:-3}m" "$PYTHON" benchmarks/train_overhead.py --device cuda --epochs 3 \
    --repeats 3 2>&1 \
    | tee "$OUT/train_overhead.log"
exit "$tests"
