"""Benchmark: our assistant against a stock `rasa init` assistant, side by side, in one run.

    make bench                              # the full run (trains both, ~15 min)
    .venv/bin/python -m bench.run --help    # options: --skip-train, --rounds, --only, --quick ...

Prints a table and writes bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, procinfo  # noqa: E402
from bench.targets import Ours, Stock, Target, stock_training_seconds  # noqa: E402
from bot.server.training import PROJECT_ROOT, ensure_model  # noqa: E402

BENCH_DIR = PROJECT_ROOT / "bench"
MESSAGES = {"ours": BENCH_DIR / "messages" / "tms.txt", "stock": BENCH_DIR / "messages" / "moodbot.txt"}

# key, label, lower is better
METRICS = [
    ("latency_ms_c1_p50", "latency p50, 1 conversation (ms)", True),
    ("latency_ms_c1_p95", "latency p95, 1 conversation (ms)", True),
    ("latency_ms_c1_p99", "latency p99, 1 conversation (ms)", True),
    ("latency_ms_c16_p50", "latency p50, 16 conversations (ms)", True),
    ("latency_ms_c16_p95", "latency p95, 16 conversations (ms)", True),
    ("latency_ms_c16_p99", "latency p99, 16 conversations (ms)", True),
    ("throughput_c1", "throughput, 1 conversation (msg/s)", False),
    ("throughput_c16", "throughput, 16 conversations (msg/s)", False),
    ("throughput_c64", "throughput, 64 conversations (msg/s)", False),
    ("latency_ms_c64_p99", "latency p99, 64 conversations (ms)", True),
    ("cpu_ms_per_msg_c16", "server CPU per message, 16 conv. (ms)", True),
    ("cold_start_s", "cold start: process start to 1st answer (s)", True),
    ("rss_mb", "memory after warm-up, RSS of all processes (MB)", True),
    ("rasa_rss_mb", "memory after warm-up, Rasa server RSS (MB)", True),
    ("rss_mb_after_load", "memory after the load phases, RSS (MB)", True),
    ("model_mb", "model file (MB)", True),
    ("training_s", "training time (s)", True),
    ("answer_edit_live_s", "answer edit to served (s)", True),
    ("test_suite_s", "test suite, last `make test` (s)", True),
]
TARGETS = [
    # name, metric, comparison, limit: ratios ours/stock
    ("p50 latency at 1 conversation <= 0.5x stock", "latency_ms_c1_p50", "<=", 0.5),
    ("throughput at 16 conversations >= 2x stock", "throughput_c16", ">=", 2.0),
    ("training time <= 1.5x stock", "training_s", "<=", 1.5),
    ("Rasa server memory <= 1.1x stock", "rasa_rss_mb", "<=", 1.1),
]
ABSOLUTE_TARGETS = [
    # name, metric, comparison, limit: ours alone (stock has no live edit and no test suite)
    ("edited answer served within 10 s", "answer_edit_live_s", "<=", 10.0),
    ("make test within 10 min of tests", "test_suite_s", "<=", 600.0),
]
# Written by tests/conftest.py at the end of every whole-suite run.
SUITE_TIME = PROJECT_ROOT / "test-artifacts" / "suite-time.json"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def messages_for(concurrency: int, args: argparse.Namespace) -> int:
    # Enough messages that the ramp-up and the tail of a phase hardly count.
    return args.messages if args.quick else max(args.messages, 12 * concurrency)


def measure(target: Target, args: argparse.Namespace, round_index: int) -> Dict[str, Any]:
    conversations = load.load_conversations(MESSAGES[target.kind])
    log(f"{target.name}: starting (round {round_index + 1})")
    try:
        cold_start = target.start()
    except BaseException:
        target.stop()
        raise
    log(f"{target.name}: first answer after {cold_start:.1f} s")
    phases: Dict[str, Any] = {}
    try:
        warmup = load.run_phase(target.base_url, conversations, min(4, args.warmup), args.warmup, f"warm{round_index}")
        if warmup.errors:
            raise RuntimeError(f"{target.name}: warm-up failed: {warmup.errors[:3]}")
        warm = target.usage()
        rasa_warm = procinfo.usage(target.rasa_pids())
        warm_names = procinfo.names(warm.pids)
        for concurrency in args.concurrency:
            count = messages_for(concurrency, args)
            result = load.run_phase(
                target.base_url, conversations, concurrency, count, f"c{concurrency}r{round_index}",
                server_cpu=lambda: target.usage().cpu_seconds,
            )
            phases[f"c{concurrency}"] = summary = result.summary()
            log(
                f"{target.name}: {concurrency:>2} conversations, {summary['messages']} messages: "
                f"p50 {summary['latency_ms']['p50']} ms, p99 {summary['latency_ms']['p99']} ms, "
                f"{summary['throughput_msgs_per_s']} msg/s, errors {summary['errors']}"
            )
        after = target.usage()
        edit_seconds = target.answer_edit_seconds()
        if edit_seconds is not None:
            log(f"{target.name}: an edited answer was served after {edit_seconds:.1f} s")
    finally:
        target.stop()
    metrics: Dict[str, float | None] = {
        "cold_start_s": round(cold_start, 2),
        "rss_mb": round(warm.rss_bytes / 2**20, 1),
        "pss_mb": round(warm.pss_bytes / 2**20, 1),
        "rasa_rss_mb": round(rasa_warm.rss_bytes / 2**20, 1),
        "rss_mb_after_load": round(after.rss_bytes / 2**20, 1),
        "processes": len(warm.pids),
    }
    if edit_seconds is not None:
        metrics["answer_edit_live_s"] = round(edit_seconds, 2)
    for name, phase in phases.items():
        for q in ("p50", "p95", "p99"):
            metrics[f"latency_ms_{name}_{q}"] = phase["latency_ms"][q]
        metrics[f"throughput_{name}"] = phase["throughput_msgs_per_s"]
        metrics[f"cpu_ms_per_msg_{name}"] = phase.get("server_cpu_ms_per_msg")
    # A failed action server call is answered from domain responses (bot/server/resilience.py):
    # fast, but not what is being measured, so it counts as an error.
    offline = offline_fallbacks(target)
    if offline:
        log(f"{target.name}: {offline} action server calls failed and were answered offline")
    return {
        "metrics": metrics,
        "phases": phases,
        "errors": sum(p["errors"] for p in phases.values()) + offline,
        "offline_fallbacks": offline,
        "processes_after_warmup": warm_names,
    }


def offline_fallbacks(target: Target) -> int:
    """How often the server logs say an action was answered without the action server."""
    folder = target.log_dir / target.name
    if target.kind != "ours" or not folder.is_dir():
        return 0
    return sum(
        path.read_text(errors="replace").count("Action server failed on")
        for path in folder.rglob("*.log")
    )


def median_metrics(rounds: List[Dict[str, Any]]) -> Dict[str, float | None]:
    keys = {key for r in rounds for key in r["metrics"]}
    merged = {}
    for key in sorted(keys):
        values = [r["metrics"][key] for r in rounds if r["metrics"].get(key) is not None]
        merged[key] = round(statistics.median(values), 2) if values else None
    return merged


def last_suite_seconds() -> float | None:
    """Seconds of tests of the last whole `make test` run here (tests/conftest.py)."""
    try:
        return float(json.loads(SUITE_TIME.read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return None


def ratio(ours: float | None, stock: float | None) -> float | None:
    if ours is None or stock is None or stock == 0:
        return None
    return round(ours / stock, 3)


def nlu_accuracy(model: Path, speedups: bool) -> Dict[str, Any] | None:
    """In a separate process, so that the benchmark process never holds TensorFlow."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.accuracy", "--json", *(["--speedups"] if speedups else []), str(model)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env={**os.environ, "TMS_SPEEDUPS": "1" if speedups else "0"},
    )
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            result["error_count"] = len(result.pop("errors"))
            return result
    log(f"accuracy failed: {completed.stderr[-500:]}")
    return None


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def ours_variants(report: Dict[str, Any]) -> List[str]:
    return [name for name in report.get("assistants", []) if name != "stock"]


