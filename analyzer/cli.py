"""The `owui-lint` command line: options in, a reporter and an exit code out. No analysis."""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import click

from analyzer.registry import (
    RuleLoadError,
    all_rules,
    enabled_rules,
    is_enabled,
    rule_by_code,
    validate_selectors,
)
from analyzer.sources import (
    Problem,
    Source,
    discover,
    force_excluded,
    read_source,
    safe_display,
)

if TYPE_CHECKING:
    from analyzer.cache import Cache, Result
    from analyzer.config import Settings
    from analyzer.registry import RuleInfo
    from analyzer.reporters.base import RuleMeta, RunReport

# Modules are imported where a command needs them, so that `--version`, `--help`, `rules`
# and `explain` start fast, and a check whose results all come from the cache imports
# neither the engine nor LibCST.

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

F = TypeVar("F", bound=Callable[..., object])

CHECK_EPILOG = """\b
Examples:
  owui-lint check plugins/                    lint every action module under plugins/
  owui-lint check export_chat.py --show-source
  owui-lint check . --select OWA3 --ignore OWA302
  owui-lint check . --format sarif -o owui-lint.sarif   (upload to code scanning)
  owui-lint check . --format github           (annotations in GitHub Actions)
  cat action.py | owui-lint check - --stdin-filename action.py
  owui-lint check . --fix                     apply the safe autofixes in place
  owui-lint check . --diff                    show them as a diff, change nothing
  owui-lint check . --write-baseline .owui-lint-baseline.json   (adopt on old code)
  owui-lint check . --baseline .owui-lint-baseline.json         (then only new findings)

\b
Exit status: 0 no findings, 1 findings (or a path that could not be read or analysed:
missing, unreadable, too large, over the --timeout budget), 2 usage, configuration or
internal error. --exit-zero turns 1 into 0. With --diff: 1 when there is something to fix,
else 0.
"""


