"""kbot's command line: ingest, ask, sources, import, serve, eval, calibrate. Errors: a message and exit code 2."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kbot.config import Settings, load_settings
from kbot.errors import KbotError

app = typer.Typer(
    help="kbot answers questions only by quoting its sources, with citations and a clinician notice.",
    no_args_is_help=True,
    add_completion=False,
)
F = TypeVar("F", bound=Callable[..., Any])

SeedsOpt = Annotated[Path | None, typer.Option("--seeds", help="Folder of articles and sources.toml [default: seeds/]")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Folder of the built index [default: index/]")]


def _settings(seeds: Path | None = None, index: Path | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if seeds is not None:
        overrides["seeds_dir"] = seeds
    if index is not None:
        overrides["index_dir"] = index
    return load_settings(**overrides)


def friendly_errors(func: F) -> F:
    """Turn kbot's errors into a clear message on stderr and exit code 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KbotError as exc:
            _say_error(exc)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _say_error(exc: KbotError) -> None:
    typer.secho(f"kbot: {exc.message}", err=True, fg=typer.colors.RED)
    if exc.fix:
        typer.secho(f"  To fix it, run: {exc.fix}", err=True)


def _say_unread(seeds_dir: Path) -> None:
    """Warn about files in seeds/ that no article is read from (a saved .html page, a .pdf): skipped, not lost."""
    from kbot.catalog import unread_files

    for name in unread_files(seeds_dir):
        if Path(name).suffix.lower() in (".html", ".htm"):
            fix = (
                f"run kbot import {shlex.quote(str(seeds_dir / name))} to turn it into a Markdown article with its "
                f"entry in sources.toml, then move {name} out of {seeds_dir}."
            )
        else:
            fix = (
                f"save the article's text as {Path(name).stem}.txt (or .md) and list it in sources.toml, "
                f"or move {name} out of {seeds_dir}."
            )
        typer.secho(
            f"Skipped {name}: kbot reads articles from .txt and .md files only. To fix it: {fix}",
            err=True,
            fg=typer.colors.YELLOW,
        )


@app.command()
@friendly_errors
def ingest(
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Only build when the index is missing or stale")
    ] = False,
) -> None:
    """Read, clean and embed every article in seeds/, and swap the new index in atomically."""
    from kbot.embedding import load_embedder
    from kbot.index import build_index, load_index

    settings = _settings(seeds, index)
    _say_unread(settings.seeds_dir)
    if if_needed:
        try:
            load_index(settings.index_dir, settings.seeds_dir, settings.model_name)
            typer.echo(f"The index in {settings.index_dir} is up to date.")
            return
        except KbotError as exc:
            typer.echo(f"{exc.message} Building it now.")
    started = time.perf_counter()
    manifest = build_index(
        settings.seeds_dir, settings.index_dir, load_embedder(settings.model_name), settings.passage_sentences
    )
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in manifest["counts"].items())
    typer.echo(f"Built the index in {time.perf_counter() - started:.1f} s: {counts}.")
    typer.echo(f"It is in {settings.index_dir / 'current'} (model {manifest['model']}).")


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer object as JSON")] = False,
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
) -> None:
    """Ask kbot a question and print the quoted answer."""
    from kbot.service import KbotService, validate_question

    settings = _settings(seeds, index)
    validate_question(question, settings.max_question_chars)  # before loading the model: a bad question fails fast
    result = KbotService.load(settings).ask(question)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(result.text)


@app.command()
@friendly_errors
def sources(
    show: Annotated[
        str | None, typer.Option("--show", help="A source id or file: list its blocks, kept or dropped")
    ] = None,
    seeds: SeedsOpt = None,
) -> None:
    """List the articles, or show what cleaning keeps and drops in one of them, and which sentences are withheld."""
    from kbot.catalog import load_catalog
    from kbot.chunking import sentence_rows
    from kbot.clean import explain, promotional_sentence
    from kbot.corpus import read_document

    settings = _settings(seeds)
    catalog = load_catalog(settings.seeds_dir)
    if show is None:
        _say_unread(settings.seeds_dir)
        for meta in catalog:
            doc = read_document(settings.seeds_dir, meta)
            held = sum(r.withheld for r in sentence_rows([doc]))
            typer.echo(
                f"{meta.id}  {meta.publisher}: “{meta.title}” ({meta.kind}; {len(doc.kept_blocks)} of "
                f"{len(doc.blocks)} blocks kept, {len(doc.sentences)} sentences"
                + (f", {held} withheld: do_not_quote or advertising)" if held else ")")
            )
        return
    matches = [m for m in catalog if show in {m.id, m.file}]
    if not matches:
        raise KbotError(f"No source {show!r}.", fix="kbot sources (to list the ids)")
    doc = read_document(settings.seeds_dir, matches[0])
    typer.echo(explain(doc))
    withheld = [r for r in sentence_rows([doc]) if r.withheld]
    if withheld:
        count = f"{len(withheld)} sentence" + ("s" if len(withheld) > 1 else "")
        typer.echo(f"\nWithheld by do_not_quote in sources.toml or as advertising (never quoted): {count}")
        for r in withheld:
            line = doc.text.count("\n", 0, r.start) + 1
            why = f"WITHHELD({promotional_sentence(r.text) or 'do_not_quote'})"
            typer.echo(f"{line:>5}  {r.kind.value:<12}  {why:<28}  {r.text}")


@app.command("import")
@friendly_errors
def import_pages(
    pages: Annotated[list[Path], typer.Argument(metavar="PAGE.html", help="Saved web pages, from anywhere")],
    seeds: SeedsOpt = None,
) -> None:
    """Turn saved web pages into Markdown articles in seeds/, each with its entry appended to sources.toml."""
    from kbot.importing import catalog_problem, import_page

    seeds_dir = _settings(seeds).seeds_dir
    failed = 0
    for page in pages:
        try:
            typer.echo(import_page(page, seeds_dir).report())
        except KbotError as exc:  # the other pages are still imported
            _say_error(exc)
            failed += 1
    problem = catalog_problem(seeds_dir) if failed < len(pages) else ""
    if problem:
        typer.secho(
            f"kbot ingest will refuse {seeds_dir} until this is fixed: {problem}", err=True, fg=typer.colors.YELLOW
        )
    if failed:
        raise typer.Exit(2)


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model; the index is shared)")] = 1,
    build: Annotated[bool, typer.Option(help="Build the index first if it is missing or stale")] = True,
) -> None:
    """Serve the chat page, the widget and the JSON API."""
    from kbot.api.server import run

    if build:
        ingest(if_needed=True)
    run(_settings(), host=host, port=port, workers=workers)


@app.command("eval")
@friendly_errors
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold question set (JSON lines)")] = Path("eval/gold.jsonl"),
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and the plot")] = Path("eval"),
    baseline: Annotated[bool, typer.Option(help="Also run the 500-character-chunk baseline")] = True,
) -> None:
    """Measure kbot on the gold set, side by side with a baseline; exit 1 when a threshold is missed."""
    from kbot.evaluation.run import run_evaluation

    passed = run_evaluation(_settings(), gold, out, with_baseline=baseline)
    raise typer.Exit(0 if passed else 1)


@app.command()
@friendly_errors
def calibrate(
    labelled: Annotated[Path, typer.Argument(help="Labelled questions (JSON lines)")] = Path("eval/calibration.jsonl"),
) -> None:
    """Choose the abstention thresholds on a labelled set and write them to seeds/abstention.toml."""
    from kbot.evaluation.calibrate import run_calibration

    run_calibration(_settings(), labelled)


if __name__ == "__main__":
    app()
