"""`[tool.owui-lint]` in pyproject.toml: the settings, and their validation with pydantic.

`Settings` is a plain frozen dataclass, so a run with no configuration file and no selection
on the command line never imports pydantic (about a fifth of a one-file run's start-up).
What comes from outside (the TOML table, the command line) is validated by a pydantic model
built on first use. Errors become a `ConfigError` with one line naming the file, the key and
what is wrong.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A configuration or selection problem: exit 2 with this one-line message."""


def _check_selectors(value: Iterable[str]) -> list[str]:
    out = []
    for item in value:
        if not item or not item.isalnum() or not item.upper().startswith("OWA"):
            raise ValueError(f"{item!r} is not a rule id or prefix such as 'OWA301' or 'OWA3'")
        out.append(item.upper())
    return out


@dataclass(frozen=True)
class PrivilegedOptions:
    """Extra privileged operations, by qualified name (`mypkg.admin.nuke`)."""

    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """The effective settings of a run (defaults, then the config file, then the CLI)."""

    select: tuple[str, ...] = ("OWA",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    privileged: PrivilegedOptions = PrivilegedOptions()
    # Per-file analysis budget in seconds (0: none); a file over it is reported and skipped.
    timeout: float = 10.0
    # The result cache's directory, relative to the config file's (see `analyzer.cache`);
    # default `.owui-lint-cache` there. Not part of the cache key.
    cache_dir: str | None = None
    # Where relative globs are anchored: the directory of the config file, or the cwd.
    root: str = "."

    @classmethod
    def validate(cls, data: Mapping[str, Any], where: str = "settings") -> Settings:
        """Settings from untrusted data (TOML keys, with their dashes); `ConfigError` if bad."""
        from pydantic import ValidationError

        try:
            model = _schema().model_validate(dict(data))
        except ValidationError as error:
            raise ConfigError(_describe(error, where)) from None
        values = {f.name: getattr(model, f.name) for f in dataclasses.fields(cls)}
        values["privileged"] = PrivilegedOptions(extra=values["privileged"].extra)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (already valid values, e.g. from click's typed options)."""
        return dataclasses.replace(self, **changes)

    def key_data(self) -> dict[str, Any]:
        """Everything that changes findings, as JSON-ready data (the result cache's key)."""
        data = dataclasses.asdict(self)
        for name in ("timeout", "cache_dir"):
            del data[name]
        data["per_file_ignores"] = {k: list(v) for k, v in self.per_file_ignores.items()}
        return data

    def with_cli(
        self,
        select: Sequence[str] | None,
        ignore: Sequence[str],
        extend_select: Sequence[str],
    ) -> Settings:
        """CLI `--select` replaces the configured list; `--ignore`/`--extend-select` add."""
        changes: dict[str, tuple[str, ...]] = {}
        try:
            if select is not None:
                changes["select"] = tuple(_check_selectors(split_csv(select)))
            if ignore:
                changes["ignore"] = (*self.ignore, *_check_selectors(split_csv(ignore)))
            if extend_select:
                extra = _check_selectors(split_csv(extend_select))
                changes["extend_select"] = (*self.extend_select, *extra)
        except ValueError as error:
            raise ConfigError(f"command line: {error}") from None
        return self.replace(**changes) if changes else self

    def is_excluded(self, path: str) -> bool:
        return any(_glob_match(path, pattern) for pattern in self.exclude)

    def ignored_for(self, path: str) -> tuple[str, ...]:
        out: list[str] = []
        for pattern, codes in self.per_file_ignores.items():
            if _glob_match(path, pattern):
                out += codes
        return tuple(out)


@cache
def _schema() -> type[BaseModel]:
    """The pydantic model that validates `[tool.owui-lint]` (built on first use)."""
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class _Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    class _Privileged(_Strict):
        extra: tuple[str, ...] = ()

    class _Settings(_Strict):
        select: tuple[str, ...] = Settings.select
        ignore: tuple[str, ...] = ()
        extend_select: tuple[str, ...] = Field(default=(), alias="extend-select")
        exclude: tuple[str, ...] = ()
        per_file_ignores: dict[str, tuple[str, ...]] = Field(default={}, alias="per-file-ignores")
        privileged: _Privileged = _Privileged()
        timeout: float = Field(default=Settings.timeout, ge=0, allow_inf_nan=False)
        cache_dir: str | None = Field(default=None, alias="cache-dir", min_length=1)
        root: str = "."

        @field_validator("select", "ignore", "extend_select", mode="after")
        @classmethod
        def _selectors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(_check_selectors(value))

        @field_validator("per_file_ignores", mode="after")
        @classmethod
        def _pfi(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
            return {k: tuple(_check_selectors(v)) for k, v in value.items()}

    return _Settings


def split_csv(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _glob_match(path: str, pattern: str) -> bool:
    """Match a POSIX relative path against a glob, anywhere in the tree for bare names."""
    posix = PurePosixPath(path)
    if fnmatch.fnmatch(str(posix), pattern) or posix.match(pattern):
        return True
    if "/" not in pattern.rstrip("/"):
        return any(fnmatch.fnmatch(part, pattern.rstrip("/")) for part in posix.parts)
    return fnmatch.fnmatch(str(posix), pattern.rstrip("/") + "/*")


def _describe(error: ValidationError, where: str) -> str:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key '{loc}'"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{where}: '{loc}': {msg}"


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.owui-lint] table, from `start` upwards."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
                data = tomllib.loads(text)
            except (OSError, UnicodeDecodeError):
                continue
            except tomllib.TOMLDecodeError:
                if "owui-lint" in text:
                    return candidate  # ours, but broken: load_settings reports it
                continue
            if "owui-lint" in data.get("tool", {}):
                return candidate
    return None


def load_settings(explicit: Path | None = None, cwd: Path | None = None) -> Settings:
    """Settings from `--config FILE`, else the nearest pyproject.toml, else defaults."""
    cwd = cwd or Path.cwd()
    path = explicit if explicit is not None else find_pyproject(cwd)
    if path is None:
        return Settings(root=str(cwd))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    section = data.get("tool", {}).get("owui-lint", {}) if path.name == "pyproject.toml" else data
    if path.name != "pyproject.toml" and "tool" in data:
        section = data["tool"].get("owui-lint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.owui-lint] must be a table")
    return Settings.validate(
        {**section, "root": str(path.parent.resolve())}, f"{path} [tool.owui-lint]"
    )