class _Group(click.Group):
    """Turns a broken rule module into a one-line error and exit 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RuleLoadError as error:
            _warn(f"internal error: {error}")
            sys.exit(EXIT_ERROR)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run `owui-lint COMMAND --help` for a command's options and examples.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _, value: _print_version(ctx, value),
    help="Show the version and exit.",
)
def main() -> None:
    """Static analyzer and security linter for Open WebUI action functions.

    Reads action modules without importing or running them, and reports broken
    scaffolds, invalid Valves, privileged operations without a role check,
    risky operations without a confirmation, and malformed events and files.
    """


def entry() -> None:
    """The `owui-lint` command (and `python -m analyzer`): `main`, then a quick exit.

    Python's orderly shutdown frees every object one by one (LibCST, the rules, the last
    tree): about 40 ms, more than a tenth of a one-file check. By then the output is written
    (flushed here), files are closed and worker pools are shut down, so the process ends
    without it, as mypy's does. Tests call `main`, which exits the usual way.
    """
    try:
        main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # `sys.exit("message")`: Python prints it and exits with 1
        click.echo(str(code), err=True)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe, say: let Python deal with it as usual
        sys.exit(status)
    os._exit(status)


def _print_version(ctx: click.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from analyzer.reporters.base import tool_version

    click.echo(f"owui-lint, version {tool_version()}")
    ctx.exit()


def _warn(message: str) -> None:
    click.echo(f"owui-lint: {message}", err=True)


def _want_colour(choice: str, stream: IO[str]) -> bool:
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


class _Progress:
    """A one-line counter on stderr for long runs on a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled and total >= 50

    def __call__(self, result: Result) -> None:
        self.done += 1
        if self.enabled and (self.done % 10 == 0 or self.done == self.total):
            sys.stderr.write(f"\r\x1b[2Kowui-lint: {self.done}/{self.total} files")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, listed in --help in the order given."""

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def _collector_off(command: Callable[..., None]) -> Callable[..., None]:
    """Run a command with the cyclic garbage collector off (the engine collects per file).

    Start-up imports LibCST and the rules: hundreds of thousands of objects, none garbage,
    that the collector would scan again and again (about a tenth of a one-file run).
    """

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        enabled = gc.isenabled()
        gc.disable()
        try:
            command(*args, **kwargs)
        finally:
            gc.unfreeze()
            if enabled:
                gc.enable()

    return run


# Options `check` and `audit` share, each group where it stands in both commands' --help.
_output_options = _options(
    click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json", "sarif", "github", "html"]),
        default="text",
        show_default=True,
        help="Output format.",
    ),
    click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here."),
)
_selection_options = _options(
    click.option("--select", multiple=True, help="Rules or prefixes to enable (replaces config)."),
    click.option("--ignore", multiple=True, help="Rules or prefixes to disable."),
    click.option("--extend-select", multiple=True, help="Rules or prefixes to enable in addition."),
    click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A pyproject.toml (or TOML file with [tool.owui-lint]); default: the nearest one.",
    ),
    click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings."),
    click.option(
        "-j", "--jobs", type=click.IntRange(min=1), help="Parallel processes (default: CPU count)."
    ),
)
_color_option = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour text output (auto: on a terminal unless NO_COLOR is set).",
)


@main.command(epilog=CHECK_EPILOG)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@_output_options
@_selection_options
@click.option(
    "--statistics",
    is_flag=True,
    help="After the findings, one line per rule that fired: count, id, name (text format).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary or progress.")
@click.option("--show-source", is_flag=True, help="Show the offending source line.")
@click.option("--stdin-filename", help="The file name to report for `-` (standard input).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Per-file analysis budget; a file over it is reported and skipped"
    " (default 10, 0: none; config: `timeout`).",
)
@_color_option
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="OWUI_LINT_NO_CACHE",
    help="Analyse every file; neither read nor write the result cache (env: OWUI_LINT_NO_CACHE=1).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OWUI_LINT_CACHE_DIR",
    help="Where to keep the result cache (default: .owui-lint-cache next to the config"
    " file, else in the current directory; config: `cache-dir`;"
    " env: OWUI_LINT_CACHE_DIR).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Apply the safe autofixes in place, then report the findings that remain.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print the autofixes as a unified diff (or write it to -o) and change no file"
    " (exit 1 if there is any).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply `exclude` to files named on the command line too (for pre-commit).",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report only findings not recorded in this baseline file (see --write-baseline).",
)
@click.option(
    "--write-baseline",
    "write_baseline_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record every current finding in this file, by fingerprint, and exit 0.",
)
@click.option(
    "--add-noqa",
    is_flag=True,
    help="Add a `# noqa: OWAnnn` comment to each line with a finding, and exit 0.",
)
@_collector_off
def check(
    paths: tuple[str, ...],
    output_format: str,
    output: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    config_file: Path | None,
    exit_zero: bool,
    jobs: int | None,
    statistics: bool,
    quiet: bool,
    show_source: bool,
    stdin_filename: str | None,
    color: str,
    timeout: float | None = None,
    no_cache: bool = False,
    cache_dir: Path | None = None,
    fix: bool = False,
    diff: bool = False,
    force_exclude: bool = False,
    baseline_file: Path | None = None,
    write_baseline_file: Path | None = None,
    add_noqa: bool = False,
) -> None:
    """Lint Open WebUI action modules (files or directories; default: `.`)."""
    from analyzer.config import ConfigError, load_settings
    from analyzer.reporters.base import Notification

    cwd = Path.cwd()
    try:
        settings = load_settings(config_file, cwd).with_cli(select or None, ignore, extend_select)
        if timeout is not None:
            settings = settings.replace(timeout=timeout)
        store = None if no_cache else _open_cache(settings, cache_dir)
        # From the cache when it has them: a run with only cached results imports no rule.
        catalogue = store.catalogue() if store is not None else None
        validate_selectors(settings, None if catalogue is None else [r.code for r in catalogue])
    except ConfigError as error:
        _warn(f"error: {error}")
        sys.exit(EXIT_ERROR)
    known = _load_baseline(baseline_file)

    sources, problems = _collect(list(paths) or ["."], settings, cwd, stdin_filename, force_exclude)
    for p in problems:
        _warn(f"warning: {p.display}: {p.reason}")
    problems = [p for p in problems if not p.notice]

    progress = _Progress(len(sources), sys.stderr.isatty() and not quiet)
    if store is not None and catalogue is not None:
        enabled = [r.code for r in catalogue if is_enabled(r.code, settings)]
        analyse = functools.partial(_analyse, settings=settings, jobs=jobs)
        results = list(store.results(settings, enabled).run(sources, analyse, progress))
    else:
        results = list(_analyse(sources, settings, jobs, progress))
    progress.close()

    fixed, fix_failed = 0, False
    if fix or diff:
        from analyzer.autofix import fix_results

        run = fix_results(results, sources, settings, write=not diff, warn=_warn)
        if diff:
            _write("".join(run.diffs), output)
            sys.exit(EXIT_ERROR if run.internal_error else EXIT_FINDINGS if run.diffs else 0)
        results, fixed, fix_failed = run.results, run.fixed, run.internal_error

    report, internal_error = _report(results, settings, cwd, catalogue)
    report.fixed = fixed
    internal_error |= fix_failed
    for p in problems:
        report.notifications.append(Notification(p.display, p.reason, "warning"))
    if write_baseline_file is not None or add_noqa:
        _adopt(report, sources, write_baseline_file, add_noqa)
        sys.exit(EXIT_ERROR if internal_error else EXIT_CLEAN)
    if known is not None:
        from analyzer.adoption import apply_baseline

        apply_baseline(report, known)
        if output_format != "text" and report.baseline_hidden and not quiet:
            hidden = report.baseline_hidden
            _warn(f"{hidden} known finding{'' if hidden == 1 else 's'} hidden by the baseline")

    if output_format == "text":
        from analyzer.reporters import TextOptions, render_text

        stream = sys.stdout if output is None else None
        text_options = TextOptions(
            colour=stream is not None and _want_colour(color, stream),
            show_source=show_source,
            statistics=statistics,
            quiet=quiet,
            source_lines=_reader(sources),
        )
        rendered = render_text(report, text_options)
    elif output_format == "html":
        from analyzer.reporters.html import HtmlOptions, render_html

        shown = ", ".join(safe_display(p) for p in paths) or "."
        rendered = render_html(report, HtmlOptions(source_lines=_reader(sources), source=shown))
    else:
        from analyzer.reporters import FORMATS

        rendered = FORMATS[output_format](report)
    _write(rendered, output)

    if internal_error:
        sys.exit(EXIT_ERROR)
    failed = bool(report.findings) or any(r.status == "unreadable" for r in results) or problems
    sys.exit(EXIT_FINDINGS if failed and not exit_zero else EXIT_CLEAN)


def _analyse(
    sources: Sequence[Source],
    settings: Settings,
    jobs: int | None,
    on_result: Callable[[Result], None] | None = None,
) -> Iterator[Result]:
    # The engine, LibCST and the rules are imported only when there are files to analyse.
    from analyzer.api import lint_sources

    all_rules()
    gc.freeze()  # what start-up imported is never garbage: no collection looks at it again

    return lint_sources(sources, settings, jobs, on_result)


def _open_cache(settings: Settings, cache_dir: Path | None) -> Cache:
    from analyzer.cache import Cache, default_directory

    return Cache(cache_dir or default_directory(settings), warn=_warn)


def _collect(
    paths: list[str],
    settings: Settings,
    cwd: Path,
    stdin_filename: str | None,
    force_exclude: bool = False,
) -> tuple[list[Source], list[Problem]]:
    sources: list[Source] = []
    problems: list[Problem] = []
    files = [p for p in paths if p != "-"]
    if "-" in paths:
        data = sys.stdin.buffer.read()
        excluded = (
            force_exclude
            and stdin_filename is not None
            and force_excluded(Path(stdin_filename), settings)
        )
        if not excluded:
            name = safe_display(stdin_filename or "<stdin>")
            sources.append(Source(name, data=data, explicit=True))
    if files:
        found, problems = discover(files, settings, cwd, force_exclude=force_exclude)
        sources += found
    return sources, problems


# --- adopting owui-lint on existing code: baseline and --add-noqa ---------------------


def _load_baseline(source: Path | None) -> set[str] | None:
    from analyzer.adoption import BaselineError, read_baseline

    if source is None:
        return None
    try:
        return read_baseline(source)
    except BaselineError as error:
        _warn(f"error: {error}")
        sys.exit(EXIT_ERROR)


def _adopt(report: RunReport, sources: list[Source], baseline: Path | None, noqa: bool) -> None:
    """--write-baseline and --add-noqa: record or waive what is there, instead of a report."""
    from analyzer.adoption import add_noqa, baseline_text

    if baseline is not None:
        _write(baseline_text(report.findings), str(baseline))
        count = len(report.findings)
        _warn(f"wrote {count} finding{'' if count == 1 else 's'} to {baseline}")
    if noqa:
        # A syntax error cannot be waived; an unused suppression wants removal.
        never = {r.code for r in all_rules() if r.engine_role is not None}
        added = add_noqa(report.findings, sources, never, _warn)
        _warn(f"added {added} `# noqa` comment{'' if added == 1 else 's'}")


def _report(
    results: list[Result],
    settings: Settings,
    cwd: Path,
    catalogue: Sequence[RuleInfo] | None = None,
) -> tuple[RunReport, bool]:
    from analyzer.findings import Finding
    from analyzer.reporters import RunReport
    from analyzer.reporters.base import Notification

    findings: list[Finding] = []
    notifications: list[Notification] = []
    internal_error = False
    actions = skipped = not_analysed = unreadable = 0
    for result in results:
        findings += result.findings
        for line in result.errors:
            _warn(f"error: {line}" if result.internal_error else f"warning: {line}")
        internal_error |= result.internal_error
        if result.status == "action":
            actions += 1
        elif result.status == "skipped":
            skipped += 1
        elif result.status == "error":
            not_analysed += 1
            notifications += [Notification(f.path, f.message) for f in result.findings]
        else:
            unreadable += 1
            why = [line.removeprefix(f"{result.path}: ") for line in result.errors]
            notifications.append(Notification(result.path, "; ".join(why)))
    findings.sort(key=Finding.sort_key)
    everything: Sequence[RuleMeta]
    rules: list[RuleMeta]
    if catalogue is None:
        everything, rules = all_rules(), list(enabled_rules(settings))
    else:
        everything = catalogue
        rules = [r for r in catalogue if is_enabled(r.code, settings)]
    fired = {f.rule for f in findings} - {r.code for r in rules}
    rules += [r for r in everything if r.code in fired]
    report = RunReport(
        findings=findings,
        rules=sorted(rules, key=lambda r: r.code),
        files=len(results),
        actions=actions,
        skipped=skipped,
        not_analysed=not_analysed,
        unreadable=unreadable,
        notifications=notifications,
        root=cwd.resolve().as_posix(),
    )
    return report, internal_error


def _reader(sources: list[Source]) -> Callable[[str], list[str]]:
    by_display = {s.display: s for s in sources}

    @functools.cache
    def read(display: str) -> list[str]:
        source = by_display.get(display)
        if source is None:
            return []
        try:
            data = read_source(source)  # non-blocking, size-capped, like the engine's read
        except OSError:
            return []
        from analyzer.engine import SourceError, decode, inert
        from analyzer.lines import split_lines

        try:  # decode as the engine did (BOM, coding cookie), so columns line up
            text = decode(data)
        except SourceError:
            text = data.decode("utf-8", errors="replace")
        # An analysed file must not reach the terminal raw (ANSI/OSC escapes); a line that
        # holds control characters shows them escaped, its caret may then sit off by a few.
        return [inert(line) for line in split_lines(text)]

    return read


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        _warn(f"error: cannot write {output}: {error.strerror or error}")
        sys.exit(EXIT_ERROR)


@main.command("rules")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per rule; json: every rule with its metadata and documentation.",
)
def list_rules(output_format: str = "text") -> None:
    """List every rule: id, name, level, family and what it flags."""
    if output_format == "json":
        _rules_json()
        return
    for rule in all_rules():
        flag = " S" if rule.security else "  "
        click.echo(
            f"{rule.code}  {rule.name:<36} {rule.level.value:<7}{flag}  "
            f"{rule.family():<14} {rule.summary}"
        )


def _rules_json() -> None:
    """Like `ruff rule --all --output-format json`: one object per rule, sorted by id."""
    import json

    from analyzer.reporters.base import RULE_DOCS

    document = [
        {
            "code": rule.code,
            "name": rule.name,
            "level": rule.level.value,
            "confidence": rule.confidence.value,
            "family": rule.family(),
            "security": rule.security,
            "cwe": list(rule.cwe),
            "fixable": rule.fixable,
            "summary": rule.summary,
            "explanation": rule.docs(),
            "options": dict(rule.options),
            "docs": f"{RULE_DOCS}/{rule.code}.md",
        }
        for rule in all_rules()
    ]
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@main.command(
    epilog="\b\nExamples:\n  owui-lint explain OWA301\n  owui-lint explain hardcoded-secret"
)
@click.argument("rule")
def explain(rule: str) -> None:
    """Print a rule's full documentation (by id or name)."""
    found = rule_by_code(rule)
    if found is None:
        _warn(f"error: unknown rule {rule!r} (see `owui-lint rules`)")
        sys.exit(EXIT_ERROR)
    from analyzer.ruledocs import EXAMPLES_NOTE, FIXABLE_NOTE, facts

    click.echo(f"# {found.code} {found.name} ({', '.join(facts(found))})\n")
    click.echo(found.summary + "\n")
    if found.fixable and not found.doc_section("Fix"):
        click.echo(FIXABLE_NOTE + "\n")
    click.echo(found.docs())
    if "```python" in found.docs():
        click.echo("\n" + EXAMPLES_NOTE)
    if found.options:
        click.echo("\n## Options")
        for key, text in found.options.items():
            click.echo(f"- `{key}`: {text}")


