"""A generic forward dataflow solver over `analyzer.flow.cfg` graphs.

An analysis gives the state at entry, the effect of a node, what a branch condition says
on an edge (or that the edge cannot be taken), and how states merge. `solve` iterates to a
fixed point and returns the IN state of every node reachable under `refine`.

States must be immutable and hashable and form a lattice of finite height under `join`
(frozensets of facts, small frozen dataclasses, tuples), so the iteration terminates.
As a defence against a non-monotone analysis, `solve` gives up after
`MAX_VISITS_PER_NODE` visits per node on average and raises `FixpointNotReached`
(a bug in the analysis, never a property of the analysed code).
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

from analyzer.flow.cfg import CFG, Edge, Node

S = TypeVar("S")

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
    states: dict[Node, S] = {cfg.entry: analysis.initial()}
    # Visit in id order (roughly reverse post-order for structured code): fewer rounds.
    queue: list[int] = [cfg.entry.id]
    queued = {cfg.entry.id}
    budget = MAX_VISITS_PER_NODE * max(len(cfg.nodes), 1)
    while queue:
        budget -= 1
        if budget < 0:
            raise FixpointNotReached(f"no fixed point for {cfg.function.name.value}")
        node = cfg.nodes[heapq.heappop(queue)]
        queued.discard(node.id)
        before = states[node]
        after = analysis.transfer(node, before)
        for edge in node.succs:
            refined = analysis.refine(edge, before if edge.kind == "exception" else after)
            if refined is None:
                continue
            old = states.get(edge.dst)
            new = refined if old is None else analysis.join(old, refined)
            if old is None or new != old:
                states[edge.dst] = new
                if edge.dst.id not in queued:
                    queued.add(edge.dst.id)
                    heapq.heappush(queue, edge.dst.id)
    return states


def out_state(analysis: ForwardAnalysis[S], node: Node, states: dict[Node, S]) -> S | None:
    """The OUT state of `node` (its transfer applied to its IN state), None if unreachable."""
    before = states.get(node)
    return None if before is None else analysis.transfer(node, before)
