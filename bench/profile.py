"""Where owui-lint's time goes, stage by stage, on a folder of action modules.

    python bench/profile.py DIR          # e.g. the benchmark corpus (bench/run --keep)

Runs in one process, without the per-file thread and budget, and prints the seconds spent
decoding and checking with CPython's parser, in LibCST's parse, in building the index (the
one traversal), in each rule family and in suppressions and fingerprints, beside a bare
`libcst.parse_module` of the same files (whole, as `bench/run`'s bare parse does). Timing is
the process's CPU time (`time.process_time`), with the cyclic collector paused as the engine
pauses it; use it to compare stages, not as an absolute figure.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from collections import Counter
from pathlib import Path

import libcst as cst

from analyzer.config import Settings
from analyzer.engine import _apply_suppressions, _check_nesting, decode
from analyzer.index import Index
from analyzer.lines import split_lines
from analyzer.model import ActionModule, SourceFile
from analyzer.pieces import parse_in_pieces, parse_module, plan
from analyzer.registry import all_rules
from analyzer.rule import Report, RuleContext

# CPU time of this process: steadier than wall time on a busy machine.
clock = time.process_time


def main(folder: str) -> None:
    sys.setrecursionlimit(50_000)
    gc.disable()
    settings = Settings()
    rules = [r for r in all_rules() if r.engine_role is None]
    spent: Counter[str] = Counter()
    files = sorted(Path(folder).rglob("*.py"))
    lines = 0
    for path in files:
        data = path.read_bytes()
        started = clock()
        text = decode(data)
        tree = ast.parse(text)
        _check_nesting(tree, text)
        pieces = plan(tree, len(split_lines(text)))
        del tree
        spent["CPython parse and nesting check"] += clock() - started
        lines += text.count("\n")
        started = clock()  # as the engine does: large modules in pieces
        module = parse_in_pieces(text, pieces) if pieces else parse_module(text)
        spent["LibCST parse"] += clock() - started
        started = clock()
        index = Index(module, expect=text if pieces else None)
        spent["index (one traversal)"] += clock() - started
        model = ActionModule(SourceFile(str(path), text), module, index)
        raw = []
        for rule_class in rules:
            rule = rule_class(RuleContext(model, settings))
            started = clock()
            rule.run_check()
            spent[f"rules {rule_class.family()}"] += clock() - started
            raw += [(rule_class, report) for report in rule.context.reports]
        started = clock()
        reports: list[tuple[type, Report]] = raw
        _apply_suppressions(model, reports, {r.code for r in rules}, settings)
        spent["suppressions and fingerprints"] += clock() - started
        del model, index, module, raw, reports
        gc.collect()  # between files, untimed (the engine pauses the collector per file)
    started = clock()
    for path in files:
        cst.parse_module(path.read_text(encoding="utf-8", errors="replace"))
    bare = clock() - started
    total = sum(spent.values())
    print(f"{len(files)} files, {lines:,} lines; bare LibCST parse {bare:.2f} s")
    print(f"{'stage':<36} {'seconds':>8} {'share':>6} {'x parse':>8}")
    for stage, seconds in spent.most_common():
        print(f"{stage:<36} {seconds:8.2f} {seconds / total:6.0%} {seconds / bare:8.2f}")
    print(f"{'total':<36} {total:8.2f} {1:6.0%} {total / bare:8.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
