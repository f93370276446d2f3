"""The benchmark script runs end to end for a few messages (ours only: no stock training).

The benchmark itself is not part of the suite (timings are meaningless on a shared
machine); this only checks that `make bench` would work and writes the expected JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_quick_benchmark_of_ours_writes_the_expected_numbers(trained_model, tmp_path):
    out = tmp_path / "latest.json"
    completed = subprocess.run(
        [
            sys.executable, "-m", "bench.run", "--quick", "--only", "ours",
            "--model", str(trained_model), "--messages", "6", "--concurrency", "1,4",
            "--out", str(out),
        ],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "latency p50, 1 conversation (ms)" in completed.stdout

    report = json.loads(out.read_text())
    assert "stock" not in report
    ours = report["ours"]
    assert ours["errors"] == 0
    metrics = ours["metrics"]
    for key in (
        "latency_ms_c1_p50", "latency_ms_c1_p95", "latency_ms_c1_p99",
        "latency_ms_c4_p50", "latency_ms_c4_p99",
        "throughput_c1", "throughput_c4", "cpu_ms_per_msg_c4",
        "cold_start_s", "rss_mb", "model_mb",
    ):
        assert isinstance(metrics[key], (int, float)) and metrics[key] > 0, key
    assert metrics["processes"] >= 2  # our Rasa server and the action server
    assert ours["rounds"][0]["phases"]["c1"]["messages"] == 6
    assert report["assistants"] == ["ours"]
    assert set(report["targets"]["ours"]) >= {
        "p50 latency at 1 conversation <= 0.5x stock", "throughput at 16 conversations >= 2x stock",
    }
