"""Names: scopes, bindings, the bindings a read refers to, qualified names.

Built from the index's one traversal (each node's scope, each `Name`'s expression context)
without walking the tree again. Where the rules rely on it, it answers as LibCST's
`ScopeProvider` and `QualifiedNameProvider` do (`tests/test_index.py` compares them).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Literal

import libcst as cst

if TYPE_CHECKING:
    from analyzer.index import Index

ScopeKind = Literal["module", "class", "function", "comprehension"]

# Statements and expressions after which the names they bind are visible (LibCST's list).
_ASSIGNMENT_LIKE = (
    cst.AnnAssign,
    cst.AsName,
    cst.Assign,
    cst.AugAssign,
    cst.ClassDef,
    cst.CompFor,
    cst.FunctionDef,
    cst.Global,
    cst.Import,
    cst.ImportFrom,
    cst.NamedExpr,
    cst.Nonlocal,
    cst.For,
)


class Scope:
    """A name scope: the module, a class body, a function or lambda, a comprehension."""

    __slots__ = ("globals", "kind", "name", "node", "nonlocals", "parent", "prefix")

    def __init__(
        self, kind: ScopeKind, node: cst.CSTNode, parent: Scope | None, name: str | None
    ) -> None:
        self.kind = kind
        self.node = node
        self.parent = parent
        self.name = name
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        # The prefix of qualified names of local bindings, as LibCST spells it.
        parent_prefix = parent.prefix if parent is not None else ""
        self.prefix: str
        if kind == "module":
            self.prefix = ""
        elif kind == "class":
            self.prefix = ".".join(p for p in (parent_prefix, name) if p)
        elif kind == "comprehension":
            self.prefix = ".".join(p for p in (parent_prefix, "<comprehension>") if p)
        else:
            self.prefix = ".".join(p for p in (parent_prefix, name, "<locals>") if p)

    def visible_parent(self) -> Scope | None:
        """The next enclosing scope whose names this one sees (class bodies are skipped)."""
        parent = self.parent
        while parent is not None and parent.kind == "class":
            parent = parent.parent
        return parent

    def module(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


ImportNode = cst.Import | cst.ImportFrom


class Binding:
    """A name bound in a scope: by an assignment target, a definition, a parameter or an
    import (then `node` is the import statement, as in LibCST)."""

    __slots__ = ("after", "name", "node", "scope")

    def __init__(self, name: str, node: cst.CSTNode, scope: Scope, after: int) -> None:
        self.name = name
        self.node = node
        self.scope = scope
        # Reads numbered at or after this see the binding (same scope only).
        self.after = after


BUILTIN = "builtin"


class Scopes:
    """Name resolution over the index, LibCST-compatible where the rules rely on it."""

    def __init__(self, index: Index) -> None:
        self.ix = index
        self.tables: dict[Scope, dict[str, list[Binding]]] = {s: {} for s in index.scopes}
        # By `id(node)` (LibCST's `__hash__` is Python code); `_keep` keeps the nodes alive.
        self._qualified: dict[int, frozenset[tuple[str, str]]] = {}
        self._keep: list[cst.CSTNode] = []
        self._collect()

    def _bind(self, scope: Scope, name: str, node: cst.CSTNode, after: int) -> None:
        target = scope
        if name in scope.globals:
            target = scope.module()
        elif name in scope.nonlocals and scope.parent is not None:
            target = scope.visible_parent() or scope.parent
        self.tables.setdefault(target, {}).setdefault(name, []).append(
            Binding(name, node, target, after)
        )

    def _after(self, node: cst.CSTNode) -> int:
        """The number from which reads see a binding made at `node`."""
        ix = self.ix
        for ancestor in (node, *ix.ancestors(node)):
            if isinstance(ancestor, _ASSIGNMENT_LIKE):
                if type(ancestor) is cst.CompFor:
                    return -1  # the element, written first, runs after the `for` binds
                if type(ancestor) is cst.For:
                    return ix.end(ancestor.target)
                return ix.end(ancestor)
            if isinstance(ancestor, (cst.BaseStatement, cst.BaseSuite)):
                break
        return ix.end(node)

    def _collect(self) -> None:
        ix = self.ix
        for declaration in ix.of_type(cst.Global):
            for item in declaration.names:
                ix._scope[ix.number(declaration)].globals.add(item.name.value)
        for nonlocal_ in ix.of_type(cst.Nonlocal):
            for item in nonlocal_.names:
                ix._scope[ix.number(nonlocal_)].nonlocals.add(item.name.value)
        for name, context in ix.context.items():
            if context == "store":
                self._bind(ix._scope[ix.number(name)], name.value, name, self._after(name))
        definitions: list[cst.FunctionDef | cst.ClassDef] = [
            *ix.of_type(cst.FunctionDef),
            *ix.of_type(cst.ClassDef),
        ]
        for definition in definitions:
            scope = ix._scope[ix.number(definition)]
            self._bind(scope, definition.name.value, definition, ix.end(definition))
        for param in ix.of_type(cst.Param):
            self._bind(ix._scope[ix.number(param)], param.name.value, param, -1)
        imports: list[cst.Import | cst.ImportFrom] = [
            *ix.of_type(cst.Import),
            *ix.of_type(cst.ImportFrom),
        ]
        for node in imports:
            names = node.names
            if isinstance(names, cst.ImportStar):
                continue
            for alias in names:
                target = alias.asname.name if alias.asname else alias.name
                if isinstance(target, (cst.Name, cst.Attribute)):
                    for dotted in _prefixes(target):
                        self._bind(ix._scope[ix.number(node)], dotted, node, ix.end(node))
        # Bindings in source order, as a walk would have found them.
        number = ix.number
        for table in self.tables.values():
            for bindings in table.values():
                bindings.sort(key=lambda b: number(b.node))

    # --- bindings and references -------------------------------------------------------

    def table(self, scope: Scope) -> dict[str, list[Binding]]:
        return self.tables.get(scope, {})

    def module_bindings(self) -> dict[str, list[cst.CSTNode]]:
        """Every module-level binding by name (imports by their statement), source order."""
        module = self.ix.scopes[0]
        return {
            name: sorted((b.node for b in bindings), key=self.ix.number)
            for name, bindings in self.table(module).items()
        }

    def _resolve(self, name: str, scope: Scope) -> tuple[Scope | None, list[Binding]]:
        """The nearest scope that binds `name` for a read in `scope`, and its bindings."""
        current: Scope | None = scope
        while current is not None:
            if name in current.globals:
                current = current.module()
            found = self.table(current).get(name)
            if found:
                return current, found
            current = current.visible_parent()
        return None, []

    def referents(self, name: cst.Name) -> list[cst.CSTNode | str] | None:
        """What a read of `name` may refer to: binding nodes, or `BUILTIN`.

        None when `name` is not a read (an attribute, a keyword, a binding target).
        Like LibCST, a read sees the bindings of the nearest scope that binds the name,
        those of its own scope only when made before it; when all come later it sees the
        enclosing scope's.
        """
        ix = self.ix
        if ix.context.get(name) not in ("load", "del"):
            return None
        number = ix.number(name)
        scope = ix._scope[number]
        _, found = self._resolve(name.value, scope)
        if found:
            earlier = [b.node for b in found if b.scope is not scope or b.after <= number]
            if earlier:
                return list(earlier)
            if scope.parent is None:
                return []
            _, found = self._resolve(name.value, scope.parent)
            if found:
                return [b.node for b in found]
        return [BUILTIN] if hasattr(builtins, name.value) else []

    # --- qualified names ----------------------------------------------------------------

    def qualified_names(self, node: cst.CSTNode) -> frozenset[tuple[str, str]]:
        """(name, source) pairs as LibCST's QualifiedNameProvider gives them; source is
        "import", "builtin" or "local". Cached per node (a method chain asks about every
        link, and each answer walks the chain)."""
        found = self._qualified.get(id(node))
        if found is None:
            found = self._qualified[id(node)] = frozenset(self._qualified_names(node))
            self._keep.append(node)
        return found

    def _qualified_names(self, node: cst.CSTNode) -> set[tuple[str, str]]:
        full = _full_name(node)
        if full is None:
            return set()
        scope = self.ix.scope_of(node)
        if scope is None:
            return set()
        found: list[Binding] = []
        prefix: str | None = full
        builtin = False
        while prefix:
            _, found = self._resolve(prefix, scope)
            if found:
                break
            if "." not in prefix and hasattr(builtins, prefix):
                builtin = True
                break
            cut = prefix.rfind(".")
            prefix = prefix[:cut] if cut >= 0 else None
        if builtin and prefix is not None:
            return {(f"builtins.{prefix}", "builtin")}
        out: set[tuple[str, str]] = set()
        for binding in found:
            if isinstance(binding.node, (cst.Import, cst.ImportFrom)):
                out |= _import_names(binding.node, full)
            else:
                owner = binding.scope
                if binding.node is node or _binds(node, binding.node):
                    p = owner.prefix
                    return {(f"{p}.{full}" if p else full, "local")}
                p = owner.prefix
                out.add((f"{p}.{full}" if p else full, "local"))
        return out


def _binds(node: cst.CSTNode, binding: cst.CSTNode) -> bool:
    """LibCST's `_is_assignment`: `node` is the name a definition or parameter binds."""
    if node is binding:
        return True
    if isinstance(binding, (cst.FunctionDef, cst.ClassDef, cst.Param)):
        return node is binding.name
    return False


