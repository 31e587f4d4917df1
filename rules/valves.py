"""OWA2: Valves and UserValves (action contract §2).

Open WebUI builds `Action.Valves(**stored)` on every click (only when the instance already
has a `valves` attribute), shows both classes' JSON schemas as settings forms, saves them
with `model_dump(exclude_unset=True)` and hands `UserValves(**stored)` to `action` as
`__user__["valves"]`, a pydantic object. The rules here check that contract statically:
names are resolved the way Python resolves them (import aliases, conditional imports,
module-level base classes), and where a fact cannot be known (a base class imported from
another package, a `Field(**kwargs)`), they stay silent.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import libcst as cst

from analyzer.findings import Confidence, Edit, Fix, Level, Location
from analyzer.flow.dataflow import trampoline
from analyzer.model import ActionModule, FunctionInfo, assigned_value, string_value
from analyzer.rule import Invalid, LintRule, Valid

# --- what a Valves base class is ------------------------------------------------------------

# pydantic 2 models. `BaseSettings` subclasses `pydantic.BaseModel`, so it is a valid Valves
# base (it also reads environment variables, which is harmless here).
PYDANTIC_MODEL_BASES: frozenset[str] = frozenset(
    {
        "pydantic.BaseModel",
        "pydantic.main.BaseModel",
        "pydantic_settings.BaseSettings",
        "pydantic_settings.main.BaseSettings",
    }
)
# pydantic 1 models (the `pydantic.v1` shim): `Valves(**stored)` works, but saving the
# settings calls `model_dump()`, which a v1 model does not have.
PYDANTIC_V1_BASES: frozenset[str] = frozenset(
    {"pydantic.v1.BaseModel", "pydantic.v1.main.BaseModel", "pydantic.v1.BaseSettings"}
)
# Bases that are certainly not a pydantic model, with how to name them in a message.
NOT_MODEL_BASES: dict[str, str] = {
    "builtins.object": "a plain class",
    "builtins.dict": "a `dict` subclass",
    "typing.Dict": "a `dict` subclass",
    "typing.TypedDict": "a `TypedDict`",
    "typing_extensions.TypedDict": "a `TypedDict`",
    "typing.NamedTuple": "a `NamedTuple`",
    "typing_extensions.NamedTuple": "a `NamedTuple`",
    "collections.UserDict": "a `UserDict` subclass",
    "collections.OrderedDict": "a `dict` subclass",
    "collections.defaultdict": "a `dict` subclass",
    "types.SimpleNamespace": "a `SimpleNamespace` subclass",
    "enum.Enum": "an `Enum`",
    "enum.IntEnum": "an `Enum`",
    "enum.StrEnum": "an `Enum`",
    "typing.Generic": "a plain class",
    "typing.Protocol": "a `Protocol`",
    "abc.ABC": "a plain class",
}
DATACLASS_DECORATORS: frozenset[str] = frozenset(
    {"dataclasses.dataclass", "attr.s", "attr.define", "attrs.define", "attr.dataclass"}
)
FIELD_FUNCTIONS: frozenset[str] = frozenset(
    {"pydantic.Field", "pydantic.fields.Field", "pydantic.v1.Field", "pydantic.v1.fields.Field"}
)
SECRET_STR_TYPES: frozenset[str] = frozenset({"pydantic.SecretStr", "pydantic.types.SecretStr"})
CLASSVAR_NAMES: frozenset[str] = frozenset({"typing.ClassVar", "typing_extensions.ClassVar"})
ANNOTATED_NAMES: frozenset[str] = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
OPTIONAL_NAMES: frozenset[str] = frozenset({"typing.Optional", "typing_extensions.Optional"})
UNION_NAMES: frozenset[str] = frozenset({"typing.Union", "typing_extensions.Union"})
GETENV_NAMES: frozenset[str] = frozenset({"os.getenv", "os.environ.get"})

ModelKindName = Literal["pydantic", "v1", "other", "unknown"]


@dataclass(frozen=True)
class ModelKind:
    """What a class is, as far as Open WebUI's `Valves(**stored)` is concerned."""

    kind: ModelKindName
    what: str = ""  # for "other": "a plain class", "a dataclass", ...


_PYDANTIC = ModelKind("pydantic")
_V1 = ModelKind("v1", "a pydantic v1 model")
_UNKNOWN = ModelKind("unknown")


def _combine(kinds: Sequence[ModelKind]) -> ModelKind:
    """Several candidate bases (or conditional bindings): one pydantic base is enough."""
    for wanted in ("pydantic", "unknown", "v1"):
        for kind in kinds:
            if kind.kind == wanted:
                return kind
    return kinds[0] if kinds else _UNKNOWN


# The three functions below follow base classes and aliases through each other, as deep as
# the module's class hierarchy: they are generators run by `trampoline`, so that depth is
# not Python's (`kind = yield _classify_base(...)` is the recursive call).
_Classify = Generator[Generator[Any, Any, ModelKind], ModelKind, ModelKind]


def classify_class(
    model: ActionModule, cls: cst.ClassDef, seen: frozenset[str] = frozenset()
) -> ModelKind:
    """Whether `cls` is a pydantic model, following module-level base classes."""
    return trampoline(_classify_class(model, cls, seen))


def classify_base(
    model: ActionModule, expr: cst.BaseExpression, seen: frozenset[str] = frozenset()
) -> ModelKind:
    """What a base-class expression denotes (`BaseModel`, `pd.BaseModel`, `_Base`, `dict`)."""
    return trampoline(_classify_base(model, expr, seen))


def _classify_class(model: ActionModule, cls: cst.ClassDef, seen: frozenset[str]) -> _Classify:
    positional = [base for base in cls.bases if base.keyword is None]
    if not positional:
        if cls.keywords:
            return _UNKNOWN  # `metaclass=...` alone: we cannot tell what it builds
        for deco in cls.decorators:
            target = deco.decorator.func if type(deco.decorator) is cst.Call else deco.decorator
            if model.resolve_name(target) & DATACLASS_DECORATORS:
                return ModelKind("other", "a dataclass")
        return ModelKind("other", "a plain class")
    kinds = []
    for base in positional:
        kinds.append((yield _classify_base(model, base.value, seen | {cls.name.value})))
    return _combine(kinds)


def _classify_base(
    model: ActionModule, expr: cst.BaseExpression, seen: frozenset[str]
) -> _Classify:
    if type(expr) is cst.Subscript:  # Generic[T], Dict[str, str]
        expr = expr.value
    names = model.resolve_name(expr)
    if not names:
        return _UNKNOWN
    kinds = []
    for name in sorted(names):
        kinds.append((yield _classify_name(model, name, seen)))
    return _combine(kinds)


def _classify_name(model: ActionModule, name: str, seen: frozenset[str]) -> _Classify:
    if name in PYDANTIC_MODEL_BASES:
        return _PYDANTIC
    if name in PYDANTIC_V1_BASES:
        return _V1
    if name in NOT_MODEL_BASES:
        return ModelKind("other", NOT_MODEL_BASES[name])
    if name.startswith("builtins."):
        return ModelKind("other", f"a `{name.removeprefix('builtins.')}` subclass")
    local = _local_class(model, name)
    if local is not None:
        if local.name.value in seen:
            return _UNKNOWN
        return (yield _classify_class(model, local, seen))
    if "." not in name and name in model.bindings and name not in seen:
        # `Base = pydantic.BaseModel` at module level: follow the alias once per name.
        kinds = []
        for node in model.bindings[name]:
            value = assigned_value(node, model)
            kinds.append((yield _classify_base(model, value, seen | {name})) if value else _UNKNOWN)
        return _combine(kinds)
    return _UNKNOWN  # imported from elsewhere, or computed: prefer silence to a guess


def _local_class(model: ActionModule, name: str) -> cst.ClassDef | None:
    """The module's class for a local qualified name (`_Base`, `Action.Base`)."""
    head, *rest = name.split(".")
    cls = model.classes.get(head)
    for part in rest:
        if cls is None:
            return None
        cls = model.nested_class(cls, part)
    return cls


# The Valves rules that hold for any function Open WebUI loads (`Filter.Valves`,
# `Pipe.Valves`): `owui-lint audit --all-types` runs them on filters and pipes too.
SHARED_WITH_FILTERS_AND_PIPES = frozenset({"action", "filter", "pipe"})


def valves_classes(model: ActionModule) -> list[tuple[str, cst.ClassDef]]:
    """`("Valves", node)` and `("UserValves", node)` nested in `Action`, when defined."""
    out: list[tuple[str, cst.ClassDef]] = []
    if model.valves_class is not None:
        out.append(("Valves", model.valves_class))
    if model.user_valves_class is not None:
        out.append(("UserValves", model.user_valves_class))
    return out


# --- the fields of a Valves class --------------------------------------------------------------


@dataclass
class ValveField:
    """One field of `Valves`/`UserValves` (possibly declared in a module-level base)."""

    owner: str  # "Valves" or "UserValves"
    name: str
    node: cst.AnnAssign | cst.Assign  # where findings about the field are reported
    annotation: cst.BaseExpression | None
    value: cst.BaseExpression | None
    declared_in: str  # the class whose body holds it
    field_calls: list[cst.Call] = field(default_factory=list)  # pydantic `Field(...)` calls

    @property
    def label(self) -> str:
        return f"`{self.owner}.{self.name}`"


def is_field_call(model: ActionModule, node: cst.BaseExpression | None) -> bool:
    return type(node) is cst.Call and bool(model.resolve_name(node.func) & FIELD_FUNCTIONS)


def unwrap_annotated(
    model: ActionModule, annotation: cst.BaseExpression
) -> tuple[cst.BaseExpression, list[cst.BaseExpression]]:
    """`Annotated[T, m1, m2]` gives (T, [m1, m2]); any other annotation gives (it, [])."""
    if type(annotation) is cst.Subscript and model.resolve_name(annotation.value) & ANNOTATED_NAMES:
        items = [s.slice.value for s in annotation.slice if type(s.slice) is cst.Index]
        if items:
            return items[0], items[1:]
    return annotation, []


def _is_classvar(model: ActionModule, annotation: cst.BaseExpression) -> bool:
    text = string_value(annotation)
    if text is not None:
        return text.strip().startswith(("ClassVar", "typing.ClassVar"))
    target = annotation.value if type(annotation) is cst.Subscript else annotation
    return bool(model.resolve_name(target) & CLASSVAR_NAMES)


def _own_fields(model: ActionModule, owner: str, cls: cst.ClassDef) -> Iterator[ValveField]:
    for stmt in cls.body.body:
        if type(stmt) is not cst.SimpleStatementLine:
            continue
        for small in stmt.body:
            if type(small) is cst.AnnAssign and type(small.target) is cst.Name:
                name = small.target.value
                annotation: cst.BaseExpression | None = small.annotation.annotation
                value = small.value
                node: cst.AnnAssign | cst.Assign = small
            elif (
                type(small) is cst.Assign
                and len(small.targets) == 1
                and type(small.targets[0].target) is cst.Name
            ):
                name = small.targets[0].target.value
                annotation, value, node = None, small.value, small
            else:
                continue
            # Private attributes and class variables are not fields; `model_config` is config.
            if name.startswith("_") or name == "model_config":
                continue
            if annotation is not None and _is_classvar(model, annotation):
                continue
            calls: list[cst.Call] = []
            if annotation is not None:
                _, metadata = unwrap_annotated(model, annotation)
                calls += [m for m in metadata if type(m) is cst.Call and is_field_call(model, m)]
            if type(value) is cst.Call and is_field_call(model, value):
                calls.append(value)
            yield ValveField(owner, name, node, annotation, value, cls.name.value, calls)


def valve_fields(model: ActionModule, owner: str, cls: cst.ClassDef) -> list[ValveField]:
    """The fields of `cls`, then those it inherits from module-level bases (not overridden)."""
    out: list[ValveField] = []
    names: set[str] = set()
    queue = [cls]
    visited: set[str] = set()
    while queue:
        current = queue.pop(0)
        if current.name.value in visited:
            continue
        visited.add(current.name.value)
        for f in _own_fields(model, owner, current):
            if f.name not in names:
                names.add(f.name)
                out.append(f)
        for base in current.bases:
            if base.keyword is None:
                for name in model.resolve_name(base.value):
                    local = _local_class(model, name)
                    if local is not None and local is not cls:
                        queue.append(local)
    return out


# --- defaults -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDefault:
    """A field's default: `required`, or present (`expr` is the literal default when known)."""

    required: bool
    expr: cst.BaseExpression | None = None


def _is_ellipsis(node: cst.BaseExpression | None) -> bool:
    return type(node) is cst.Ellipsis


def _field_call_default(call: cst.Call) -> FieldDefault | None:
    """The default a `Field(...)` call gives; None when it cannot be told (`**kwargs`)."""
    if any(arg.star for arg in call.args):
        return None
    positional = [arg for arg in call.args if arg.keyword is None]
    if positional:
        value = positional[0].value
        return FieldDefault(True) if _is_ellipsis(value) else FieldDefault(False, value)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "default":
            return FieldDefault(True) if _is_ellipsis(arg.value) else FieldDefault(False, arg.value)
        if arg.keyword is not None and arg.keyword.value == "default_factory":
            return FieldDefault(False)
    return FieldDefault(True)