@main.command(
    "debug-cfg",
    epilog="\b\nExamples:\n  owui-lint debug-cfg my_action.py\n  owui-lint debug-cfg my_action.py --all",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--all", "every_function", is_flag=True, help="Also print every reachable helper.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A pyproject.toml with [tool.owui-lint] (for `privileged.extra`).",
)
def debug_cfg(file: Path, every_function: bool, config_file: Path | None) -> None:
    """Print the control-flow graph of `action` with the guard state at each node and at
    each privileged operation (the facts OWA301-OWA305 are built on)."""
    from analyzer.config import ConfigError, load_settings
    from analyzer.engine import SourceError, decode, parse
    from analyzer.flow.guards import debug_report
    from analyzer.model import ActionModule, SourceFile

    try:
        settings = load_settings(config_file, Path.cwd())
        text = decode(file.read_bytes())
        module, index = parse(text)
    except ConfigError as error:
        _warn(f"error: {error}")
        sys.exit(EXIT_ERROR)
    except (OSError, SourceError) as error:
        _warn(f"error: {file}: {error}")
        sys.exit(EXIT_ERROR)
    model = ActionModule(SourceFile(str(file), text), module, index)
    click.echo(debug_report(model, settings, every_function), nl=False)


AUDIT_EPILOG = """\b
Examples:
  owui-lint audit /app/backend/data/webui.db        the server's database (read-only)
  owui-lint audit functions-export.json             Admin Panel > Functions > Export
  owui-lint audit webui.db --format html -o report.html
  owui-lint audit webui.db --all-types --format json

\b
Only functions of type `action` are linted unless --all-types is given. The database is
opened read-only and never written; stored valve values are never read or printed.
Exit status: 0 no findings, 1 findings, 2 a source that is not an export or a webui.db
(or cannot be read), or a usage, configuration or internal error.
"""