def _prefixes(node: cst.Name | cst.Attribute) -> list[str]:
    """`a.b.c` gives ["a.b.c", "a.b", "a"] (what `import a.b.c` binds, as LibCST records)."""
    full = _full_name(node)
    if full is None:
        return []
    parts = full.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _full_name(node: cst.CSTNode) -> str | None:
    """LibCST's `get_full_name_for_node`: the dotted name a node spells, if any."""
    parts: list[str] = []
    current: cst.CSTNode | None = node
    while current is not None:
        if type(current) is cst.Name:
            parts.append(current.value)
            break
        if type(current) is cst.Attribute:
            parts.append(current.attr.value)
            current = current.value
        elif type(current) is cst.Call:
            current = current.func
        elif type(current) is cst.Subscript:
            current = current.value
        elif isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            current = current.name
        elif type(current) is cst.Decorator:
            current = current.decorator
        else:
            return None
    else:  # pragma: no cover - the loop always breaks or returns
        return None
    return ".".join(reversed(parts))


def _import_names(node: ImportNode, full: str) -> set[tuple[str, str]]:
    """LibCST's `ImportAssignment.get_qualified_names_for`."""
    module = ""
    if type(node) is cst.ImportFrom:
        if node.module is not None:
            module = _full_name(node.module) or ""
        if node.relative:
            module = "." * len(node.relative) + module
    out: set[tuple[str, str]] = set()
    names = node.names
    if isinstance(names, cst.ImportStar):
        return out
    for alias in names:
        real = _full_name(alias.name)
        if not real:
            continue
        parts = real.split(".")
        for candidate in (".".join(parts[:i]) for i in range(len(parts), 0, -1)):
            as_name = candidate
            if module and module.endswith("."):
                candidate = f"{module}{candidate}"
            elif module:
                candidate = f"{module}.{candidate}"
            if alias.asname is not None:
                evaluated = alias.evaluated_alias
                if evaluated is not None:
                    as_name = evaluated
            if full.startswith(as_name):
                rest = full.split(as_name, 1)[1]
                if rest and not rest.startswith("."):
                    continue
                rest = rest.lstrip(".")
                out.add((f"{candidate}.{rest}" if rest else candidate, "import"))
                break
    return out