def column_title(name: str) -> str:
    return name.replace("ours_w", "ours ").replace("ours ", "ours, ") + (" workers" if "_w" in name else "")


def table(report: Dict[str, Any]) -> str:
    variants = ours_variants(report)
    names = [*variants, *(["stock"] if "stock" in report else [])]
    metrics = {name: report[name]["metrics"] for name in names}
    ratio_titles = [f"{'ours' if v == 'ours' else v.replace('ours_w', '') + 'w'}/stock" for v in variants] if "stock" in report else []
    header = f"{'metric':<46}" + "".join(f" {column_title(n):>15}" for n in names) + "".join(f" {t:>11}" for t in ratio_titles)
    rows = [header, "-" * len(header)]
    for key, label, _ in METRICS:
        if any(key in m for m in metrics.values()):
            row = f"{label:<46}" + "".join(f" {fmt(metrics[n].get(key)):>15}" for n in names)
            if ratio_titles:
                row += "".join(f" {fmt(report['ratios'][v].get(key)):>11}" for v in variants)
            rows.append(row)
    accuracy = report.get("nlu_accuracy")
    if accuracy:
        rows.append(f"{'NLU accuracy, tests/nlu/test_messages.yml':<46} {accuracy['accuracy'] * 100:>14.1f}%")
        rows.append(
            f"{'  crisis recognised, look-alikes flagged':<46} "
            f"{accuracy['crisis_recognised'] + ', ' + accuracy['benign_flagged']:>15}"
        )
    rows.append("")
    for variant, targets in report["targets"].items():
        for name, met in targets.items():
            status = "n/a" if met["met"] is None else ("MET" if met["met"] else "NOT MET")
            label = f"target, {column_title(variant)}: {name}"
            rows.append(f"{label:<86} {fmt(met.get('value')):>7}  {status}")
    return "\n".join(rows)


