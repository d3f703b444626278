#!/usr/bin/env bash
# The GPU check, in one command, on a machine with an NVIDIA GPU and CuPy (see README.md here):
#   bash benchmarks/gpu/gpu_check.sh
# runs the GPU-marked tests, the zoo on device="cuda" against LiteRT, the CUDA-vs-LiteRT
# benchmark and the tf32 / fp16 precision error and speed, then writes benchmarks/gpu/RESULTS.md and benchmarks/gpu/results.json (also copied
# to $OUT when that is set, as on the device machine).
set -uo pipefail
cd "$(dirname "$0")/../.."
HERE=benchmarks/gpu
export PYTHONUNBUFFERED=1
python3 -m pytest -q -m gpu -p no:cacheprovider tests/ 2>&1 | tee "$HERE/gpu_tests.log"
python3 benchmarks/compare_litert.py --device cuda --runs "${GPU_BENCH_RUNS:-100}" \
    --json "$HERE/bench_cuda.json" 2>&1 | tee "$HERE/bench_cuda.log"
python3 benchmarks/compare_litert.py --device cuda --cuda_graphs off --no-solo \
    --runs "${GPU_BENCH_RUNS:-100}" --json "$HERE/bench_cuda_eager.json" 2>&1 \
    | tee "$HERE/bench_cuda_eager.log"
python3 benchmarks/compare_litert.py --device cpu --runs 20 --no-solo --num_threads "$(nproc)" \
    --json "$HERE/bench_cpu.json" 2>&1 | tee "$HERE/bench_cpu.log"
# a larger batch (models whose batch dimension is free), GPU and CPU
python3 benchmarks/compare_litert.py --device cuda --batch 8 --no-solo --runs 50 \
    --json "$HERE/bench_cuda_b8.json" 2>&1 | tee "$HERE/bench_cuda_b8.log"
python3 benchmarks/compare_litert.py --device cpu --batch 8 --no-solo --runs 10 \
    --max_seconds 5 --num_threads "$(nproc)" --json "$HERE/bench_cpu_b8.json" 2>&1 \
    | tee "$HERE/bench_cpu_b8.log"
# the opt-in precisions: output error on the float models, and speed at batch 8 (tensor cores
# pay off on larger GEMMs)
python3 benchmarks/precision_error.py --json "$HERE/precision_error.json" 2>&1 \
    | tee "$HERE/precision_error.log"
for precision in tf32 fp16; do
    python3 benchmarks/compare_litert.py --device cuda --batch 8 --precision "$precision" \
        --no-solo --runs 50 --json "$HERE/bench_cuda_b8_$precision.json" 2>&1 \
        | tee "$HERE/bench_cuda_b8_$precision.log"
done
python3 "$HERE/collect.py" "$HERE"
if [ -n "${OUT:-}" ]; then cp "$HERE"/RESULTS.md "$HERE"/results.json "$HERE"/*.log "$OUT"/; fi
