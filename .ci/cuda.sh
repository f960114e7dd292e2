#!/usr/bin/env bash
# The CUDA backend builds wherever nvcc is installed (DELTAPROP_CUDA=ON, one GPU architecture,
# cuBLASLt from the nvidia-cublas wheel, which pip keeps in its cache for the build environment
# and the venv), and the suite runs against that build: without a GPU the `cuda` tests skip with
# the reason and everything else runs (deltaprop._cuda imports, availability, error paths, the
# CPU suite). A CUDA compile or link error fails CI. The GPU tests themselves run on a GPU
# machine through bench/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null 2>&1; then
  echo "cuda: no nvcc on this machine; skipping the CUDA build"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
echo "cuda: building with DELTAPROP_CUDA=ON for sm_${DELTAPROP_CUDA_ARCHS:-90}"
DELTAPROP_CUDA=ON DELTAPROP_CUDA_ARCHS="${DELTAPROP_CUDA_ARCHS:-90}" pip install --quiet ".[test,cuda]"
python - <<'PY'
import deltaprop, deltaprop.cuda as cuda
assert cuda.is_built(), f"the CUDA backend did not build: {cuda.why_unavailable()}"
print("cuda: backend built; devices:", deltaprop.build_info()["cuda_devices"])
PY
root="$PWD"
cd "$work" && python -m pytest -q -p no:cacheprovider "$root/tests"
