"""Fixtures for the server tests: the headless browser (tests/browser.py)."""

from tests.browser import chromium  # noqa: F401 - a fixture, shared by the widget and inbox tests
