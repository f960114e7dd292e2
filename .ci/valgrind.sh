#!/usr/bin/env bash
# valgrind memcheck over a small end-to-end job (.ci/valgrind_job.py): any invalid read or write,
# invalid free or mismatched allocation fails the step. Uninitialised-value checks are off:
# CPython 3.11's small-int cache reads an unset digit of zero-length ints, and every value
# derived from that is reported far from its source, in the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; } || true
  fi
fi
if ! command -v valgrind >/dev/null; then
  echo "valgrind: not installed and cannot be installed here; skipping the memcheck step"
  exit 0
fi
python_bin="$(python -c 'import sys; print(sys.executable)')"
echo "valgrind memcheck: $(valgrind --version), $python_bin .ci/valgrind_job.py"
PYTHONMALLOC=malloc OMP_NUM_THREADS=2 valgrind --tool=memcheck --error-exitcode=1 \
  --undef-value-errors=no --errors-for-leak-kinds=none --leak-check=no \
  --suppressions=.ci/valgrind-python.supp -q "$python_bin" .ci/valgrind_job.py
echo "valgrind memcheck: no errors"
