"""Rule discovery and selection. The engine knows rules only through this registry.

Importing this module is cheap: the rules (and LibCST, which they use) are imported on the
first call that needs them. `RuleInfo` is a rule's metadata without its code, for reporters
and for the result cache's rule catalogue (see `analyzer.cache`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from analyzer.findings import Confidence, Level

if TYPE_CHECKING:
    from analyzer.config import Settings
    from analyzer.rule import LintRule

RULE_PACKAGE = "rules"


class RuleLoadError(Exception):
    """A rule module of the installation cannot be imported (a broken install or edit)."""


@cache
def all_rules() -> tuple[type[LintRule], ...]:
    """Every rule class defined in the `rules` package, sorted by id."""
    from analyzer.rule import LintRule

    package = importlib.import_module(RULE_PACKAGE)
    found: dict[str, type[LintRule]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        try:
            module = importlib.import_module(f"{RULE_PACKAGE}.{info.name}")
        except Exception as error:
            raise RuleLoadError(
                f"cannot load rule module {RULE_PACKAGE}.{info.name}: "
                f"{type(error).__name__}: {error}"
            ) from error
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, LintRule)
                and value.code
                and value.__module__ == module.__name__
            ):
                if value.code in found and found[value.code] is not value:
                    raise RuntimeError(f"two rules claim {value.code}")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code: str) -> type[LintRule] | None:
    code = code.upper()
    for rule in all_rules():
        if rule.code == code or rule.name == code.lower():
            return rule
    return None


def rule_by_role(role: str) -> type[LintRule]:
    for rule in all_rules():
        if rule.engine_role == role:
            return rule
    raise RuntimeError(f"no rule has the engine role {role!r}")


def _longest(code: str, selectors: Iterable[str]) -> int:
    return max((len(s) for s in selectors if code.startswith(s)), default=-1)


def validate_selectors(settings: Settings, codes: Collection[str] | None = None) -> None:
    """Every selector must match at least one known rule (a typo is a usage error).

    `codes`: every rule id, when already known (from the cache's catalogue); default: the
    ids of `all_rules()`.
    """
    from analyzer.config import ConfigError

    if codes is None:
        codes = [rule.code for rule in all_rules()]
    groups = {
        "select": settings.select,
        "ignore": settings.ignore,
        "extend-select": settings.extend_select,
        **{f"per-file-ignores[{k!r}]": v for k, v in settings.per_file_ignores.items()},
    }
    for key, selectors in groups.items():
        for selector in selectors:
            if not any(code.startswith(selector) for code in codes):
                raise ConfigError(f"{key}: {selector!r} matches no rule (see `owui-lint rules`)")


def is_enabled(code: str, settings: Settings, extra_ignores: Iterable[str] = ()) -> bool:
    """Ruff's semantics: the most specific matching selector wins; ignore wins ties."""
    selected = max(_longest(code, settings.select), _longest(code, settings.extend_select))
    ignored = max(_longest(code, settings.ignore), _longest(code, extra_ignores))
    return selected >= 0 and selected > ignored


def enabled_rules(settings: Settings) -> list[type[LintRule]]:
    return [rule for rule in all_rules() if is_enabled(rule.code, settings)]


@dataclass(frozen=True, eq=False)
class RuleInfo:
    """What reporters, `rules` and `explain` read of a rule, without the rule's code.

    Same attributes and metadata methods as a `LintRule` class (the values its classmethods
    return are stored), so either can be handed to a reporter. Stored as JSON in the result
    cache (`to_json` / `from_json`) so that a run whose results all come from the cache
    need not import the rules.
    """

    code: str
    name: str
    level: Level
    confidence: Confidence
    summary: str
    security: bool = False
    cwe: tuple[int, ...] = ()
    engine_role: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    family_: str = ""
    docs_: str = ""
    full_description_: str = ""
    tags_: tuple[str, ...] = ()
    severity_score_: str | None = None

    @classmethod
    def of(cls, rule: type[LintRule]) -> RuleInfo:
        return cls(
            code=rule.code,
            name=rule.name,
            level=rule.level,
            confidence=rule.confidence,
            summary=rule.summary,
            security=rule.security,
            cwe=tuple(rule.cwe),
            engine_role=rule.engine_role,
            options=dict(rule.options),
            family_=rule.family(),
            docs_=rule.docs(),
            full_description_=rule.full_description(),
            tags_=tuple(rule.tags()),
            severity_score_=rule.severity_score(),
        )

    def family(self) -> str:
        return self.family_

    def docs(self) -> str:
        return self.docs_

    def full_description(self) -> str:
        return self.full_description_

    def tags(self) -> list[str]:
        return list(self.tags_)

    def severity_score(self) -> str | None:
        return self.severity_score_

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level.value,
            "confidence": self.confidence.value,
            "summary": self.summary,
            "security": self.security,
            "cwe": list(self.cwe),
            "engine_role": self.engine_role,
            "options": dict(self.options),
            "family": self.family_,
            "docs": self.docs_,
            "full_description": self.full_description_,
            "tags": list(self.tags_),
            "severity_score": self.severity_score_,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleInfo:
        """The inverse of `to_json`; raises (KeyError, TypeError, ValueError) on bad data."""

        def text(key: str) -> str:
            value = data[key]
            if not isinstance(value, str):
                raise TypeError(f"{key}: not a string")
            return value

        def optional(key: str) -> str | None:
            return None if data[key] is None else text(key)

        cwe = data["cwe"]
        options = data["options"]
        tags = data["tags"]
        if (
            not isinstance(cwe, list)
            or not all(type(n) is int for n in cwe)
            or not isinstance(options, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())
            or not isinstance(tags, list)
            or not all(isinstance(t, str) for t in tags)
            or not isinstance(data["security"], bool)
        ):
            raise TypeError("malformed rule metadata")
        return cls(
            code=text("code"),
            name=text("name"),
            level=Level(data["level"]),
            confidence=Confidence(data["confidence"]),
            summary=text("summary"),
            security=data["security"],
            cwe=tuple(cwe),
            engine_role=optional("engine_role"),
            options=dict(options),
            family_=text("family"),
            docs_=text("docs"),
            full_description_=text("full_description"),
            tags_=tuple(tags),
            severity_score_=optional("severity_score"),
        )


def rule_catalogue() -> tuple[RuleInfo, ...]:
    """`all_rules()` as metadata, sorted by id."""
    return tuple(RuleInfo.of(rule) for rule in all_rules())
