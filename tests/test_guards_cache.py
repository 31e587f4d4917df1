"""The guard analysis' caches and shortcuts change no answer.

`_Analysis` remembers facts, truth values and call summaries per function and environment,
and whole solves per function and entry state, and drops them when a step read a recursive
call's approximation or summaries were forgotten; `is_emitter` skips evaluating plain
attribute callees. Here the analysis runs with and without the caches on every rule example,
every example module and a few recursive helpers (the approximation paths), and must give
the same findings, states, operations and dead functions; the emitter shortcut's premise
(an attribute never carries the emitter fact) is checked in every analysed state.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import libcst as cst
import pytest

from analyzer.flow import guards
from analyzer.flow.cfg import cfg_for
from analyzer.model import ActionModule, SourceFile
from analyzer.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent

RECURSIVE = [
    # A predicate that calls itself (direct recursion: the summary's fixed point).
    """
    from open_webui.models.users import Users

    class Action:
        def _is_admin(self, user, depth=0):
            if depth > 3:
                return user.get("role") == "admin"
            return self._is_admin(user, depth + 1)

        async def action(self, body, __user__=None):
            if not self._is_admin(__user__):
                return
            Users.delete_user_by_id(body["id"])
    """,
    # Mutual recursion between a gate and a helper, with different argument facts.
    """
    import subprocess

    class Action:
        def _gate(self, user, again=True):
            if again:
                self._check(user)
            if user["role"] != "admin":
                raise PermissionError("admins only")

        def _check(self, user):
            self._gate(user, False)
            return user.get("id")

        async def action(self, body, __user__=None, __event_emitter__=None):
            self._gate(__user__)
            subprocess.run(["ls"])
            await __event_emitter__({"type": "status", "data": {"user": __user__}})
    """,
    # Recursion through a returned id and a lookup by it.
    """
    from open_webui.models.chats import Chats

    class Action:
        def _owner(self, user, n):
            if n:
                return self._owner(user, n - 1)
            return user["id"]

        def _fetch(self, body, user):
            uid = self._owner(user, 2)
            chat = Chats.get_chat_by_id(body["other"])
            if chat.user_id != uid:
                return self._fetch(body, user)
            return chat

        async def action(self, body, __user__=None):
            chat = self._fetch(body, __user__)
            print(__user__)
            return {"chat": chat}
    """,
]


GUARDED = [
    # Helpers called behind an admin guard, summarised for every role first: `_purge`
    # never drops a role (its solve for admins is derived), `_audit` drops "admin" on a
    # branch and `_notify` joins a branch only non-admins take (both solved again).
    """
    import subprocess
    from open_webui.models.users import Users

    class Action:
        def _purge(self, body, user):
            target = body.get("id")
            Users.delete_user_by_id(target)
            print(user)
            return target

        def _audit(self, body, user):
            if user["role"] == "admin":
                subprocess.run(["audit"])
            else:
                return None
            return body

        def _notify(self, body, user):
            note = ""
            if user.get("role") != "admin":
                note = user
            return note

        async def action(self, body, __user__=None):
            if __user__["role"] != "admin":
                return
            self._purge(body, __user__)
            self._audit(body, __user__)
            self._notify(body, __user__)
    """,
]


def _sources() -> list[tuple[str, str]]:
    out = [(f"recursive-{i}", textwrap.dedent(s).lstrip("\n")) for i, s in enumerate(RECURSIVE)]
    out += [(f"guarded-{i}", textwrap.dedent(s).lstrip("\n")) for i, s in enumerate(GUARDED)]
    for rule in all_rules():
        for i, valid in enumerate(rule.VALID):
            out.append((f"{rule.code}-VALID-{i}", valid.source))
        for i, invalid in enumerate(rule.INVALID):
            out.append((f"{rule.code}-INVALID-{i}", invalid.source))
    for path in sorted((ROOT / "examples").rglob("*.py")):
        out.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    return out


def _model(text: str) -> ActionModule | None:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    return ActionModule(SourceFile("t.py", text), module)


def _has_action(text: str) -> bool:
    model = _model(text)
    return model is not None and model.action_method is not None


# Only sources with an `action` to analyse (the rest would be skipped tests).
SOURCES = [(name, text) for name, text in _sources() if _has_action(text)]


class _NeverKept(dict[Any, Any]):
    """A table that forgets everything put in it."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _Uncached(guards._Analysis):
    """The analysis with every cache across evaluations turned off."""

    def __init__(self, model: ActionModule, extra: tuple[str, ...]) -> None:
        super().__init__(model, extra)
        self._solved = _NeverKept()

    def _tables_for(self, fn: Any, env: guards.Env) -> Any:
        return ({}, {}, {})

    def is_emitter(self, expr: cst.BaseExpression, state: Any, fn: Any) -> bool:
        return guards.EMITTER in self.facts(expr, state, fn)


