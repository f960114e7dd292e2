#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and no network (about 5 minutes):
#   1. records the environment (nvidia-smi, nvcc, Python, torch);
#   2. builds deltaprop with its CUDA backend (DELTAPROP_CUDA=ON, this GPU's architecture);
#   3. runs the `cuda`-marked tests;
#   4. runs every GPU code path once under compute-sanitizer's memcheck (when installed);
#   5. prints the GPU benchmark against PyTorch CUDA on the same card and writes it as JSON.
# Everything it prints also goes to ${OUT:-gpu-check}/ (log.txt, cuda-tests.xml, gpu_bench.json).
# Options through the environment: QUICK=1 for a shorter benchmark, SKIP_BENCH=1, SKIP_SANITIZER=1,
# PROFILE=1 (Nsight Compute per-kernel times of training steps), PYTEST_ARGS.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
python="${PYTHON:-python3}"

echo "== environment ($(date -u +%FT%TZ))"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || echo "nvidia-smi failed"
nvcc --version | tail -2
"$python" -V
g++ --version 2>/dev/null | head -1
env | grep -E '^(CC|CXX|CFLAGS|CXXFLAGS|LDFLAGS|CMAKE_ARGS|CMAKE_[A-Z_]*FLAGS)=' || echo "no compiler or linker flags in the environment"
"$python" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'GPU', torch.cuda.is_available())" \
  || echo "torch: not importable"

echo "== build"
# Where the system Python finds torch and cupy (a user or local site a venv does not see).
peers="$("$python" - <<'PY'
import importlib.util, os
dirs = [os.path.dirname(os.path.dirname(s.origin)) for s in map(importlib.util.find_spec, ("torch", "cupy")) if s and s.origin]
print(":".join(dict.fromkeys(dirs)))
PY
)"
venv="${TMPDIR:-/tmp}/deltaprop-gpu-venv"
"$python" -m venv --system-site-packages "$venv" && source "$venv/bin/activate"
python -c "import torch" 2>/dev/null || export PYTHONPATH="$peers${PYTHONPATH:+:$PYTHONPATH}"
# Offline: anything missing comes from wheels carried beside the checkout (.gpu-wheels/).
for mod in pytest scikit_build_core pybind11 numpy; do
  python -c "import $mod" 2>/dev/null || pip install -q --no-index --find-links .gpu-wheels "${mod//_/-}"
done
arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')"
start=$(date +%s)
if ! DELTAPROP_CUDA=ON DELTAPROP_CUDA_ARCHS="${arch:-90}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
     pip install -q --no-build-isolation --no-deps --no-index . ; then
  echo "BUILD FAILED"
  exit 1
fi
echo "built in $(( $(date +%s) - start )) s"
cd "$out"  # import the installed package, not the source tree
python -c "import deltaprop, deltaprop.cuda as c; print(deltaprop.build_info()); print(c.devices()); print('why not:', repr(c.why_unavailable()))"
# How the modules were linked (a toolchain may link libstdc++ statically) and that they keep it private.
for so in "$(python -c "import deltaprop, os; print(os.path.dirname(deltaprop.__file__))")"/_*.so; do
  echo "$(basename "$so") needs: $(readelf -d "$so" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
done
python -m pytest -q -p no:cacheprovider "$OLDPWD/tests/test_module_symbols.py" 2>&1 | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || symbols_status=1
python -X faulthandler -c "import deltaprop; import torch; print('deltaprop first, then torch: ok')" 2>&1 | head -12

echo "== cuda tests"
python -m pytest -q -p no:cacheprovider -m cuda "$OLDPWD/tests/test_cuda.py" --junitxml cuda-tests.xml \
  -W "ignore::DeprecationWarning" ${PYTEST_ARGS:-} 2>&1 | tail -60
tests_status=${PIPESTATUS[0]}
[ -z "${symbols_status:-}" ] || tests_status=1
echo "== the API, training and checkpoint suites with their models on the GPU (--device cuda)"
python -m pytest -q -p no:cacheprovider --device cuda "$OLDPWD/tests/test_mlp_api.py" "$OLDPWD/tests/test_training.py" \
  "$OLDPWD/tests/test_checkpoint.py" "$OLDPWD/tests/test_fit_features.py" --junitxml device-tests.xml \
  -W "ignore::DeprecationWarning" 2>&1 | tail -40
[ "${PIPESTATUS[0]}" -eq 0 ] || tests_status=1

if [ -z "${SKIP_SANITIZER:-}" ] && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer memcheck (every code path on a small network)"
  timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
    python "$OLDPWD/bench/gpu_sanitize.py" 2>&1 | tail -30
  echo "memcheck exit status ${PIPESTATUS[0]}"
fi

if [ -n "${PROFILE:-}" ] && command -v ncu >/dev/null; then
  echo "== Nsight Compute: the kernels of training steps of [784,512,512,10], batch 256 (graphs replayed)"
  timeout 180 ncu --launch-skip 400 --launch-count 60 --print-summary per-kernel --metrics gpu__time_duration.sum \
    python -c "
import numpy as np, deltaprop as dp
X = np.random.default_rng(0).standard_normal((8192, 784), dtype=np.float32); y = np.arange(8192) % 10
dp.MLP([784, 512, 512, 10], device='cuda').fit(X, y, epochs=2, batch_size=256)" 2>&1 | grep -v "^==PROF==" | tail -80
fi

if [ -z "${SKIP_BENCH:-}" ]; then
  echo "== benchmark"
  # torch imported first, then a deltaprop fit: the order the benchmark loads them in
  PYTHONFAULTHANDLER=1 timeout 60 python -c "
import torch, numpy as np
torch.zeros(1, device='cuda')
import deltaprop as dp
X = np.random.default_rng(0).standard_normal((4096, 784), dtype=np.float32); y = np.arange(4096) % 10
dp.MLP([784, 512, 512, 10], device='cuda').fit(X, y, epochs=2, batch_size=256)
print('torch first, then deltaprop: ok')" 2>&1 | tail -30
  PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 timeout 300 python -c "
import sys, torch  # torch before deltaprop: see the note in deltaprop/bench/gpu.py
from deltaprop.bench import gpu
sys.exit(gpu.main(sys.argv[1:]))" ${QUICK:+--quick} --out gpu_bench.json 2>&1 | tail -60
fi
echo "== done: tests exit status $tests_status"
exit "$tests_status"
