#!/usr/bin/env bash
# valgrind memcheck over the core tests (the C kernels through the NumPy glue).
#
#   tools/valgrind.sh                      # the default core tests below
#   tools/valgrind.sh tests/test_kernels.py -k gemm
#
# Python suppressions approach: PYTHONMALLOC=malloc sends every Python allocation through the
# system malloc, so that pymalloc's deliberate reads of uninitialised arenas (the classic source
# of false positives, see CPython's Misc/README.valgrind) never happen and memcheck sees real
# block bounds; leak checking is off (the interpreter keeps objects alive at exit). What we gate
# on is what matters for C: invalid reads/writes/frees and overlapping memcpy. The log is kept
# in $SIA_VALGRIND_LOG (default /tmp/sia_valgrind.log); child processes are traced too.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
log="${SIA_VALGRIND_LOG:-/tmp/sia_valgrind.log}"
python="${PYTHON:-python3}"
if [ $# -eq 0 ]; then
    set -- tests/test_kernels.py tests/test_gradcheck.py tests/test_fuzz_core.py
fi
"$python" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' || {
    echo "$(basename "$0"): setuptools 77 or newer is needed to build in place (pyproject.toml's SPDX license): pip install 'setuptools>=77'" >&2; exit 1; }
dir="${SIA_VALGRIND_DIR:-/tmp/sia_valgrind}"
# Build the extension in place in a copy of the sources (as tools/sanitize.sh does): the tests
# then import this build, whatever is installed, and a clean clone needs no build step first.
rm -rf "$dir"
mkdir -p "$dir"
(cd "$repo" && tar --exclude=./build --exclude=./.git --exclude='*.so' --exclude='__pycache__' \
    --exclude=./.pytest_cache --exclude=./.hypothesis -cf - .) | (cd "$dir" && tar -xf -)
cd "$dir"
"$python" setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
# The real interpreter, not a pyenv/shim wrapper script (valgrind would trace bash too).
python="$("$python" -c "import sys; print(sys.executable)")"
export PYTHONMALLOC=malloc
export SIA_FUZZ_CALLS="${SIA_FUZZ_CALLS:-1500}"   # the fuzzer, slowed ~50x by valgrind
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
rm -f "$log".*
start=$(date +%s)
set +e
valgrind --tool=memcheck --trace-children=yes --leak-check=no --track-origins=no \
    --num-callers=30 --suppressions="$dir/tools/valgrind-python.supp" --log-file="$log.%p" \
    "$python" -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
cat "$log".* > "$log" 2>/dev/null || true
rm -f "$log".*
invalid=$(grep -cE "Invalid (read|write|free)|Mismatched free|Source and destination overlap" "$log" || true)
inglue=$(grep -A30 -E "Invalid (read|write)|uninitialised" "$log" | grep -cE "_core[.]cpython|[(]csrc/|sia_[a-z_]+_f(32|64)" || true)
echo "== valgrind: pytest exit $status, $invalid invalid reads/writes/frees ($inglue frames in sia code under invalid or uninitialised accesses), $(( $(date +%s) - start )) s; log: $log"
[ "$status" -eq 0 ] && [ "$invalid" -eq 0 ]