def evaluate_targets(report: Dict[str, Any]) -> Dict[str, Any]:
    """Per variant of ours: the ratio targets against stock, and the accuracy check."""
    found: Dict[str, Any] = {}
    for variant in ours_variants(report):
        targets = found[variant] = {}
        for name, key, comparison, limit in TARGETS:
            value = report["ratios"].get(variant, {}).get(key)
            met = None if value is None else (value <= limit if comparison == "<=" else value >= limit)
            targets[name] = {"metric": key, "value": value, "limit": limit, "met": met}
        for name, key, comparison, limit in ABSOLUTE_TARGETS:
            value = report[variant]["metrics"].get(key)
            met = None if value is None else (value <= limit if comparison == "<=" else value >= limit)
            targets[name] = {"metric": key, "value": value, "limit": limit, "met": met}
        accuracy = report.get("nlu_accuracy")
        before = report.get("nlu_accuracy_without_speedups")
        if accuracy and before:
            targets["NLU accuracy not lower than without the speed-ups"] = {
                "metric": "nlu_accuracy", "value": accuracy["accuracy"], "limit": before["accuracy"],
                "met": accuracy["accuracy"] >= before["accuracy"],
            }
    return found


def parse_args(argv: List[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["ours", "stock"], help="measure one assistant only")
    parser.add_argument("--model", type=Path, help="our model to serve (default: $TMS_MODEL, else the one trained here, else ensure_model())")
    parser.add_argument("--skip-train", action="store_true", help="do not time a training of our model")
    parser.add_argument("--stock-dir", type=Path, help="keep the stock project here and reuse it (and its training time) if already trained")
    parser.add_argument("--messages", type=int, default=512, help="messages per load phase (default 512; at least 12 per conversation)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up messages before measuring (default 100)")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64], help="comma-separated (default 1,16,64)")
    parser.add_argument("--rounds", type=int, default=1, help="start and measure each assistant this many times, alternating; medians are reported")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=None, help="Sanic workers for our Rasa server, one variant of ours per number (> 1 starts a local Redis lock store; default 1,2, with --quick 1)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for our servers (repeatable)")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the NLU accuracy check of our model")
    parser.add_argument("--quick", action="store_true", help="smoke run: few messages, no training, no accuracy")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.json")
    parser.add_argument("--label", default="", help="a note stored in the JSON (e.g. what changed)")
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = [1] if args.quick else [1, 2]
    if args.quick:
        args.messages = min(args.messages, 20)
        args.warmup = min(args.warmup, 8)
        args.skip_train = True
        args.no_accuracy = True
    return args


