"""The `wiretrace` command line.

Each command parses its arguments, calls one library function and prints the result; adding a
command is adding one decorated function below. A `WiretraceError` raised anywhere becomes
``error: <message>`` on stderr (the JSON error shape with ``--json``) and the error's exit code;
any other exception is a bug and is not hidden.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from . import report
from .errors import WiretraceError
from .options import load_options


class _Group(TyperGroup):
    """Turns wiretrace's own errors into a message and an exit code, for every command."""

    def main(self, args=None, *rest, **kwargs):
        argv = sys.argv[1:] if args is None else list(args)
        try:
            return super().main(args, *rest, **kwargs)
        except WiretraceError as err:
            if "--json" in argv:
                typer.echo(json.dumps(err.to_dict(), ensure_ascii=False), err=True)
            else:
                typer.echo(f"error: {err}", err=True)
            raise SystemExit(err.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="wiretrace",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Options shared by commands.
Json = Annotated[bool, typer.Option("--json", help="Print JSON data instead of the report (errors too).")]
Config = Annotated[
    Optional[Path],
    typer.Option("--config", metavar="FILE", help="TOML settings file (default: ./wiretrace.toml, "
                 "or $WIRETRACE_CONFIG); WIRETRACE_<STAGE>_<NAME> variables override it."),
]


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=False)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"wiretrace {version('wiretrace')}")
        except PackageNotFoundError:  # running from a checkout that was never installed
            typer.echo(f"wiretrace {getattr(sys.modules['wiretrace'], '__version__', '(not installed)')}")
        raise typer.Exit()


@app.callback()
def cli(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """wiretrace traces news stories to their sources: which articles are rewrites of which,
    sentence by sentence, and which one is the original.

    Start with `wiretrace demo`.
    """


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(metavar="A", help="An article file (text, HTML, JSON).", show_default=False)],
    b: Annotated[Path, typer.Argument(metavar="B", help="Another article file; taken as the source when "
                                      "nothing says which is the original.", show_default=False)],
    as_json: Json = False,
    html: Annotated[
        Optional[Path], typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML report.")
    ] = None,
    config: Config = None,
) -> None:
    """Compare two articles: is one a rewrite of the other?

    Prints the verdict (wholly / partially / not derived), the shares of text reused, which article
    is the original and why, whether the rewrite credits its source, and every sentence of the
    rewrite labelled verbatim, edited, paraphrase or new, with the source sentences it left out.
    """
    from . import api  # the engine is heavy: `--help` should not wait for it

    comparison = api.compare(a, b, load_options(config))
    if as_json:
        typer.echo(report.to_json(comparison))
    else:
        report.render_terminal(comparison, _console())
    if html:
        written = report.write_html(comparison, html)
        _console(stderr=True).print(f"HTML report: {written}", highlight=False)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the HTML reports (created if missing).")
    ] = Path("wiretrace-demo"),
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Run the bundled examples and write their HTML reports.

    Compares a wire story with a verbatim reprint, a light edit, a heavy paraphrase, an independent
    article and a copy with changed facts; prints a summary table and the full report of the heavy
    paraphrase, and writes one HTML report per pair into DIR.
    """
    from .demo import run_demo

    pairs = run_demo(out, load_options(config))
    if as_json:
        rows = [report.summary_row(p.name, p.comparison) | {"html": str(p.html)} for p in pairs]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    console = _console()
    report.render_summary([(p.name, p.comparison) for p in pairs], console)
    console.print()
    for p in pairs:
        if p.name == "heavy_paraphrase":
            console.rule("heavy_paraphrase vs wire_original, in full")
            report.render_terminal(p.comparison, console)
    console.print(f"HTML reports in {out}/: " + ", ".join(p.html.name for p in pairs), highlight=False)


@app.command("eval")
def eval_(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="counter, msrp, stsb, basil, ecbplus or helsinki.",
                                           show_default=False)],
    data: Annotated[Path, typer.Option("--data", metavar="DIR", help="The set's folder, or the folder "
                                       "holding all the sets (like shared/data).")],
    predictions: Annotated[
        Optional[Path], typer.Option("--predictions", metavar="FILE", help="Write one JSON line per pair.")
    ] = None,
    as_json: Json = False,
    config: Config = None,
) -> None:
    """Measure wiretrace on a public evaluation set, next to baselines run on the same data.

    Prints metric | wiretrace | majority class | word-n-gram containment (its threshold tuned on the
    same data, so an optimistic baseline) | published anchor. COUNTER: 3-class macro-F1, binary F1,
    confusion matrix; MSRP: accuracy, F1; STS-B: Pearson and Spearman on news; BASIL: share of
    independent same-event pairs called derived (lower is better).
    """
    from .evaluate import evaluate, report_table

    result = evaluate(dataset, data, load_options(config), predictions, progress=True)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = _console()
    console.print(report_table(result))
    if result.confusion:
        labels = result.confusion["labels"]
        console.print("confusion (rows gold, columns wiretrace): " + "; ".join(
            f"{g}: " + ", ".join(f"{n} {p}" for p, n in zip(labels, row) if n)
            for g, row in zip(labels, result.confusion["matrix"])), highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)


@app.command()
def serve(
    db: Annotated[Optional[Path], typer.Option("--db", metavar="PATH", help="The store to read (read-only; "
                                               "default: $WIRETRACE_DB, else ./wiretrace.db).")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but loopback "
                                      "needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    token: Annotated[Optional[str], typer.Option("--token", metavar="T", help="Require this token on every "
                     "request (header 'Authorization: Bearer T', or open a page once with ?token=T).")] = None,
    config: Config = None,
) -> None:
    """Serve the web reader: search, article pages, pairs side by side, story and family pages,
    and a compare form; every page also as JSON under /api/. Ctrl-C stops it."""
    from .store import default_path
    from .web import serve as serve_web

    options = load_options(config)
    serve_web(default_path(options, db), host=host, port=port, token=token, options=options)


from . import cli_corpus  # noqa: E402,F401  (registers add, sources, scan, stories, show, export, synth)


def main() -> None:
    """Console-script entry point (`wiretrace = wiretrace.cli:main`)."""
    app(prog_name="wiretrace")


if __name__ == "__main__":
    # `python -m wiretrace.cli`: run the package's module, where the corpus commands registered.
    from wiretrace.cli import main as package_main

    package_main()
