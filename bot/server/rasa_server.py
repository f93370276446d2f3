"""`python -m bot.server.rasa_server run ...`: Rasa's own command line, with the action fallback.

Same arguments as `rasa`; it first installs bot.server.resilience, so a failing action
server never silences the referral, and the version-checked patches (bot/server/patches), and
it sets `--cors` from the origin allow-list
(bot/server/origins.py: $WIDGET_ALLOWED_ORIGINS, by default only the server's own origin).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import List, MutableMapping

from bot.server.origins import ENV_VAR, InvalidOrigin, allowed_origins, parse_origins

# Seconds a custom action may take before the domain fallback answers (bot/server/resilience.py).
DEFAULT_ACTION_TIMEOUT = 10.0


def crash_safe_timeouts(environ: MutableMapping[str, str]) -> None:
    """Lock and response timeouts that fit an instance dying mid-turn (docs/production.md).

    A conversation's lock (Redis with several instances) outlives a killed instance by its
    lifetime: Rasa's 60 s default made a retry on the healthy instance wait past Sanic's own
    60 s response timeout, so the person got "Response Timeout". The lock now lives just
    longer than the longest turn (the action timeout plus 10 s for NLU and storage), and a
    response may take the lock's lifetime (waiting out a dead instance) plus a turn. Both
    are set before Rasa is imported (it reads TICKET_LOCK_LIFETIME once, at import) and
    only when not set already.
    """
    action = float(environ.get("ACTION_TIMEOUT_SECONDS") or DEFAULT_ACTION_TIMEOUT)
    lock = int(environ.get("TICKET_LOCK_LIFETIME") or action + 10)
    environ.setdefault("TICKET_LOCK_LIFETIME", str(lock))
    environ.setdefault("SANIC_RESPONSE_TIMEOUT", str(int(lock + action + 15)))


def with_allowed_origins(args: List[str]) -> List[str]:
    """`args` for `rasa run` with `--cors` set to the allow-list (exported as $WIDGET_ALLOWED_ORIGINS).

    Origins given with `--cors` on the command line win over the environment; an empty
    `--cors` (an unset variable in a Procfile) counts as not given.
    """
    if not args or args[0] != "run" or (len(args) > 1 and args[1] == "actions"):
        return args
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--interface", "-i", default="0.0.0.0")
    parser.add_argument("--port", "-p", type=int, default=5005)
    parser.add_argument("--cors", nargs="*", default=None)
    known, rest = parser.parse_known_args(args[1:])
    explicit = parse_origins(",".join(known.cors or []))
    origins = explicit or allowed_origins(known.interface, known.port)
    os.environ[ENV_VAR] = ",".join(origins)
    # Sanic-CORS compares plain origins exactly but reads "]" as a regular expression:
    # anchor an escaped pattern for IPv6 hosts.
    cors = [re.escape(origin) + "$" if "[" in origin else origin for origin in origins]
    return ["run", *rest, "--interface", known.interface, "--port", str(known.port), "--cors", *cors]


def one_blas_thread(environ: MutableMapping[str, str]) -> None:
    """Matrix products on one thread, unless told otherwise ($OPENBLAS_NUM_THREADS, read
    when NumPy loads, so before anything imports it; Sanic workers inherit it).

    A message's products (the sentence embedding) are small: a second thread saves about
    1 ms of a 26 ms reply but spins while it waits, which doubled the server's CPU per
    message (48 against 25 ms, measured over 200 messages) and so halved what two cores
    can answer at once."""
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    one_blas_thread(os.environ)
    crash_safe_timeouts(os.environ)
    from bot.server import patches
    from bot.server.resilience import install_remote_action_fallback

    install_remote_action_fallback(float(os.environ.get("ACTION_TIMEOUT_SECONDS") or DEFAULT_ACTION_TIMEOUT))
    patches.install()
    try:
        args = with_allowed_origins(sys.argv[1:])
    except InvalidOrigin as error:
        sys.exit(f"error: {ENV_VAR}: {error}")
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