def main(argv: List[str] | None = None) -> int:
    args = parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_dir = args.out.parent / "logs" / stamp
    report: Dict[str, Any] = {
        "started": stamp,
        "label": args.label,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_at_start": os.getloadavg()},
        "settings": {
            "messages_per_phase": {f"c{c}": messages_for(c, args) for c in args.concurrency},
            "warmup": args.warmup, "rounds": args.rounds, "quick": args.quick, "extra_env_ours": extra_env,
            "workers_ours": args.workers,
        },
    }
    try:
        import rasa

        report["rasa_version"] = rasa.__version__
        targets: List[Callable[[], Target]] = []
        training: Dict[str, float | None] = {}
        models: Dict[str, Path] = {}

        if args.only in (None, "ours"):
            model = args.model or (Path(os.environ["TMS_MODEL"]) if os.environ.get("TMS_MODEL") else None)
            if not args.skip_train:
                log("ours: training from scratch (timed)...")
                trained = Ours.train(work / "ours-model", log_dir / "train-ours.log")
                training["ours"] = json.loads((work / "ours-model" / "training.json").read_text())["seconds"]
                log(f"ours: trained in {training['ours']:.0f} s")
                model = model or trained
            models["ours"] = (model or ensure_model(quiet=True)).resolve()
            for workers in args.workers:
                targets.append(lambda w=workers: Ours(models["ours"], log_dir, extra_env, workers=w))

        if args.only in (None, "stock"):
            project = args.stock_dir or work / "stock"
            if not list((project / "models").glob("*.tar.gz")):
                log("stock: rasa init --no-prompt (creates and trains the moodbot, timed)...")
                Stock.create(project, log_dir / "train-stock.log")
            training["stock"] = stock_training_seconds(project)
            log(f"stock: training took {fmt(training['stock'])} s")
            if not args.quick:
                log("stock: `rasa train` after editing one answer (timed)...")
                training["stock_edit"] = Stock.retrain_after_answer_edit(project, work, log_dir / "retrain-stock.log")
                log(f"stock: retrained in {training['stock_edit']:.0f} s")
            targets.append(lambda: Stock(project, log_dir))

        rounds: Dict[str, List[Dict[str, Any]]] = {}
        for index in range(args.rounds):
            ordered = targets if index % 2 == 0 else list(reversed(targets))
            for make in ordered:
                target = make()
                rounds.setdefault(target.name, []).append(measure(target, args, index))
                models.setdefault(target.kind, target.model)

        report["assistants"] = list(rounds)
        for name, results in rounds.items():
            kind = "stock" if name == "stock" else "ours"
            metrics = median_metrics(results)
            metrics["model_mb"] = round(models[kind].stat().st_size / 2**20, 1)
            metrics["training_s"] = round(training[kind], 1) if training.get(kind) is not None else None
            if kind == "stock" and training.get("stock_edit") is not None and metrics.get("cold_start_s") is not None:
                # Stock serves an edited answer after retraining and a restart.
                metrics["answer_edit_live_s"] = round(training["stock_edit"] + metrics["cold_start_s"], 1)
            if kind == "ours":
                metrics["test_suite_s"] = last_suite_seconds()
            report[name] = {
                "model": str(models[kind]),
                "metrics": metrics,
                "errors": sum(r["errors"] for r in results),
                "rounds": results,
            }
        if "ours" in models and not args.no_accuracy:
            log("ours: NLU accuracy on the test file, with and without bot/server/patches/speedups.py...")
            report["nlu_accuracy"] = nlu_accuracy(models["ours"], speedups=True)
            report["nlu_accuracy_without_speedups"] = nlu_accuracy(models["ours"], speedups=False)
        stock_metrics = (report.get("stock") or {}).get("metrics", {})
        report["ratios"] = {
            variant: {
                key: ratio(report[variant]["metrics"].get(key), stock_metrics.get(key))
                for key in sorted(set(report[variant]["metrics"]) | set(stock_metrics))
            }
            for variant in ours_variants(report)
        }
        report["targets"] = evaluate_targets(report)
        report["machine"]["loadavg_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    print(f"\nJSON: {args.out}   logs: {log_dir}")
    errors = sum(report[name].get("errors", 0) for name in report.get("assistants", []))
    if errors:
        print(f"error: {errors} messages failed (see the JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
