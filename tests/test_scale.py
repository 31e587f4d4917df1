"""Modules shaped like the largest real actions, and worse: each is analysed completely.

The flow analyses must not depend on Python's recursion limit or on the size of the code:
an `elif` ladder, a run of `try` blocks, a ring of helpers and one very long method are
each analysed with the default limit of 1,000 frames in force once the module is parsed
(parsing and indexing are LibCST's recursion, bounded by the engine's depth limits), and
every rule reports what it should. No wall-clock assertions: the benchmark measures speed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analyzer import budget
from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.engine import parse
from analyzer.model import ActionModule, SourceFile
from analyzer.registry import all_rules
from analyzer.rule import RuleContext

HEAD = '''"""
title: Stress
description: A module shaped to stress one dimension of the analysis.
"""
from open_webui.models.chats import Chats
from open_webui.models.users import Users
from pydantic import BaseModel


class Action:
    class Valves(BaseModel):
        priority: int = 0

    def __init__(self):
        self.valves = self.Valves()

'''
SIGNATURE = (
    "    async def action(self, body, __user__=None, __event_emitter__=None,"
    " __event_call__=None):\n"
)


def elif_ladder(branches: int) -> str:
    lines = [HEAD, SIGNATURE, "        for item in body.get('messages', []):\n"]
    lines.append("            kind = item.get('kind')\n            if kind == 'k0':\n")
    lines.append("                weight = 0\n")
    for i in range(1, branches):
        lines.append(f"            elif kind == 'k{i}':\n                weight = {i}\n")
    lines.append("        Users.delete_user_by_id(body['id'])\n        return {}\n")
    return "".join(lines)


def try_run(blocks: int) -> str:
    lines = [HEAD, SIGNATURE]
    for i in range(blocks):
        lines.append(
            f"        try:\n            v{i} = int(body.get('a{i}'))\n"
            f"        except ValueError:\n            v{i} = 0\n"
        )
    lines.append("        Users.delete_user_by_id(body['id'])\n        return {}\n")
    return "".join(lines)


def helper_ring(helpers: int) -> str:
    lines = [HEAD, SIGNATURE, "        return await self.h0(body, 0)\n\n"]
    for i in range(helpers):
        lines.append(
            f"    async def h{i}(self, body, depth):\n"
            "        if depth > 3:\n"
            "            Users.delete_user_by_id(body['id'])\n"
            "            return {}\n"
            f"        return await self.h{(i + 1) % helpers}(body, depth + 1)\n\n"
        )
    return "".join(lines)


def recursive_helpers() -> str:
    return (
        HEAD
        + SIGNATURE
        + "        await self.walk(body, 0)\n        return await self.ping(body, 3)\n\n"
        + "    async def walk(self, body, depth):\n"
        + "        if depth < 10:\n            await self.walk(body, depth + 1)\n"
        + "        Users.delete_user_by_id(body['id'])\n\n"
        + "    async def ping(self, body, n):\n"
        + "        return await self.pong(body, n - 1) if n else {}\n\n"
        + "    async def pong(self, body, n):\n"
        + "        Chats.delete_chats_by_user_id(body['user_id'])\n"
        + "        return await self.ping(body, n)\n"
    )


def long_method(lines_wanted: int) -> str:
    lines = [HEAD, SIGNATURE, "        total = 0\n"]
    for i in range(lines_wanted // 3):
        lines.append(
            f"        if body.get('f{i}'):\n            total += {i}\n"
            "        await __event_emitter__({'type': 'status', 'data': "
            f"{{'description': 'step {i}', 'done': False}}}})\n"
        )
    lines.append("        Users.delete_user_by_id(body['id'])\n        return {'total': total}\n")
    return "".join(lines)


def operator_chains(operands: int) -> str:
    """`a + b + ...`, `a or b or ...` and `if a and b and ...`: LibCST nests each to the
    left, one level per operand (as many as the engine accepts)."""
    total = " + ".join(f"body.get('a{i}', 0)" for i in range(operands))
    either = " or ".join(f"body.get('o{i}')" for i in range(operands))
    test = " and ".join(f"body.get('c{i}')" for i in range(operands))
    return (
        HEAD
        + SIGNATURE
        + f"        total = {total}\n        flag = {either}\n        if {test}:\n"
        + "            Users.delete_user_by_id(body['id'])\n"
        + "        return {'total': total, 'flag': flag}\n"
    )


def method_chain(calls: int) -> str:
    """`text.replace(...).replace(...)...`, as exporters clean text, into an `execute`."""
    chain = "body['text']" + "".join(f".replace('x{i}', 'y')" for i in range(calls))
    return (
        HEAD
        + SIGNATURE
        + f"        text = {chain}\n"
        + "        await __event_call__({'type': 'execute', 'data': {'code': text}})\n"
        + "        Users.delete_user_by_id(body['id'])\n        return {}\n"
    )


def answer_ring(helpers: int) -> str:
    """Helpers that return each other's confirmation answer, in a ring."""
    lines = [HEAD, SIGNATURE, "        ok = await self.c0(__event_call__, 0)\n"]
    lines.append("        if ok is True:\n            await Chats.delete_chat_by_id(body['id'])\n")
    lines.append("        if ok:\n            Users.delete_user_by_id(body['id'])\n\n")
    for i in range(helpers):
        lines.append(
            f"    async def c{i}(self, call, depth):\n"
            "        if depth > 3:\n"
            "            return await call({'type': 'confirmation', 'data': {'title': 't'}})\n"
            f"        return await self.c{(i + 1) % helpers}(call, depth + 1)\n\n"
        )
    return "".join(lines)


