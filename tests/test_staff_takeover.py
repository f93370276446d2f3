"""A person asks for a professional and gets one: the real servers, a webhook receiver for the
clinic's notification, and a professional using the staff inbox over HTTP.

The whole path of issue 13: request -> signed notification with the inbox link (no text)
-> sign in -> claim -> reply -> the widget's updates show it, labelled -> the assistant is
quiet while staff have the conversation -> crisis language still gets the crisis reply at
once and the entry turns urgent -> resolve -> the assistant answers again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List

import pytest
import requests

from bot.server.processes import AssistantServers, free_port
from bot.server.staff.store import HandoffRepository, engine_from_env
from tests.conftest import PROJECT_ROOT, wait_until
from tests.test_end_to_end import response_text, say, texts

pytestmark = pytest.mark.slow

SECRET = "webhook-secret-for-tests-0123456789"
PASSWORD = "a long staff password 42"
PERSON = "web-" + "3c" * 16
SECRET_TEXT = "can I talk to a real person please, my number is 555-0199"


class Clinic(BaseHTTPRequestHandler):
    """The clinic's webhook receiver: keeps the requests whose signature checks out."""

    received: List[Dict] = []
    rejected = 0

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        timestamp = self.headers.get("X-TMS-Timestamp", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, self.headers.get("X-TMS-Signature", "")):
            Clinic.received.append({"at": time.monotonic(), "body": body})
            self.send_response(200)
        else:
            Clinic.rejected += 1
            self.send_response(401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def clinic():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Clinic)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory, clinic):
    db = tmp_path_factory.mktemp("takeover") / "tracker.db"
    rasa_port = free_port()
    env = {
        "TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": "",
        "NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{clinic.server_port}/hook", "NOTIFY_WEBHOOK_SECRET": SECRET,
        "STAFF_INBOX_URL": f"http://127.0.0.1:{rasa_port}/staff", "HANDOFF_EXPECTED_WAIT": "10 minutes",
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "alice", "--name", "Dr Alice Smith", "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
    )
    servers = AssistantServers(model=trained_model, rasa_port=rasa_port, action_port=free_port(), env=env,
                               log_dir=PROJECT_ROOT / "test-artifacts" / "logs")
    servers.start()
    servers.db = db
    yield servers
    servers.stop()


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


class Professional:
    def __init__(self, servers: AssistantServers) -> None:
        self.base = servers.rasa_url
        self.http = requests.Session()
        self.http.headers["Origin"] = self.base  # as a browser sends on a same-origin post

    def sign_in(self) -> None:
        page = self.http.get(f"{self.base}/staff/login", timeout=10)
        answer = self.http.post(f"{self.base}/staff/login", timeout=10, allow_redirects=False,
                                data={"csrf_token": csrf_token(page.text), "username": "alice", "password": PASSWORD})
        assert answer.status_code == 303, answer.text

    def act(self, ref: str, action: str, **fields: str) -> requests.Response:
        page = self.http.get(f"{self.base}/staff/conversations/{ref}", timeout=10)
        assert page.status_code == 200
        answer = self.http.post(f"{self.base}/staff/conversations/{ref}/{action}", timeout=30, allow_redirects=False,
                                data={"csrf_token": csrf_token(page.text), **fields})
        assert answer.status_code == 303, answer.text
        return answer


def updates(servers: AssistantServers, after: int = 0) -> Dict:
    answer = requests.get(f"{servers.rasa_url}/staff/api/updates", params={"sender": PERSON, "after": after}, timeout=10)
    assert answer.status_code == 200
    return answer.json()


def test_a_person_reaches_a_professional_and_crisis_replies_never_wait(servers, domain):
    handoffs = HandoffRepository(engine_from_env({"TRACKER_DB_PATH": str(servers.db)}))

    asked_at = time.monotonic()
    reply = say(servers, PERSON, SECRET_TEXT)
    assert texts([m for m in reply if "text" in m]) == [
        domain["responses"]["utter_handoff_connected"][0]["text"].format(handoff_wait="usually within 10 minutes"),
        response_text(domain, "utter_crisis_reminder"),
    ]
    assert {"handoff": "waiting"} in [m.get("custom") for m in reply]

    # The clinic is told: signed, once, with the inbox link and no word of what was written.
    [notified] = wait_until(lambda: Clinic.received)
    notification_seconds = notified["at"] - asked_at
    [handoff] = handoffs.list()
    payload = json.loads(notified["body"])
    assert payload["escalation"]["reason"] == "asked_for_person"
    assert payload["escalation"]["link"] == f"{servers.rasa_url}/staff/conversations/{handoff.ref}"
    assert "555-0199" not in notified["body"].decode() and "real person" not in notified["body"].decode()
    assert PERSON not in notified["body"].decode()
    assert Clinic.rejected == 0
    assert updates(servers) == {"status": "waiting", "replies": []}

    alice = Professional(servers)
    alice.sign_in()
    inbox = alice.http.get(f"{servers.rasa_url}/staff", timeout=10).text
    assert handoff.ref in inbox
    alice.act(handoff.ref, "claim")
    replied_at = time.monotonic()
    alice.act(handoff.ref, "reply", text="Hello, I'm Alice, a nurse at the clinic. How can I help?")
    shown = wait_until(lambda: updates(servers)["replies"])
    assert shown
    reply_seconds = time.monotonic() - replied_at
    assert shown == [{"id": shown[0]["id"], "name": "Dr Alice Smith",
                      "text": "Hello, I'm Alice, a nurse at the clinic. How can I help?"}]

    # While Alice has the conversation the assistant is quiet; the message reaches the inbox.
    assert say(servers, PERSON, "how long is one session?") == []
    transcript = alice.http.get(f"{servers.rasa_url}/staff/conversations/{handoff.ref}", timeout=10).text
    assert "how long is one session?" in transcript

    # Crisis language is answered at once, and the entry turns urgent for staff.
    crisis = say(servers, PERSON, "i dont want to live anymore, i have pills saved up")
    us_crisis_replies = {v["text"] for v in domain["responses"]["utter_crisis"]
                         if not any(c["name"] == "crisis_region" for c in v.get("condition", []))}
    assert texts(crisis)[0] in us_crisis_replies
    assert wait_until(lambda: handoffs.get(handoff.ref).urgent)
    assert handoffs.get(handoff.ref).status == "claimed"  # Alice still has it

    alice.act(handoff.ref, "resolve")
    ended = updates(servers, after=shown[0]["id"])
    assert ended == {"status": "resolved", "replies": [],
                     "closing": domain["responses"]["utter_staff_resolved"][0]["text"]}
    answer = say(servers, PERSON, "how long is one session?")
    assert texts(answer)[0] == domain["responses"]["utter_faq/session_length"][0]["text"]

    print(f"\nrequest -> notification received: {notification_seconds * 1000:.0f} ms; "
          f"staff reply -> visible to the widget: {reply_seconds * 1000:.0f} ms")
