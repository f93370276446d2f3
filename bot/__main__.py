"""Command line: `python -m bot train`, `python -m bot run`, `python -m bot staff add|list`, or
`python -m bot retention [--days N] [--dry-run]`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.server.privacy import cli as privacy_cli
from bot.server.processes import AssistantServers
from bot.server.report import cli as report_cli
from bot.server.staff import cli as staff_cli
from bot.server.training import PROJECT_ROOT, ensure_model

# Where `python -m bot run` writes the servers' own output (Rasa, TensorFlow and their
# deprecation warnings) unless --verbose shows it in the terminal.
LOG_DIR = PROJECT_ROOT / "var" / "log"


def show_tail(log: Path, lines: int = 40) -> None:
    if log.exists():
        print(f"--- last lines of {log} ---", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-lines:]), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    log_dir = None if args.verbose else LOG_DIR
    try:
        model = ensure_model(log=None if log_dir is None else log_dir / "train.log")
    except subprocess.CalledProcessError:
        print("error: training failed", file=sys.stderr)
        show_tail(LOG_DIR / "train.log")
        return 1
    servers = AssistantServers(model=model, rasa_port=args.port, action_port=args.action_port, log_dir=log_dir)
    where = "" if log_dir is None else f"; their logs go to {log_dir}/ (--verbose shows them here)"
    print(f"Starting the action server and the Rasa server (this takes about a minute{where})...", flush=True)
    try:
        servers.start()
    except (RuntimeError, TimeoutError) as error:
        servers.stop()
        print(f"error: the assistant did not start: {error}", file=sys.stderr)
        if log_dir is not None:
            show_tail(log_dir / "actions.log")
            show_tail(log_dir / "rasa.log")
        return 1
    url = servers.rasa_url
    # Ctrl-C from here on stops both servers cleanly, even while the lines below print.
    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(
        f"""
The TMS assistant is running on {url}  (press Ctrl-C to stop)

  Chat with it in the website widget (demo page), open in your browser:
    {url}/chat

  Talk to it over REST:
    curl -s {url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\
         -d '{{"sender": "me", "message": "How long is a TMS session?"}}'

  Or in a terminal, in another shell:
    ACTION_ENDPOINT_URL={servers.action_url}/webhook .venv/bin/rasa shell --model {model} --endpoints endpoints.yml
""",
        flush=True,
    )
    try:
        while not stop:
            if any(process.poll() is not None for process in servers.processes):
                print("error: a server stopped unexpectedly; shutting down", file=sys.stderr)
                if log_dir is not None:
                    show_tail(log_dir / "rasa.log")
                return 1
            time.sleep(0.5)
    finally:
        print("Stopping...", flush=True)
        servers.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("train", help="train the model if config or data changed")
    run_parser = commands.add_parser("run", help="train if needed, then start both servers")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    run_parser.add_argument("--action-port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    run_parser.add_argument("--verbose", action="store_true", help="show the servers' own output here")
    staff_cli.add_parser(commands)
    privacy_cli.add_commands(commands)
    report_cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "staff":
        return staff_cli.run(args)
    if args.command == "retention":
        return privacy_cli.run(args)
    if args.command == "report":
        return report_cli.run(args)
    if args.command == "train":
        ensure_model()
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