def field_default(model: ActionModule, f: ValveField) -> FieldDefault | None:
    """How pydantic 2 sees the field's default; None when unknowable."""
    if f.value is None:
        # `Annotated[str, Field(default="x")]` has a default; bare `x: str` does not.
        for call in f.field_calls:
            found = _field_call_default(call)
            if found is None or not found.required:
                return found
        return FieldDefault(True)
    if is_field_call(model, f.value):
        return _field_call_default(cst.ensure_type(f.value, cst.Call))
    if _is_ellipsis(f.value):
        return FieldDefault(True)  # `x: int = ...` is pydantic's spelling of "required"
    return FieldDefault(False, f.value)


# --- types ------------------------------------------------------------------------------------

_STRING_ANNOTATION = re.compile(
    r"^\s*(?:str|SecretStr|(?:typing\.)?Optional\[\s*(?:str|SecretStr)\s*\]"
    r"|(?:str|SecretStr)\s*\|\s*None|None\s*\|\s*(?:str|SecretStr))\s*$"
)


def is_string_typed(model: ActionModule, annotation: cst.BaseExpression) -> bool:
    """`str`, `Optional[str]`, `str | None`, `SecretStr`, `Annotated[str, ...]`."""
    text = string_value(annotation)
    if text is not None:
        return bool(_STRING_ANNOTATION.match(text))
    inner, _ = unwrap_annotated(model, annotation)
    members = _union_members(model, inner)
    if members is None:
        return False
    non_none = [m for m in members if not (type(m) is cst.Name and m.value == "None")]
    return bool(non_none) and all(_is_plain_string_type(model, m) for m in non_none)


def _union_members(
    model: ActionModule, node: cst.BaseExpression
) -> list[cst.BaseExpression] | None:
    """The members of `A | B | None` (it nests to the left) or `Optional[A]` / `Union[...]`,
    left to right; None when a part is some other subscript."""
    out: list[cst.BaseExpression] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if type(current) is cst.BinaryOperation and type(current.operator) is cst.BitOr:
            pending += [current.right, current.left]
        elif type(current) is cst.Subscript:
            names = model.resolve_name(current.value)
            if not names & (OPTIONAL_NAMES | UNION_NAMES):
                return None
            out += [s.slice.value for s in current.slice if type(s.slice) is cst.Index]
            if names & OPTIONAL_NAMES:
                out.append(cst.Name("None"))
        else:
            out.append(current)
    return out


def _is_plain_string_type(model: ActionModule, node: cst.BaseExpression) -> bool:
    pending = [node]
    seen: set[str] = set()
    while pending:
        names = model.resolve_name(pending.pop())
        if names & ({"builtins.str", "str"} | SECRET_STR_TYPES):
            return True
        # A module-level `str` subclass (the community's `class EncryptedStr(str)`) is a
        # string, however long the chain of subclasses.
        for name in sorted(names - seen):
            seen.add(name)
            local = _local_class(model, name)
            if local is not None:
                pending += [base.value for base in local.bases]
    return False


def _annotation_is_optional(model: ActionModule, annotation: cst.BaseExpression) -> bool:
    text = string_value(annotation)
    if text is not None:
        return "Optional[" in text or "None" in text
    inner, _ = unwrap_annotated(model, annotation)
    members = _union_members(model, inner) or []
    return any(type(m) is cst.Name and m.value == "None" for m in members)


def _suggested_default(model: ActionModule, annotation: cst.BaseExpression | None) -> str:
    """A sensible literal default for a field's type, for messages."""
    if annotation is None:
        return '""'
    if _annotation_is_optional(model, annotation):
        return "None"
    inner, _ = unwrap_annotated(model, annotation)
    base = inner.value if type(inner) is cst.Subscript else inner
    names = model.resolve_name(base)
    table = {
        "builtins.str": '""',
        "builtins.int": "0",
        "builtins.float": "0.0",
        "builtins.bool": "False",
    }
    for name, value in table.items():
        if name in names:
            return value
    if names & SECRET_STR_TYPES:
        return 'SecretStr("")'
    if names & {"builtins.list", "typing.List"}:
        return "list"  # a factory
    if names & {"builtins.dict", "typing.Dict"}:
        return "dict"
    return '""' if is_string_typed(model, annotation) else "..."


# --- secret-named fields ----------------------------------------------------------------------

_TOKEN_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Single tokens that name a secret (`token` singular only: `max_tokens` is a count).
SECRET_TOKENS: frozenset[str] = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "bearer",
        "apikey",
        "secretkey",
        "accesskey",
        "privatekey",
    }
)
# `key` is a secret only after one of these (`api_key`, `secret_key`, ...), not `sort_key`.
KEY_QUALIFIERS: frozenset[str] = frozenset({"api", "secret", "access", "private"})
# A trailing token that says the field *describes* a secret instead of holding it:
# `api_key_header = "X-API-Key"`, `token_url`, `api_key_env = "OPENAI_API_KEY"`.
DESCRIPTOR_TOKENS: frozenset[str] = frozenset(
    {
        "url",
        "uri",
        "endpoint",
        "header",
        "env",
        "var",
        "name",
        "type",
        "path",
        "file",
        "field",
        "param",
        "prefix",
        "hint",
        "label",
        "placeholder",
        "length",
        "limit",
        "count",
        "ttl",
        "expiry",
        "expires",
    }
)


def name_tokens(name: str) -> list[str]:
    """`OPENAI_API_KEY` → [openai, api, key]; `openaiApiKey` → [openai, api, key]."""
    return [t.lower() for part in name.split("_") for t in _TOKEN_SPLIT.findall(part)]


# `<vendor>_key` (`OPENAI_KEY`, `serper_key`) is a secret at medium confidence, unless a
# token says the key is a dictionary, ordering, storage or UI key (catalog v1.3).
NOT_A_SECRET_KEY: frozenset[str] = frozenset(
    {
        "sort",
        "cache",
        "primary",
        "foreign",
        "dict",
        "map",
        "lookup",
        "index",
        "field",
        "column",
        "json",
        "input",
        "output",
        "result",
        "group",
        "partition",
        "hot",
        "short",
        "metadata",
        "storage",
        # the same kinds of key, spelled otherwise
        "shortcut",
        "keyboard",
        "object",
        "translation",
        "i18n",
    }
)


def is_secret_name(name: str) -> bool:
    return secret_name_confidence(name) is not None


def secret_name_confidence(name: str) -> Confidence | None:
    """How sure the name alone makes us that the field holds a secret: HIGH for the secret
    tokens (`api_key`, `token`, `password`, ...), MEDIUM for `<vendor>_key`, else None."""
    tokens = name_tokens(name)
    if not tokens or tokens[-1] in DESCRIPTOR_TOKENS:
        return None
    if any(t in SECRET_TOKENS for t in tokens):
        return Confidence.HIGH
    if any(t == "key" and i > 0 and tokens[i - 1] in KEY_QUALIFIERS for i, t in enumerate(tokens)):
        return Confidence.HIGH
    if len(tokens) >= 2 and tokens[-1] == "key" and not set(tokens) & NOT_A_SECRET_KEY:
        return Confidence.MEDIUM
    return None


def _name_only(name: str) -> Confidence | None:
    """MEDIUM for a `<vendor>_key` name, else None (the rule's own confidence)."""
    found = secret_name_confidence(name)
    return found if found is Confidence.MEDIUM else None


_CONFIDENCE_ORDER = (Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH)


def weaker(a: Confidence, b: Confidence) -> Confidence:
    """The lower of two confidences."""
    return min(a, b, key=_CONFIDENCE_ORDER.index)


# Known credential prefixes: safe to show in a message (they identify the issuer, not the key).
KNOWN_PREFIXES: tuple[str, ...] = (
    "sk-ant-",
    "sk-proj-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "github_pat_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "hf_",
    "gsk_",
    "pplx-",
    "r8_",
    "AKIA",
    "ASIA",
    "AIza",
    "sk-",
)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PLACEHOLDER = re.compile(
    r"your|xxx|\*\*\*|\.\.\.|…|change[-_ ]?me|example|placeholder|dummy|replace|insert|"
    r"enter[-_ ]|todo|fixme|here$|^<.*>$|^\{.*\}$|^\$\{.*\}$|^\[.*\]$|"
    r"^my[-_ ]?.*key$|^my[-_ ]?(?:api|secret|token|password)",
)
_PLACEHOLDER_WORDS: frozenset[str] = frozenset(
    {
        "none",
        "null",
        "nil",
        "test",
        "secret",
        "password",
        "token",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "default",
        "string",
        "sk-",
        "na",
        "n/a",
    }
)
ENTROPY_THRESHOLD = 3.5  # bits per character; random API keys score 4.5-6
ENTROPY_MIN_LENGTH = 16


def _article(number: int) -> str:
    """`an 11-character value`, `a 40-character value`."""
    return "an" if str(number).startswith("8") or number in (11, 18) else "a"


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


@dataclass(frozen=True)
class SecretVerdict:
    confidence: Confidence
    placeholder: bool
    description: str  # masked: length, known prefix or shape, never the value


def known_prefix(value: str) -> str | None:
    for prefix in KNOWN_PREFIXES:
        if value.startswith(prefix) and len(value) >= len(prefix) + 12:
            return prefix
    return None


