#!/usr/bin/env bash
# Fetch the wheels that benchmarks/gpu_checks.sh needs on the GPU machine (listed in
# benchmarks/gpu_wheels.txt) into .whl/, on this machine, which reaches the package index.
#
#     bash benchmarks/gpu_wheels.sh          # for the GPU machine's Python 3.12
#     PYVER=3.11 WHEELS=/tmp/w bash benchmarks/gpu_wheels.sh   # another Python, folder
#
# Binary wheels only, for manylinux x86-64; a project that publishes only a source archive
# of pure Python (antlr4-python3-runtime 4.9.3) is built into a wheel here. The folder's
# wheels are replaced as a whole (two versions of one project would stop the install
# there), only once every one was fetched. .whl/ is git-ignored, so the device call names
# it in its carry.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
WHEELS=${WHEELS:-.whl}
fetched=$(mktemp -d)
trap 'rm -rf "$fetched"' EXIT
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
while read -r requirement; do
    case "$requirement" in '' | '#'*) continue ;; esac
    if ! refused=$(python3 -m pip download -q --no-deps --only-binary=:all: \
        --python-version "$PYVER" --implementation cp "${platforms[@]}" -d "$fetched" \
        "$requirement" 2>&1); then
        echo "gpu_wheels: no wheel of $requirement for CPython $PYVER; building one" >&2
        python3 -m pip wheel -q --no-deps -w "$fetched" "$requirement" \
            || { echo "$refused" >&2; exit 1; }
    fi
done <benchmarks/gpu_wheels.txt
for wheel in "$fetched"/*.whl; do
    case "$wheel" in
    *-none-any.whl | *-cp"${PYVER/./}"-*.whl | *-abi3-*.whl) ;;
    *)
        echo "gpu_wheels: $(basename "$wheel") was built for this machine's Python, not for" \
            "CPython $PYVER (only a pure-Python project can be built here)" >&2
        exit 1
        ;;
    esac
done
mkdir -p "$WHEELS"
rm -f "$WHEELS"/*.whl
mv "$fetched"/*.whl "$WHEELS"/
echo "$(find "$WHEELS" -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1), in $WHEELS"
