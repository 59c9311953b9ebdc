#!/usr/bin/env bash
# The benchmarks at a larger scale (about 1e6-1e7 parameters, float32; float32's accuracy
# loss against float64 on a 1e5-parameter MLP) on a machine with a GPU, within 8 minutes,
# as one script. Writes device.json and DEVICE.md under $OUT if set, else bench/out/device/.
#
#   bash bench/device.sh                  # on the GPU machine (jax with CUDA installed)
#   DEVICE_SMOKE=1 bash bench/device.sh   # tiny sizes, on any CPU: proves the script runs
#
# Needs a Python with jax (the CUDA build on a GPU) and toymodels' dependencies (equinox,
# lineax, optimistix, diffrax, optax, matfree, jaxtyping); PYTHON picks it (default: the
# repository's .venv if there is one, else python3). The PyTorch peers are not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
dest="${OUT:-bench/out/device}"
mkdir -p "$dest"
args=(--out "$dest")
if [ "${DEVICE_SMOKE:-0}" = "1" ]; then
  args+=(--smoke)
  export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PYTHON" -c 'import jax; print("devices:", jax.devices())'
exec timeout 480 "$PYTHON" -m bench._device "${args[@]}"