def classify_secret(value: str) -> SecretVerdict:
    """How real a hardcoded secret looks, with a description that never shows the value."""
    stripped = value.strip()
    lowered = stripped.lower()
    length = f"{_article(len(stripped))} {len(stripped)}-character value"
    compact = re.sub(r"[-_.\s]", "", lowered)
    if (
        _PLACEHOLDER.search(lowered)
        or lowered in _PLACEHOLDER_WORDS
        or (compact and len(set(compact)) == 1)
    ):
        return SecretVerdict(Confidence.LOW, True, f"{length} that looks like a placeholder")
    prefix = known_prefix(stripped)
    if prefix is not None:
        return SecretVerdict(Confidence.HIGH, False, f"{length} starting `{prefix}`")
    if _JWT.match(stripped):
        return SecretVerdict(
            Confidence.HIGH, False, f"a JWT-shaped {len(stripped)}-character value"
        )
    if _UUID.match(stripped):
        return SecretVerdict(Confidence.HIGH, False, "a UUID-shaped value")
    classes = sum(bool(re.search(pattern, stripped)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    if (
        len(stripped) >= ENTROPY_MIN_LENGTH
        and " " not in stripped
        and classes >= 2
        and shannon_entropy(stripped) >= ENTROPY_THRESHOLD
    ):
        return SecretVerdict(Confidence.HIGH, False, f"{length} that looks randomly generated")
    return SecretVerdict(Confidence.MEDIUM, False, length)


def secret_fields(model: ActionModule) -> Iterator[tuple[ValveField, ModelKind]]:
    """Secret-named, string-typed fields of `Valves`/`UserValves` (any base class)."""
    seen: set[int] = set()
    for owner, cls in valves_classes(model):
        kind = classify_class(model, cls)
        for f in valve_fields(model, owner, cls):
            if id(f.node) in seen or not is_secret_name(f.name):
                continue
            if f.annotation is not None:
                if not is_string_typed(model, f.annotation):
                    continue
            elif string_value(f.value) is None and not is_field_call(model, f.value):
                continue  # unannotated: only a plain string default says "string"
            seen.add(id(f.node))
            yield f, kind


def literal_secret(model: ActionModule, expr: cst.BaseExpression | None) -> str | None:
    """The string a default holds literally: `"x"`, `SecretStr("x")`, `os.getenv("K", "x")`."""
    if expr is None:
        return None
    text = string_value(expr)
    if text is not None:
        return text
    if type(expr) is cst.Call:
        names = model.resolve_name(expr.func)
        args = [a for a in expr.args if a.keyword is None and not a.star]
        if names & SECRET_STR_TYPES and args:
            return string_value(args[0].value)
        if names & GETENV_NAMES and len(args) >= 2:
            return string_value(args[1].value)  # the fallback is in the source
        for arg in expr.args:
            if names & GETENV_NAMES and arg.keyword is not None and arg.keyword.value == "default":
                return string_value(arg.value)
    return None


MaskState = Literal["masked", "unmasked", "unknown"]


def _dict_items(
    model: ActionModule, node: cst.BaseExpression | None, depth: int = 0
) -> dict[str, cst.BaseExpression] | None:
    """A literal dict (or `dict(k=v)`, or a module constant holding one) as {key: value}."""
    if node is None or depth > 3:
        return None
    if type(node) is cst.Name and node.value in model.bindings:
        bound = model.bindings[node.value]
        value = assigned_value(bound[-1], model) if len(bound) == 1 else None
        return _dict_items(model, value, depth + 1)
    if type(node) is cst.Dict:
        out: dict[str, cst.BaseExpression] = {}
        for element in node.elements:
            if type(element) is not cst.DictElement:
                return None  # `**spread`: cannot tell
            key = string_value(element.key)
            if key is None:
                return None
            out[key] = element.value
        return out
    if (
        type(node) is cst.Call
        and model.resolve_name(node.func) & {"builtins.dict", "dict"}
        and all(a.keyword is not None and not a.star for a in node.args)
    ):
        return {cst.ensure_type(a.keyword, cst.Name).value: a.value for a in node.args}
    return None


def mask_state(model: ActionModule, f: ValveField) -> tuple[MaskState, str]:
    """Whether the field's `Field(...)` asks Open WebUI for a password input.

    Returns the state and, when unmasked, a hint about a near-miss spelling.
    """
    hint = ""
    for call in f.field_calls:
        if any(arg.star == "**" for arg in call.args):
            return "unknown", ""
        for arg in call.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.value
            if key == "json_schema_extra":
                extra = _dict_items(model, arg.value)
                if extra is None:
                    return "unknown", ""
                widget = _dict_items(model, extra.get("input"))
                if "input" in extra and widget is None:
                    return "unknown", ""
                if widget is not None and string_value(widget.get("type")) == "password":
                    return "masked", ""
                if string_value(extra.get("type")) == "password" or string_value(
                    extra.get("format")
                ) in ("password",):
                    hint = (
                        ' (`json_schema_extra={"type": "password"}` is not what Open WebUI '
                        'reads: the widget type must sit under `"input"`)'
                    )
            elif key in ("extra", "input", "format", "type", "widget", "ui"):
                hint = f" (`Field({key}=...)` is not read by Open WebUI)"
    return "unmasked", hint


# --- OWA201 ------------------------------------------------------------------------------------


class ValvesNotBaseModel(LintRule):
    """
    ## What it does
    Reports an `Action.Valves` or `Action.UserValves` class that does not subclass
    `pydantic.BaseModel`: a plain class, a dataclass, a `TypedDict`, a `dict` subclass or a
    pydantic v1 model (`pydantic.v1.BaseModel`).

    Base classes are resolved the way Python resolves them: import aliases
    (`from pydantic import BaseModel as BM`, `import pydantic as pd`), conditional imports
    (`try: from pydantic import BaseModel` / `except ImportError: ...`: one pydantic branch is
    enough) and module-level base classes that themselves subclass `BaseModel`.
    `pydantic_settings.BaseSettings` is a `BaseModel` subclass and is accepted. A base imported
    from another package (`from mylib import SettingsBase`) cannot be seen from this module, so
    the rule stays silent there rather than guess.

    ## Why is this bad?
    Open WebUI builds `Valves(**stored)` on every click, renders the class's JSON schema as
    the settings form and saves it with `model_dump(exclude_unset=True)`. A class that is not
    a pydantic model has no schema, rejects or ignores the stored keyword arguments and cannot
    be dumped: the settings page breaks, saving fails, and the action errors once an admin
    has stored a value. A pydantic v1 model builds, but has no `model_dump()`, so saving
    its settings fails.

    ## Example
    ```python
    from dataclasses import dataclass

    class Action:
        @dataclass
        class Valves:
            api_base: str = "https://api.openai.com/v1"
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            api_base: str = Field(default="https://api.openai.com/v1")

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    ```
    """

    code = "OWA201"
    kinds = SHARED_WITH_FILTERS_AND_PIPES
    name = "valves-not-basemodel"
    level = Level.ERROR
    summary = "`Valves` / `UserValves` does not subclass `pydantic.BaseModel`."

    def check(self) -> None:
        for owner, cls in valves_classes(self.module):
            kind = classify_class(self.module, cls)
            if kind.kind == "v1":
                self.report(
                    cls.name,
                    f"`{owner}` subclasses the pydantic v1 `BaseModel` (`pydantic.v1`): Open "
                    f"WebUI saves the settings with `model_dump()`, which v1 models lack, so "
                    f"saving them fails; subclass `pydantic.BaseModel` "
                    f"(`from pydantic import BaseModel`)",
                )
            elif kind.kind == "other":
                self.report(
                    cls.name,
                    f"`{owner}` is {kind.what}, not a `pydantic.BaseModel`: Open WebUI builds "
                    f"it with `{owner}(**stored)`, renders its JSON schema as the settings form "
                    f"and saves it with `model_dump()`, none of which work; declare "
                    f"`class {owner}(BaseModel):` with `from pydantic import BaseModel`",
                )

    VALID = [
        Valid(
            '''
            """
            title: DALL-E Image
            description: Generate an image from the clicked reply
            """
            import pydantic as pd
            from pydantic import Field as F


            class Action:
                class Valves(pd.BaseModel):
                    priority: int = F(default=0)
                    api_base: str = F(default="https://api.openai.com/v1")

                class UserValves(pd.BaseModel):
                    size: str = F(default="1024x1024", description="Image size")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None, __event_emitter__=None):
                    return body
            '''
        ),
        Valid(
            """
            try:
                from pydantic import BaseModel as BM
            except ImportError:  # very old Open WebUI images
                from pydantic.v1 import BaseModel as BM


            class _Settings(BM):
                timeout: int = 30


            class Action:
                class Valves(_Settings):
                    model: str = "gpt-4o-mini"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from mylib.settings import SettingsBase
            from pydantic_settings import BaseSettings


            class Action:
                class Valves(SettingsBase):  # imported: cannot be checked here
                    endpoint: str = "http://localhost:8000"

                class UserValves(BaseSettings):
                    language: str = "en"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from typing import Generic, TypeVar

            import pydantic

            T = TypeVar("T")
            Model = pydantic.BaseModel


            class Action:
                class Valves(Model, Generic[T]):
                    max_chars: int = 4000

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None):
                    text = body["messages"][-1]["content"][: self.valves.max_chars]
                    await __event_emitter__({"type": "message", "data": {"content": text}})
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Summarize Chat
            description: Summarize the conversation with a second model
            """
            from dataclasses import dataclass

            import aiohttp


            class Action:
                @dataclass
                class Valves:
                    api_base: str = "https://api.openai.com/v1"
                    model: str = "gpt-4o-mini"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    async with aiohttp.ClientSession() as session:
                        async with session.post(f"{self.valves.api_base}/chat/completions") as r:
                            summary = (await r.json())["choices"][0]["message"]["content"]
                    return {"messages": [{"id": body["id"], "content": summary}]}
            ''',
            lines=(12,),
            message="is a dataclass",
        ),
        Invalid(
            """
            from typing import TypedDict

            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0

                class UserValves(TypedDict):
                    target_language: str

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """,
            lines=(10,),
            message="`TypedDict`",
        ),
        Invalid(
            """
            class Action:
                class Valves:
                    webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"

                class UserValves(dict):
                    pass

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> None:
                    return None
            """,
            lines=(2, 5),
        ),
        Invalid(
            """
            from pydantic.v1 import BaseModel, Field


            class Base(BaseModel):
                timeout: int = 30


            class Action:
                class Valves(Base):
                    priority: int = Field(default=0)

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(9,),
            message="pydantic v1",
        ),
    ]


# --- OWA202 ------------------------------------------------------------------------------------


class ValvesFieldRequired(LintRule):
    """
    ## What it does
    Reports a field of `Valves` or `UserValves` that pydantic 2 treats as required: a bare
    annotation (`x: str`), `Field(...)`, `Field(description=...)` without `default` or
    `default_factory`, `x: int = ...`, and `Optional[str]` without `= None` (in pydantic 2
    `Optional` only allows `None`; it does not make the field optional).

    `Field(default=...)`, `Field(default_factory=...)`, a positional default `Field("x")`,
    `Annotated[str, Field(default="x")]` and `Annotated[str, Field(...)] = "x"` all give a
    default. `ClassVar` annotations and private `_x` attributes are not fields. Fields
    inherited from a module-level base class are checked where they are declared. The rule
    only looks at classes that are certainly pydantic 2 models (see OWA201) and stays silent
    on a `Field(**options)` it cannot read.

    ## Why is this bad?
    Open WebUI builds the settings with no arguments when nothing is stored yet:
    `self.valves = self.Valves()` in `__init__` raises at load, which deactivates the
    function, and `Valves(**stored or {})` raises on every click. A required `UserValves`
    field makes `UserValves(**stored)` fail for every user who has not saved it, and
    `__user__["valves"]` is then missing.

    ## Example
    ```python
    class Action:
        class Valves(BaseModel):
            api_key: str = Field(..., description="OpenAI API key")
            model: Optional[str]
    ```

    ## Use instead
    ```python
    from typing import Optional

    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            api_key: str = Field(default="", description="OpenAI API key", json_schema_extra={"input": {"type": "password"}})
            model: Optional[str] = None

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    ```

    ## Fix
    `check --fix` gives the field the default its annotation makes obvious: `""` for `str`,
    `0`, `0.0`, `False`, `None` for `Optional[...]` (as `= value`, or `default=value` in
    its `Field(...)`), and `default_factory=list` / `dict` for lists and dicts (in its
    `Field(...)`, or a new one when the module imports `Field`). Not for other types, for
    a field inherited from a base class, or when its `Field(...)` has a constraint (`ge`,
    `min_length`, `pattern`, ...).
    """

    code = "OWA202"
    kinds = SHARED_WITH_FILTERS_AND_PIPES
    name = "valves-field-required"
    level = Level.ERROR
    summary = "A `Valves` / `UserValves` field without a default: `Valves()` raises."
    fixable = True

    def check(self) -> None:
        seen: set[int] = set()
        for owner, cls in valves_classes(self.module):
            if classify_class(self.module, cls).kind != "pydantic":
                continue
            for f in valve_fields(self.module, owner, cls):
                if f.annotation is None or id(f.node) in seen:
                    continue  # unannotated names are not pydantic fields
                default = field_default(self.module, f)
                if default is None or not default.required:
                    continue
                seen.add(id(f.node))
                self.report(f.node, self._message(f), fix=self._default_fix(f))

    def _default_fix(self, f: ValveField) -> Fix | None:
        """Give the field the default its annotation makes obvious (`""`, `0`, `0.0`,
        `False`, `None` for `Optional`, a `default_factory` of `list` or `dict`), where the
        field is declared in the class itself and nothing (a constraint,
        `validate_default`) could make that default wrong."""
        if f.annotation is None or f.declared_in != f.owner:
            return None
        value = _suggested_default(self.module, f.annotation)
        factory = value in ("list", "dict")
        if value not in _OBVIOUS_DEFAULTS and not factory:
            return None
        option = f"default_factory={value}" if factory else f"default={value}"
        plain: str | None = value  # the whole default, outside a `Field(...)`
        if factory:
            spelling = _field_spelling(self.module)
            plain = None if spelling is None else f"{spelling}({option})"
        description = f"Give `{f.name}` a default: `{option}`"
        node = f.node
        if f.value is None:
            if type(node) is not cst.AnnAssign or node.value is not None or plain is None:
                return None
            # `Annotated[..., Field(...)]`: a second `Field` would clash, a constraint bite.
            if f.field_calls and (factory or any(not _plain_field_call(c) for c in f.field_calls)):
                return None
            return Fix(description, (self.insert_after(node.annotation, f" = {plain}"),))
        if _is_ellipsis(f.value):
            return None if plain is None else Fix(description, (self.replace(f.value, plain),))
        if f.field_calls != [f.value] or type(f.value) is not cst.Call:
            return None
        call = f.value
        if not _plain_field_call(call):
            return None
        for arg in call.args:
            if arg.keyword is None or arg.keyword.value == "default":
                if not _is_ellipsis(arg.value):
                    return None
                # `Field(..., x=...)` / `Field(default=..., x=...)`: that default goes.
                return Fix(description, (self.replace(arg, option),))
        if not call.args:
            return Fix(description, (self.replace(call, f"{self.code_of(call.func)}({option})"),))
        first = call.args[0]
        text = f"{option}, "
        if self.module.location(first).line != self.module.location(call).line:
            text = f"{option},\n{self.indent_of(first)}"  # one option a line
        return Fix(description, (self.insert_before(first, text),))

    def _message(self, f: ValveField) -> str:
        assert f.annotation is not None
        suggestion = _suggested_default(self.module, f.annotation)
        if suggestion in ("list", "dict"):
            fix = f"`Field(default_factory={suggestion}, …)`"
        elif suggestion == "...":
            fix = "`Field(default=…)` with a value of its type"
        elif f.field_calls:
            fix = f"`Field(default={suggestion}, …)`"
        else:
            annotation = self.module.module.code_for_node(f.annotation)
            fix = f"`{f.name}: {annotation} = {suggestion}`"
        where = "" if f.declared_in == f.owner else f" (declared in `{f.declared_in}`)"
        optional = ""
        if _annotation_is_optional(self.module, f.annotation) and f.value is None:
            optional = " (`Optional` alone does not give a default in pydantic 2)"
        if f.owner == "UserValves":
            effect = (
                "so `UserValves(**stored)` raises for every user who has not saved it and "
                '`__user__["valves"]` is missing'
            )
        else:
            effect = "so `Valves()` raises when Open WebUI loads the function"
        return (
            f"{f.label}{where} has no default{optional}, {effect}; give it a default such as {fix}"
        )

    VALID = [
        Valid(
            '''
            """
            title: Translate Reply
            description: Translate the clicked reply with DeepL
            """
            from typing import Annotated, ClassVar, Optional

            from pydantic import BaseModel
            from pydantic import Field as F


            class Action:
                class Valves(BaseModel):
                    SUPPORTED: ClassVar[tuple[str, ...]] = ("DE", "FR", "ES")
                    _session = None
                    deepl_api_key: str = F(default="", json_schema_extra={"input": {"type": "password"}})
                    endpoint: str = F("https://api-free.deepl.com/v2/translate")
                    glossary_id: Optional[str] = None
                    formality: Annotated[str, F(description="more or less")] = "default"
                    split_sentences: Annotated[str, F(default="1")]
                    extra_headers: dict = F(default_factory=dict)

                class UserValves(BaseModel):
                    target_lang: str = F(default="EN-US", description="Target language")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None, __event_emitter__=None):
                    return body
            '''
        ),
        Valid(
            """
            from pydantic import BaseModel, Field


            class _Common(BaseModel):
                api_base: str
                timeout: int = 30


            class Action:
                class Valves(_Common):
                    api_base: str = Field(default="https://api.openai.com/v1")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from dataclasses import dataclass

            from mylib import SettingsBase
            from pydantic import Field

            FIELD_OPTIONS = {"description": "Model used for the summary"}


            class Action:
                class Valves(SettingsBase):  # unknown base: not ours to judge
                    api_key: str

                @dataclass
                class UserValves:  # OWA201's finding, not this rule's
                    language: str

                def __init__(self):
                    self.valves = self.Valves(api_key="")

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            import pydantic as pd


            class Action:
                class Valves(pd.BaseModel):
                    model_config = pd.ConfigDict(extra="ignore")
                    priority: int = pd.Field(0, description="Button order")
                    voice = "alloy"  # unannotated: not a pydantic field at all
                    instructions: str = pd.Field(
                        default=(
                            "Read the text aloud in a calm voice. "
                            "Keep names as they are."
                        ),
                    )

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__({"type": "status", "data": {"description": "ok", "done": True}})
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Image Generator
            description: Turn the clicked reply into an image with Stability AI
            """
            import base64

            import httpx
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    stability_api_key: str = Field(..., description="Stability AI key")
                    engine: str = Field(description="Engine id, e.g. stable-diffusion-xl-1024-v1-0")
                    steps: int = Field(default=30)

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    prompt = body["messages"][-1]["content"]
                    async with httpx.AsyncClient() as client:
                        r = await client.post(
                            f"https://api.stability.ai/v1/generation/{self.valves.engine}/text-to-image",
                            headers={"Authorization": f"Bearer {self.valves.stability_api_key}"},
                            json={"text_prompts": [{"text": prompt}], "steps": self.valves.steps},
                        )
                    image = r.json()["artifacts"][0]["base64"]
                    base64.b64decode(image)
                    return {"messages": [{"id": body["id"], "content": "![image](data:image/png;base64," + image + ")"}]}
            ''',
            lines=(13, 14),
            message="has no default",
            fixed='''
                """
                title: Image Generator
                description: Turn the clicked reply into an image with Stability AI
                """
                import base64

                import httpx
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        stability_api_key: str = Field(default="", description="Stability AI key")
                        engine: str = Field(default="", description="Engine id, e.g. stable-diffusion-xl-1024-v1-0")
                        steps: int = Field(default=30)

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict, __event_emitter__=None) -> dict:
                        prompt = body["messages"][-1]["content"]
                        async with httpx.AsyncClient() as client:
                            r = await client.post(
                                f"https://api.stability.ai/v1/generation/{self.valves.engine}/text-to-image",
                                headers={"Authorization": f"Bearer {self.valves.stability_api_key}"},
                                json={"text_prompts": [{"text": prompt}], "steps": self.valves.steps},
                            )
                        image = r.json()["artifacts"][0]["base64"]
                        base64.b64decode(image)
                        return {"messages": [{"id": body["id"], "content": "![image](data:image/png;base64," + image + ")"}]}
            ''',
        ),
        Invalid(
            """
            from typing import Optional

            from pydantic import BaseModel as BM


            class Action:
                class Valves(BM):
                    notion_token: Optional[str]
                    database_id: str = ""

                class UserValves(BM):
                    page_title: str

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """,
            lines=(8, 12),
            fixed="""
                from typing import Optional

                from pydantic import BaseModel as BM


                class Action:
                    class Valves(BM):
                        notion_token: Optional[str] = None
                        database_id: str = ""

                    class UserValves(BM):
                        page_title: str = ""

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict, __user__=None) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from typing import Annotated

            import pydantic as pd
            from pydantic import Field as F


            class _ExportBase(pd.BaseModel):
                output_dir: str


            class Action:
                class Valves(_ExportBase):
                    fmt: Annotated[str, F(description="md or html")]
                    max_messages: int = ...

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(8, 13, 14),
            fixed="""
                from typing import Annotated

                import pydantic as pd
                from pydantic import Field as F


                class _ExportBase(pd.BaseModel):
                    output_dir: str


                class Action:
                    class Valves(_ExportBase):
                        fmt: Annotated[str, F(description="md or html")] = ""
                        max_messages: int = 0

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_base: str = Field(default="https://api.openai.com/v1")
                    models: list[str] = Field(
                        description="Models the summary may use",
                    )

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(7,),
            message="default_factory=list",
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        api_base: str = Field(default="https://api.openai.com/v1")
                        models: list[str] = Field(
                            default_factory=list,
                            description="Models the summary may use",
                        )

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    # Shown first in the settings form.
                    show_status: bool = Field(
                        # The button reports its progress.
                        description="Emit status updates",
                    )
                    retries: int = Field(ge=1, description="At least one")  # no obvious default

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(7, 11),
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        # Shown first in the settings form.
                        show_status: bool = Field(
                            # The button reports its progress.
                            default=False,
                            description="Emit status updates",
                        )
                        retries: int = Field(ge=1, description="At least one")  # no obvious default

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    extra_headers: dict[str, str]
                    model: str = Field(default=..., description="Model id")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(6, 7),
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        extra_headers: dict[str, str] = Field(default_factory=dict)
                        model: str = Field(default="", description="Model id")

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
    ]


_MASK_VALUE = '{"input": {"type": "password"}}'


def _field_spelling(model: ActionModule) -> str | None:
    """How this module can call pydantic's `Field`: `Field`, an alias, or `pd.Field`."""
    found: list[str] = []
    for name, nodes in model.bindings.items():
        if len(nodes) != 1:
            continue
        node = nodes[0]
        if type(node) is cst.ImportFrom and not node.relative and node.module is not None:
            if model.module.code_for_node(node.module) != "pydantic":
                continue
            if isinstance(node.names, cst.ImportStar):
                continue
            for alias in node.names:
                bound = alias.asname.name if alias.asname else alias.name
                if (
                    type(alias.name) is cst.Name
                    and alias.name.value == "Field"
                    and type(bound) is cst.Name
                    and bound.value == name
                ):
                    found.append(name)
        elif type(node) is cst.Import:
            for imported in node.names:
                if model.module.code_for_node(imported.name) != "pydantic":
                    continue
                bound = imported.asname.name if imported.asname else imported.name
                if type(bound) is cst.Name and bound.value == name:
                    found.append(f"{name}.Field")
    return sorted(found, key=lambda n: ("." in n, n))[0] if found else None


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        type(stmt) is cst.SimpleStatementLine
        and len(stmt.body) == 1
        and type(stmt.body[0]) is cst.Expr
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


_OBVIOUS_DEFAULTS = frozenset({'""', "0", "0.0", "False", "None"})
# `Field(...)` options that constrain the value: a default picked from the type alone could
# break them (and `validate_default=True` would make it raise), so no autofix there.
_CONSTRAINTS = frozenset(
    {
        "gt",
        "ge",
        "lt",
        "le",
        "multiple_of",
        "min_length",
        "max_length",
        "pattern",
        "regex",
        "validate_default",
        "default_factory",
        "strict",
        "allow_inf_nan",
        "max_digits",
        "decimal_places",
    }
)


def _plain_field_call(call: cst.Call) -> bool:
    """A `Field(...)` with keyword options only (but a positional `...`), none a constraint."""
    for arg in call.args:
        if arg.star:
            return False
        if arg.keyword is None and not _is_ellipsis(arg.value):
            return False
        if arg.keyword is not None and arg.keyword.value in _CONSTRAINTS:
            return False
    return True


# --- OWA203 ------------------------------------------------------------------------------------

SetsValves = Literal["yes", "no", "unknown", "elsewhere"]


def _class_chain(model: ActionModule, cls: cst.ClassDef) -> list[cst.ClassDef] | None:
    """`cls` and its module-level bases; None when a base is imported or computed."""
    out: list[cst.ClassDef] = []
    queue = [cls]
    while queue:
        current = queue.pop(0)
        if any(current is c for c in out):
            continue
        out.append(current)
        for base in current.bases:
            if base.keyword is not None:
                continue
            names = model.resolve_name(base.value)
            if names == {"builtins.object"}:
                continue
            locals_ = [c for c in (_local_class(model, n) for n in names) if c is not None]
            if not locals_:
                return None
            queue += locals_
    return out


def _class_body_binds(model: ActionModule, cls: cst.ClassDef, attr: str) -> bool:
    """The class body defines `attr` (assignment, def, property) or a `__getattr__`."""
    for stmt in cls.body.body:
        if type(stmt) is cst.FunctionDef and stmt.name.value in (
            attr,
            "__getattr__",
            "__getattribute__",
        ):
            return True
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                if type(small) is cst.Assign and any(
                    type(t.target) is cst.Name and t.target.value == attr for t in small.targets
                ):
                    return True
                if (
                    type(small) is cst.AnnAssign
                    and small.value is not None
                    and type(small.target) is cst.Name
                    and small.target.value == attr
                ):
                    return True
        elif (
            isinstance(stmt, cst.BaseCompoundStatement)
            and not isinstance(stmt, (cst.FunctionDef, cst.ClassDef))
            # Conditional class bodies (`if ...: valves = ...`): assume it may be bound.
            and any(n.value == attr for n in model.index.under(stmt, cst.Name))
        ):
            return True
    return False


def _assigns_self_attr(
    model: ActionModule, info: FunctionInfo, attr: str
) -> Literal["yes", "no", "unknown"]:
    """Whether the method assigns `self.<attr>` (or `setattr(self, "<attr>", ...)`)."""
    params = info.param_names()
    receivers = {"self"} | ({params[0]} if params else set())
    verdict: Literal["yes", "no", "unknown"] = "no"
    for node in model.walk(info.node.body):
        targets: list[cst.BaseExpression] = []
        if type(node) is cst.Assign:
            targets = [t.target for t in node.targets]
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)):
            targets = [node.target]
        for target in targets:
            for sub in model.walk(target):
                if (
                    type(sub) is cst.Attribute
                    and sub.attr.value == attr
                    and type(sub.value) is cst.Name
                    and sub.value.value in receivers
                ):
                    return "yes"
        if (
            type(node) is cst.Call
            and type(node.func) is cst.Name
            and node.func.value == "setattr"
            and len(node.args) >= 2
            and type(node.args[0].value) is cst.Name
            and node.args[0].value.value in receivers
        ):
            name = string_value(node.args[1].value)
            if name == attr:
                return "yes"
            if name is None:
                verdict = "unknown"
        if (
            type(node) is cst.Attribute
            and node.attr.value == "__dict__"
            and type(node.value) is cst.Name
            and node.value.value in receivers
        ):
            verdict = "unknown"
    return verdict


