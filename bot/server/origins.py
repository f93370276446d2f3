"""Which web sites may talk to the assistant from a browser (CORS and socket.io origins).

One allow-list, from the environment, for both ways in:

- `WIDGET_ALLOWED_ORIGINS`: comma- (or space-) separated origins such as
  `https://www.example-clinic.org,https://example-clinic.org`. `CORS_ORIGINS` is read
  when it is unset (the older name, still used by existing deployments).
- Unset or empty: only the server's own origin, i.e. the demo page `/chat` it serves.

`bot.server.rasa_server` turns the list into Rasa's `--cors` (Sanic-CORS on every route,
including the REST channel the widget uses) and exports it, normalised, for
`bot.server.channels.socketio.SocketIOChannel`, which refuses socket.io requests and WebSocket
upgrades from any other origin. A page served by the assistant itself (same origin)
needs no entry. `*` is refused on purpose: conversations are health data.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Iterable, List, Mapping, Sequence

ENV_VAR = "WIDGET_ALLOWED_ORIGINS"
LEGACY_ENV_VAR = "CORS_ORIGINS"
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


class InvalidOrigin(ValueError):
    """An allow-list entry that is not an origin (scheme://host[:port])."""


def normalise_origin(value: str) -> str:
    """`HTTPS://Example.org:443/` -> `https://example.org`; InvalidOrigin when not an origin."""
    text = value.strip().rstrip("/")
    match = _ORIGIN.match(text)
    if not match:
        raise InvalidOrigin(
            f"{value!r} is not an origin: use scheme://host[:port], e.g. https://www.example-clinic.org "
            "(no path, no wildcard)"
        )
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port and port == _DEFAULT_PORTS[scheme]:
        port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def parse_origins(text: str | None) -> List[str]:
    """The origins in a comma- or space-separated list, normalised, without duplicates."""
    origins: List[str] = []
    for item in re.split(r"[,\s]+", text or ""):
        if item:
            origin = normalise_origin(item)
            if origin not in origins:
                origins.append(origin)
    return origins


def own_origins(interface: str | None, port: int) -> List[str]:
    """The origins under which a server on `interface`:`port` serves its own pages."""
    hosts: List[str] = []
    if interface and interface not in ("0.0.0.0", "::", ""):
        hosts.append(f"[{interface}]" if ":" in interface and not interface.startswith("[") else interface)
    if not hosts or hosts[0] in _LOOPBACK or interface in ("0.0.0.0", "::", ""):
        hosts += ["localhost", "127.0.0.1"]
    return [f"http://{host}:{port}" for host in dict.fromkeys(hosts)]


def configured_origins(env: Mapping[str, str] | None = None) -> List[str]:
    """The allow-list from the environment (empty when unset): InvalidOrigin on a bad entry."""
    env = os.environ if env is None else env
    value = env.get(ENV_VAR)
    if value is None or not value.strip():
        value = env.get(LEGACY_ENV_VAR, "")
    return parse_origins(value)


def allowed_origins(
    interface: str | None, port: int, env: Mapping[str, str] | None = None
) -> List[str]:
    """The configured allow-list, or the server's own origins when none is configured."""
    return configured_origins(env) or own_origins(interface, port)


def is_allowed(origin: str | None, allowed: Iterable[str], own: Sequence[str] = ()) -> bool:
    """Whether a request's Origin header names an allowed (or the server's own) origin."""
    if not origin:
        return True  # not a browser cross-origin request (curl, server to server)
    try:
        origin = normalise_origin(origin)
    except InvalidOrigin:
        return False  # "null" (sandboxed frames, file://) and anything malformed
    own_normalised = set()
    for item in own:
        with contextlib.suppress(InvalidOrigin):
            own_normalised.add(normalise_origin(item))
    return origin in set(allowed) or origin in own_normalised
