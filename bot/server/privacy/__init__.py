"""People's data: deleting, exporting and expiring conversations, and answer feedback.

- erase.py: delete one conversation everywhere it is held (tracker store rows, Redis lock
  keys, staff inbox entries and replies, escalation claims, feedback, in-process caches);
- transcript.py: a conversation as plain text, for the person who had it;
- retention.py: the daily job that deletes conversations idle for $RETENTION_DAYS;
- feedback.py: "Was this helpful?" per answer, in `answer_feedback`;
- transcript.py's export, tokens.py, limiter.py, body.py, web.py: the person's own API under
  /privacy/api (the website widget);
- messaging.py: /forget, /export and 👍/👎 on Telegram, FORGET on SMS and WhatsApp;
- cli.py: `python -m bot retention`.

docs/privacy.md describes all of it for people who run the assistant.

Settings are read in settings.py only. Nothing here runs at import time.
"""
