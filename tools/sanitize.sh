#!/usr/bin/env bash
# Build sia_autoencoder._core with AddressSanitizer + UndefinedBehaviorSanitizer in a copy of the
# repo (so the normal in-place build is untouched) and run the test suite against it.
#
#   tools/sanitize.sh                 # every test in tests/
#   tools/sanitize.sh tests/test_fuzz_core.py -x   # any pytest arguments
#
# Environment: SIA_SANITIZE (default address,undefined), SIA_SANITIZE_DIR (default
# /tmp/sia_sanitize). Any ASan/UBSan report aborts the process, so a clean run is a green one.
# See docs/reliability.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${SIA_SANITIZE_DIR:-/tmp/sia_sanitize}"
sanitize="${SIA_SANITIZE:-address,undefined}"
python="${PYTHON:-python3}"

"$python" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' || {
    echo "$(basename "$0"): setuptools 77 or newer is needed to build in place (pyproject.toml's SPDX license): pip install 'setuptools>=77'" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
# The sources and tests only: no build/, no in-place .so, no .git.
(cd "$repo" && tar --exclude=./build --exclude=./.git --exclude='*.so' --exclude='__pycache__' \
    --exclude=./.pytest_cache --exclude=./.hypothesis -cf - .) | (cd "$dir" && tar -xf -)

cd "$dir"
echo "== building with -fsanitize=$sanitize in $dir"
SIA_SANITIZE="$sanitize" CFLAGS="-fno-sanitize-recover=undefined" \
    "$python" setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }

preload=""
case "$sanitize" in *address*) preload="$(gcc -print-file-name=libasan.so)";; esac
case "$sanitize" in *undefined*) preload="${preload:+$preload:}$(gcc -print-file-name=libubsan.so)";; esac

# CPython and NumPy are not instrumented: ASan must be loaded first (LD_PRELOAD), leak detection
# is off (the interpreter keeps objects alive at exit on purpose), and PYTHONMALLOC=malloc sends
# every Python allocation through ASan's malloc so that it can see overruns of NumPy buffers.
export LD_PRELOAD="$preload"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export PYTHONMALLOC=malloc
export SIA_SANITIZED=1   # tests that allocate huge buffers on purpose may check this
echo "== running pytest ${*:-tests} under $sanitize"
start=$(date +%s)
set +e
"$python" -m pytest -q -p no:cacheprovider "${@:-tests}"
status=$?
set -e
echo "== sanitized run: exit $status in $(( $(date +%s) - start )) s"
exit $status
