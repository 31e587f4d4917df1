"""OWA0: findings the engine itself produces (the rules carry only metadata and docs)."""

from __future__ import annotations

from analyzer.findings import Level
from analyzer.rule import LintRule


class SyntaxErrorRule(LintRule):
    """
    ## What it does
    Reports a file that cannot be decoded or parsed as Python, at the position of the
    error (CPython's own message where it has one). The run goes on with the other files.

    ## Why is this bad?
    Open WebUI `exec`s the module when it is saved and at every start-up; a syntax error
    there deactivates the function. owui-lint cannot analyse such a file at all, so nothing
    else is reported for it.

    Files named on the command line always get this check; files found by walking a
    directory get it only when they mention `Action` (other files are not action modules).
    This rule cannot be disabled or suppressed: a file that was not analysed must not pass.

    ## Example
    ```python
    class Action:
        async def action(self, body: dict) -> dict
            return body
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict) -> dict:
            return body
    ```
    """

    code = "OWA001"
    name = "syntax-error"
    level = Level.ERROR
    summary = "The file cannot be decoded or parsed as Python."
    engine_role = "syntax-error"


class UnusedSuppressionRule(LintRule):
    """
    ## What it does
    Reports a `# noqa: OWAnnn` comment that suppressed nothing on its line (or statement),
    and one that names no owui-lint rule.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line: code changes, the
    waiver stays, and a new privileged call slips through unreviewed. owui-lint only
    honours suppressions that name the rule (`# noqa: OWA301`); a bare `# noqa` written
    for another linter suppresses nothing here.

    A suppression of a rule that is disabled for the file is not reported (owui-lint
    cannot tell whether it would be used).

    ## Example
    ```python
    title = body["messages"][-1]["content"][:40]  # noqa: OWA301
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __event_emitter__=None):
            title = body["messages"][-1]["content"][:40]
            await __event_emitter__({"type": "notification", "data": {"type": "info", "content": title}})
    ```

    ## Fix
    `check --fix` removes the unused code from the comment, and the whole comment (or its
    line, when it stands alone) when it held only that code. A comment that says more than
    the codes (`# noqa: OWA301 -- reviewed`) is left for you.
    """

    code = "OWA002"
    name = "unused-suppression"
    level = Level.WARNING
    summary = "A `# noqa: OWAnnn` comment that suppressed nothing."
    engine_role = "unused-suppression"
    fixable = True
