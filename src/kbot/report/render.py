"""The curator's report as files: ``report.md`` and ``report.html`` (Jinja2, autoescaped) with the plot of outcome
rates per day (matplotlib), ``rates.png`` beside them and inside the HTML page."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure  # no pyplot: no global state, no display, safe in a server's threads

from kbot.report.gather import STATUSES, Report

COLOURS = {"answered": "#1b7837", "no_answer": "#b35806", "declined": "#5e3c99", "crisis": "#b2182b"}
_env = Environment(
    loader=PackageLoader("kbot.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def plot(report: Report) -> bytes:
    """A PNG of each status's share of the answers, day by day."""
    figure = Figure(figsize=(8, 3.5), dpi=100)
    axes = figure.subplots()
    days = list(report.days)
    for status in STATUSES:
        rates = [report.days[d][status] / max(1, sum(report.days[d].values())) for d in days]
        axes.plot(days, rates, marker="o", label=status.replace("_", " "), color=COLOURS[status])  # type: ignore[arg-type]
    start, end = report.since.date(), report.generated.date()
    axes.set_xlim(start - timedelta(days=1), max(end, start) + timedelta(days=1))  # type: ignore[arg-type]
    axes.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of answers")
    axes.set_title(f"Outcomes per day, knowledge base {report.kb}")
    axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def markdown(report: Report, plot_file: str = "rates.png") -> str:
    return _env.get_template("report.md.j2").render(report=report, plot_file=plot_file, statuses=STATUSES)


def html(report: Report, png: bytes) -> tuple[str, str]:
    """The page, and the Content-Security-Policy that lets it show its own style and plot, nothing else."""
    style = _env.get_template("report.css").render()
    page = _env.get_template("report.html.j2").render(
        report=report, style=style, plot=base64.b64encode(png).decode(), statuses=STATUSES
    )
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; frame-ancestors 'none'"
    return page, policy


def write(report: Report, out: Path) -> list[Path]:
    """Write report.md, report.html and rates.png into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    png = plot(report)
    paths = [out / "report.md", out / "report.html", out / "rates.png"]
    paths[0].write_text(markdown(report), encoding="utf-8")
    paths[1].write_text(html(report, png)[0], encoding="utf-8")
    paths[2].write_bytes(png)
    return paths
