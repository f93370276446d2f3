"""The report's charts: matplotlib figures rendered by the Agg canvas to PNG data URIs.

A data URI keeps the page one self-contained file (no image files next to it, nothing
fetched when it opens). Figures are built with `matplotlib.figure.Figure` and its own Agg
canvas, not pyplot: no global state, no display, safe in any process. Colours are the
Okabe-Ito palette, told apart with colour blindness too; every chart's numbers are also in
a table on the page and in its CSV file.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.server.report.figures import Table

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
HELPFUL_COLOUR = "#009E73"
NOT_HELPFUL_COLOUR = "#D55E00"
DPI = 100
TOP_TOPICS = 15
# Longer periods are drawn per week: hundreds of daily bars are slow to draw and unreadable.
MAX_DAILY_BARS = 120


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _dates(values: Sequence[str]) -> List[dt.date]:
    return [dt.date.fromisoformat(value) for value in values]


def _date_axis(axes: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _whole_numbers(axis: Any) -> None:
    """Counts: ticks on whole numbers only (no 1.25 conversations)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _tidy(axes: Any) -> None:
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)


def volume_chart(table: Table) -> str:
    """Conversations (top) and messages (bottom) per day, stacked by channel; per week when
    the period has more than MAX_DAILY_BARS days (the CSV file keeps the days)."""
    channels = sorted(set(table.column("channel")))
    weekly = len(set(table.column("date"))) > MAX_DAILY_BARS
    counts: Dict[Tuple[str, str], Tuple[int, int]] = {}
    for row in table.as_dicts():
        day = dt.date.fromisoformat(row["date"])
        bucket = (day - dt.timedelta(days=day.weekday()) if weekly else day).isoformat()
        before = counts.get((bucket, row["channel"]), (0, 0))
        counts[(bucket, row["channel"])] = (before[0] + row["conversations"], before[1] + row["messages"])
    days = sorted({bucket for bucket, _ in counts})
    unit = "week" if weekly else "day"
    figure = _figure(10, 6)
    axes = figure.subplots(2, 1, sharex=True)
    x = _dates(days)
    width = 6.0 if weekly else 0.8
    titles = ((f"Conversations per {unit}", 0), (f"Messages per {unit}", 1))
    for panel, (title, which) in enumerate(titles):
        bottom = [0] * len(days)
        for index, channel in enumerate(channels):
            values = [counts.get((day, channel), (0, 0))[which] for day in days]
            axes[panel].bar(x, values, bottom=bottom, width=width, label=channel, color=PALETTE[index % len(PALETTE)])
            bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        axes[panel].set_title(title, loc="left")
        _whole_numbers(axes[panel].yaxis)
        _tidy(axes[panel])
        _date_axis(axes[panel])
    if channels:
        axes[0].legend(title="channel", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _data_uri(figure)


def rates_chart(table: Table) -> str:
    """Containment per day (of conversations) and clarify / fallback / out-of-scope (of messages)."""
    x = _dates(table.column("date"))
    figure = _figure(10, 4.2)
    axes = figure.subplots()
    series = (
        ("containment (conversations)", "containment_rate", PALETTE[2], "-"),
        ("clarified (messages)", "clarify_rate", PALETTE[1], "--"),
        ("fallback (messages)", "fallback_rate", PALETTE[3], "-."),
        ("out of scope (messages)", "out_of_scope_rate", PALETTE[4], ":"),
    )
    for label, column, colour, style in series:
        values = [None if value is None else 100.0 * value for value in table.column(column)]
        axes.plot(x, [float("nan") if v is None else v for v in values], style, marker="o", markersize=3,
                  label=label, color=colour)
    axes.set_ylim(0, 105)
    axes.set_ylabel("% per day")
    axes.set_title("Containment, clarify, fallback and out-of-scope rates", loc="left")
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    _tidy(axes)
    _date_axis(axes)
    return _data_uri(figure)


def _label(row: Dict[str, Any]) -> str:
    return row["title"] or row["topic"]


def topics_chart(table: Table) -> Optional[str]:
    """The most answered topics, as horizontal bars (None when nothing was answered)."""
    rows = [row for row in table.as_dicts() if row["answered"]][:TOP_TOPICS]
    if not rows:
        return None
    rows.reverse()  # largest at the top
    figure = _figure(10, 1.2 + 0.32 * len(rows))
    axes = figure.subplots()
    axes.barh([_label(row) for row in rows], [row["answered"] for row in rows], color=PALETTE[0])
    axes.set_xlabel("answers given")
    _whole_numbers(axes.xaxis)
    axes.set_title(f"Top {len(rows)} topics answered", loc="left")
    _tidy(axes)
    axes.grid(axis="x", color="#dddddd", linewidth=0.8)
    axes.grid(axis="y", visible=False)
    return _data_uri(figure)


def feedback_chart(table: Table) -> Optional[str]:
    """Helpful / not helpful ratings per topic (None when there are none)."""
    rows = [row for row in table.as_dicts() if row["helpful"] or row["not_helpful"]]
    if not rows:
        return None
    rows.sort(key=lambda row: (-(row["helpful"] + row["not_helpful"]), row["topic"]))
    rows = rows[:TOP_TOPICS]
    rows.reverse()
    labels = [_label(row) for row in rows]
    figure = _figure(10, 1.2 + 0.32 * len(rows))
    axes = figure.subplots()
    helpful = [row["helpful"] for row in rows]
    axes.barh(labels, helpful, color=HELPFUL_COLOUR, label="helpful")
    axes.barh(labels, [row["not_helpful"] for row in rows], left=helpful, color=NOT_HELPFUL_COLOUR,
              label="not helpful", hatch="//")
    axes.set_xlabel("ratings")
    _whole_numbers(axes.xaxis)
    axes.set_title("Was this helpful? Ratings per topic", loc="left")
    axes.legend(loc="lower right", frameon=False)
    _tidy(axes)
    axes.grid(axis="y", visible=False)
    return _data_uri(figure)


def crisis_chart(table: Table) -> str:
    """Crisis detections per week: bars of counts, nothing else."""
    x = _dates(table.column("week_starting"))
    figure = _figure(10, 3)
    axes = figure.subplots()
    axes.bar(x, table.column("detections"), width=6, align="edge", color=PALETTE[3])
    axes.set_ylabel("detections")
    axes.set_title("Crisis detections per week (week starting Monday)", loc="left")
    _whole_numbers(axes.yaxis)
    _tidy(axes)
    _date_axis(axes)
    return _data_uri(figure)
