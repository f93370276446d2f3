"""Dialogue policies: Rasa graph components that see the whole conversation."""
