"""OWA5: the return value and `files` contract (action contract §5, §13).

The browser acts only on `res.messages` of what `action` returns; each entry's `id` must be
a message the browser knows, and `files` entries need `type` in {image, file} and a `url`.
Values are folded statically (`analyzer.flow.events`): literals, dicts and lists built in
steps, helpers with a single `return`. What cannot be known keeps these rules silent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from analyzer.findings import Level
from analyzer.flow.events import (
    Const,
    DictV,
    Evaluator,
    ListV,
    Opaque,
    ReturnSite,
    Value,
    access_chain,
    action_returns,
    const_str,
    event_facts,
    function_body_nodes,
    local_bindings,
    reach_suffix,
    single_assignment,
    site_value,
    unwrap_await,
)
from analyzer.model import ActionModule, CallSite, FunctionInfo
from analyzer.rule import Invalid, LintRule, Valid

FILE_TYPES = frozenset({"image", "file"})
FILES_EVENTS = frozenset({"files", "chat:message:files"})
IGNORED_KEYS = ("content", "files", "embeds")


def _kind(value: Value) -> str:
    if isinstance(value, Const):
        return "None" if value.value is None else f"a {type(value.value).__name__}"
    if isinstance(value, ListV):
        return "a list"
    if isinstance(value, DictV):
        return "a dict"
    return "unknown"


@dataclass(frozen=True)
class Problem:
    node: cst.CSTNode | None
    message: str
    dict_entry: bool = False


def _suffix(model: ActionModule, function: FunctionInfo, path: tuple[CallSite, ...] = ()) -> str:
    if function is model.action_method:
        return ""
    if path and path[-1].callee == function.qualname:
        return reach_suffix(model, function, path)
    return reach_suffix(model, function)


def files_list_problems(files: Value, where: str) -> list[Problem]:
    """What is wrong with a `files` list value (entry by entry); [] when fine or unknown."""
    if isinstance(files, Opaque):
        return []
    if not isinstance(files, ListV):
        return [
            Problem(
                files.node,
                f"{where} is {_kind(files)}, not a list of entries; write "
                '`[{"type": "file", "name": ..., "url": ...}]`',
            )
        ]
    out: list[Problem] = []
    for entry in files.items:
        problem = file_entry_problem(entry, where)
        if problem is not None:
            out.append(problem)
    return out


def _short(node: cst.CSTNode, limit: int = 40) -> str:
    text = " ".join(cst.Module([]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def file_entry_problem(entry: Value, where: str) -> Problem | None:
    """One message for everything wrong with one entry, or None."""
    if isinstance(entry, Opaque):
        if isinstance(entry.node, (cst.FormattedString, cst.ConcatenatedString)):
            return Problem(
                entry.node,
                f"an entry of {where} is a string (`{_short(entry.node)}`), not a dict: the "
                'browser renders only dicts such as `{"type": "image", "url": url}` or '
                '`{"type": "file", "name": name, "url": url}`',
            )
        return None
    if not isinstance(entry, DictV):
        text = f" ({entry.value!r})" if isinstance(entry, Const) and entry.value else ""
        return Problem(
            entry.node,
            f"an entry of {where} is {_kind(entry)}{text}, not a dict: the browser renders "
            'only dicts such as `{"type": "image", "url": url}` or '
            '`{"type": "file", "name": name, "url": url}`',
        )
    issues: list[str] = []
    kind = entry.items.get("type")
    type_name = const_str(kind)
    if kind is None and entry.complete:
        issues.append("has no `type`")
    elif isinstance(kind, Const) and type_name not in FILE_TYPES:
        issues.append(f"has `type` {kind.value!r}")
    url = entry.items.get("url")
    if url is None and entry.complete:
        issues.append("has no `url`")
    elif isinstance(url, Const) and not isinstance(url.value, str):
        issues.append(f"has a `url` of {_kind(url)}")
    if not issues:
        return None
    if type_name == "file" and "name" not in entry.items and entry.complete:
        issues.append("has no `name` (shown on the file chip)")
    return Problem(
        entry.node,
        dict_entry=True,
        message=f"an entry of {where} {' and '.join(issues)}: the browser shows only entries with "
        '`"type"` `"image"` or `"file"` and a string `"url"`, so nothing appears; write '
        '`{"type": "image", "url": url}` or `{"type": "file", "name": name, "url": url}`',
    )


def _returned_value(model: ActionModule, site: ReturnSite) -> Value | None:
    if site.node.value is None:
        return None
    return site.evaluator(model).value(site.node.value, site.node)


def _messages_entries(value: Value | None) -> Iterator[Value]:
    if isinstance(value, DictV):
        messages = value.items.get("messages")
        if isinstance(messages, ListV):
            yield from messages.items


class MalformedFiles(LintRule):
    """
    ## What it does
    Checks every `files` list owui-lint can evaluate: in a `files` / `chat:message:files`
    event, and in a `files` key of a returned `messages[]` entry. Each entry must be a dict
    with `type` `"image"` or `"file"` and a string `url`; the event's `data` must be
    `{"files": [...]}`.

    ## Why is this bad?
    The browser renders only `message.files` entries whose `type` is `image` or `file`,
    from their `url` (§13 of the action contract). A bare URL string, `"type": "png"` or an
    entry without `url` is silently not shown: the user clicks and nothing appears. A files
    event whose `data` is the list itself (not `{"files": [...]}`) adds nothing.

    A `file` entry without `name` still renders (a chip without a label), so a missing
    `name` alone is not reported; it is mentioned when the entry is reported for another
    reason. Lists built dynamically (comprehensions over unknown data, helpers with several
    returns) are not evaluated, and nothing is reported for them.

    ## Example
    ```python
    await __event_emitter__(
        {"type": "files", "data": {"files": [image_url]}}
    )
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __event_emitter__=None):
            image_url = "/static/chart.png"
            await __event_emitter__(
                {"type": "files", "data": {"files": [{"type": "image", "url": image_url}]}}
            )
    ```
    """

    code = "OWA501"
    name = "malformed-files"
    level = Level.ERROR
    summary = "A `files` list whose entries the browser cannot render."

    def check(self) -> None:
        model = self.module
        facts = event_facts(model)
        for site in facts.sites:
            value = site_value(model, site)
            if value is None:
                continue
            for problem in self._event_problems(value):
                self._emit(problem, site.call, site.function)
        for ret in action_returns(model):
            returned = _returned_value(model, ret)
            for entry in _messages_entries(returned):
                if isinstance(entry, DictV) and "files" in entry.items:
                    where = "the `files` of a returned `messages` entry"
                    for problem in files_list_problems(entry.items["files"], where):
                        self._emit(problem, ret.node, ret.function, ret.path)

    def _event_problems(self, value: Value) -> list[Problem]:
        if not isinstance(value, DictV):
            return []
        event_type = const_str(value.items.get("type"))
        if event_type not in FILES_EVENTS:
            return []
        data = value.items.get("data")
        if data is None or isinstance(data, Opaque):
            return []  # a missing `data` is OWA405's
        if not isinstance(data, DictV):
            return [
                Problem(
                    None,
                    f'the `{event_type}` event\'s `data` is {_kind(data)}, not `{{"files": '
                    "[...]}`: the browser adds nothing; wrap the list: "
                    '`"data": {"files": [...]}`',
                )
            ]
        files = data.items.get("files")
        if files is None:
            if not data.complete:
                return []
            return [
                Problem(
                    None,
                    f"the `{event_type}` event's `data` has no `files` key: the browser adds "
                    'nothing; write `"data": {"files": [{"type": "image", "url": url}]}`',
                )
            ]
        return files_list_problems(files, f"the `{event_type}` event's `files`")

    def _emit(
        self,
        problem: Problem,
        fallback: cst.CSTNode,
        function: FunctionInfo,
        path: tuple[CallSite, ...] = (),
    ) -> None:
        model = self.module
        node = fallback
        if problem.node is not None:
            owner = model.enclosing_function(problem.node)
            # A dict entry is fixed where it is written; anything else where it is placed.
            if owner is function or (problem.dict_entry and owner is not None):
                node = problem.node
                function = owner or function
        self.report(
            None,
            problem.message + _suffix(model, function, path),
            location=model.statement_location(node),
        )

    VALID = [
        Valid(
            """
            import base64

            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> None:
                    text = body["messages"][-1]["content"]
                    data = base64.b64encode(text.encode()).decode()
                    await __event_emitter__(
                        {
                            "type": "files",
                            "data": {
                                "files": [
                                    {
                                        "type": "file",
                                        "name": "reply.txt",
                                        "url": f"data:text/plain;base64,{data}",
                                    }
                                ]
                            },
                        }
                    )
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    payload = {"type": "chat:message:files", "data": {"files": []}}
                    for url in body.get("images", []):
                        payload["data"]["files"].append({"type": "image", "url": url})
                    await __event_emitter__(payload)
            """
        ),
        Valid(
            """
            class Action:
                def _entries(self, urls):
                    return [{"type": "image", "url": u} for u in urls]

                async def action(self, body, __event_emitter__=None):
                    files = self._entries(body.get("urls", []))
                    await __event_emitter__({"type": "files", "data": {"files": files}})
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    url = "https://img.example.com/cat.png"
                    return {
                        "messages": [
                            {"id": body["id"], "files": [{"type": "image", "url": url}]}
                        ]
                    }
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    # A file chip without a label still renders: not reported on its own.
                    await __event_emitter__(
                        {"type": "files", "data": {"files": [{"type": "file", "url": "/api/v1/files/1/content"}]}}
                    )
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    event = build_event(body)  # imported or dynamic: unknown, silent
                    await __event_emitter__({"type": "files", "data": event})
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    image_url = await self._render(body)
                    await __event_emitter__(
                        {"type": "files", "data": {"files": [image_url]}}
                    )

                async def _render(self, body):
                    return "https://img.example.com/out.png"
            """,
            lines=(4,),
            message="is a str",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    files = []
                    for i, url in enumerate(body.get("images", [])):
                        files.append({"type": "png", "url": url, "name": f"image-{i}.png"})
                    await __event_emitter__({"type": "files", "data": {"files": files}})
            """,
            lines=(5,),
            message="`type` 'png'",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    entries = [{"type": "image", "url": u} for u in body["urls"]]
                    await __event_emitter__({"type": "files", "data": entries})
            """,
            lines=(4,),
            message='`data` is a list, not `{"files": [...]}`',
        ),
        Invalid(
            """
            import base64

            class Action:
                async def action(self, body, __user__=None):
                    csv = "role,content\\n" + "\\n".join(m["role"] for m in body["messages"])
                    blob = base64.b64encode(csv.encode()).decode()
                    return {
                        "messages": [
                            {
                                "id": body["id"],
                                "files": [{"type": "file", "data": blob}],
                            }
                        ]
                    }
            """,
            lines=(7,),
            message="has no `url`",
        ),
        Invalid(
            """
            class Action:
                async def _send_files(self, emitter, entries):
                    await emitter({"type": "files", "data": {"files": entries}})

                async def action(self, body, __event_emitter__=None):
                    payload = {"type": "files"}
                    payload["data"] = {"attachments": [{"type": "image", "url": "x"}]}
                    await __event_emitter__(payload)
            """,
            lines=(8,),
            message="has no `files` key",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    entry = {"name": "summary.md"}
                    entry["url"] = "/api/v1/files/abc/content"
                    await __event_emitter__({"type": "files", "data": {"files": [entry]}})
            """,
            lines=(3,),
            message="has no `type`",
        ),
    ]