def _plain(fact: guards.Fact) -> guards.Fact:
    """A fact without the `id` of the call a lookup fact names (two models, two ids)."""
    if fact[0] == "lookup":
        return ("lookup", fact[2])
    if fact[0] == "item":
        return ("item", fact[1], _plain(fact[2]))
    return fact


def _summary(model: ActionModule, facts: guards.AuthFacts) -> Any:
    def line(node: cst.CSTNode) -> int:
        return model.position(node).start.line

    return (
        [(f.code, line(f.node), f.message) for f in facts.findings],
        sorted(line(n) for n in facts.flagged_calls),
        {
            qual: {
                node.id: (state.roles, frozenset((n, _plain(f)) for n, f in state.env))
                for node, state in states.items()
            }
            for qual, states in facts.states.items()
        },
        [
            (op.function, line(op.node), op.kind, op.label, op.state and op.state.roles)
            for op in facts.ops
        ],
        facts.dead_functions,
    )


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[n for n, _ in SOURCES])
def test_caches_change_no_answer(name: str, text: str) -> None:
    cached, plain = _model(text), _model(text)
    assert cached is not None and plain is not None
    assert _summary(cached, guards._Analysis(cached, ()).run()) == _summary(
        plain, _Uncached(plain, ()).run()
    )


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[n for n, _ in SOURCES])
def test_an_attribute_never_carries_the_emitter(name: str, text: str) -> None:
    model = _model(text)
    assert model is not None
    analysis = guards._Analysis(model, ())
    facts = analysis.run()
    for qual, states in facts.states.items():
        info = model.functions[qual]
        for node in cfg_for(model, info).nodes:
            state = states.get(node)
            if state is None or node.stmt is None:
                continue
            for attribute in model.scoped(node.stmt, cst.Attribute):
                assert guards.EMITTER not in analysis.facts(attribute, state, info)


class _Counting(guards._Analysis):
    """Counts the steps after which the caches were dropped."""

    dropped = 0

    def _end_step(self) -> bool:
        found = super()._end_step()
        _Counting.dropped += found
        return found


def test_the_recursive_examples_read_approximations() -> None:
    """The cases above do go through the paths that drop the caches."""
    _Counting.dropped = 0
    for text in RECURSIVE:
        model = _model(textwrap.dedent(text).lstrip("\n"))
        assert model is not None
        _Counting(model, ()).run()
    assert _Counting.dropped >= len(RECURSIVE)


class _Reusing(guards._Analysis):
    """Counts the solves taken from a solve for every role."""

    derived: list[str] = []

    def reuse(self, qual: str, entry: guards.GuardState) -> Any:
        exact = (qual, entry) in self._solved
        found = super().reuse(qual, entry)
        if found is not None and not exact:
            _Reusing.derived.append(qual)
        return found


def test_a_helper_behind_a_guard_reuses_its_solve_only_when_no_role_was_dropped() -> None:
    _Reusing.derived = []
    model = _model(textwrap.dedent(GUARDED[0]).lstrip("\n"))
    assert model is not None
    facts = _Reusing(model, ()).run()
    assert "Action._purge" in _Reusing.derived
    assert "Action._audit" not in _Reusing.derived
    assert "Action._notify" not in _Reusing.derived
    plain = _model(textwrap.dedent(GUARDED[0]).lstrip("\n"))
    assert plain is not None
    assert _summary(model, facts) == _summary(plain, _Uncached(plain, ()).run())
