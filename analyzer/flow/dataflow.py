"""A generic forward dataflow solver over `analyzer.flow.cfg` graphs.

An analysis gives the state at entry, the effect of a node, what a branch condition says
on an edge (or that the edge cannot be taken), and how states merge. `solve` iterates to a
fixed point and returns the IN state of every node reachable under `refine`.

States must be immutable and hashable and form a lattice of finite height under `join`
(frozensets of facts, small frozen dataclasses, tuples), so the iteration terminates.
As a defence against a non-monotone analysis, `solve` gives up after
`MAX_VISITS_PER_NODE` visits per node on average and raises `FixpointNotReached`
(a bug in the analysis, never a property of the analysed code).

Nothing here recurses, and the interprocedural analyses built on it do not either: a
transfer that needs another function's result first raises `Suspend`, the `Solver` stops
where it was, and `Tasks` computes that result on an explicit stack before the solver goes
on. Recursive calls get an approximation iterated to a fixed point (`CycleTask`).
`trampoline` runs recursive computations written as generators the same way.

Expressions are evaluated the same way by the guard and taint analyses: plain recursion at
most `SHALLOW` operands deep, each operand once per evaluation, and a deeper expression
(`a + b + c + ...` nests one level per operand) bottom-up over `operands_bottom_up`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Hashable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import libcst as cst

from analyzer.flow.cfg import CFG, Edge, Node

if TYPE_CHECKING:
    from analyzer.model import ActionModule

S = TypeVar("S")
T = TypeVar("T")

MAX_VISITS_PER_NODE = 64


class FixpointNotReached(RuntimeError):
    """The analysis did not stabilise (its join or transfer is not monotone)."""


class ForwardAnalysis(Generic[S]):
    """Override `initial`, `transfer`, `refine` and `join` (the defaults are identities)."""

    def initial(self) -> S:
        raise NotImplementedError

    def transfer(self, node: Node, state: S) -> S:
        """The state after `node.stmt` ran, given the state before it."""
        return state

    def refine(self, edge: Edge, state: S) -> S | None:
        """The state on `edge` (e.g. what its `condition` proves); None if infeasible.

        `state` is the source's OUT state, or its IN state on "exception" edges.
        """
        return state

    def join(self, a: S, b: S) -> S:
        raise NotImplementedError


def solve(cfg: CFG, analysis: ForwardAnalysis[S]) -> dict[Node, S]:
    """IN state of every node reachable under `refine`; unreachable nodes are absent.

    An "exception" edge carries the IN state of its source: the statement may fail before
    it has any effect.
    """
    return Solver(cfg, analysis).run()


class Solver(Generic[S]):
    """`solve` as an object that can stop in the middle and go on later.

    When the analysis raises `Suspend` (it needs another function's result first), the
    exception leaves `run` with nothing changed by the node being processed; calling `run`
    again processes that node again and goes on. Interprocedural analyses so wait for a
    callee's summary on an explicit stack (`Tasks`) instead of solving it recursively.
    """

    def __init__(self, cfg: CFG, analysis: ForwardAnalysis[S]) -> None:
        self.cfg = cfg
        self.analysis = analysis
        self.states: dict[Node, S] = {cfg.entry: analysis.initial()}
        # Visit in id order (roughly reverse post-order for structured code): fewer rounds.
        self._queue: list[int] = [cfg.entry.id]
        self._queued = {cfg.entry.id}
        self._budget = MAX_VISITS_PER_NODE * max(len(cfg.nodes), 1)

    def run(self) -> dict[Node, S]:
        """Iterate to the fixed point and return the IN states (see `solve`)."""
        analysis = self.analysis
        states = self.states
        queue = self._queue
        # Without a `refine` of its own, every edge carries its state as it is.
        refines = type(analysis).refine is not ForwardAnalysis.refine
        while queue:
            node = self.cfg.nodes[queue[0]]
            before = states[node]
            # Everything that may suspend runs before anything changes.
            after = analysis.transfer(node, before)
            flowing: list[tuple[Node, S]] = []
            for edge in node.succs:
                carried = before if edge.kind == "exception" else after
                refined = analysis.refine(edge, carried) if refines else carried
                if refined is not None:
                    flowing.append((edge.dst, refined))
            heapq.heappop(queue)
            self._queued.discard(node.id)
            self._budget -= 1
            if self._budget < 0:
                raise FixpointNotReached(f"no fixed point for {self.cfg.function.name.value}")
            for dst, refined in flowing:
                old = states.get(dst)
                new = refined if old is None else analysis.join(old, refined)
                if old is None or new != old:
                    states[dst] = new
                    if dst.id not in self._queued:
                        self._queued.add(dst.id)
                        heapq.heappush(queue, dst.id)
        return states


def trampoline(computation: Generator[Any, Any, T]) -> T:
    """The result of a recursive computation written as generators, computed without
    recursion: a generator yields the generator of a sub-computation and is sent its
    result back (`kind = yield classify(base)`); its `return` is its result."""
    stack: list[Generator[Any, Any, Any]] = [computation]
    sent: Any = None
    while True:
        try:
            inner = stack[-1].send(sent)
        except StopIteration as done:
            stack.pop()
            if not stack:
                result: T = done.value
                return result
            sent = done.value
        else:
            stack.append(inner)
            sent = None


class Task(Protocol):
    """A computation that may wait for others: `step` raises `Suspend` to wait, and is
    called again once the awaited task is done (it must be safe to run again)."""

    def step(self) -> None: ...


class Suspend(Exception):
    """Raised inside a running task: run `task` first, then step the raiser again."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task


class CycleTask:
    """A task whose result a recursive call may ask for before it is done (a function
    analysed while a function it calls calls it back, directly or through others).

    The recursive call gets `approximation`, which a task sets to its analysis' least
    value ("never returns"): recursion only ends through the calls that do not recurse;
    `Tasks.recursive` records that it was asked. When the task then ends with a result that
    does not `agree` with the approximation, it runs again from the start with its result
    as the new approximation, and every result computed meanwhile is forgotten (it may rest
    on the old one), until the two agree: the least fixed point, reached in at most
    `MAX_ROUNDS` rounds (then the last result stands).
    """

    approximation: Any = None
    asked = False  # a recursive call got the approximation
    mark = 0  # `Tasks.done` entries from when that first happened
    rounds = 0

    def step(self) -> None:
        raise NotImplementedError

    def agrees(self) -> bool:
        """The result just computed is the approximation (no other round needed)."""
        raise NotImplementedError

    def next_round(self) -> None:
        """Take the result as the approximation, forget it, and start again."""
        raise NotImplementedError

    def forget(self) -> None:
        """Forget the result (computed on an approximation that changed since)."""
        raise NotImplementedError


MAX_ROUNDS = 8


class Tasks:
    """An explicit stack of tasks waiting for each other, instead of recursion.

    An analysis asks for a result (a callee's summary): cached, it has it; else, inside a
    running task, it raises `Suspend(task)`, and outside, it calls `run(task)`. A task may
    have a `tag` (what it computes, for "is it in progress?", a recursive call) and a `key`
    (to `find` it on the stack); the analysis decides what a recursive call gets,
    `recursive` for a fixed point. The stack grows with the call chain, the Python stack
    does not.
    """

    def __init__(self) -> None:
        self.stack: list[Task] = []
        # The tags of the tasks on the stack, up to each level: `in_progress` in O(1).
        self._tags: list[frozenset[Hashable]] = []
        self._found: dict[Hashable, Task] = {}
        # Cycle tasks finished during this `run`, in order (what a new round forgets).
        self.done: list[CycleTask] = []

    @property
    def running(self) -> bool:
        return bool(self.stack)

    @property
    def in_progress(self) -> frozenset[Hashable]:
        """The tags of the tasks on the stack."""
        return self._tags[-1] if self._tags else frozenset()

    def find(self, name: Hashable) -> Task | None:
        """The task on the stack with this tag or key."""
        return self._found.get(name)

    def recursive(self, task: CycleTask) -> Any:
        """What a recursive call of `task` (which is on the stack) gets now."""
        if not task.asked:
            task.asked = True
            task.mark = len(self.done)
        return task.approximation

    def _push(self, task: Task) -> None:
        tag: Hashable | None = getattr(task, "tag", None)
        key: Hashable | None = getattr(task, "key", None)
        below = self.in_progress
        self._tags.append(below | {tag} if tag is not None else below)
        for name in (tag, key):
            if name is not None:
                self._found[name] = task
        self.stack.append(task)

    def _pop(self) -> Task:
        task = self.stack.pop()
        self._tags.pop()
        for name in (getattr(task, "tag", None), getattr(task, "key", None)):
            if name is not None:
                del self._found[name]
        return task

    def run(self, task: Task) -> None:
        """Step `task` until it is done, running every task it waits for first."""
        if self.stack:
            raise Suspend(task)
        self._push(task)
        try:
            while self.stack:
                top = self.stack[-1]
                try:
                    top.step()
                except Suspend as wait:
                    self._push(wait.task)
                    continue
                if not isinstance(top, CycleTask):
                    self._pop()
                elif top.asked and not top.agrees() and top.rounds < MAX_ROUNDS:
                    top.rounds += 1
                    for finished in self.done[top.mark :]:
                        finished.forget()
                    del self.done[top.mark :]
                    top.next_round()
                else:
                    self._pop()
                    self.done.append(top)
        finally:
            self.stack.clear()
            self._tags.clear()
            self._found.clear()
            self.done.clear()


def out_state(analysis: ForwardAnalysis[S], node: Node, states: dict[Node, S]) -> S | None:
    """The OUT state of `node` (its transfer applied to its IN state), None if unreachable."""
    before = states.get(node)
    return None if before is None else analysis.transfer(node, before)


# --- bounded expression evaluation ----------------------------------------------------------

# How many operands deep an evaluation may recurse before it goes bottom-up instead.
SHALLOW = 20


class TooDeep(Exception):
    """An expression nested deeper than `SHALLOW`: evaluate it bottom-up."""


def operands_bottom_up(
    model: ActionModule,
    expr: cst.BaseExpression,
    opaque: Callable[[cst.CSTNode], bool],
    *,
    if_tests: bool = True,
) -> list[cst.BaseExpression]:
    """The sub-expressions of `expr` an evaluation may ask about, each after its operands:
    nothing inside an `opaque` node, nor a subscript's index (read, never evaluated), nor,
    with `if_tests=False`, the test of a conditional expression."""
    nodes = model.walk(expr)  # source order: every node before the nodes under it
    skipped: set[cst.CSTNode] = set()
    for node in nodes:
        if node in skipped:
            continue
        if opaque(node):
            skipped.update(model.walk(node)[1:])
        elif isinstance(node, cst.Subscript):
            for element in node.slice:
                skipped.update(model.walk(element))
        elif not if_tests and isinstance(node, cst.IfExp):
            skipped.update(model.walk(node.test))
    return [n for n in reversed(nodes) if isinstance(n, cst.BaseExpression) and n not in skipped]
