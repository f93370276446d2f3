"""The report's files: one self-contained HTML page and a CSV file per table.

The page is a Jinja2 template with autoescaping (people's questions are shown on it), a
Content-Security-Policy that forbids fetching anything, charts as data URIs and no script.
CSV cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading
apostrophe: the unanswered examples are text people typed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from markupsafe import Markup, escape

from bot.server.report.figures import Figures, Table
from bot.server.report.unanswered import Grouping

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PAGE_NAME = "report.html"
UNANSWERED_CSV = "unanswered_groups"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class PeriodText:
    first: str
    last: str
    timezone: str


def cell(value: Any, percent: bool = False) -> str:
    """How a value reads on the page: empty for none, 12.5% for a rate."""
    if value is None:
        return ""
    if percent:
        return f"{100.0 * value:.1f}%"
    return str(value)


def html_table(table: Table, percent: Sequence[str] = ()) -> Markup:
    """An HTML table of `table`, every cell escaped; numeric columns right-aligned."""
    classes = [_num_class(table, index) for index in range(len(table.columns))]
    head = "".join(f'<th scope="col"{kind}>{escape(name)}</th>' for kind, name in zip(classes, table.columns, strict=True))
    body = []
    for row in table.rows:
        cells = "".join(
            f"<td{kind}>{escape(cell(value, name in percent))}</td>"
            for kind, name, value in zip(classes, table.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _num_class(table: Table, index: int) -> str:
    values = [row[index] for row in table.rows if row[index] is not None]
    numeric = bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return ' class="num"' if numeric else ""


def summary_cards(figures: Figures) -> List[Tuple[str, str]]:
    rates = {"containment rate", "clarify rate", "fallback rate", "out-of-scope rate"}
    cards = []
    for name, value in figures.summary.rows:
        if value is None:
            continue  # e.g. no staff inbox in this database
        cards.append((name, cell(value, percent=name in rates)))
    return cards


def render(
    figures: Figures,
    grouping: Grouping,
    charts: Dict[str, Optional[str]],
    period: PeriodText,
    generated_at: str,
    store: str,
) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["table"] = html_table
    return environment.get_template(PAGE_NAME).render(
        figures=figures,
        grouping=grouping,
        charts=charts,
        period=period,
        generated_at=generated_at,
        store=store,
        summary=summary_cards(figures),
    )


def unanswered_table(grouping: Grouping) -> Table:
    rows = [
        (rank, group.messages, group.conversations, ", ".join(group.keywords), " | ".join(group.examples))
        for rank, group in enumerate(grouping.groups, start=1)
    ]
    return Table(
        UNANSWERED_CSV,
        "Unanswered questions, largest groups",
        ("rank", "messages", "conversations", "keywords", "examples"),
        rows,
    )


def csv_safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(table: Table, directory: Path) -> Path:
    path = directory / f"{table.name}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([csv_safe(value) for value in row])
    return path


def write_all(tables: Iterable[Table], page: str, directory: Path) -> List[Path]:
    """Writes the CSV files and the page; returns their paths, the page first."""
    directory.mkdir(parents=True, exist_ok=True)
    page_path = directory / PAGE_NAME
    page_path.write_text(page, encoding="utf-8")
    return [page_path, *(write_csv(table, directory) for table in tables)]
