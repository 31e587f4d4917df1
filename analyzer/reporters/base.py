"""What every reporter receives: the run's findings, counts and rule metadata."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

from analyzer.findings import Confidence, Finding, Level

TOOL_NAME = "owui-lint"
# Where each rule's page lives in the source tree (generated: `python -m analyzer.ruledocs`).
RULE_DOCS = "docs/rules"


class RuleMeta(Protocol):
    """What a reporter reads of a rule: a `LintRule` class, or its `registry.RuleInfo`."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> Level: ...
    @property
    def confidence(self) -> Confidence: ...
    @property
    def summary(self) -> str: ...
    def docs(self) -> str: ...
    def family(self) -> str: ...
    def full_description(self) -> str: ...
    def tags(self) -> list[str]: ...
    def severity_score(self) -> str | None: ...


def tool_version() -> str:
    from analyzer import __version__

    return __version__


@dataclass(frozen=True)
class ProjectUrls:
    """Where users of this installation can read about the tool and its rules.

    owui-lint has no package index page: a link is only given where it exists. It comes
    from the installation itself: `Project-URL` metadata (`[project.urls]` `Homepage`
    and `Documentation`) when the package declares it, else where pip installed it from
    (PEP 610 `direct_url.json`): a GitHub or GitLab repository at the installed commit
    (`pip install git+https://github.com/OWNER/owui-lint@SHA`), or the local checkout.
    """

    home: str | None = None
    rule_docs: str | None = None  # a base URL ending in "/"; a rule's page is OWAnnn.md

    def rule_uri(self, code: str) -> str | None:
        return None if self.rule_docs is None else f"{self.rule_docs}{code}.md"


@cache
def project_urls() -> ProjectUrls:
    import json
    from importlib.metadata import distributions

    # A checkout run in place may also hold a bare `owui_lint.egg-info`: look at them all.
    for dist in distributions(name=TOOL_NAME):
        declared: dict[str, str] = {}
        for entry in dist.metadata.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            declared[label.strip().lower()] = url.strip()
        if "homepage" in declared:
            docs = declared.get("documentation")
            home = declared["homepage"]
            return ProjectUrls(home, docs.rstrip("/") + "/rules/" if docs else None)
        try:
            origin = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        found = _from_direct_url(origin if isinstance(origin, dict) else {})
        if found.home is not None:
            return found
    # Run from a source tree that was never installed: its own files.
    checkout = Path(__file__).resolve().parent.parent.parent
    return _local(checkout.as_uri()) if (checkout / RULE_DOCS).is_dir() else ProjectUrls()


def _from_direct_url(origin: Mapping[str, object]) -> ProjectUrls:
    url = origin.get("url")
    if not isinstance(url, str):
        return ProjectUrls()
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict):
        home = url.removeprefix("git+").removesuffix(".git").rstrip("/")
        netloc = home.split("//", 1)[-1].split("/", 1)[0]
        if not home.startswith("https://") or "@" in netloc:  # never a token in a link
            return ProjectUrls()
        commit = vcs.get("commit_id")
        if home.startswith(("https://github.com/", "https://gitlab.com/")) and isinstance(
            commit, str
        ):
            return ProjectUrls(home, f"{home}/blob/{commit}/{RULE_DOCS}/")
        return ProjectUrls(home)
    if isinstance(origin.get("dir_info"), dict) and url.startswith("file://"):
        return _local(url)
    return ProjectUrls()


def _local(url: str) -> ProjectUrls:
    """A checkout on this machine: its folder, and its rule pages when it has them."""
    from urllib.parse import unquote, urlparse

    home = url.rstrip("/")
    docs = Path(unquote(urlparse(url).path)) / RULE_DOCS
    return ProjectUrls(home + "/", f"{home}/{RULE_DOCS}/" if docs.is_dir() else None)


@dataclass
class Notification:
    """A file that could not be analysed (parse failure, unreadable): not a finding."""

    path: str
    message: str
    level: str = "error"


@dataclass(frozen=True)
class AuditedFunction:
    """One function of an Open WebUI instance, as `owui-lint audit` ranks it.

    Never holds the function's stored valve values.
    """

    path: str  # `function:<id>`, the path its findings carry
    uri: str  # `owui-functions/<id>.py`, its virtual file in SARIF
    id: str
    name: str
    type: str
    active: bool
    global_: bool
    description: str
    # The engine's verdict ("action", "skipped", "error", "unreadable"), or "not-audited"
    # for a function of another type when --all-types is not given.
    status: str
    worst: Level | None
    findings: int
    security_findings: int
    by_level: dict[str, int]

    def state(self) -> str:
        return ", ".join(
            ["active" if self.active else "inactive"] + (["global"] if self.global_ else [])
        )


@dataclass
class RunReport:
    findings: list[Finding]
    rules: Sequence[RuleMeta]
    files: int = 0
    actions: int = 0  # analysed
    skipped: int = 0  # not action modules
    not_analysed: int = 0  # checked, but a syntax error (OWA001) stopped the analysis
    unreadable: int = 0  # could not be read or analysed (too large, over the budget)
    notifications: list[Notification] = field(default_factory=list)
    version: str = field(default_factory=tool_version)
    # The directory relative paths are anchored at (SARIF's %SRCROOT%), absolute POSIX.
    root: str = "/"
    # Findings fixed by `check --fix` (they are no longer in `findings`).
    fixed: int = 0

    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.fix is not None)

    # Findings a `--baseline` file knew and hid; None when no baseline was given.
    baseline_hidden: int | None = None

    def by_rule(self) -> dict[str, int]:
        counts = Counter(f.rule for f in self.findings)
        return {rule: counts[rule] for rule in sorted(counts)}


# A hard-coded credential (CWE-798) must not be printed by --show-source while the
# message masks it: on the lines such a finding covers, string literals keep their first
# three characters (as the message says) and the rest becomes `*`, at the same width.
SECRET_TAG = "external/cwe/cwe-798"
_STRING = re.compile(r"""(?P<q>["'])(?P<body>(?:\\.|(?!(?P=q)).)*)(?P=q)""")


def mask_strings(line: str) -> str:
    def mask(match: re.Match[str]) -> str:
        body = match.group("body")
        quote = match.group("q")
        return quote + body[:3] + "*" * len(body[3:]) + quote

    return _STRING.sub(mask, line)


def secret_lines(report: RunReport) -> set[tuple[str, int]]:
    """(path, line) of every line a finding about a hard-coded secret covers."""
    codes = {rule.code for rule in report.rules if SECRET_TAG in rule.tags()}
    return {
        (f.path, line)
        for f in report.findings
        if f.rule in codes
        for line in range(f.location.line, f.location.end_line + 1)
    }
