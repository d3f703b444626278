"""benchmarks/gpu/collect.py, which turns what gpu_check.sh measured into RESULTS.md and
results.json, on stand-in measurements (a GPU run is too precious to lose to a crash here)."""

import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load_collect():
    path = os.path.join(HERE, "..", "benchmarks", "gpu", "collect.py")
    spec = importlib.util.spec_from_file_location("gpu_collect", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(folder, name, results):
    with open(os.path.join(folder, name), "w") as f:
        json.dump({"results": results}, f)


def test_report_tables_batch_1_and_8(tmp_path):
    m = "/models/zoo/mobilenet_v2_float.tflite"
    write(tmp_path, "bench_cuda.json", [{"model": m, "gpulite_ms": 0.25, "litert_ms": 9.0,
                                         "graph_status": "graph"},
                                        {"model": "/m/zoo/lstm_float.tflite",
                                         "gpulite_ms": 2.0, "litert_ms": 0.2,
                                         "graph_status": "eager: WHILE (operator 1) runs on "
                                                         "the host every invoke"}])
    write(tmp_path, "bench_cuda_eager.json", [{"model": m, "gpulite_ms": 0.9, "litert_ms": 9.0}])
    write(tmp_path, "bench_cpu.json", [{"model": m, "gpulite_ms": 9.5, "litert_ms": 2.0}])
    write(tmp_path, "bench_cuda_b8.json", [{"model": m, "gpulite_ms": 0.5, "litert_ms": 15.0,
                                            "graph_status": "graph"},
                                           {"model": "/m/zoo/control_flow.tflite",
                                            "error": "batch 8: the model's batch dimension is "
                                                     "fixed"}])
    write(tmp_path, "bench_cpu_b8.json", [{"model": m, "gpulite_ms": 60.0, "litert_ms": 15.0}])
    write(tmp_path, "bench_cuda_b8_tf32.json", [{"model": m, "gpulite_ms": 0.3}])
    write(tmp_path, "precision_error.json", [
        {"model": "zoo/mobilenet_v2_float", "precision": "tf32", "max_rel": 0.028,
         "mean_rel": 0.015, "top1": 1.0},
        {"model": "zoo/unet_float", "precision": "fp16", "max_rel": 3.6e-4, "mean_rel": 1.7e-4},
        {"model": "zoo/lstm_dynamic", "precision": "fp16", "error": "OpError: boom"}])
    (tmp_path / "gpu_tests.log").write_text("12 passed, 1 failed, 3 skipped in 9.1s\n")
    load_collect().main(str(tmp_path))
    text = (tmp_path / "RESULTS.md").read_text()
    assert "GPU tests: {'passed': 12, 'failed': 1, 'skipped': 3}" in text
    assert "| mobilenet_v2_float.tflite | 0.250 | graph | 0.900 | 9.500 | 2.000 | 8.0x |" in text
    assert "| lstm_float.tflite | 2.000 | eager: WHILE (operator 1) runs on the host every " \
           "invoke | - | - | - | - |" in text
    batch8 = text[text.index("## Batch 8"):]
    assert "| mobilenet_v2_float.tflite | 0.500 | graph | - | 60.000 | 15.000 | 30.0x |" \
        in batch8
    assert "| control_flow.tflite | not run: batch 8: the model's batch dimension is fixed |" \
        in batch8
    precision = text[text.index("## Precision"):]
    assert "| zoo/mobilenet_v2_float | tf32 | 2.80e-02 | 1.50e-02 | 1.000 |" in precision
    assert "| zoo/unet_float | fp16 | 3.60e-04 | 1.70e-04 | - |" in precision
    assert "| zoo/lstm_dynamic | fp16 | not run: OpError: boom | | |" in precision
    assert "| mobilenet_v2_float.tflite | 0.500 | 0.300 | - |" in precision  # no fp16 file
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["tests"] == {"passed": 12, "failed": 1, "skipped": 3}
    assert report["cuda_batch8"][0]["gpulite_ms"] == 0.5
