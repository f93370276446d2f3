"""Where a message's time goes in our assistant, measured in-process (no HTTP in front).

    .venv/bin/python -m bench.profile [--model M] [--messages 300] [--cprofile out.prof]

Starts our action server, loads the model into this process the way `rasa run` does (our
endpoints.yml: SQLite tracker store in a temp file, in-memory lock store, the action
server fallback), sends the benchmark's TMS conversations through Agent.handle_message
one at a time, and prints the mean time per message spent in each graph component
(NLU pipeline and policies), in the action server call (and the part of it that is
building the request), in the tracker store, and in total. Extra environment for the
Rasa side (e.g. a setting under test) can be given with --env KEY=VALUE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import itertools
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import load_conversations, percentile  # noqa: E402
from bot.server.processes import AssistantServers, free_port  # noqa: E402
from bot.server.training import PROJECT_ROOT, ensure_model  # noqa: E402

# name -> [(wall seconds, CPU seconds of this thread)]
TIMES: Dict[str, List[Tuple[float, float]]] = defaultdict(list)


def timed_sync(name_of: Callable[..., str], function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[name_of(*args)].append((time.perf_counter() - started, time.thread_time() - cpu))

    return wrapper


def timed_async(name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return await function(*args, **kwargs)
        finally:
            TIMES[name].append((time.perf_counter() - started, time.thread_time() - cpu))

    return wrapper


def install_timers() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.engine.graph import GraphNode

    GraphNode.__call__ = timed_sync(lambda node, *_: f"graph: {node._node_name}", GraphNode.__call__)
    RemoteAction.run = timed_async("action server call (total)", RemoteAction.run)
    RemoteAction._action_call_format = timed_sync(
        lambda *_: "action server call: building the request", RemoteAction._action_call_format
    )
    import bot.server.resilience
    from bot.server.stores import EnvironmentTrackerStore

    # Answers given without the action server are quick but not what is measured: counted.
    bot.server.resilience.offline_events = timed_async("action answered OFFLINE (action server failed)", bot.server.resilience.offline_events)

    # Our store's own methods when it has them, Rasa's otherwise.
    for method in ("retrieve", "save"):
        store = next(cls for cls in (EnvironmentTrackerStore, SQLTrackerStore) if method in vars(cls))
        setattr(store, method, timed_async(f"tracker store: {method}", vars(store)[method]))


async def run(args: argparse.Namespace) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.io import configure_colored_logging
    from rasa.utils.log_utils import configure_structlog

    from bot.server.resilience import install_remote_action_fallback

    # Logging as `rasa run` sets it up (level from $LOG_LEVEL, INFO by default).
    configure_logging_and_warnings(None, None, warn_only_once=True, filter_repeated_logs=True)
    configure_colored_logging(None)
    configure_structlog(None)
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()  # TF_INTER_OP_PARALLELISM_THREADS etc., as `rasa` does
    install_remote_action_fallback(float(os.environ.get("ACTION_TIMEOUT_SECONDS", "10")))
    install_timers()
    agent = await load_agent(
        model_path=str(args.model), endpoints=AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    )
    conversations = load_conversations(PROJECT_ROOT / "bench" / "messages" / "tms.txt")
    scripts = itertools.cycle(conversations)

    async def send(count: int) -> List[float]:
        latencies = []
        send.cpu = 0.0
        sent = 0
        while sent < count:
            sender = f"profile-{uuid.uuid4().hex[:12]}"
            for text in next(scripts):
                if sent >= count:
                    break
                started, cpu = time.perf_counter(), time.thread_time()
                replies = await agent.handle_message(
                    UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest")
                )
                latencies.append(time.perf_counter() - started)
                send.cpu += time.thread_time() - cpu
                assert replies, text
                sent += 1
        return latencies

    await send(args.warmup)
    TIMES.clear()
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler:
        profiler.enable()
    latencies = await send(args.messages)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    n = len(latencies)
    total = sum(latencies)
    print(f"\n{n} messages, one at a time, in-process (no HTTP in front of Rasa)")
    print(f"handle_message: mean {total / n * 1000:.1f} ms, p50 {percentile(latencies, 50) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.1f} ms; CPU of the Rasa thread {send.cpu / n * 1000:.1f} ms/msg\n")
    print(f"{'where (wall time includes waiting; CPU is this thread only)':<62} {'calls/msg':>9} {'wall ms':>8} {'CPU ms':>7}")
    for name, values in sorted(TIMES.items(), key=lambda item: -sum(v[0] for v in item[1])):
        wall = sum(v[0] for v in values) * 1000 / n
        cpu = sum(v[1] for v in values) * 1000 / n
        print(f"{name:<62} {len(values) / n:>9.2f} {wall:>8.2f} {cpu:>7.2f}")
    offline = [name for name in TIMES if "OFFLINE" in name]
    if offline:
        raise SystemExit("error: some actions were answered offline; the figures above do not count")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--cprofile", type=Path, help="also write cProfile stats here")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    os.environ.update(dict(item.split("=", 1) for item in args.env))
    args.model = args.model or ensure_model(quiet=True)
    state = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    servers = AssistantServers(model=args.model, action_port=free_port(), env={"RASA_TELEMETRY_ENABLED": "false"})
    os.environ.update(servers.environment())
    os.environ.setdefault("TRACKER_DB_PATH", str(state / "tracker.db"))
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    servers.start_action_server()
    try:
        asyncio.run(run(args))
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
