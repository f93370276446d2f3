"""An instance dies mid-conversation: no error for the person, no message stored twice.

Two Rasa instances on PostgreSQL + Redis (as deploy/Procfile runs them). Conversations send
their messages to a random instance, a few at a time; midway one instance is killed with
SIGKILL, mid-turn, and started again. A client whose request failed (connection refused or
reset, or no answer in time) sends the same message, with the same id, to the other
instance, as the widget does. Every message must be answered with 2xx, none with 5xx, and
each stored exactly once.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Dict, List

import aiohttp
import pytest
import sqlalchemy

from bot.server.processes import AssistantServers, free_port
from tests.conftest import PROJECT_ROOT
from tests.services import postgres_url, redis_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

CONVERSATIONS = 40
TURNS = 10
AT_ONCE = 8
KILL_AFTER = CONVERSATIONS * TURNS // 3  # answered messages before the kill
QUESTIONS = [
    "what is TMS", "how long is one session", "how many weeks does treatment take",
    "what are the side effects", "does it hurt", "how is it different from ECT",
]


@dataclass
class Outcome:
    statuses: List[int] = field(default_factory=list)  # every HTTP answer, retries included
    failures: List[str] = field(default_factory=list)  # connection errors and timeouts
    replies: Dict[str, List[Dict]] = field(default_factory=dict)  # message id -> final replies
    seconds: Dict[str, float] = field(default_factory=dict)  # message id -> first try to answer
    answered: int = 0


@pytest.fixture(scope="module")
def instances(trained_model, postgres_url, redis_url):  # noqa: F811
    env = {"TRACKER_STORE_URL": postgres_url, "REDIS_URL": redis_url}
    logs = PROJECT_ROOT / "test-artifacts" / "logs" / "fault"
    first = AssistantServers(model=trained_model, rasa_port=free_port(), action_port=free_port(), env=env, log_dir=logs / "a")
    first.start()
    second = AssistantServers(model=trained_model, rasa_port=free_port(), action_port=first.action_port, env=env, log_dir=logs / "b")
    second.start_rasa_server()
    yield first, second
    second.stop()
    first.stop()


async def deliver(session: aiohttp.ClientSession, urls: List[str], body: Dict, outcome: Outcome) -> List[Dict]:
    """Sends one message until an instance answers it, as a client that retries would."""
    rng = random.Random(body["message_id"])
    url = rng.choice(urls)
    for _ in range(30):
        try:
            async with session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
                outcome.statuses.append(response.status)
                if response.status < 500:
                    assert response.status == 200, await response.text()
                    return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            outcome.failures.append(type(error).__name__)
        url = urls[(urls.index(url) + 1) % len(urls)]  # the other instance
        await asyncio.sleep(0.5)
    raise AssertionError(f"message {body['message_id']} was never answered")


async def talk(urls: List[str], outcome: Outcome, killed: asyncio.Event) -> None:
    limit = asyncio.Semaphore(AT_ONCE)
    # Longer than the lock a killed instance leaves behind plus a turn (bot/server/rasa_server.py).
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def conversation(index: int) -> None:
            for turn in range(TURNS):
                async with limit:
                    body = {"sender": f"fault-{index:02d}", "message": QUESTIONS[(index + turn) % len(QUESTIONS)],
                            "message_id": f"fault-{index:02d}-{turn:02d}"}
                    started = time.monotonic()
                    outcome.replies[body["message_id"]] = await deliver(session, urls, body, outcome)
                    outcome.seconds[body["message_id"]] = time.monotonic() - started
                    outcome.answered += 1
                    if outcome.answered == KILL_AFTER:
                        killed.set()

        await asyncio.gather(*(conversation(i) for i in range(CONVERSATIONS)))


async def kill_midway(second: AssistantServers, killed: asyncio.Event) -> None:
    await killed.wait()
    process = second.processes.pop()
    process.kill()  # SIGKILL: no shutdown, locks and half-done turns left behind
    process.wait()
    await asyncio.sleep(3)
    await asyncio.to_thread(second.start_rasa_server)


def stored_user_messages(postgres: str) -> List[str]:
    engine = sqlalchemy.create_engine(postgres)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text(
                "SELECT data FROM events WHERE type_name = 'user' AND sender_id LIKE 'fault-%'"
            )).fetchall()
    finally:
        engine.dispose()
    import json

    return [json.loads(data)["message_id"] for (data,) in rows]


def test_a_killed_instance_costs_no_error_and_no_duplicate(instances, postgres_url):  # noqa: F811
    first, second = instances
    outcome = Outcome()
    killed = asyncio.Event()

    async def run() -> float:
        started = time.monotonic()
        await asyncio.gather(talk([first.rasa_url, second.rasa_url], outcome, killed), kill_midway(second, killed))
        return time.monotonic() - started

    seconds = asyncio.run(run())
    stored = stored_user_messages(postgres_url)
    sent = CONVERSATIONS * TURNS
    report = (
        f"messages sent: {sent}, answered: {len(outcome.replies)}, user events stored: {len(stored)}, "
        f"duplicates: {len(stored) - len(set(stored))}, HTTP answers: {len(outcome.statuses)} "
        f"(5xx: {sum(s >= 500 for s in outcome.statuses)}), failed requests retried: {len(outcome.failures)} "
        f"({', '.join(sorted(set(outcome.failures)))}), slowest turn: {max(outcome.seconds.values()):.1f} s, "
        f"run: {seconds:.0f} s"
    )
    artifacts = PROJECT_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fault-report.txt").write_text(report + "\n")
    with (artifacts / "fault-runs.txt").open("a") as runs:  # one line per run, kept across runs
        runs.write(report + "\n")
    print(report)
    assert len(outcome.replies) == sent
    assert all(replies and replies[0].get("text") for replies in outcome.replies.values())
    assert [status for status in outcome.statuses if status >= 500] == []
    assert sorted(stored) == sorted(outcome.replies)  # each message stored exactly once
    assert outcome.failures  # the kill did interrupt requests: the retry path ran
