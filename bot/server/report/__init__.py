"""The content owner's report: `python -m bot report` (issue 14, section 4).

Reads the tracker store's events and the staff inbox and feedback tables (SQLite or
PostgreSQL, chosen as the Rasa server chooses them) and writes one self-contained HTML page
and a CSV file per table. No model is loaded. Modules, in the order the data flows:

- outcomes.py      which actions and responses mean clarify, fallback, out of scope,
                   handoff, crisis, answer (the one place that mapping is written)
- source.py        reads the events, per conversation, and the optional tables
- conversations.py one conversation's events -> a compact summary (no text kept except
                   the redacted unanswered questions)
- figures.py       the tables the page shows, computed from the summaries
- redact.py        phone numbers, e-mails and names out of text before it is shown
- unanswered.py    unanswered questions grouped by similarity (TF-IDF + clustering)
- charts.py        matplotlib (Agg) charts as PNG data URIs
- page.py          the HTML page and the CSV files
- build.py         all of it, for one period
- cli.py           the command line
"""
