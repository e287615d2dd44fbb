"""kbot's command line: ingest, ask, sources, kbs, import, medquad, serve, eval, calibrate, report. Errors: a message
and exit code 2.

Every command that reads articles takes ``--kb NAME`` (the knowledge base; ``default`` is seeds/); ``kbot ingest``
without it builds every configured knowledge base."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from kbot.config import Settings, load_settings
from kbot.errors import KbotError

if TYPE_CHECKING:
    from kbot.embedding import Embedder

app = typer.Typer(
    help="kbot answers questions only by quoting its sources, with citations and a clinician notice.",
    no_args_is_help=True,
    add_completion=False,
)
F = TypeVar("F", bound=Callable[..., Any])

SeedsOpt = Annotated[
    Path | None, typer.Option("--seeds", help="Folder of the knowledge base 'default' [default: seeds/]")
]
IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Folder of the indexes, one per knowledge base [default: index/]")
]
KbOpt = Annotated[str, typer.Option("--kb", help="The knowledge base (kbot kbs lists them)")]


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
    from kbot.folder import unread_files

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
    kb: Annotated[
        list[str] | None, typer.Option("--kb", help="Build only this knowledge base (repeat for several)")
    ] = None,
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Only build when the index is missing or stale")
    ] = False,
) -> None:
    """Read, clean and embed the articles of every knowledge base (or those named), and swap each new index in
    atomically. A running `kbot serve` serves it within seconds. One knowledge base that fails does not stop the
    others; the exit code is 2 if any failed."""
    failed = _ingest(_settings(seeds, index), kb, if_needed)
    if failed:
        raise typer.Exit(2)


def _ingest(settings: Settings, names: list[str] | None, if_needed: bool) -> list[str]:
    """Build each knowledge base's index; the names of those that failed (each error said on stderr)."""
    from kbot.embedding import load_embedder
    from kbot.index import build_index, kb_index_dir, load_index
    from kbot.knowledge_base import configured, folder_of
    from kbot.reader import reader_id

    folders = {name: folder_of(settings, name) for name in names} if names else configured(settings)
    embedder: Embedder | None = None
    failed: list[str] = []
    for name, folder in folders.items():
        index_dir = kb_index_dir(settings.index_dir, name)
        try:
            _say_unread(folder)
            if if_needed:
                try:
                    load_index(index_dir, folder, settings.model_name, reader_id(settings))
                    typer.echo(f"{name}: the index is up to date.")
                    embedder = _calibrate_if_missing(settings, name, folder, embedder)
                    continue
                except KbotError as exc:
                    typer.echo(f"{name}: {exc.message} Building it now.")
            started = time.perf_counter()
            embedder = embedder or load_embedder(settings.model_name, settings.bf16)
            manifest = build_index(folder, index_dir, embedder, settings.passage_sentences, reader_id(settings))
        except KbotError as exc:
            _say_error(exc)
            failed.append(name)
            continue
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in manifest["counts"].items())
        typer.echo(f"{name}: built the index in {time.perf_counter() - started:.1f} s: {counts}.")
        typer.echo(f"{name}: it is in {index_dir / 'current'} (model {manifest['model']}).")
        embedder = _calibrate_if_missing(settings, name, folder, embedder)
    return failed


def _calibrate_if_missing(settings: Settings, name: str, folder: Path, embedder: Embedder | None) -> Embedder | None:
    """A knowledge base without abstention.toml is calibrated on its own headings (kbot calibrate without a labelled
    set), so that it does not answer with thresholds chosen for another library. Failing to leaves the defaults and
    says so; it never fails the ingest, whose index is built. Returns the embedder, loaded if it was not."""
    from kbot.embedding import load_embedder
    from kbot.evaluation.calibrate import calibrate_loaded
    from kbot.folder import CALIBRATION_FILE
    from kbot.service import KbotService

    if (folder / CALIBRATION_FILE).exists():
        return embedder
    typer.echo(f"{name}: no {CALIBRATION_FILE} yet: choosing its abstention thresholds on its own headings ...")
    try:
        embedder = embedder or load_embedder(settings.model_name, settings.bf16)
        calibrate_loaded(KbotService.load(settings, embedder, only=[name]), name)
    except (KbotError, OSError) as exc:
        message = exc.message if isinstance(exc, KbotError) else f"{folder / CALIBRATION_FILE}: {exc.strerror or exc}"
        typer.echo(f"{name}: not calibrated ({message}); it answers with the default thresholds.", err=True)
    return embedder


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer object as JSON")] = False,
    kb: KbOpt = "default",
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
) -> None:
    """Ask kbot a question and print the quoted answer."""
    from kbot.service import KbotService, validate_question

    settings = _settings(seeds, index)
    validate_question(question, settings.max_question_chars)  # before loading the model: a bad question fails fast
    result = KbotService.load(settings, only=[kb]).ask(question, kb)
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
    kb: KbOpt = "default",
    seeds: SeedsOpt = None,
) -> None:
    """List the articles, or show what cleaning keeps and drops in one of them, and which sentences are withheld."""
    from kbot.catalog import load_catalog
    from kbot.chunking import sentence_rows
    from kbot.clean import explain, promotional_sentence
    from kbot.corpus import read_document
    from kbot.knowledge_base import folder_of

    folder = folder_of(_settings(seeds), kb)
    catalog = load_catalog(folder)
    if show is None:
        _say_unread(folder)
        for meta in catalog:
            doc = read_document(folder, meta)
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
    doc = read_document(folder, matches[0])
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
    kb: KbOpt = "default",
    seeds: SeedsOpt = None,
) -> None:
    """Turn saved web pages into Markdown articles in a knowledge base's folder, each with its sources.toml entry."""
    from kbot.importing import catalog_problem, import_page
    from kbot.knowledge_base import folder_of

    seeds_dir = folder_of(_settings(seeds), kb)
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
def medquad(
    source: Annotated[Path, typer.Argument(help="MedQuAD's folder, or its documents.jsonl.gz")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the knowledge base to: new or empty")],
    split: Annotated[list[str] | None, typer.Option(help="Only this split (train, dev, test); repeat for more")] = None,
    site: Annotated[
        list[str] | None, typer.Option("--source", help="Only this site (GHR, GARD...); repeatable")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many documents, spread evenly by id")] = None,
    force: Annotated[bool, typer.Option(help="Replace a knowledge base kbot medquad wrote in --out before")] = False,
) -> None:
    """Turn MedQuAD's NIH consumer-health documents into a knowledge base folder, one article per document."""
    from kbot.medquad import convert

    typer.echo(convert(source, out, split or (), site or (), limit, force).report())


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model; the index is shared)")] = 1,
    build: Annotated[bool, typer.Option(help="Build the indexes first if they are missing or stale")] = True,
) -> None:
    """Serve the chat page, the widget and the JSON API, for every knowledge base."""
    from kbot.api.server import run

    settings = _settings()
    if build:
        failed = _ingest(settings, None, if_needed=True)
        if failed:  # the others are served; these answer their error until they are fixed and ingested
            typer.secho(f"Serving without: {', '.join(failed)} (see above).", err=True, fg=typer.colors.YELLOW)
    _prepare_database(settings)
    run(settings, host=host, port=port, workers=workers)


