"""The load generator: scripted conversations over Rasa's REST channel, N at a time.

One asyncio loop and one keep-alive aiohttp session. Each of the N workers takes the next
conversation script, gives it a fresh sender id, sends its messages one after the other
(waiting for each reply, as a person would) and starts the next script, until the phase
has sent its number of messages. Every message's latency is kept.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Sequence

import aiohttp

Conversation = List[str]


def load_conversations(path: Path) -> List[Conversation]:
    """A message per line, a blank line between conversations, # comments ignored."""
    conversations: List[Conversation] = [[]]
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line:
            conversations[-1].append(line)
        elif conversations[-1]:
            conversations.append([])
    return [c for c in conversations if c]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class PhaseResult:
    concurrency: int
    latencies: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    empty_replies: int = 0
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None

    @property
    def messages(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict:
        ms = [x * 1000 for x in self.latencies]
        result = {
            "concurrency": self.concurrency,
            "messages": self.messages,
            "errors": len(self.errors),
            "error_examples": self.errors[:3],
            "empty_replies": self.empty_replies,
            "seconds": round(self.seconds, 3),
            "throughput_msgs_per_s": round(self.messages / self.seconds, 2) if self.seconds else None,
            "latency_ms": {
                "p50": round(percentile(ms, 50), 2),
                "p95": round(percentile(ms, 95), 2),
                "p99": round(percentile(ms, 99), 2),
                "mean": round(sum(ms) / len(ms), 2) if ms else None,
                "max": round(max(ms), 2) if ms else None,
            },
            # Share of one core the load generator itself used: it must stay small.
            "client_cpu_share_of_one_core": round(self.client_cpu_seconds / self.seconds, 3) if self.seconds else None,
        }
        if self.server_cpu_seconds is not None and self.messages:
            result["server_cpu_ms_per_msg"] = round(self.server_cpu_seconds * 1000 / self.messages, 2)
        return result


async def _send(session: aiohttp.ClientSession, url: str, sender: str, text: str, result: PhaseResult) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            body = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        result.errors.append(f"{type(error).__name__}: {error}")
        return
    elapsed = time.perf_counter() - started
    if status != 200 or not isinstance(body, list):
        result.errors.append(f"HTTP {status}: {str(body)[:200]}")
        return
    if not body:
        result.empty_replies += 1
    result.latencies.append(elapsed)


async def run_phase_async(
    base_url: str,
    conversations: List[Conversation],
    concurrency: int,
    messages: int,
    tag: str,
    timeout: float = 120,
) -> PhaseResult:
    url = f"{base_url}/webhooks/rest/webhook"
    result = PhaseResult(concurrency=concurrency)
    scripts = itertools.cycle(conversations)
    budget = itertools.count()
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def worker() -> None:
            while True:
                script = next(scripts)
                sender = f"bench-{tag}-{uuid.uuid4().hex[:12]}"
                for text in script:
                    if next(budget) >= messages:
                        return
                    await _send(session, url, sender, text, result)

        cpu_before = client_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
        result.client_cpu_seconds = client_cpu_seconds() - cpu_before
    return result


def run_phase(
    base_url: str,
    conversations: List[Conversation],
    concurrency: int,
    messages: int,
    tag: str,
    server_cpu: Callable[[], float] | None = None,
) -> PhaseResult:
    """Runs one phase; server_cpu() (CPU seconds of the server tree) measures its cost."""
    before = server_cpu() if server_cpu else None
    result = asyncio.run(run_phase_async(base_url, conversations, concurrency, messages, tag))
    if server_cpu and before is not None:
        result.server_cpu_seconds = server_cpu() - before
    return result
