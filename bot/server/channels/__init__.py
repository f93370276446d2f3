"""Messaging and web channels for the Rasa server (connectors configured in credentials.yml)."""
