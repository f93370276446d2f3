"""The report page: self-contained, opens in headless Chromium (screenshot in test-artifacts/),
and its CSV files never carry a spreadsheet formula.

Playwright's sync API keeps an event loop running while the browser is open, so the stores
these tests read are made (with asyncio.run) before the `chromium` fixture starts."""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Tuple

import pytest

from bot.server.report.build import Report
from bot.server.report.figures import Table
from bot.server.report.page import csv_safe, write_csv
from tests.conftest import PROJECT_ROOT
from tests.server.report.test_report_store import make_sqlite_store, run_report

SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "report.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Report:
    directory = tmp_path_factory.mktemp("report-page")
    db = make_sqlite_store(directory)
    return run_report({"TRACKER_DB_PATH": str(db)}, directory / "out")


class References(HTMLParser):
    """Every attribute that makes a browser fetch or go somewhere, and the tags used."""

    def __init__(self) -> None:
        super().__init__()
        self.references: List[Tuple[str, str, str]] = []
        self.tags: List[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action", "formaction", "background"):
                self.references.append((tag, name, value or ""))


def test_the_page_is_self_contained(report):
    page = report.files[0].read_text(encoding="utf-8")
    parser = References()
    parser.feed(page)
    sources = [value for tag, name, value in parser.references if name != "href"]
    links = [value for tag, name, value in parser.references if name == "href"]
    assert len(sources) >= 4 and all(value.startswith("data:image/png;base64,") for value in sources)
    # Links only within the page (plain <a> links elsewhere would be allowed, there are none).
    assert links and all(value.startswith("#") for value in links)
    assert {"script", "link", "iframe", "object", "embed"}.isdisjoint(parser.tags)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # nothing may be fetched even if something slipped in


def test_the_page_opens_in_chromium_and_is_screenshotted(report, chromium):
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    requested: List[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(report.files[0].resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
        assert len(images) >= 4 and all(done and width > 0 for done, width in images)
        assert page.evaluate("document.querySelectorAll('section').length") == 7
        headings = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        assert "Unanswered questions" in headings
        assert "insurance" in page.inner_text("#unanswered")
        assert page.inner_text("#crisis").count("2024-05-13") == 1
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        page.close()
    # Only the page itself: its images are data URIs, which make no request.
    assert [url for url in requested if not url.startswith("data:")] == [report.files[0].resolve().as_uri()]
    assert SCREENSHOT.stat().st_size > 10_000


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(tmp_path):
    table = Table("t", "T", ("text", "number"), [("=HYPERLINK(\"x\")", 1), ("+1 cost", 2), ("-x", 3), ("@SUM", 4),
                                                  ("plain", None)])
    path = write_csv(table, tmp_path)
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[1:] == [["'=HYPERLINK(\"x\")", "1"], ["'+1 cost", "2"], ["'-x", "3"], ["'@SUM", "4"], ["plain", ""]]
    assert csv_safe(-1.5) == -1.5  # numbers stay numbers


def test_the_screenshot_path_is_under_test_artifacts():
    assert Path("test-artifacts") in SCREENSHOT.relative_to(PROJECT_ROOT).parents