class IgnoredReturnKey(LintRule):
    """
    ## What it does
    Reports each `return` of a dict with a `content`, `files` or `embeds` key but no
    `messages` key, from `action` or from a helper whose result `action` returns.

    ## Why is this bad?
    The browser reads only `res.messages` of an action's result (§5 of the action
    contract): a top-level `{"content": ...}` or `{"files": [...]}` changes nothing, so the
    button appears to do nothing. Changes go into an entry of `messages`, keyed by a message
    id from `body`, or are sent as events (`message`, `replace`, `files`, `embeds`).

    A dict with `**spread` entries is not reported (it may hold `messages`).

    ## Example
    ```python
    return {"content": summary}
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body):
            summary = body["messages"][-1]["content"][:200]
            return {"messages": [{"id": body["id"], "content": summary}]}
    ```
    """

    code = "OWA502"
    name = "ignored-return-key"
    level = Level.WARNING
    summary = "A returned `content` / `files` / `embeds` key that the browser ignores."

    def check(self) -> None:
        model = self.module
        for ret in action_returns(model):
            value = _returned_value(model, ret)
            if not isinstance(value, DictV) or "messages" in value.items or not value.complete:
                continue
            keys = [k for k in IGNORED_KEYS if k in value.items]
            if not keys:
                continue
            shown = ", ".join(f"`{k}`" for k in keys)
            key = keys[0]
            suffix = _suffix(model, ret.function, ret.path)
            self.report(
                None,
                f"the returned {shown} is ignored: the browser applies only `messages` entries "
                f'of the result; return `{{"messages": [{{"id": body["id"], "{key}": ...}}]}}` '
                f"or send a `{'message' if key == 'content' else key}` event instead" + suffix,
                location=model.statement_location(ret.node),
            )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    summary = body["messages"][-1]["content"][:200]
                    return {"messages": [{"id": body["id"], "content": summary}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "message", "data": {"content": "done"}})
                    return None
            """
        ),
        Valid(
            """
            class Action:
                def _result(self, body, extra):
                    return {**extra, "content": "ok"}

                async def action(self, body):
                    return self._result(body, {"messages": []})
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    result = {"content": body["messages"][-1]["content"].upper()}
                    result["messages"] = [{"id": body["id"], "content": result["content"]}]
                    return result
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    stats = {"content": "n/a"}  # used only to build the notification
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    text = body["messages"][-1]["content"]
                    return {"content": text.upper()}
            """,
            lines=(4,),
            message="only `messages` entries",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    url = "https://img.example.com/chart.png"
                    if not body.get("messages"):
                        return {"content": "Nothing to chart"}
                    return {"files": [{"type": "image", "url": url}]}
            """,
            lines=(5, 6),
        ),
        Invalid(
            """
            class Action:
                async def _finish(self, text):
                    return {"content": text, "embeds": []}

                async def action(self, body):
                    return await self._finish(body["messages"][-1]["content"])
            """,
            lines=(3,),
            message="reaches it through Action._finish",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body):
                    out = {}
                    out["content"] = "Translated: " + body["messages"][-1]["content"]
                    return out
            """,
            lines=(5,),
        ),
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body, __user__=None):
                    html = "<b>chart</b>"
                    return dict(embeds=[html], content="chart below")
            """,
            lines=(6,),
            message="`content`, `embeds`",
        ),
    ]