def sets_valves(model: ActionModule) -> tuple[SetsValves, str]:
    """Whether `Action` instances have `valves` before Open WebUI's per-call check."""
    cls = model.action_class
    if cls is None:
        return "unknown", ""
    chain = _class_chain(model, cls)
    if chain is None:
        return "unknown", ""  # an imported base may set it
    if any(_class_body_binds(model, c, "valves") for c in chain):
        return "yes", ""
    names = {c.name.value for c in chain}
    starts = [f"{c.name.value}.{m}" for c in chain for m in ("__init__", "__new__")]
    queue = [q for q in starts if q in model.functions]
    reached: set[str] = set()
    unknown = False
    while queue:
        current = queue.pop(0)
        if current in reached:
            continue
        reached.add(current)
        verdict = _assigns_self_attr(model, model.functions[current], "valves")
        if verdict == "yes":
            return "yes", ""
        unknown = unknown or verdict == "unknown"
        queue += [site.callee for site in model.call_sites.get(current, [])]
    if unknown:
        return "unknown", ""
    for qual, info in model.functions.items():
        if qual in reached or info.class_name not in names:
            continue
        if _assigns_self_attr(model, info, "valves") != "no":
            return "elsewhere", qual
    return "no", ""


class ValvesNotInitialized(LintRule):
    """
    ## What it does
    Reports `Action.Valves` when nothing gives the instance a `valves` attribute before
    Open WebUI's per-call check: no `self.valves = ...` in `__init__` (or a method it calls,
    or a module-level base class's `__init__`), no class attribute `valves = Valves()`, no
    `valves` property. Reported on the `class Valves` line.

    When `self.valves` is assigned only later (for example inside `action`), the message
    names that method. An `Action` with a base class imported from another module, or a
    `setattr(self, name, ...)` with a computed name in `__init__`, keeps the rule silent.

    ## Why is this bad?
    On every click Open WebUI runs
    `if hasattr(inst, "valves") and hasattr(inst, "Valves"): inst.valves = Valves(**stored)`.
    Without a `valves` attribute the stored admin settings are never applied, and
    `self.valves.x` raises `AttributeError`. Assigning `self.valves = self.Valves()` inside
    `action` is no better: it overwrites the stored values with the defaults.

    ## Example
    ```python
    class Action:
        class Valves(BaseModel):
            model: str = "gpt-4o-mini"

        async def action(self, body: dict) -> dict:
            model = self.valves.model
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel

    class Action:
        class Valves(BaseModel):
            model: str = "gpt-4o-mini"

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body: dict) -> dict:
            model = self.valves.model
    ```

    ## Fix
    `check --fix` adds `self.valves = self.Valves()` as the first statement of `__init__`
    (after its docstring), or a new `__init__` right after `class Valves`. Not when
    `Valves()` could raise (a field without a default: fix OWA202 first, `--fix` does so in
    the same run), nor when a base class has its own `__init__` or `__new__`.
    """

    code = "OWA203"
    name = "valves-not-initialized"
    level = Level.ERROR
    summary = "`Valves` is defined but nothing sets `self.valves`."
    fixable = True

    def check(self) -> None:
        cls = self.module.valves_class
        if cls is None:
            return
        verdict, where = sets_valves(self.module)
        if verdict == "no":
            self.report(
                cls.name,
                "`Valves` is defined but nothing sets `self.valves`: Open WebUI applies the "
                "stored admin settings only to an instance that already has `valves` "
                '(`hasattr(inst, "valves")`), so they are ignored and `self.valves` raises '
                "`AttributeError`; add `self.valves = self.Valves()` to `__init__`",
                fix=self._init_fix(cls),
            )
        elif verdict == "elsewhere":
            self.report(
                cls.name,
                f"`self.valves` is only assigned in `{where}`, not in `__init__`: Open WebUI "
                "applies the stored admin settings only to an instance that already has "
                "`valves` when the button is clicked, so they are ignored or overwritten "
                "with the defaults; set `self.valves = self.Valves()` in `__init__` instead",
                confidence=Confidence.MEDIUM,
            )

    def _init_fix(self, cls: cst.ClassDef) -> Fix | None:
        """`self.valves = self.Valves()` first in `Action.__init__` (after its docstring),
        or a new `__init__` after `class Valves` when no class of `Action`'s chain has one.
        Only for a pydantic `Valves` nested in `Action` whose every field has a default
        (else `Valves()` would raise at load) and no `__new__` in the way."""
        model = self.module
        action = model.action_class
        if action is None or type(action.body) is not cst.IndentedBlock:
            return None
        if not any(stmt is cls for stmt in action.body.body):
            return None
        if classify_class(model, cls).kind != "pydantic":
            return None
        for f in valve_fields(model, "Valves", cls):
            found = field_default(model, f) if f.annotation is not None else None
            if f.annotation is not None and (found is None or found.required):
                return None
        chain = _class_chain(model, action)
        if chain is None or any("__new__" in model.class_methods(c) for c in chain):
            return None
        description = "Set `self.valves = self.Valves()` in `__init__`"
        init = model.class_methods(action).get("__init__")
        if init is None:
            if any("__init__" in model.class_methods(c) for c in chain[1:]):
                return None  # a new `__init__` would hide the base's
            line = model.location(cls).end_line + 1
            indent, unit = self.indent_of(cls), model.module.default_indent
            text = f"\n{indent}def __init__(self):\n{indent}{unit}self.valves = self.Valves()\n"
            return Fix(description, (Edit(Location(line, 1, line, 1), text),))
        params = [*init.params.posonly_params, *init.params.params]
        if not params or type(init.body) is not cst.IndentedBlock or not init.body.body:
            return None
        me = params[0].name.value
        line_text = f"{me}.valves = {me}.Valves()"
        body = init.body.body
        if _is_docstring(body[0]):
            if len(body) == 1:
                line = model.location(body[0]).end_line + 1
                text = f"{self.indent_of(body[0])}{line_text}\n"
                return Fix(description, (Edit(Location(line, 1, line, 1), text),))
            first = body[1]
        else:
            first = body[0]
        text = f"{line_text}\n{self.indent_of(first)}"
        return Fix(description, (self.insert_before(first, text),))

    VALID = [
        Valid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    model: str = Field(default="gpt-4o-mini")

                def __init__(self):
                    self._setup()

                def _setup(self):
                    self.valves = self.Valves()
                    self.cache = {}

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0

                valves = Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from mylib.actions import BaseAction  # may set self.valves: not visible here
            from pydantic import BaseModel


            class _Base:
                def __init__(self):
                    self.valves = self.Valves()


            class Exporter(_Base):
                pass


            class Action(Exporter):
                class Valves(BaseModel):
                    folder: str = "/tmp/exports"

                async def action(self, body: dict) -> dict:
                    return body


            class Other(BaseAction):
                class Valves(BaseModel):
                    x: int = 0
            """
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    endpoint: str = "http://localhost:5000/tts"

                def __init__(self):
                    self._valves = self.Valves()

                @property
                def valves(self):
                    return self._valves

                @valves.setter
                def valves(self, value):
                    self._valves = value

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__({"type": "status", "data": {"description": self.valves.endpoint, "done": True}})
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Chat Summary
            description: Summarize the chat with the configured model
            """
            import aiohttp
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_base: str = Field(default="https://api.openai.com/v1")
                    model: str = Field(default="gpt-4o-mini")

                def __init__(self):
                    self.session = None

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    text = "\\n".join(m["content"] for m in body["messages"])
                    async with aiohttp.ClientSession() as s:
                        r = await s.post(
                            f"{self.valves.api_base}/chat/completions",
                            json={"model": self.valves.model, "messages": [{"role": "user", "content": text}]},
                        )
                        summary = (await r.json())["choices"][0]["message"]["content"]
                    return {"messages": [{"id": body["id"], "content": summary}]}
            ''',
            lines=(10,),
            message="add `self.valves = self.Valves()` to `__init__`",
            fixed='''
                """
                title: Chat Summary
                description: Summarize the chat with the configured model
                """
                import aiohttp
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        api_base: str = Field(default="https://api.openai.com/v1")
                        model: str = Field(default="gpt-4o-mini")

                    def __init__(self):
                        self.valves = self.Valves()
                        self.session = None

                    async def action(self, body: dict, __event_emitter__=None) -> dict:
                        text = "\\n".join(m["content"] for m in body["messages"])
                        async with aiohttp.ClientSession() as s:
                            r = await s.post(
                                f"{self.valves.api_base}/chat/completions",
                                json={"model": self.valves.model, "messages": [{"role": "user", "content": text}]},
                            )
                            summary = (await r.json())["choices"][0]["message"]["content"]
                        return {"messages": [{"id": body["id"], "content": summary}]}
            ''',
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0
                    webhook_url: str = ""

                async def action(self, body: dict, __user__=None) -> dict:
                    if not hasattr(self, "valves"):
                        self.valves = self.Valves()
                    return body
            """,
            lines=(5,),
            message="only assigned in `Action.action`",
        ),
        Invalid(
            """
            import pydantic as pd


            class Action:
                valves: "Action.Valves"  # an annotation is not an attribute

                class Valves(pd.BaseModel):
                    language: str = "en"

                class UserValves(pd.BaseModel):
                    voice: str = "alloy"

                def __init__(self):
                    self.user_valves = self.UserValves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(7,),
            fixed="""
                import pydantic as pd


                class Action:
                    valves: "Action.Valves"  # an annotation is not an attribute

                    class Valves(pd.BaseModel):
                        language: str = "en"

                    class UserValves(pd.BaseModel):
                        voice: str = "alloy"

                    def __init__(self):
                        self.valves = self.Valves()
                        self.user_valves = self.UserValves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class _Exporter:
                def __init__(self):
                    self.folder = "/tmp"


            class Action(_Exporter):
                @staticmethod
                def _defaults():
                    return {}

                class Valves(BaseModel):
                    folder: str = "/tmp/exports"

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(14,),
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    # Where the exports go.
                    folder: str = Field(default="/tmp/exports")  # absolute path

                # The entry point.
                async def action(self, body: dict) -> dict:
                    return {"messages": [{"id": body["id"], "content": self.valves.folder}]}
            """,
            lines=(5,),
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        # Where the exports go.
                        folder: str = Field(default="/tmp/exports")  # absolute path

                    def __init__(self):
                        self.valves = self.Valves()

                    # The entry point.
                    async def action(self, body: dict) -> dict:
                        return {"messages": [{"id": body["id"], "content": self.valves.folder}]}
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    language: str = "en"

                def __init__(this):
                    \"\"\"Nothing to set up yet.\"\"\"

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(5,),
            fixed='''
                from pydantic import BaseModel


                class Action:
                    class Valves(BaseModel):
                        language: str = "en"

                    def __init__(this):
                        """Nothing to set up yet."""
                        this.valves = this.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            ''',
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    api_key: str  # required: `Valves()` would raise at load, so no autofix

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(5,),
        ),
    ]


# --- OWA204 ------------------------------------------------------------------------------------


class HardcodedSecret(LintRule):
    """
    ## What it does
    Reports a secret-named, string-typed field of `Valves` or `UserValves` whose default is a
    non-empty string written in the source: `api_key: str = "sk-..."`,
    `Field(default="...")`, `Field("...")`, `SecretStr("...")`, or the fallback of
    `os.getenv("KEY", "...")`.

    A field is secret-named when its name, split into snake_case and camelCase tokens,
    contains `secret`, `password`, `passwd`, `pwd`, `credential(s)`, `bearer`, `token`
    (singular: `max_tokens` is a count), `apikey`, or `key` right after `api`, `secret`,
    `access` or `private` (`api_key`, `openaiApiKey`, `AWS_SECRET_ACCESS_KEY`). A name whose
    last token is `key` after a service or vendor name (`OPENAI_KEY`, `serper_key`) counts
    too, at medium confidence, unless a token says it is a dictionary, ordering, storage or
    UI key (`sort_key`, `cache_key`, `primary_key`, `json_key`, `shortcut_key`, ...). A last
    token that *describes* the secret rather than holding it (`api_key_header`, `token_url`,
    `api_key_env`, `password_hint`, ...) does not count. Only `str`, `Optional[str]`,
    `SecretStr` (also in `Annotated`), a module-level `str` subclass (the community's
    `class EncryptedStr(str)`) or an unannotated string default count.

    The value is never printed: messages give its length and, at most, a well-known issuer
    prefix. Confidence is **high** for values that look real (a known prefix such as `sk-`,
    `ghp_`, `github_pat_`, `xoxb-`, `AKIA`, `AIza`, `hf_`; a JWT or UUID shape; or at least
    16 characters with Shannon entropy of 3.5 bits per character or more), **low** for
    placeholders (`your-…`, `xxx`, `changeme`, `<…>`, `…here`, `example`, `my-…-key`, a
    single repeated character), and **medium** for anything else (short human-chosen
    passwords such as `admin123`).

    ## Why is this bad?
    The function's source is readable by every admin, exported with the function and often
    shared on the community site; a key in it is leaked to all of them, and it stays in the
    database after an admin sets another value (CWE-798). A placeholder is sent as a real
    credential until someone replaces it, and hides that the setting is missing.

    ## Example
    ```python
    class Action:
        class Valves(BaseModel):
            openai_api_key: str = Field(default="sk-proj-...")
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            openai_api_key: str = Field(
                default="", json_schema_extra={"input": {"type": "password"}}
            )

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    ```
    """

    code = "OWA204"
    kinds = SHARED_WITH_FILTERS_AND_PIPES
    name = "hardcoded-secret"
    level = Level.ERROR
    security = True
    cwe = (798,)
    summary = "A secret-named Valves field with a non-empty string default."

    def check(self) -> None:
        for f, _ in secret_fields(self.module):
            default = field_default(self.module, f)
            if default is None or default.required:
                continue
            value = literal_secret(self.module, default.expr)
            if value is None or not value.strip():
                continue
            verdict = classify_secret(value)
            named = secret_name_confidence(f.name) or Confidence.HIGH
            where = "the Valves settings" if f.owner == "Valves" else "their user settings"
            who = "the admin" if f.owner == "Valves" else "each user"
            if verdict.placeholder:
                message = (
                    f"{f.label} defaults to {verdict.description}: it is sent as a real "
                    f"credential until someone replaces it and hides that the setting is "
                    f'missing; default to `""` and ask for the value when it is empty'
                )
            else:
                message = (
                    f"{f.label} has a hardcoded secret as its default ({verdict.description}): "
                    f"anyone who can read the function's source (admins, exports, shared "
                    f'copies) gets it; default to `""`, let {who} enter it in {where}, and '
                    f"revoke this one"
                )
            self.report(f.node, message, confidence=weaker(verdict.confidence, named))

    VALID = [
        Valid(
            '''
            """
            title: Summarize with OpenAI
            description: Replace the clicked reply with a short summary
            """
            import os

            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    openai_api_key: str = Field(
                        default=os.getenv("OPENAI_API_KEY", ""),
                        json_schema_extra={"input": {"type": "password"}},
                    )
                    api_key_header: str = Field(default="Authorization")
                    token_url: str = Field(default="https://auth.example.com/oauth/token")
                    max_tokens: int = Field(default=512)
                    model: str = Field(default="gpt-4o-mini")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    if not self.valves.openai_api_key:
                        await __event_emitter__({"type": "notification", "data": {"type": "error", "content": "Set the API key in the Valves"}})
                        return body
                    return body
            '''
        ),
        Valid(
            """
            from typing import Optional

            from pydantic import BaseModel, Field, SecretStr


            class Action:
                class Valves(BaseModel):
                    replicate_api_token: Optional[SecretStr] = None
                    password_min_length: int = 12
                    secret_santa_mode: bool = False
                    sort_key: str = "created_at"
                    keyboard_shortcut: str = "ctrl+shift+e"

                class UserValves(BaseModel):
                    github_token: str = Field(default="", json_schema_extra={"input": {"type": "password"}})

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from pydantic import BaseModel, Field

            TOKENS_PER_MINUTE = 90000


            class Action:
                class Valves(BaseModel):
                    max_tokens: str = "4096"
                    tokens: str = "cl100k_base"
                    keywords: str = "summary, export"
                    api_key_env: str = Field(default="OPENAI_API_KEY", description="Env var to read")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            import os

            import pydantic as pd


            class Action:
                class Valves(pd.BaseModel):
                    slack_bot_token: str = pd.Field(
                        default_factory=lambda: os.environ.get("SLACK_BOT_TOKEN", ""),
                        json_schema_extra={"input": {"type": "password"}},
                    )
                    db_password: str = pd.Field(
                        "   ", json_schema_extra={"input": {"type": "password"}}
                    )

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: DALL-E 3 Image
            description: Generate an image for the clicked reply
            """
            import aiohttp
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    OPENAI_API_KEY: str = Field(
                        default="sk-proj-Q3v9Lr2mXk7Tz4Wb8Nc1Hd6Fj0Ps5Ya2Ge7Ku",
                        json_schema_extra={"input": {"type": "password"}},
                    )
                    size: str = Field(default="1024x1024")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    prompt = body["messages"][-1]["content"]
                    headers = {"Authorization": f"Bearer {self.valves.OPENAI_API_KEY}"}
                    async with aiohttp.ClientSession(headers=headers) as s:
                        r = await s.post("https://api.openai.com/v1/images/generations", json={"prompt": prompt, "size": self.valves.size})
                        url = (await r.json())["data"][0]["url"]
                    return {"messages": [{"id": body["id"], "content": f"![image]({url})"}]}
            ''',
            lines=(11,),
            message="starting `sk-proj-`",
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    notion_token = "secret_8fK2pQ9xLm3Vn7Rt1Yw5Zc4Bh6Jd0Gs"
                    githubPersonalToken: str = "ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q"
                    jira_password: str = Field("Winter2024!", json_schema_extra={"input": {"type": "password"}})

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(6, 7, 8),
            message="has a hardcoded secret",
        ),
        Invalid(
            """
            import os
            from typing import Annotated, Optional

            import pydantic as pd


            class Action:
                class Valves(pd.BaseModel):
                    api_key: Optional[str] = pd.Field(default="your-api-key-here")
                    aws_access_key_id: Annotated[str, pd.Field(default="AKIAIOSFODNN7EXAMPLE")]

                class UserValves(pd.BaseModel):
                    hf_token: str = pd.Field(default=os.getenv("HF_TOKEN", "hf_kP3nR8sT2vW6xY9zA1bC4dE7fG0hJ5mQ"))

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """,
            lines=(9, 10, 13),
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field, SecretStr


            class _Mail(BaseModel):
                smtp_password: SecretStr = SecretStr("hunter2")


            class Action:
                class Valves(_Mail):
                    smtp_host: str = "smtp.gmail.com"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(5,),
        ),
    ]


