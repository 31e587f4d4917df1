"""The privileged-operation catalog, read from the data tables in `rules/data/`.

- `owui_models.tsv`: Open WebUI 0.12.4's data layer (`Users.delete_user_by_id`, ...), with
  what each method does to whose data (see the header of the file);
- `privileged.tsv`: process and code execution, environment writes, `shutil.rmtree`;
- `admin_api.tsv`: the admin API paths an HTTP call must not reach unguarded.

The tables are package data, loaded once per process. Nothing here looks at code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import libcst as cst

Access = Literal["free", "read", "write", "bulk", "admin"]
KeyType = Literal["user", "chat", "id"]
RecordKind = Literal["chat", "file", "user"]

# Import paths of the data layer before Open WebUI 0.5 (community actions still use them).
_OLD_PREFIXES = ("open_webui.apps.webui.models.", "apps.webui.models.")


@dataclass(frozen=True)
class ModelMethod:
    """One method of an Open WebUI data-layer singleton."""

    name: str  # open_webui.models.users.Users.delete_user_by_id
    is_async: bool
    access: Access
    keys: tuple[tuple[str, KeyType], ...]
    record: RecordKind | None
    params: tuple[str, ...]

    @property
    def short(self) -> str:
        """`Users.delete_user_by_id`."""
        return ".".join(self.name.rsplit(".", 2)[-2:])


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    category: str
    when: Literal["always", "dynamic-arg", "not-temp-arg"]


def table_rows(filename: str) -> Iterator[dict[str, str]]:
    """The rows of `rules/data/<filename>`: tab-separated, a header line, `#` comments, no
    quoting (read with `str.split`: `csv` and `importlib.resources` cost more at start-up
    than the reading itself; the package is always installed as files)."""
    import rules

    folder = os.path.join(os.path.dirname(os.path.abspath(rules.__file__)), "data")
    with open(os.path.join(folder, filename), encoding="utf-8") as file:
        lines = [line for line in file.read().splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    for line in lines[1:]:
        values = line.split("\t")
        yield dict(zip(header, values + [""] * (len(header) - len(values)), strict=False))


@cache
def model_methods() -> dict[str, ModelMethod]:
    out: dict[str, ModelMethod] = {}
    for row in table_rows("owui_models.tsv"):
        keys: list[tuple[str, KeyType]] = []
        if row["keys"] != "-":
            for item in row["keys"].split(","):
                param, kind = item.split(":")
                keys.append((param, _key_type(kind)))
        record = row["record"]
        out[row["name"]] = ModelMethod(
            name=row["name"],
            is_async=row["sync"] == "async",
            access=_access(row["access"]),
            keys=tuple(keys),
            record=_record(record),
            params=tuple(p for p in row["params"].split(",") if p and p != "-"),
        )
    return out


def _key_type(value: str) -> KeyType:
    if value == "user":
        return "user"
    if value == "chat":
        return "chat"
    return "id"


def _access(value: str) -> Access:
    options: tuple[Access, ...] = ("free", "read", "write", "bulk", "admin")
    for option in options:
        if value == option:
            return option
    raise ValueError(f"owui_models.tsv: unknown access {value!r}")


def _record(value: str) -> RecordKind | None:
    if value == "chat":
        return "chat"
    if value == "file":
        return "file"
    if value == "user":
        return "user"
    return None


@cache
def privileged_calls() -> dict[str, CatalogEntry]:
    out: dict[str, CatalogEntry] = {}
    for row in table_rows("privileged.tsv"):
        when = row["when"]
        if when not in ("always", "dynamic-arg", "not-temp-arg"):
            raise ValueError(f"privileged.tsv: unknown condition {when!r}")
        out[row["name"]] = CatalogEntry(row["name"], row["category"], when)  # type: ignore[arg-type]
    return out


@cache
def admin_api_paths() -> tuple[tuple[str, bool], ...]:
    """(path prefix, is_admin), most segments first."""
    rows = [(row["path"], row["kind"] == "admin") for row in table_rows("admin_api.tsv")]
    return tuple(sorted(rows, key=lambda r: (-len(_segments(r[0])), -len(r[0]), r[0])))


def normalize_model_name(name: str) -> str:
    """Map pre-0.5 import paths (`apps.webui.models.users...`) to `open_webui.models...`."""
    for prefix in _OLD_PREFIXES:
        if name.startswith(prefix):
            return "open_webui.models." + name[len(prefix) :]
    return name


def lookup_model_method(names: Set[str]) -> ModelMethod | None:
    """The data-layer method one of `names` (from `ActionModule.resolve_name`) denotes."""
    if isinstance(names, frozenset):  # the model's answers: hashable, and asked per call
        return _lookup_frozen(names)
    return _lookup(names)


@lru_cache(maxsize=4096)
def _lookup_frozen(names: frozenset[str]) -> ModelMethod | None:
    return _lookup(names)


def _lookup(names: Set[str]) -> ModelMethod | None:
    table = model_methods()
    for name in sorted(names):
        found = table.get(normalize_model_name(name))
        if found is not None:
            return found
    return None


_API = "/api/v1/"


def admin_api_path(url_text: str) -> str | None:
    """The admin API route `url_text` (the literal parts of a URL, `{}` for the rest) calls.

    Routes match by path segments after `/api/v1/`, whatever precedes it: the first segment
    names the router and the route's other segments must follow in order, so deeper and
    older forms of a route match too (`/api/v1/images/image/config/update` is the images
    `config` route). Rows with the most segments decide first: a `self` row
    (`/api/v1/users/user/settings`, any user about themselves) wins over `/api/v1/users`.
    """
    start = url_text.find(_API)
    while start != -1:
        path = url_text[start + len(_API) :]
        segments = _segments(path)
        for prefix, is_admin in admin_api_paths():
            if _route_matches(_segments(prefix[len(_API) :]), segments):
                if is_admin:
                    return prefix
                break
        start = url_text.find(_API, start + 1)
    return None


def _segments(path: str) -> list[str]:
    """Path segments of a route or URL tail, up to a query or fragment."""
    for stop in "?#":
        path = path.split(stop, 1)[0]
    return [part for part in path.split("/") if part]


def _route_matches(route: list[str], segments: list[str]) -> bool:
    if not route or not segments or segments[0] != route[0]:
        return False
    rest = iter(segments[1:])
    return all(any(part == want for part in rest) for want in route[1:])


def bind_arguments(
    call: cst.Call, params: Sequence[str], skip: int = 0
) -> dict[str, cst.BaseExpression] | None:
    """Map `call`'s arguments to `params` (after `skip` leading positionals); None when a
    `*args` / `**kwargs` makes the mapping unknowable."""
    out: dict[str, cst.BaseExpression] = {}
    position = 0
    for arg in call.args[skip:]:
        if arg.star:
            return None
        if arg.keyword is not None:
            out[arg.keyword.value] = arg.value
            continue
        if position < len(params):
            out[params[position]] = arg.value
        position += 1
    return out
