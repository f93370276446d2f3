"""Real local receivers for the notification tests: an SMTP server (aiosmtpd, in its own
thread) and HTTP webhooks (aiohttp test servers) that check the signature themselves.

A caller's conversation data is planted with a message text and a phone number so that the
tests can show neither reaches a mail, a webhook body or a log line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from bot.server.escalation import Escalation, NotificationSettings
from bot.server.processes import free_port

PLANTED_TEXT = "I cannot go on anymore PLANTED-c4f1e9"
PLANTED_SENDER = "+15550001234"
STAFF_INBOX = "https://assistant.example-clinic.org/staff"
WEBHOOK_SECRET = "test-secret-0123456789"
FAST = {"base_delay": 0.01, "max_delay": 0.2, "timeout": 3.0}


def caller_conversation() -> Dict[str, Any]:
    """What the calling code has at hand when it escalates: text and sender included."""
    return {
        "sender_id": PLANTED_SENDER,
        "latest_message": {"text": PLANTED_TEXT},
        "event_time": 1714566896.25,
    }


def escalation_from(conversation: Dict[str, Any], reason: str, channel: str = "website") -> Escalation:
    """How a caller is meant to build one: ids through a keyed hash, no text."""
    key = b"caller-side-key"
    seed = f"{conversation['sender_id']}|{conversation['event_time']}|{reason}".encode()
    return Escalation(
        id=hmac.new(key, seed, hashlib.sha256).hexdigest()[:32],
        reason=reason,
        channel=channel,
        conversation_ref="conv-" + hmac.new(key, seed + b"|ref", hashlib.sha256).hexdigest()[:20],
        created_at=dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.timezone.utc),
    )


def assert_no_content(*blobs: Any) -> None:
    """Neither the planted message text nor the phone number, in any form."""
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else str(blob)
        assert "PLANTED-c4f1e9" not in text
        assert "cannot go on" not in text
        assert "5550001234" not in text



def settings_for(**env: str) -> NotificationSettings:
    return NotificationSettings.from_env({"STAFF_INBOX_URL": STAFF_INBOX, **env})


# --- SMTP ---------------------------------------------------------------------------


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted mail; can refuse the first `fail_first`."""

    fail_first: int = 0
    attempts: int = 0
    envelopes: List[Envelope] = field(default_factory=list)
    logins: List[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and data.password == b"smtp-pass":
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def mails(self) -> List[EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)  # type: ignore[misc]
            for envelope in self.envelopes
        ]


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox


@contextmanager
def running_smtp(inbox: Inbox, **kwargs: Any) -> Iterator[SmtpServer]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp(Inbox()) as server:
        yield server


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, so TLS is verified for real."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


# --- Webhook ------------------------------------------------------------------------


def receiver_verifies(secret: str, headers: Any, body: bytes) -> bool:
    """A receiver's own check, written here independently of bot.server.escalation.sign."""
    timestamp = headers.get("X-TMS-Timestamp", "")
    signature = headers.get("X-TMS-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, signature)


@dataclass
class Receiver:
    """An HTTP receiver; fails the first `fail_first` valid requests with `fail_status`."""

    secret: Optional[str] = WEBHOOK_SECRET
    fail_first: int = 0
    fail_status: int = 503
    delay: float = 0.0
    url: str = ""
    attempt_times: List[float] = field(default_factory=list)
    rejected_signatures: int = 0
    raw_bodies: List[bytes] = field(default_factory=list)
    raw_headers: List[Dict[str, str]] = field(default_factory=list)
    delivered: List[Dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.attempt_times.append(time.monotonic())
        self.raw_bodies.append(body)
        self.raw_headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.secret is not None and not receiver_verifies(self.secret, request.headers, body):
            self.rejected_signatures += 1
            return web.Response(status=401)
        if len(self.attempt_times) <= self.fail_first:
            return web.Response(status=self.fail_status)
        self.delivered.append(json.loads(body))
        return web.json_response({"ok": True})


ReceiverFactory = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[ReceiverFactory]:
    servers: List[TestServer] = []

    async def start(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        receiver.url = str(server.make_url("/hook"))
        return receiver

    yield start
    for server in servers:
        await server.close()