def _prepare_database(settings: Settings) -> None:
    """Migrate the database of answers and feedback once, before the workers start (each would otherwise race to)."""
    from kbot.store.database import prepare

    try:
        prepare(settings)
    except Exception as exc:  # answers do not need it: serve anyway, and say so (never the URL: it may hold a password)
        message = f"The database cannot be used ({type(exc).__name__}): answers work, nothing will be stored."
        typer.secho(message, err=True, fg=typer.colors.YELLOW)


@app.command()
@friendly_errors
def kbs(seeds: SeedsOpt = None, index: IndexOpt = None) -> None:
    """List the knowledge bases: name, folder, number of articles and the index build on disk (the one a running
    server serves within seconds)."""
    from kbot.folder import article_files
    from kbot.index import current_build, kb_index_dir
    from kbot.knowledge_base import configured
    from kbot.profile import load_profile

    settings = _settings(seeds, index)
    for name, folder in configured(settings).items():
        build = current_build(kb_index_dir(settings.index_dir, name))
        try:
            title = load_profile(folder).title
        except KbotError as exc:
            title = f"(kb.toml: {exc.message})"
        typer.echo(
            f"{name}  {title}  {folder}  {len(article_files(folder))} articles  "
            + (f"build {build.name}" if build else "no index yet: run kbot ingest --kb " + name)
        )


@app.command("eval")
@friendly_errors
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold question set (JSON lines)")] = Path("eval/gold.jsonl"),
    out: Annotated[
        Path | None, typer.Option(help="Folder for report.md, report.json and the plot [default: the gold set's]")
    ] = None,
    baseline: Annotated[bool, typer.Option(help="Also run the baselines (the gold set's .toml names them)")] = True,
    abstention: Annotated[bool, typer.Option(help="--no-abstention: answer every question (thresholds off)")] = True,
    kb: KbOpt = "default",
) -> None:
    """Measure kbot on the gold set, side by side with baselines; exit 1 when a threshold is missed."""
    from kbot.evaluation.run import run_evaluation

    passed = run_evaluation(_settings(), gold, out or gold.parent, with_baseline=baseline, kb=kb, abstain=abstention)
    raise typer.Exit(0 if passed else 1)


@app.command()
@friendly_errors
def calibrate(
    labelled: Annotated[
        Path | None,
        typer.Argument(help="Labelled questions (JSON lines) [default: made from the knowledge base's own headings]"),
    ] = None,
    kb: KbOpt = "default",
) -> None:
    """Choose the abstention thresholds and write them to the knowledge base's abstention.toml: on a labelled set
    (e.g. eval/calibration.jsonl), or, without one, on the knowledge base's own headings held out and kbot's
    off-topic questions."""
    from kbot.evaluation.calibrate import run_calibration

    run_calibration(_settings(), labelled, kb=kb)


@app.command()
@friendly_errors
def report(
    kb: KbOpt = "default",
    since: Annotated[str, typer.Option(help="The period: hours, days or weeks back, e.g. 12h, 30d, 2w")] = "30d",
    out: Annotated[Path | None, typer.Option(help="Folder to write into [default: var/report/]")] = None,
) -> None:
    """The curator's report: outcome rates over time (a plot), the least helpful quotes, the articles never quoted
    and the stored unanswered questions grouped by similarity; as report.md and report.html."""
    from kbot.embedding import load_embedder
    from kbot.report import parse_since, write_report

    settings = _settings()
    period = parse_since(since)
    paths = write_report(settings, kb, period, out or settings.var_dir / "report", _lazy_embed(settings, load_embedder))
    for path in paths:
        typer.echo(f"Wrote {path}")


def _lazy_embed(settings: Settings, load: Callable[[str, bool | None], Any]) -> Callable[[Any], Any]:
    """The model's embeddings, loaded on the first call only (a report without stored questions needs none)."""
    loaded: list[Any] = []

    def embed(texts: Any) -> Any:
        if not loaded:
            loaded.append(load(settings.model_name, settings.bf16))
        return loaded[0].embed(texts)

    return embed


if __name__ == "__main__":
    app()
