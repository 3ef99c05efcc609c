#!/usr/bin/env bash
# Fetch the wheels that benchmarks/gpu_checks.sh needs on the GPU machine (listed in
# benchmarks/gpu_wheels.txt) into .whl/, on this machine, which reaches the package index.
#
#     bash benchmarks/gpu_wheels.sh          # for the GPU machine's Python 3.12
#     PYVER=3.11 WHEELS=/tmp/w bash benchmarks/gpu_wheels.sh   # another Python, folder
#
# Binary wheels only, for manylinux x86-64; a project that publishes only a source archive
# of pure Python (antlr4-python3-runtime 4.9.3) is built into a wheel here. .whl/ is
# git-ignored, so the device call names it in its carry.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
WHEELS=${WHEELS:-.whl}
mkdir -p "$WHEELS"
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
while read -r requirement; do
    case "$requirement" in '' | '#'*) continue ;; esac
    if ! python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
        --implementation cp "${platforms[@]}" -d "$WHEELS" "$requirement" 2>/dev/null; then
        # No wheel published: build one, if the project is pure Python (its wheel says so).
        python3 -m pip wheel -q --no-deps -w "$WHEELS" "$requirement"
    fi
done < benchmarks/gpu_wheels.txt
for wheel in "$WHEELS"/*.whl; do
    case "$wheel" in
    *-none-any.whl | *-cp"${PYVER/./}"-*.whl | *-abi3-*.whl) ;;
    *) echo "gpu_wheels: $wheel is not for CPython $PYVER" >&2 && exit 1 ;;
    esac
done
du -sh "$WHEELS"
