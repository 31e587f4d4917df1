"""Rule discovery and selection. The engine knows rules only through this registry.

Importing this module is cheap: the rules (and LibCST, which they use) are imported on the
first call that needs them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

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


def validate_selectors(settings: Settings) -> None:
    """Every selector must match at least one known rule (a typo is a usage error)."""
    from analyzer.config import ConfigError

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