CASES = {
    "elif-ladder-2000": (elif_ladder(2000), {"OWA301"}),
    "try-run-1000": (try_run(1000), {"OWA301"}),
    "helper-ring-100": (helper_ring(100), {"OWA301"}),
    "recursive-helpers": (recursive_helpers(), {"OWA301"}),
    "long-method-3000": (long_method(3000), {"OWA301", "OWA407"}),
    "operator-chains-990": (operator_chains(990), {"OWA301"}),
    "method-chain-450": (method_chain(450), {"OWA301", "OWA406"}),
    "answer-ring-50": (answer_ring(50), {"OWA301", "OWA402"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_analysed_completely_with_its_findings(name: str) -> None:
    source, expected = CASES[name]
    result = lint_text(source, path=f"{name}.py")
    assert result.status == "action"
    assert result.errors == [] and not result.internal_error
    assert expected <= {f.rule for f in result.findings}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rules_need_no_more_than_the_default_recursion_limit(name: str) -> None:
    source, expected = CASES[name]
    with budget.recursion_headroom():  # what the engine gives LibCST's parse and the index
        module, index = parse(source)
    model = ActionModule(SourceFile(f"{name}.py", source), module, index)
    found: set[str] = set()
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        for rule_class in all_rules():
            if rule_class.engine_role is not None:
                continue
            rule = rule_class(RuleContext(model, Settings()))
            rule.run_check()
            assert rule.crash is None, f"{rule_class.code}: {rule.crash}"
            if rule.context.reports:
                found.add(rule_class.code)
    finally:
        sys.setrecursionlimit(saved)
    assert expected <= found


def test_every_helper_of_the_ring_is_reported_once() -> None:
    result = lint_text(helper_ring(100), path="ring.py")
    lines = sorted(f.location.line for f in result.findings if f.rule == "OWA301")
    assert len(lines) == 100 and len(set(lines)) == 100
    # The path to the last helper names its ends, not all hundred hops.
    last = max((f for f in result.findings if f.rule == "OWA301"), key=lambda f: f.location.line)
    assert "`self.h0` → `self.h1` → `self.h2` → … 95 more … → `self.h98` → `self.h99`" in (
        last.message
    )


def test_a_chain_of_helpers_is_followed_to_its_end() -> None:
    # Sixty helpers deep, each returning the next one's answer: the role check at the end
    # still guards the delete (summaries are computed on a stack, not to a depth limit).
    lines = [HEAD, SIGNATURE, "        if not self.p0(__user__):\n            return None\n"]
    lines.append("        Users.delete_user_by_id(body['id'])\n        return {}\n")
    for i in range(60):
        last = f"self.p{i + 1}(user)" if i < 59 else "user.get('role') == 'admin'"
        lines.append(f"\n    def p{i}(self, user):\n        return {last}\n")
    result = lint_text("".join(lines), path="chain.py")
    assert result.errors == []
    assert "OWA301" not in {f.rule for f in result.findings}


def test_a_recursive_role_check_is_a_guard() -> None:
    # Recursion ends only through the base case: the least fixed point of the helper's
    # summary is "true for admins only", so what it guards is guarded.
    source = (
        HEAD
        + SIGNATURE
        + "        if not self._admin(__user__, 3):\n            return None\n"
        + "        Users.delete_user_by_id(body['id'])\n        return {}\n\n"
        + "    def _admin(self, user, depth):\n"
        + "        if depth > 0:\n            return self._admin(user, depth - 1)\n"
        + "        return user.get('role') == 'admin'\n"
    )
    result = lint_text(source, path="recursive_check.py")
    assert result.errors == []
    assert "OWA301" not in {f.rule for f in result.findings}


def test_a_three_thousand_term_sum_is_refused_up_front() -> None:
    # LibCST's parser takes time cubic in such a chain (about 25 s for 3,000 terms), in C
    # where the budget cannot stop it: the engine refuses it before parsing (OWA001).
    total = " + ".join(f"body.get('a{i}', 0)" for i in range(3000))
    result = lint_text(HEAD + SIGNATURE + f"        total = {total}\n", path="sum.py")
    assert result.status == "error"
    assert [f.rule for f in result.findings] == ["OWA001"]


def test_a_linted_file_leaves_nothing_for_the_cyclic_collector() -> None:
    """The engine frees each file's tree and analyses as soon as its rules ran: nothing of
    them waits in a reference cycle for the collector, whose pass over a whole tree cost
    several percent of a run (control-flow graphs and recursive closures were such cycles)."""
    import gc

    import libcst as cst

    from analyzer.engine import lint_bytes

    examples = sorted((Path(__file__).parent.parent / "examples").rglob("*.py"))
    sources = [path.read_bytes() for path in examples] + [helper_ring(20).encode()]
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for data in sources:
            result = lint_bytes("stress.py", data, Settings(), explicit=True)
            assert result.status != "unreadable"
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, cst.CSTNode)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert left == []
