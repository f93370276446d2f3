"""The Rasa server process: channels, stores, staff inbox, escalation, patches, run/train."""