# --- OWA205 ------------------------------------------------------------------------------------

_MASK = '`json_schema_extra={"input": {"type": "password"}}`'


class SecretValveNotMasked(LintRule):
    """
    ## What it does
    Reports a secret-named, string-typed field of `Valves` or `UserValves` (the same names
    as OWA204; `<vendor>_key` names such as `OPENAI_KEY` at medium confidence) whose
    `Field(...)` does not carry
    `json_schema_extra={"input": {"type": "password"}}`. Other spellings do not mask:
    `Field(extra=...)`, `Field(format="password")`, `json_schema_extra={"type": "password"}`,
    and a `SecretStr` type alone. A `json_schema_extra` the rule cannot read (a function, a
    dict built at run time, `Field(**options)`) keeps it silent; a module-level dict constant
    is followed.

    ## Why is this bad?
    Open WebUI renders the settings form from the JSON schema and masks an input only when
    its schema has `"input": {"type": "password"}`. Otherwise the key is shown in clear text
    to whoever opens the settings, in screenshots and screen shares, and is kept by the
    browser's form autofill.

    ## Example
    ```python
    class Action:
        class Valves(BaseModel):
            api_key: str = Field(default="", description="API key")
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            api_key: str = Field(
                default="",
                description="API key",
                json_schema_extra={"input": {"type": "password"}},
            )

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    ```

    ## Fix
    `check --fix` adds `json_schema_extra={"input": {"type": "password"}}` as the last
    option of the field's `Field(...)`, or wraps a plain default in
    `Field(default=..., json_schema_extra=...)` when the module imports pydantic's `Field`.
    Not when a `json_schema_extra` is already written (its intent is yours) or in
    `Annotated[...]`.
    """

    code = "OWA205"
    kinds = SHARED_WITH_FILTERS_AND_PIPES
    name = "secret-valve-not-masked"
    level = Level.WARNING
    security = True
    cwe = (549,)
    summary = "A secret-named Valves field whose settings input is not masked."
    fixable = True

    def check(self) -> None:
        for f, kind in secret_fields(self.module):
            if kind.kind == "other":
                continue  # not a pydantic model: there is no settings form (OWA201)
            state, hint = mask_state(self.module, f)
            if state != "unmasked":
                continue
            if f.field_calls:
                fix = f"add {_MASK} to its `Field(...)`"
            else:
                fix = (
                    f'declare it as `{f.name}: str = Field(default="", '
                    'json_schema_extra={"input": {"type": "password"}})`'
                )
            self.report(
                f.node,
                f"{f.label} holds a secret but its input is not masked, so the settings form "
                f"shows it in clear text{hint}; {fix}",
                fix=self._mask_fix(f) if kind.kind == "pydantic" else None,
                confidence=_name_only(f.name),
            )

    def _mask_fix(self, f: ValveField) -> Fix | None:
        """Add the mask to the field's `Field(...)` (a new last option), or wrap an existing
        default in `Field(default=..., json_schema_extra=...)` when the module imports
        pydantic's `Field`. Not where a `json_schema_extra` is already there (its intent
        is the author's), nor in `Annotated[...]`, nor for a field without a default."""
        model = self.module
        mask = f"json_schema_extra={_MASK_VALUE}"
        value = f.value
        if value is None or type(f.node) is not cst.AnnAssign:
            return None
        description = 'Mask the input: `json_schema_extra={"input": {"type": "password"}}`'
        if not f.field_calls:
            spelling = _field_spelling(model)
            if spelling is None:
                return None
            text = f"{spelling}(default={self.code_of(value)}, {mask})"
            return Fix(description, (self.replace(value, text),))
        if f.field_calls != [value] or type(value) is not cst.Call:
            return None
        call = value
        if any(
            arg.star or (arg.keyword and arg.keyword.value == "json_schema_extra")
            for arg in call.args
        ):
            return None
        if not call.args:
            return Fix(description, (self.replace(call, f"{self.code_of(call.func)}({mask})"),))
        last = call.args[-1]
        text = f", {mask}"
        if model.location(last).line != model.location(call).line:
            text = f",\n{self.indent_of(last)}{mask}"  # one option a line
        return Fix(description, (self.insert_after(last, text),))

    VALID = [
        Valid(
            '''
            """
            title: Send to Slack
            description: Post the clicked reply to a Slack channel
            """
            import aiohttp
            from pydantic import BaseModel, Field

            PASSWORD_INPUT = {"input": {"type": "password"}}


            class Action:
                class Valves(BaseModel):
                    slack_bot_token: str = Field(default="", json_schema_extra=PASSWORD_INPUT)
                    channel: str = Field(default="#general")

                class UserValves(BaseModel):
                    signing_secret: str = Field(
                        default="",
                        description="Your own signing secret",
                        json_schema_extra={"input": {"type": "password", "placeholder": "xoxb-..."}},
                    )

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    async with aiohttp.ClientSession() as s:
                        await s.post(
                            "https://slack.com/api/chat.postMessage",
                            headers={"Authorization": f"Bearer {self.valves.slack_bot_token}"},
                            json={"channel": self.valves.channel, "text": body["messages"][-1]["content"]},
                        )
                    return body
            '''
        ),
        Valid(
            """
            from typing import Annotated

            from pydantic import BaseModel
            from pydantic import Field as F


            def _secret_schema(schema: dict) -> None:
                schema["input"] = {"type": "password"}


            class Action:
                class Valves(BaseModel):
                    api_key: Annotated[str, F(json_schema_extra={"input": {"type": "password"}})] = ""
                    bearer: str = F(default="", json_schema_extra=_secret_schema)
                    max_tokens: int = F(default=1024)
                    token_limit: int = 4000

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from pydantic import BaseModel, Field

            COMMON = {"description": "Key for the TTS service"}


            class Action:
                class Valves(BaseModel):
                    elevenlabs_api_key: str = Field(default="", **COMMON)
                    voice_id: str = Field(default="21m00Tcm4TlvDq8ikWAM")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from dataclasses import dataclass

            from pydantic import BaseModel, Field


            class Action:
                @dataclass
                class Valves:  # OWA201: no settings form at all
                    api_key: str = ""

                class UserValves(BaseModel):
                    password_protected_export: bool = Field(default=False)
                    credential_store_url: str = Field(default="https://vault.local")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from openai import AsyncOpenAI
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    OPENAI_KEY: str = Field(default="", description="Key for the chart model")
                    sort_key: str = Field(default="created_at")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    client = AsyncOpenAI(api_key=self.valves.OPENAI_KEY)
                    return body
            """,
            lines=(7,),
            message="`Valves.OPENAI_KEY` holds a secret",
            fixed="""
            from openai import AsyncOpenAI
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    OPENAI_KEY: str = Field(default="", description="Key for the chart model", json_schema_extra={"input": {"type": "password"}})
                    sort_key: str = Field(default="created_at")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    client = AsyncOpenAI(api_key=self.valves.OPENAI_KEY)
                    return body
            """,
        ),
        Invalid(
            '''
            """
            title: Image via Stability
            description: Generate an image from the clicked reply
            """
            import httpx
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    stability_api_key: str = Field(default="", description="Stability AI API key")
                    engine: str = Field(default="stable-diffusion-xl-1024-v1-0")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    async with httpx.AsyncClient() as client:
                        r = await client.post(
                            f"https://api.stability.ai/v1/generation/{self.valves.engine}/text-to-image",
                            headers={"Authorization": f"Bearer {self.valves.stability_api_key}"},
                            json={"text_prompts": [{"text": body["messages"][-1]["content"]}]},
                        )
                    return {"messages": [{"id": body["id"], "content": r.text}]}
            ''',
            lines=(11,),
            message=_MASK,
            fixed='''
                """
                title: Image via Stability
                description: Generate an image from the clicked reply
                """
                import httpx
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        stability_api_key: str = Field(default="", description="Stability AI API key", json_schema_extra={"input": {"type": "password"}})
                        engine: str = Field(default="stable-diffusion-xl-1024-v1-0")

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict, __event_emitter__=None) -> dict:
                        async with httpx.AsyncClient() as client:
                            r = await client.post(
                                f"https://api.stability.ai/v1/generation/{self.valves.engine}/text-to-image",
                                headers={"Authorization": f"Bearer {self.valves.stability_api_key}"},
                                json={"text_prompts": [{"text": body["messages"][-1]["content"]}]},
                            )
                        return {"messages": [{"id": body["id"], "content": r.text}]}
            ''',
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    openai_api_key: str = Field(default="", json_schema_extra={"type": "password"})
                    anthropicApiKey: str = Field(default="", extra={"input": {"type": "password"}})
                    webhook_secret: str = Field(default="", format="password")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(6, 7, 8),
            message="not masked",
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        openai_api_key: str = Field(default="", json_schema_extra={"type": "password"})
                        anthropicApiKey: str = Field(default="", extra={"input": {"type": "password"}}, json_schema_extra={"input": {"type": "password"}})
                        webhook_secret: str = Field(default="", format="password", json_schema_extra={"input": {"type": "password"}})

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from typing import Optional

            import pydantic as pd


            class Action:
                class Valves(pd.BaseModel):
                    api_base: str = "https://api.groq.com/openai/v1"
                    GROQ_API_KEY: Optional[str] = None
                    proxy_password: pd.SecretStr = pd.SecretStr("")

                class UserValves(pd.BaseModel):
                    personal_access_token: str = ""

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """,
            lines=(9, 10, 13),
            message="json_schema_extra",
            fixed="""
                from typing import Optional

                import pydantic as pd


                class Action:
                    class Valves(pd.BaseModel):
                        api_base: str = "https://api.groq.com/openai/v1"
                        GROQ_API_KEY: Optional[str] = pd.Field(default=None, json_schema_extra={"input": {"type": "password"}})
                        proxy_password: pd.SecretStr = pd.Field(default=pd.SecretStr(""), json_schema_extra={"input": {"type": "password"}})

                    class UserValves(pd.BaseModel):
                        personal_access_token: str = pd.Field(default="", json_schema_extra={"input": {"type": "password"}})

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict, __user__=None) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class _Shared(BaseModel):
                notion_token: str = Field(default="", json_schema_extra={"input": {"type": "text"}})


            class Action:
                class Valves(_Shared):
                    database_id: str = ""

                class UserValves(_Shared):
                    page_title: str = "Chat export"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """,
            lines=(5,),
        ),
        Invalid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    # Create one at https://dashboard.example.com/keys
                    service_api_key: str = Field(
                        default="",  # empty: the button explains how to set it
                        description="Service API key",
                    )

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(7,),
            fixed="""
                from pydantic import BaseModel, Field


                class Action:
                    class Valves(BaseModel):
                        # Create one at https://dashboard.example.com/keys
                        service_api_key: str = Field(
                            default="",  # empty: the button explains how to set it
                            description="Service API key",
                            json_schema_extra={"input": {"type": "password"}},
                        )

                    def __init__(self):
                        self.valves = self.Valves()

                    async def action(self, body: dict) -> dict:
                        return body
            """,
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    # No `Field` imported: no autofix (it would need a new import).
                    github_token: str = ""

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(7,),
        ),
    ]


# --- OWA206 ------------------------------------------------------------------------------------

Taint = Literal["user", "uv"]
_Position = tuple[int, int]
# dict methods a pydantic model does not have (`uv.get("x")` raises AttributeError).
DICT_METHODS: frozenset[str] = frozenset({"get", "keys", "items", "values", "pop", "setdefault"})
MISUSE_LIMIT = 200  # (function, seeds) pairs analysed per module: bounds pathological inputs


def _is_fallback(node: cst.BaseExpression | None) -> bool:
    """`None`, `{}`, `dict()`: the "no valves" fallback of a branch, not a new value."""
    if type(node) is cst.Name and node.value == "None":
        return True
    if type(node) is cst.Dict and not node.elements:
        return True
    return (
        type(node) is cst.Call
        and type(node.func) is cst.Name
        and node.func.value == "dict"
        and not node.args
    )


@dataclass(frozen=True)
class Misuse:
    node: cst.CSTNode
    receiver: cst.BaseExpression
    how: Literal["subscript", "method", "in"]
    key: str | None  # the field name when it is a literal
    method: str = ""
    default: cst.BaseExpression | None = None


_Assigns = dict[str, list[tuple[_Position, cst.BaseExpression | None]]]
# A call to a module function: the call, the callee, and (parameter or None, argument value) up to the
# first `*args` / `**kwargs` (positions are unknown from there on).
_ModuleCall = tuple[cst.Call, str, list[tuple[str | None, cst.BaseExpression]]]


@dataclass
class _FunctionFacts:
    """What `UserValvesFlow` reads of one function whatever its seeds (computed once: the
    analysis visits a function once per set of seeds)."""

    assigns: _Assigns
    dict_checked: set[str]
    # Subscripts, dict-method calls and `in` comparisons: where a misuse can be, in order.
    uses: list[cst.CSTNode]
    calls: list[_ModuleCall]


# Node types `_function_facts` looks at (exact types: LibCST's classes are ABCs, and a
# failed `isinstance` against one runs Python code).
_BIND_VALUE = frozenset({cst.AnnAssign, cst.NamedExpr})
_BIND_LOOP = frozenset({cst.For, cst.CompFor})
_IN_OPS = frozenset({cst.In, cst.NotIn})


class UserValvesFlow:
    """Which names of one function hold `__user__` or its `"valves"` object, and misuses.

    Names are tracked by position: a use sees the last assignment before it (a later
    `uv = dict(uv)` makes `uv` a dict again); `None` / `{}` fallbacks keep the kind.
    """

    def __init__(self, model: ActionModule, info: FunctionInfo, seeds: dict[str, Taint]):
        self.model = model
        self.info = info
        self.seeds = seeds
        facts = model.memo_table("valves.user_flow").get(info.qualname)
        if facts is None:
            facts = model.memo_table("valves.user_flow")[info.qualname] = self._facts()
        self.facts: _FunctionFacts = facts
        self.assigns = facts.assigns
        self.dict_checked = facts.dict_checked
        # Memo per expression node: `x = x or x` chains would otherwise branch exponentially.
        self._kinds: dict[int, Taint | None] = {}

    def _end(self, node: cst.CSTNode) -> _Position:
        end = self.model.position(node).end
        return (end.line, end.column)

    def _start(self, node: cst.CSTNode) -> _Position:
        start = self.model.position(node).start
        return (start.line, start.column)

    def _bind(
        self,
        assigns: _Assigns,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        at: _Position,
    ) -> None:
        kind = type(target)
        if kind is cst.Name:
            assigns.setdefault(cst.ensure_type(target, cst.Name).value, []).append((at, value))
        elif kind is cst.Tuple or kind is cst.List:
            for element in cast(cst.Tuple | cst.List, target).elements:
                self._bind(assigns, element.value, None, at)
        elif kind is cst.StarredElement:
            self._bind(assigns, cast(cst.StarredElement, target).value, None, at)

    def _facts(self) -> _FunctionFacts:
        model = self.model
        assigns: _Assigns = {}
        dict_checked: set[str] = set()
        uses: list[cst.CSTNode] = []
        calls: list[_ModuleCall] = []
        for node in model.scope_nodes(self.info.node.body, lambdas=True):
            kind = type(node)
            if kind is cst.Assign:
                assign = cast(cst.Assign, node)
                for t in assign.targets:
                    self._bind(assigns, t.target, assign.value, self._end(node))
            elif kind in _BIND_VALUE:
                bound = cast(cst.AnnAssign | cst.NamedExpr, node)
                if bound.value is not None:
                    self._bind(assigns, bound.target, bound.value, self._end(node))
            elif kind is cst.AugAssign:
                self._bind(assigns, cast(cst.AugAssign, node).target, None, self._end(node))
            elif kind in _BIND_LOOP:
                target = cast(cst.For | cst.CompFor, node).target
                self._bind(assigns, target, None, self._end(target))
            elif kind is cst.WithItem:
                asname = cast(cst.WithItem, node).asname
                if asname is not None:
                    self._bind(assigns, asname.name, None, self._end(asname))
            elif kind is cst.Call:
                call = cast(cst.Call, node)
                if (
                    model.resolve_name(call.func) & {"builtins.isinstance"}
                    and len(call.args) == 2
                    and type(call.args[0].value) is cst.Name
                ):
                    # `isinstance(uv, dict)` guards a dict branch: leave that name alone.
                    dict_checked.add(cst.ensure_type(call.args[0].value, cst.Name).value)
                func = call.func
                if type(func) is cst.Attribute and func.attr.value in DICT_METHODS:
                    uses.append(call)
                module_call = self._module_call(call)
                if module_call is not None:
                    calls.append(module_call)
            elif kind is cst.Subscript or (
                kind is cst.Comparison
                and any(type(t.operator) in _IN_OPS for t in cast(cst.Comparison, node).comparisons)
            ):
                uses.append(node)
        for entries in assigns.values():
            entries.sort(key=lambda e: e[0])
        return _FunctionFacts(assigns, dict_checked, uses, calls)

    def kind(self, expr: cst.BaseExpression, depth: int = 0) -> Taint | None:
        key = id(expr)
        if key in self._kinds:
            return self._kinds[key]
        if depth > 40:
            return None
        self._kinds[key] = None  # in progress: a cycle reads as "not tainted"
        found = self._kind(expr, depth)
        self._kinds[key] = found
        return found

    def _kind(self, expr: cst.BaseExpression, depth: int) -> Taint | None:
        if type(expr) is cst.Name:
            use = self._start(expr)
            entries = [
                e
                for e in self.assigns.get(expr.value, [])
                if e[0] <= use and not _is_fallback(e[1])
            ]
            if entries:
                value = entries[-1][1]
                return self.kind(value, depth + 1) if value is not None else None
            return self.seeds.get(expr.value)
        if type(expr) is cst.BooleanOperation:
            return self.kind(expr.left, depth + 1) or self.kind(expr.right, depth + 1)
        if type(expr) is cst.IfExp:
            return self.kind(expr.body, depth + 1) or self.kind(expr.orelse, depth + 1)
        if type(expr) is cst.Await:
            return None
        if type(expr) is cst.Subscript:
            if (
                len(expr.slice) == 1
                and type(expr.slice[0].slice) is cst.Index
                and string_value(expr.slice[0].slice.value) == "valves"
                and self.kind(expr.value, depth + 1) == "user"
            ):
                return "uv"
            return None
        if type(expr) is cst.Call:
            func = expr.func
            if (
                type(func) is cst.Attribute
                and func.attr.value == "get"
                and expr.args
                and string_value(expr.args[0].value) == "valves"
                and self.kind(func.value, depth + 1) == "user"
            ):
                return "uv"
            names = self.model.resolve_name(func)
            if (
                names & {"builtins.dict", "copy.copy"}
                and len(expr.args) == 1
                and self.kind(expr.args[0].value, depth + 1) == "user"
            ):
                return "user"  # a shallow copy of `__user__` still holds the object
        return None

    def misuses(self) -> Iterator[Misuse]:
        for node in self.facts.uses:
            kind = type(node)
            if kind is cst.Subscript:
                sub = cast(cst.Subscript, node)
                if self._is_uv(sub.value):
                    key = None
                    if len(sub.slice) == 1 and type(sub.slice[0].slice) is cst.Index:
                        key = string_value(sub.slice[0].slice.value)
                    yield Misuse(node, sub.value, "subscript", key)
            elif kind is cst.Call:
                call = cast(cst.Call, node)
                func = cast(cst.Attribute, call.func)  # a dict method (see `_facts`)
                if self._is_uv(func.value):
                    args = [a for a in call.args if a.keyword is None and not a.star]
                    key = string_value(args[0].value) if args else None
                    default = args[1].value if len(args) > 1 else None
                    yield Misuse(node, func.value, "method", key, func.attr.value, default)
            else:
                comparison = cast(cst.Comparison, node)
                for target in comparison.comparisons:
                    if type(target.operator) in _IN_OPS and self._is_uv(target.comparator):
                        yield Misuse(node, target.comparator, "in", string_value(comparison.left))

    def _is_uv(self, expr: cst.BaseExpression) -> bool:
        if type(expr) is cst.Name and expr.value in self.dict_checked:
            return False
        return self.kind(expr) == "uv"

    def calls(self) -> Iterator[tuple[cst.Call, str, dict[str, Taint]]]:
        """Calls to module functions that hand them `__user__` or its valves object.

        Offloads pass the arguments on: `asyncio.to_thread(f, uv)`,
        `loop.run_in_executor(None, f, uv)`, `executor.submit(f, uv)`, `partial(f, uv)`.
        """
        for node, callee, params in self.facts.calls:
            seeds: dict[str, Taint] = {}
            for name, value in params:
                kind = self.kind(value)
                if name is not None and kind is not None:
                    seeds[name] = kind
            if seeds:
                yield node, callee, seeds

    def _module_call(self, node: cst.Call) -> _ModuleCall | None:
        """`node` as a call of a module function, with the parameter each argument binds."""
        func, args = node.func, list(node.args)
        offloaded = self._offloaded(node)
        if offloaded is not None:
            func, args = offloaded
        callee = self.model.resolve_callable(func, self.info)
        if callee is None or callee not in self.model.functions:
            return None
        return node, callee, self._map_args(func, args, self.model.functions[callee])

    def _offloaded(self, call: cst.Call) -> tuple[cst.BaseExpression, list[cst.Arg]] | None:
        names = self.model.resolve_name(call.func)
        method = call.func.attr.value if type(call.func) is cst.Attribute else ""
        skip = None
        if names & {"asyncio.to_thread", "functools.partial"} or method == "submit":
            skip = 0
        elif method == "run_in_executor":
            skip = 1
        if skip is None or len(call.args) <= skip or call.args[skip].keyword is not None:
            return None
        return call.args[skip].value, list(call.args[skip + 1 :])

    def _map_args(
        self, func: cst.BaseExpression, args: Sequence[cst.Arg], callee: FunctionInfo
    ) -> list[tuple[str | None, cst.BaseExpression]]:
        p = callee.node.params
        positional = [x.name.value for x in (*p.posonly_params, *p.params)]
        decorators = {
            d.decorator.value for d in callee.node.decorators if type(d.decorator) is cst.Name
        }
        bound = callee.class_name is not None and "staticmethod" not in decorators
        if bound and type(func) is cst.Attribute:
            receiver = func.value
            via_class = type(receiver) is cst.Name and receiver.value in self.model.classes
            if not via_class or "classmethod" in decorators:
                positional = positional[1:]
        elif bound and callee.name == "__init__":
            positional = positional[1:]  # `Helper(uv)` runs `Helper.__init__(self, uv)`
        all_names = {x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)}
        out: list[tuple[str | None, cst.BaseExpression]] = []
        index = 0
        for arg in args:
            if arg.star:
                return out  # `*args` / `**kwargs`: positions unknown from here on
            if arg.keyword is not None:
                name: str | None = arg.keyword.value if arg.keyword.value in all_names else None
            else:
                name = positional[index] if index < len(positional) else None
                index += 1
            out.append((name, arg.value))
        return out


class UserValvesAsDict(LintRule):
    """
    ## What it does
    Reports the `UserValves` object handed to `action` used as a dict:
    `__user__["valves"]["x"]`, `__user__["valves"].get("x")`, `.keys()` / `.items()` /
    `.values()`, and `"x" in __user__["valves"]`. Aliases are followed: `user = __user__ or {}`,
    `uv = __user__.get("valves", {})`, `(__user__ or {}).get("valves")`, and the object (or
    `__user__` itself) passed as an argument to a function or method of the module, also
    through `asyncio.to_thread`, `run_in_executor`, `submit` or `functools.partial`. Attribute
    access (`uv.x`, `getattr(uv, "x", d)`) is correct, and so is using `dict(uv)` or
    `uv.model_dump()`, which are real dicts.

    The rule runs only when `Action` defines `UserValves` (without it the key is absent).
    A name checked with `isinstance(name, dict)` is left alone, and so are values the rule
    cannot follow (stored on `self`, captured by a nested function, `*args`).

    ## Why is this bad?
    Open WebUI sets `__user__["valves"] = UserValves(**stored)`: a pydantic model, not a dict.
    Subscripting it raises `TypeError`, `.get()` raises `AttributeError` (the button shows an
    error toast), and `"x" in uv` is always `False`, because iterating a model yields
    `(name, value)` pairs.

    ## Example
    ```python
    async def action(self, body, __user__=None):
        language = __user__["valves"].get("language", "en")
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            language = getattr(__user__["valves"], "language", "en")
            await __event_emitter__({"type": "notification", "data": {"type": "info", "content": language}})
    ```
    """

    code = "OWA206"
    name = "user-valves-as-dict"
    level = Level.ERROR
    summary = '`__user__["valves"]` (a pydantic `UserValves`) used as a dict.'

    def check(self) -> None:
        action = self.module.action_method
        if action is None or self.module.user_valves_class is None:
            return
        if "__user__" not in action.param_names():
            return
        start: tuple[str, frozenset[tuple[str, Taint]]] = (
            action.qualname,
            frozenset({("__user__", "user")}),
        )
        origin: dict[tuple[str, frozenset[tuple[str, Taint]]], int | None] = {start: None}
        queue = [start]
        reported: set[int] = set()
        while queue and len(origin) <= MISUSE_LIMIT:
            qual, seeds = queue.pop(0)
            flow = UserValvesFlow(self.module, self.module.functions[qual], dict(seeds))
            for misuse in flow.misuses():
                if id(misuse.node) in reported:
                    continue
                reported.add(id(misuse.node))
                line = origin[(qual, seeds)]
                where = "" if line is None else f" (in `{qual}`, which gets it from line {line})"
                self.report(
                    None,
                    self._message(misuse) + where,
                    location=self.module.statement_location(misuse.node),
                )
            for call, callee, callee_seeds in flow.calls():
                key = (callee, frozenset(callee_seeds.items()))
                if key not in origin:
                    origin[key] = self.module.position(call).start.line
                    queue.append(key)

    def _code(self, node: cst.CSTNode) -> str:
        text = " ".join(self.module.module.code_for_node(node).split())
        return text if len(text) <= 40 else text[:37] + "..."

    def _message(self, m: Misuse) -> str:
        recv = self._code(m.receiver)
        what = f"`{recv}` is the `UserValves` object (a pydantic model), not a dict"
        attr = f"`{recv}.{m.key}`" if m.key and m.key.isidentifier() else f"`getattr({recv}, name)`"
        if m.how == "subscript":
            return f"{what}: subscripting it raises `TypeError`; read the field as {attr}"
        if m.how == "in":
            key = f'"{m.key}"' if m.key is not None else "name"
            return (
                f"{what}: `in` on it is always `False` (iterating a model yields (name, value) "
                f"pairs); use `getattr({recv}, {key}, None)`"
            )
        if m.method == "get":
            if m.key is not None and m.default is not None:
                fix = f'`getattr({recv}, "{m.key}", {self._code(m.default)})`'
            else:
                fix = attr
            return f"{what}: `.get()` raises `AttributeError`; use {fix}"
        return (
            f"{what}: `.{m.method}()` raises `AttributeError`; use attributes, or "
            f"`{recv}.model_dump()` for a dict"
        )

    VALID = [
        Valid(
            '''
            """
            title: Translate Reply
            description: Translate the clicked reply into the user's language
            """
            import aiohttp
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_base: str = Field(default="https://api.openai.com/v1")

                class UserValves(BaseModel):
                    target_language: str = Field(default="English")
                    formal: bool = Field(default=False)

                def __init__(self):
                    self.valves = self.Valves()

                def _prompt(self, user_valves, text: str) -> str:
                    tone = "formal" if getattr(user_valves, "formal", False) else "casual"
                    return f"Translate into {user_valves.target_language} ({tone}):\\n{text}"

                async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
                    user = __user__ or {}
                    uv = user.get("valves")
                    prompt = self._prompt(uv, body["messages"][-1]["content"])
                    async with aiohttp.ClientSession() as s:
                        r = await s.post(f"{self.valves.api_base}/chat/completions", json={"messages": [{"role": "user", "content": prompt}]})
                        text = (await r.json())["choices"][0]["message"]["content"]
                    return {"messages": [{"id": body["id"], "content": text}]}
            '''
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class UserValves(BaseModel):
                    heading: str = "Chat export"
                    include_system: bool = False

                async def action(self, body: dict, __user__=None) -> dict:
                    settings = dict(__user__["valves"])
                    heading = settings["heading"]
                    options = __user__["valves"].model_dump()
                    if "include_system" in options and options.get("include_system"):
                        heading += " (with system prompt)"
                    name = __user__["name"]
                    role = __user__.get("role", "user")
                    return {"messages": [{"id": body["id"], "content": f"{heading} by {name} ({role})"}]}
            """
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                # No UserValves: `__user__.get("valves", {})` really is a dict here.
                class Valves(BaseModel):
                    priority: int = 0

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    voice = __user__.get("valves", {}).get("voice", "alloy")
                    return {"messages": [{"id": body["id"], "content": voice}]}
            """
        ),
        Valid(
            """
            from pydantic import BaseModel


            def read_setting(valves, name, default):
                if isinstance(valves, dict):  # older Open WebUI versions passed a dict
                    return valves.get(name, default)
                return getattr(valves, name, default)


            class Action:
                class UserValves(BaseModel):
                    model: str = "gpt-4o-mini"

                async def action(self, body: dict, __user__=None) -> dict:
                    uv = __user__["valves"]
                    uv = uv.model_dump()
                    model = uv["model"]
                    other = read_setting(__user__["valves"], "model", model)
                    return {"messages": [{"id": body["id"], "content": other}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Text to Speech
            description: Read the clicked reply aloud with OpenAI TTS
            """
            import base64

            import aiohttp
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_base: str = Field(default="https://api.openai.com/v1")

                class UserValves(BaseModel):
                    voice: str = Field(default="alloy")
                    speed: float = Field(default=1.0)

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
                    voice = __user__["valves"]["voice"]
                    speed = __user__["valves"].get("speed", 1.0)
                    async with aiohttp.ClientSession() as s:
                        r = await s.post(
                            f"{self.valves.api_base}/audio/speech",
                            json={"input": body["messages"][-1]["content"], "voice": voice, "speed": speed},
                        )
                        audio = base64.b64encode(await r.read()).decode()
                    await __event_emitter__({"type": "files", "data": {"files": [{"type": "file", "url": f"data:audio/mpeg;base64,{audio}"}]}})
                    return body
            ''',
            lines=(23, 24),
            message="not a dict",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class UserValves(BaseModel):
                    language: str = "en"
                    max_words: int = 150

                async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
                    user = __user__ or {}
                    lang = user.get("valves", {}).get("language", "en")
                    uv = user.get("valves") or {}
                    if "max_words" in uv:
                        limit = uv["max_words"]
                    else:
                        limit = 150
                    return {"messages": [{"id": body["id"], "content": f"{lang}:{limit}"}]}
            """,
            lines=(11, 13, 14),
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class UserValves(BaseModel):
                    notion_database_id: str = ""

                def _database(self, uv) -> str:
                    return uv.get("notion_database_id") or "default"

                async def _export(self, body: dict, user: dict) -> str:
                    return self._database(user["valves"]) + body["chat_id"]

                async def action(self, body: dict, __user__=None) -> dict:
                    target = await self._export(body, __user__)
                    return {"messages": [{"id": body["id"], "content": target}]}
            """,
            lines=(9,),
            message="in `Action._database`",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            def summary_style(valves) -> str:
                for key, value in valves.items():
                    print(key, value)
                return valves["style"]


            class Action:
                class UserValves(BaseModel):
                    style: str = "bullets"

                async def action(self, body: dict, __user__=None) -> dict:
                    uv = __user__.get("valves")
                    style = summary_style(valves=uv)
                    return {"messages": [{"id": body["id"], "content": style}]}
            """,
            lines=(5, 7),
        ),
    ]


# --- OWA207 ------------------------------------------------------------------------------------


class PriorityOutsideValves(LintRule):
    """
    ## What it does
    Reports `priority` set on `Action` itself: a class attribute (`priority = 5`), an
    instance attribute (`self.priority = 5` in `__init__` or any other method,
    `setattr(self, "priority", 5)`), the same in a module-level base class of `Action`, or
    `Action.priority = 5` at module level.

    ## Why is this bad?
    Open WebUI orders the action buttons by `Valves(**stored).priority` (default 0), then by
    function id. An attribute on the `Action` class or instance is never read, so the button
    keeps its default place and the author believes otherwise.

    ## Example
    ```python
    class Action:
        def __init__(self):
            self.priority = 1
            self.valves = self.Valves()
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            priority: int = Field(default=1, description="Button order (lower first)")

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    ```
    """

    code = "OWA207"
    name = "priority-outside-valves"
    level = Level.WARNING
    summary = "`priority` set on `Action` instead of `Valves.priority`: it is ignored."

    def check(self) -> None:
        cls = self.module.action_class
        if cls is None:
            return
        chain = _class_chain(self.module, cls) or [cls]
        names = {c.name.value for c in chain}
        for c in chain:
            for stmt in c.body.body:
                if type(stmt) is not cst.SimpleStatementLine:
                    continue
                for small in stmt.body:
                    if type(small) is cst.Assign:
                        if any(_is_name(t.target, "priority") for t in small.targets):
                            self._report(small, small.value, c)
                    elif (
                        type(small) is cst.AnnAssign
                        and small.value is not None
                        and _is_name(small.target, "priority")
                    ):
                        self._report(small, small.value, c)
        for info in self.module.functions.values():
            if info.class_name in names and info.parent is None:
                self._check_method(info)
        for node in self.module.module.body:
            if type(node) is cst.SimpleStatementLine:
                for small in node.body:
                    if type(small) is cst.Assign and any(
                        type(t.target) is cst.Attribute
                        and t.target.attr.value == "priority"
                        and _is_name(t.target.value, cls.name.value)
                        for t in small.targets
                    ):
                        self._report(small, small.value)

    def _check_method(self, info: FunctionInfo) -> None:
        params = info.param_names()
        if not params:
            return
        receiver = params[0]
        for node in self.module.walk_of(info.node.body, cst.Assign, cst.AnnAssign, cst.Call):
            if type(node) is cst.Assign:
                for t in node.targets:
                    if (
                        type(t.target) is cst.Attribute
                        and t.target.attr.value == "priority"
                        and _is_name(t.target.value, receiver)
                    ):
                        self._report(node, node.value)
            elif (
                type(node) is cst.AnnAssign
                and node.value is not None
                and type(node.target) is cst.Attribute
                and node.target.attr.value == "priority"
                and _is_name(node.target.value, receiver)
            ):
                self._report(node, node.value)
            elif (
                type(node) is cst.Call
                and _is_name(node.func, "setattr")
                and len(node.args) >= 3
                and _is_name(node.args[0].value, receiver)
                and string_value(node.args[1].value) == "priority"
            ):
                self._report(node, node.args[2].value)

    def _report(
        self, node: cst.CSTNode, value: cst.BaseExpression, owner: cst.ClassDef | None = None
    ) -> None:
        literal = self.module.module.code_for_node(value)
        default = literal if type(value) is cst.Integer else "0"
        valves = self.module.valves_class
        if valves is None:
            fix = (
                f"declare `class Valves(BaseModel): priority: int = {default}` in `Action` and "
                "set `self.valves = self.Valves()` in `__init__`"
            )
        elif any(f.name == "priority" for f in _own_fields(self.module, "Valves", valves)):
            fix = "remove it and change the default of `Valves.priority` instead"
        else:
            fix = f'add `priority: int = Field(default={default}, description="Button order")` to `Valves`'
        action = self.module.action_class
        where = "`Action`"
        if owner is not None and action is not None and owner is not action:
            where = f"`{owner.name.value}` (a base class of `Action`)"
        self.report(
            None,
            f"`priority` set on {where} is ignored: Open WebUI orders the buttons by "
            f"`Valves(**stored).priority`; {fix}",
            location=self.module.statement_location(node),
        )

    VALID = [
        Valid(
            '''
            """
            title: Export to PDF
            description: Save the chat as a PDF file
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    priority: int = Field(default=3, description="Button order (lower first)")
                    page_size: str = Field(default="A4")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    order = self.valves.priority
                    await __event_emitter__({"type": "status", "data": {"description": f"PDF (button #{order})", "done": True}})
                    return body
            '''
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0

                def __init__(self):
                    self.valves = self.Valves(priority=2)

                async def action(self, body: dict) -> dict:
                    self.valves.priority = 5  # setting the valve, not Action
                    queue = {"priority": 1}
                    queue["priority"] = 2
                    return body
            """
        ),
        Valid(
            """
            import heapq

            from pydantic import BaseModel


            class Job:
                def __init__(self, priority: int):
                    self.priority = priority


            class Action:
                class Valves(BaseModel):
                    priority: int = 1

                def __init__(self):
                    self.valves = self.Valves()
                    self.jobs: list = []

                async def action(self, body: dict) -> dict:
                    heapq.heappush(self.jobs, (Job(priority=2).priority, body["id"]))
                    return body
            """
        ),
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0

                actions = [{"id": "summary", "name": "Summary"}, {"id": "tldr", "name": "TL;DR"}]

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __id__=None) -> dict:
                    priority = 1 if __id__ == "summary" else 2
                    return {"messages": [{"id": body["id"], "content": str(priority)}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Copy as Markdown
            description: Put the reply on the clipboard as Markdown
            """
            import json

            from pydantic import BaseModel, Field


            class Action:
                priority = 1

                class Valves(BaseModel):
                    include_sources: bool = Field(default=True)

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_call__=None) -> dict:
                    text = body["messages"][-1]["content"]
                    await __event_call__({"type": "execute", "data": {"code": f"navigator.clipboard.writeText({json.dumps(text)})"}})
                    return body
            ''',
            lines=(11,),
            message="add `priority: int = Field(default=1",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    priority: int = 0

                def __init__(self):
                    self.valves = self.Valves()
                    self.priority = 10
                    self.id = "summarize"

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(10,),
            message="change the default of `Valves.priority`",
        ),
        Invalid(
            """
            class _Button:
                priority: int = 5
                icon_url = "data:image/svg+xml;base64,PHN2Zy8+"


            class Action(_Button):
                def __init__(self):
                    setattr(self, "priority", 2)

                async def action(self, body: dict) -> dict:
                    return body


            Action.priority = 3
            """,
            lines=(2, 8, 14),
            message="declare `class Valves(BaseModel)",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    model: str = "gpt-4o-mini"

                def __init__(self):
                    self.valves = self.Valves()
                    self._configure()

                def _configure(me):
                    me.priority: int = 4

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(13,),
        ),
    ]


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return type(node) is cst.Name and node.value == name