def _is_html_response(model: ActionModule, expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call):
        return False
    names = model.resolve_name(expr.func)
    return any(n == "HTMLResponse" or n.endswith(".HTMLResponse") for n in names)


def _headers_arg(call: cst.Call) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "headers":
            return arg.value
    if len(positional) >= 3:
        return positional[2].value
    return None


class NonInlineHtmlResponse(LintRule):
    """
    ## What it does
    Reports a `return` of an `HTMLResponse` (or of an `(HTMLResponse, context)` tuple)
    whose headers do not say `Content-Disposition: inline`.

    ## Why is this bad?
    Open WebUI embeds an action's HTML only when the response is marked inline (§5 of the
    action contract). Any other `HTMLResponse` is sent raw to the browser, whose
    `res.json()` fails: the user sees an error toast instead of the rich UI.

    Headers owui-lint cannot evaluate (built elsewhere, passed in) are not reported, nor
    a response whose `headers` are set after it is built.

    ## Example
    ```python
    return HTMLResponse(content=html)
    ```

    ## Use instead
    ```python
    from fastapi.responses import HTMLResponse

    class Action:
        async def action(self, body):
            html = "<h1>Chat report</h1>"
            return HTMLResponse(content=html, headers={"Content-Disposition": "inline"})
    ```
    """

    code = "OWA503"
    name = "non-inline-html-response"
    level = Level.ERROR
    summary = "A returned `HTMLResponse` without `Content-Disposition: inline`."

    def check(self) -> None:
        model = self.module
        for ret in action_returns(model):
            assert ret.node.value is not None
            expr = unwrap_await(ret.node.value)
            if isinstance(expr, cst.Tuple) and expr.elements:
                expr = expr.elements[0].value
            call, name = self._response_call(expr, ret.function, ret.node)
            if call is None:
                continue
            problem = self._problem(call, ret, name)
            if problem is None:
                continue
            suffix = _suffix(model, ret.function, ret.path)
            self.report(
                None,
                f"this `HTMLResponse` {problem}: Open WebUI sends it raw and the browser shows "
                "an error toast instead of the HTML; pass "
                '`headers={"Content-Disposition": "inline"}`' + suffix,
                location=model.statement_location(ret.node),
            )

    def _response_call(
        self, expr: cst.BaseExpression, info: FunctionInfo, at: cst.CSTNode
    ) -> tuple[cst.Call | None, str | None]:
        model = self.module
        if _is_html_response(model, expr):
            return cst.ensure_type(expr, cst.Call), None
        if isinstance(expr, cst.Name):
            binding = single_assignment(model, info, expr.value)
            if binding is not None and binding.value is not None:
                value = unwrap_await(binding.value)
                if _is_html_response(model, value):
                    return cst.ensure_type(value, cst.Call), expr.value
        return None, None

    def _problem(self, call: cst.Call, ret: ReturnSite, name: str | None) -> str | None:
        model = self.module
        if name is not None and self._headers_set_later(ret.function, name):
            return None
        headers = _headers_arg(call)
        if headers is None:
            return "has no `Content-Disposition` header"
        value = Evaluator(model, ret.function, ret.env).value(headers, call)
        if not isinstance(value, DictV):
            return None
        for key, item in value.items.items():
            if key.lower() == "content-disposition":
                text = const_str(item)
                if text is not None and "inline" not in text.lower():
                    return f"has `Content-Disposition: {text}`"
                return None
        return "has no `Content-Disposition` header" if value.complete else None

    def _headers_set_later(self, info: FunctionInfo, name: str) -> bool:
        for node in function_body_nodes(self.module, info):
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    chain = access_chain(t.target)
                    root = chain[0] if chain else None
                    if (
                        isinstance(root, cst.Attribute)
                        and isinstance(root.value, cst.Name)
                        and root.value.value == name
                        and root.attr.value == "headers"
                    ):
                        return True
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and isinstance(node.func.value, cst.Attribute)
                and isinstance(node.func.value.value, cst.Name)
                and node.func.value.value.value == name
                and node.func.value.attr.value == "headers"
            ):
                return True
        return False

    VALID = [
        Valid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body, __user__=None):
                    html = "<h1>Report</h1>"
                    return HTMLResponse(content=html, headers={"Content-Disposition": "inline"})
            """
        ),
        Valid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body):
                    response = HTMLResponse(content="<div id='chart'></div>")
                    response.headers["Content-Disposition"] = "inline"
                    return response
            """
        ),
        Valid(
            """
            from starlette.responses import HTMLResponse

            INLINE = {"Content-Disposition": "inline; filename=chart.html"}

            class Action:
                async def action(self, body):
                    return HTMLResponse("<svg></svg>", 200, INLINE), {"status": "ok"}
            """
        ),
        Valid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                def __init__(self):
                    self.headers = {"Content-Disposition": "inline"}

                async def action(self, body):
                    return HTMLResponse(content="<p>hi</p>", headers=self.headers)
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    html = "<p>report</p>"
                    return html, {"Content-Disposition": "inline", "Content-Type": "text/html"}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body: dict, __user__=None):
                    rows = "".join(f"<li>{len(m['content'])}</li>" for m in body["messages"])
                    return HTMLResponse(content=f"<ul>{rows}</ul>")
            """,
            lines=(6,),
            message="has no `Content-Disposition` header",
        ),
        Invalid(
            """
            from fastapi.responses import HTMLResponse as Html

            class Action:
                async def action(self, body):
                    page = Html(
                        content="<h1>Chart</h1>",
                        headers={"Content-Type": "text/html"},
                    )
                    return page
            """,
            lines=(9,),
        ),
        Invalid(
            """
            import fastapi.responses

            class Action:
                async def action(self, body):
                    return fastapi.responses.HTMLResponse(
                        "<h1>Download</h1>",
                        headers={"Content-Disposition": "attachment; filename=report.html"},
                    )
            """,
            lines=(5,),
            message="`Content-Disposition: attachment",
        ),
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                def _render(self, html):
                    return HTMLResponse(content=html)

                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Rendering", "done": True}})
                    return self._render("<table></table>")
            """,
            lines=(5,),
            message="reaches it through Action._render",
        ),
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body):
                    context = {"rendered": True}
                    return HTMLResponse(content="<b>ok</b>"), context
            """,
            lines=(6,),
        ),
    ]


# --- message ids ---------------------------------------------------------------------------

Origin = Literal["body", "foreign", "unknown"]
_FOREIGN_CALL_PREFIXES = ("uuid.", "secrets.", "time.", "datetime.", "random.")
_PASS_THROUGH = frozenset({"str", "reversed", "list", "sorted", "tuple", "copy.copy"})
_MAX = 8


@dataclass(frozen=True)
class _Path:
    root: Literal["body", "user"]
    keys: tuple[str, ...]


def _comprehension_source(
    model: ActionModule, name: cst.Name
) -> cst.BaseExpression | Literal[False] | None:
    """The iterable a comprehension variable ranges over; False when `name` is not one."""
    for parent in model.ancestors(name):
        if isinstance(parent, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            comp: cst.CompFor | None = parent.for_in
            while comp is not None:
                if any(t.value == name.value for t in _names_in(comp.target)):
                    return _element_source(comp.target, name.value, comp.iter)
                comp = comp.inner_for_in
        if isinstance(parent, (cst.FunctionDef, cst.Lambda)):
            break
    return False


def _names_in(target: cst.BaseExpression) -> Iterator[cst.Name]:
    pending = [target]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Name):
            yield current
        elif isinstance(current, (cst.Tuple, cst.List)):
            pending += [element.value for element in reversed(current.elements)]


def _element_source(
    target: cst.BaseExpression, name: str, iterable: cst.BaseExpression
) -> cst.BaseExpression | None:
    """For `for name in iterable` (or `for i, name in enumerate(iterable)`)."""
    if isinstance(target, cst.Name):
        return iterable
    if (
        isinstance(target, cst.Tuple)
        and len(target.elements) == 2
        and isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Name)
        and iterable.func.value == "enumerate"
        and iterable.args
    ):
        second = target.elements[1].value
        if isinstance(second, cst.Name) and second.value == name:
            return iterable.args[0].value
    return None


class _Origins:
    """Where a message id comes from: `body`, something foreign, or unknown."""

    def __init__(self, model: ActionModule) -> None:
        self.model = model

    def of_value(self, value: Value, depth: int = 0) -> tuple[Origin, str]:
        if isinstance(value, Const):
            return "foreign", f"the literal {value.value!r}"
        if isinstance(value, (DictV, ListV)):
            return "foreign", _kind(value)
        if value.node is None or value.function is None or depth > _MAX:
            return "unknown", ""
        if not isinstance(value.node, cst.BaseExpression):
            return "unknown", ""
        return self.of_expr(value.node, value.function, value.env, depth + 1)

    def of_expr(
        self, expr: cst.BaseExpression, info: FunctionInfo, env: Mapping[str, Value], depth: int
    ) -> tuple[Origin, str]:
        model = self.model
        code = model.module.code_for_node(expr).strip()
        if depth > _MAX:
            return "unknown", ""
        path = self.path(expr, info, env, depth)
        if path is not None:
            if path.root == "user":
                return "foreign", f"`{code}` (the user's id, not a message id)"
            if path.keys in (("id",), ("messages", "*", "id")):
                return "body", ""
            if "?" in path.keys:
                return "unknown", ""
            return "foreign", f"`{code}` (not a message id from `body`)"
        if isinstance(expr, cst.Name) and expr.value in env:
            return self.of_value(env[expr.value], depth + 1)
        if isinstance(expr, cst.Name):
            binding = single_assignment(model, info, expr.value)
            if binding is not None and binding.value is not None:
                return self.of_expr(binding.value, info, env, depth + 1)
            return "unknown", ""
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.Integer)):
            return "foreign", f"the literal `{code}`"
        if isinstance(expr, cst.FormattedString):
            parts = expr.parts
            if len(parts) == 1 and isinstance(parts[0], cst.FormattedStringExpression):
                return self.of_expr(parts[0].expression, info, env, depth + 1)
            return "foreign", f"`{code}` (a new string)"
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return "foreign", f"`{code}` (a new string)"
        if isinstance(expr, cst.Call):
            names = model.resolve_name(expr.func)
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("hex", "upper"):
                names = names | model.resolve_name(expr.func.value)
            if isinstance(expr.func, cst.Name) and expr.func.value == "str" and expr.args:
                return self.of_expr(expr.args[0].value, info, env, depth + 1)
            if any(n.startswith(_FOREIGN_CALL_PREFIXES) for n in names):
                return "foreign", f"`{code}` (a new id)"
        if isinstance(expr, cst.Attribute) and expr.attr.value == "hex":
            inner = expr.value
            if isinstance(inner, cst.Call) and any(
                n.startswith("uuid.") for n in model.resolve_name(inner.func)
            ):
                return "foreign", f"`{code}` (a new id)"
        return "unknown", ""

    def path(
        self, expr: cst.BaseExpression, info: FunctionInfo, env: Mapping[str, Value], depth: int
    ) -> _Path | None:
        """The access path of `expr` from `body` or `__user__`, or None."""
        model = self.model
        if depth > _MAX:
            return None
        expr = unwrap_await(expr)
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            return self.path(expr.left, info, env, depth + 1)
        if isinstance(expr, cst.Name):
            name = expr.value
            if name in env:
                value = env[name]
                if isinstance(value, Opaque) and isinstance(value.node, cst.BaseExpression):
                    if value.function is None:
                        return None
                    return self.path(value.node, value.function, value.env, depth + 1)
                return None
            source = _comprehension_source(model, expr)
            if source is not False:
                if source is None:
                    return None
                inner = self.path(source, info, env, depth + 1)
                return _Path(inner.root, (*inner.keys, "*")) if inner else None
            bindings = local_bindings(model, info).get(name, [])
            if not bindings:
                if name == "body" and info is model.action_method:
                    return _Path("body", ())
                if name == "__user__" and "__user__" in info.param_names():
                    return _Path("user", ())
                return None
            if len(bindings) != 1:
                return None
            binding = bindings[0]
            if binding.kind in ("assign", "ann", "walrus") and binding.value is not None:
                return self.path(binding.value, info, env, depth + 1)
            if binding.kind == "for" and binding.value is not None and binding.target is not None:
                source = _element_source(binding.target, name, binding.value)
                if source is None:
                    return None
                inner = self.path(source, info, env, depth + 1)
                return _Path(inner.root, (*inner.keys, "*")) if inner else None
            return None
        if isinstance(expr, cst.Call) and expr.args:
            names = model.resolve_name(expr.func)
            if names & _PASS_THROUGH or (
                isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "copy"
            ):
                target = (
                    expr.func.value
                    if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "copy"
                    else expr.args[0].value
                )
                return self.path(target, info, env, depth + 1)
        chain = access_chain(expr)
        if chain is None or not chain[1]:
            return None
        base, keys = chain
        inner = self.path(base, info, env, depth + 1)
        if inner is None:
            return None
        out = list(inner.keys)
        for key in keys:
            if isinstance(key, str):
                out.append(key)
            elif isinstance(key, int):
                out.append("*")
            else:
                # A slice keeps a list of the same items; a computed key is unknown.
                out.append("?")
        return _Path(inner.root, tuple(out))


class UnknownMessageId(LintRule):
    """
    ## What it does
    Reports a returned `messages[]` entry whose `id` is not a message id taken from `body`
    (`body["id"]`, `body["messages"][i]["id"]`, or an entry of a loop or comprehension over
    `body["messages"]`), or an entry with no `id` at all.

    ## Why is this bad?
    For each returned entry the browser reads `history.messages[entry.id].content` with no
    null check (§5 of the action contract): an id it does not know (a fresh `uuid4()`, a
    literal, `body["chat_id"]`) throws, and nothing of the result is applied or saved.

    Ids whose origin cannot be traced (an imported helper, a value passed in from
    elsewhere) are not reported.

    ## Example
    ```python
    return {"messages": [{"id": str(uuid.uuid4()), "content": summary}]}
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body):
            summary = body["messages"][-1]["content"][:200]
            return {"messages": [{"id": body["id"], "content": summary}]}
    ```
    """

    code = "OWA504"
    name = "unknown-message-id"
    level = Level.ERROR
    summary = "A returned `messages[]` entry whose `id` the browser does not know."

    def check(self) -> None:
        model = self.module
        origins = _Origins(model)
        for ret in action_returns(model):
            value = _returned_value(model, ret)
            for entry in _messages_entries(value):
                if not isinstance(entry, DictV):
                    continue
                ident = entry.items.get("id")
                if ident is None:
                    if entry.complete:
                        self._at(
                            entry.node,
                            ret,
                            "this returned `messages` entry has no `id`: the browser looks up "
                            "`history.messages[undefined]` and throws; add "
                            '`"id": body["id"]`',
                        )
                    continue
                origin, why = origins.of_value(ident)
                if origin != "foreign":
                    continue
                self._at(
                    ident.node or entry.node,
                    ret,
                    f"this returned `messages` entry's `id` is {why}: the browser knows only the "
                    "messages of this chat and throws on any other id, so nothing is applied; "
                    'use `body["id"]` (the clicked message) or an id from `body["messages"]`',
                )

    def _at(self, node: cst.CSTNode | None, ret: ReturnSite, message: str) -> None:
        model = self.module
        function = model.enclosing_function(node) if node is not None else None
        if node is None or function is None:
            node, function = ret.node, ret.function
        self.report(
            None,
            message + _suffix(model, function, ret.path),
            location=model.statement_location(node),
        )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    last = body["messages"][-1]
                    return {"messages": [{"id": last["id"], "content": last["content"].strip()}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    updated = []
                    for message in body["messages"]:
                        if message["role"] == "assistant":
                            updated.append({"id": message["id"], "content": message["content"][:500]})
                    return {"messages": updated}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    return {
                        "messages": [
                            {"id": m["id"], "content": m["content"].replace("\\t", "  ")}
                            for m in body.get("messages", [])
                        ]
                    }
            """
        ),
        Valid(
            """
            class Action:
                def _entry(self, message_id, text):
                    return {"id": message_id, "content": text}

                async def action(self, body):
                    message_id = body.get("id")
                    return {"messages": [self._entry(message_id, "Translated.")]}
            """
        ),
        Valid(
            """
            from mylib import pick_message

            class Action:
                async def action(self, body):
                    target = pick_message(body)
                    return {"messages": [{"id": target, "content": "ok"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body):
                    for i, message in enumerate(reversed(body["messages"])):
                        if message["role"] == "user":
                            return {"messages": [{"id": message["id"], "content": "(edited)"}]}
                    return None
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import uuid

            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    summary = body["messages"][-1]["content"][:200]
                    return {"messages": [{"id": str(uuid.uuid4()), "role": "assistant", "content": summary}]}
            """,
            lines=(6,),
            message="a new id",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body):
                    return {"messages": [{"id": body["chat_id"], "content": "Archived."}]}
            """,
            lines=(3,),
            message='`body["chat_id"]`',
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    note = {"role": "assistant", "content": "Saved to your notes."}
                    return {"messages": [note]}
            """,
            lines=(3,),
            message="has no `id`",
        ),
        Invalid(
            """
            from uuid import uuid4

            class Action:
                def _reply(self, text):
                    return {"id": uuid4().hex, "content": text}

                async def action(self, body):
                    return {"messages": [self._reply("Done")]}
            """,
            lines=(5,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    entry = {"content": "Hello " + user.get("name", "")}
                    entry["id"] = user["id"]
                    return {"messages": [entry]}
            """,
            lines=(5,),
            message="the user's id",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body):
                    last_id = body["messages"][-1]["id"]
                    return {"messages": [{"id": f"{last_id}-summary", "content": "..."}]}
            """,
            lines=(4,),
            message="a new string",
        ),
    ]
