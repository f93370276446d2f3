"""The staff inbox: where the clinic's professionals see and take over conversations.

- store.py: handoffs, staff replies and the audit trail, in the tracker store's database;
- accounts.py: staff accounts (argon2 hashes) and the login rate limits;
- sessions.py: server-side login sessions and their CSRF tokens;
- takeover.py: the interfaces the live takeover plugs into (TranscriptSource, TakeoverControl);
- web.py: the Rasa input channel that serves the inbox at /staff, with guard.py (who may
  reach a route: accounts, sessions, CSRF; headers, cookies), forms.py (strict form
  reading, Origin checks) and pages.py + templates/ (autoescaped Jinja2 pages);
- cli.py: `python -m bot staff add|list` (accounts are made on the command line only).

Importing this package does nothing: every database is opened on first use.
"""
