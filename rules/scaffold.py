"""OWA1: the class scaffold Open WebUI's loader and invoker need (action contract §1, §3, §6, §7)."""

from __future__ import annotations

import libcst as cst

from analyzer.findings import Level
from analyzer.model import ActionModule
from analyzer.rule import Invalid, LintRule, Valid


def _class_provides(model: ActionModule, cls: cst.ClassDef, name: str, seen: set[str]) -> bool:
    """True when `cls` (or a base we cannot see into) may define attribute `name`."""
    if cls.name.value in seen:
        return False
    seen.add(cls.name.value)
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in (name, "__getattr__"):
            return True
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets: list[cst.BaseExpression] = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, cst.AnnAssign):
                    targets = [small.target]
                if any(isinstance(t, cst.Name) and t.value == name for t in targets):
                    return True
        elif isinstance(stmt, (cst.If, cst.Try, cst.With)):
            return True  # conditional definitions: we cannot tell, so assume it is there
    for base in cls.bases:
        if base.keyword is not None:
            continue
        value = base.value
        if isinstance(value, cst.Name) and value.value == "object":
            continue
        if isinstance(value, cst.Name) and value.value in model.classes:
            if _class_provides(model, model.classes[value.value], name, seen):
                return True
            continue
        return True  # an imported or computed base may well provide it
    return False


class MissingActionMethod(LintRule):
    """
    ## What it does
    Reports a `class Action` that defines no `action` method and has no base class that
    could provide one.

    ## Why is this bad?
    Open WebUI calls `Action().action(...)` when the button is clicked. When the instance
    has no `action` attribute, the invoker silently returns the request body unchanged:
    the button does nothing and nobody is told why.

    A base class imported from another module is assumed to provide `action` (owui-lint
    does not leave the module), so this rule stays silent there rather than guess.

    ## Example
    ```python
    class Action:
        async def run(self, body: dict) -> dict:
            return body
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict) -> dict:
            return body
    ```
    """

    code = "OWA103"
    name = "missing-action-method"
    level = Level.ERROR
    summary = "`class Action` defines no `action` method."

    def check(self) -> None:
        cls = self.module.action_class
        if cls is None or _class_provides(self.module, cls, "action", set()):
            return
        self.report(
            cls.name,
            f"`class {cls.name.value}` has no `action` method, so clicking the button returns "
            "the request unchanged; define `async def action(self, body, __user__=None, "
            "__event_emitter__=None)`",
        )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from mylib.base import ExportBase

            class Action(ExportBase):
                pass
            """
        ),
        Valid(
            """
            class _Base:
                async def action(self, body: dict) -> dict:
                    return body

            class Action(_Base):
                def __init__(self):
                    self.name = "export"
            """
        ),
        Valid(
            """
            async def _summarize(self, body, __event_emitter__=None):
                return body

            class Action:
                action = _summarize
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                class Valves:
                    pass

                def __init__(self):
                    self.valves = self.Valves()

                async def run(self, body: dict) -> dict:
                    return body
            """,
            lines=(1,),
            message="has no `action` method",
        ),
        Invalid(
            """
            class Mixin:
                def helper(self):
                    return 1

            class Action(Mixin, object):
                async def actions(self, body):
                    return body
            """,
            lines=(5,),
        ),
        Invalid(
            """
            class Summarizer:
                async def summarize(self, body):
                    return body

            Action = Summarizer
            """,
            lines=(1,),
        ),
        Invalid(
            '''
            """
            title: Export to Markdown
            description: Save the chat as a Markdown file
            """

            class Action:
                async def Action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "ok", "done": True}})
            ''',
            lines=(6,),
        ),
    ]