@main.command(epilog=AUDIT_EPILOG)
@click.argument("source", type=click.Path(path_type=str, allow_dash=True))
@_output_options
@click.option("--all-types", is_flag=True, help="Lint every function, not only actions.")
@_selection_options
@click.option("--statistics", is_flag=True, help="Show a count per rule.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no ranking or summary.")
@click.option("--show-source", is_flag=True, help="Show the offending source line.")
@_color_option
@_collector_off
def audit(
    source: str,
    output_format: str,
    output: str | None,
    all_types: bool,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    config_file: Path | None,
    exit_zero: bool,
    jobs: int | None,
    statistics: bool,
    quiet: bool,
    show_source: bool,
    color: str,
) -> None:
    """Audit the functions installed on an Open WebUI server: SOURCE is the admin panel's
    functions export (JSON, `-` for standard input) or the server's webui.db."""
    from analyzer.audit import AuditError, read_inventory, summarise

    cwd = Path.cwd()
    try:  # first: a source that is not one costs no rule import
        stdin = sys.stdin.buffer.read() if source == "-" else None
        inventory = read_inventory(source, stdin)
    except AuditError as error:
        _warn(f"error: {error}")
        sys.exit(EXIT_ERROR)

    from analyzer.config import ConfigError, load_settings
    from analyzer.reporters.audit import AuditView

    try:
        settings = load_settings(config_file, cwd).with_cli(select or None, ignore, extend_select)
        validate_selectors(settings, None)
    except ConfigError as error:
        _warn(f"error: {error}")
        sys.exit(EXIT_ERROR)

    sources = inventory.sources(all_types)
    results = list(_analyse(sources, settings, jobs))
    report, internal_error = _report(results, settings, cwd)
    statuses = {r.path: r.status for r in results}
    functions = summarise(inventory.functions, statuses, report.findings, report.rules)
    view = AuditView(report, inventory.display, inventory.kind, functions, all_types)

    if output_format == "text":
        from analyzer.reporters import TextOptions
        from analyzer.reporters.audit import render_audit_text

        stream = sys.stdout if output is None else None
        rendered = render_audit_text(
            view,
            TextOptions(
                colour=stream is not None and _want_colour(color, stream),
                show_source=show_source,
                statistics=statistics,
                quiet=quiet,
                source_lines=_reader(sources),
            ),
        )
    elif output_format == "json":
        from analyzer.reporters.audit import render_audit_json

        rendered = render_audit_json(view)
    elif output_format == "html":
        from analyzer.reporters.html import HtmlOptions, render_html

        rendered = render_html(
            report,
            HtmlOptions(
                source_lines=_reader(sources),
                source=inventory.display,
                functions=functions,
            ),
        )
    else:
        from analyzer.reporters import FORMATS
        from analyzer.reporters.audit import for_sarif

        # SARIF locations are URIs: each function gets its virtual file there.
        shown = for_sarif(view) if output_format == "sarif" else report
        rendered = FORMATS[output_format](shown)
    _write(rendered, output)

    if internal_error:
        sys.exit(EXIT_ERROR)
    failed = bool(report.findings) or any(r.status == "unreadable" for r in results)
    sys.exit(EXIT_FINDINGS if failed and not exit_zero else EXIT_CLEAN)
