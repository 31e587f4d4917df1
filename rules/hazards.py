"""OWA6: other security and runtime hazards (action contract §1, §7, §10, §11).

Untrusted data reaching code execution, shells, deserialisers, file paths (OWA601) and
outbound URLs (OWA606) is found with `analyzer.flow.taint`, one policy per kind of sink.
Per-request data kept on the shared instance (OWA605) uses the same engine with the
injected objects as sources, and `analyzer.flow.events` for aliases of the emitter. The
other rules read the frontmatter (OWA602), the raw text the loader rewrites (OWA603), the
data-layer catalog (OWA604) and the module-level statements (OWA607).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import libcst as cst

from analyzer.findings import Confidence, Level
from analyzer.flow.events import (
    Binding,
    event_facts,
    local_bindings,
    reach_suffix,
    single_assignment,
)
from analyzer.flow.privileged import ModelMethod, lookup_model_method, model_methods
from analyzer.flow.taint import (
    BODY,
    INPUT,
    MODEL,
    USER,
    USER_VALVES,
    Taint,
    TaintPolicy,
    describe_taint,
    taint_engine,
)
from analyzer.model import ActionModule, FunctionInfo, assigned_value, string_value
from analyzer.rule import Invalid, LintRule, Valid
from rules.scaffold import frontmatter

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

# `__user__` fields the server sets: never attacker text.
SERVER_USER_KEYS = frozenset({"id", "role"})


def _suffix(model: ActionModule, info: FunctionInfo | None) -> str:
    if info is None or info is model.action_method:
        return ""
    return reach_suffix(model, info)


def _code(model: ActionModule, node: cst.CSTNode, limit: int = 50) -> str:
    if node in model.index:  # from the source text: no recursion into deep expressions
        rng = model.position(node)
        lines = model.source.lines[rng.start.line - 1 : rng.end.line]
        if len(lines) == 1:
            raw = lines[0][rng.start.column : rng.end.column]
        else:
            raw = "\n".join(
                [lines[0][rng.start.column :], *lines[1:-1], lines[-1][: rng.end.column]]
            )
    else:
        raw = model.module.code_for_node(node)
    text = " ".join(raw.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(model: ActionModule, expr: cst.BaseExpression) -> frozenset[str]:
    return frozenset(n.removeprefix("builtins.") for n in model.resolve_name(expr))


def _positional(call: cst.Call, index: int, *keywords: str) -> cst.BaseExpression | None:
    """The argument at position `index` or passed as one of `keywords`."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg.value
    plain = [a for a in call.args if a.keyword is None and not a.star]
    return plain[index].value if index < len(plain) else None


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    return next((a.value for a in call.args if a.keyword and a.keyword.value == name), None)


def _reachable(model: ActionModule) -> Iterator[FunctionInfo]:
    for qual in model.reachable:
        yield model.functions[qual]


def _calls(model: ActionModule, info: FunctionInfo) -> Iterator[tuple[cst.Call, cst.Call]]:
    """(the call in the code, the call it makes): each call of `info` as itself, and a call
    made for you (`asyncio.to_thread(f, a)`, `loop.run_in_executor(None, f, a)`,
    `partial(f, a)`, `Thread(target=f, args=(a,))`) also as `f(a)` (`ActionModule.deferred_call`:
    a call built there, not part of the module; its parts are)."""
    for call in model.own_of(info.node.body, cst.Call, lambdas=False):
        yield call, call
        deferred = model.deferred_call(call)
        if deferred is not None:
            yield call, deferred.call


# --- OWA601 ----------------------------------------------------------------------------------


def _literal_text(node: cst.BaseExpression | None) -> str | None:
    return string_value(node) if node is not None else None


def _cleans_path(model: ActionModule, call: cst.Call) -> bool:
    """Calls that take the directory separators out of a name: `name.replace("/", "_")`,
    `re.sub(r"[^\\w.-]", "_", name)`, `"".join(c for c in name if c.isalnum())`."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "replace" and call.args:
        text = _literal_text(call.args[0].value)
        return text is not None and ("/" in text or "\\" in text)
    if "re.sub" in model.resolve_name(func) and call.args:
        pattern = _literal_text(call.args[0].value)
        return pattern is not None and ("/" in pattern or pattern.startswith("[^"))
    if isinstance(func, cst.Attribute) and func.attr.value == "join" and call.args:
        gen = call.args[0].value
        if isinstance(gen, (cst.GeneratorExp, cst.ListComp)) and gen.for_in.ifs:
            return any(
                isinstance(test, cst.Call)
                and isinstance(test.func, cst.Attribute)
                and test.func.attr.value in ("isalnum", "isalpha", "isdigit", "isidentifier")
                for clause in gen.for_in.ifs
                for test in model.walk_of(clause.test, cst.Call)
            )
    return False


CODE_POLICY = TaintPolicy("code", frozenset(), SERVER_USER_KEYS)
SHELL_POLICY = TaintPolicy(
    "shell", frozenset({"shlex.quote", "pipes.quote", "shlex.join"}), SERVER_USER_KEYS
)
PATH_POLICY = TaintPolicy(
    "path",
    frozenset(
        {
            "os.path.basename",
            "posixpath.basename",
            "ntpath.basename",
            "werkzeug.utils.secure_filename",
            "pathvalidate.sanitize_filename",
            "slugify.slugify",
            "hashlib.md5",
            "hashlib.sha1",
            "hashlib.sha256",
            "uuid.uuid4",
            "tempfile.NamedTemporaryFile",
            "tempfile.TemporaryDirectory",
            "tempfile.mkstemp",
            "tempfile.mkdtemp",
            "tempfile.gettempdir",
        }
    ),
    SERVER_USER_KEYS,
    sanitizer_call=_cleans_path,
    opaque_awaited=True,
    writes_taint=False,
)

CODE_SINKS = frozenset({"eval", "exec", "compile"})
DESERIALIZERS = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "marshal.loads",
        "marshal.load",
        "dill.loads",
        "cloudpickle.loads",
        "yaml.unsafe_load",
        "jsonpickle.decode",
    }
)
SAFE_YAML_LOADERS = frozenset(
    {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
)
SHELL_SINKS = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
    }
)
PROCESS_SINKS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "asyncio.create_subprocess_exec",
        "os.execv",
        "os.execvp",
        "os.execl",
        "os.execlp",
        "os.spawnv",
        "os.spawnl",
        "pty.spawn",
    }
)
# File-system calls and how many leading arguments are paths.
PATH_SINKS: dict[str, int] = {
    "open": 1,
    "io.open": 1,
    "codecs.open": 1,
    "aiofiles.open": 1,
    "os.remove": 1,
    "os.unlink": 1,
    "os.rmdir": 1,
    "os.removedirs": 1,
    "os.mkdir": 1,
    "os.makedirs": 1,
    "os.listdir": 1,
    "os.rename": 2,
    "os.replace": 2,
    "shutil.rmtree": 1,
    "shutil.copy": 2,
    "shutil.copy2": 2,
    "shutil.copyfile": 2,
    "shutil.copytree": 2,
    "shutil.move": 2,
    "shutil.make_archive": 1,
    "shutil.unpack_archive": 2,
}
# `pathlib.Path` methods; the ambiguous ones (`str.replace`) only on a value known to be a path.
PATH_METHODS = frozenset(
    {"write_text", "write_bytes", "read_text", "read_bytes", "unlink", "mkdir", "touch", "rmdir"}
)
AMBIGUOUS_PATH_METHODS = frozenset({"open", "rename", "replace"})
PATH_TYPES = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "Path"})
UNTRUSTED_601 = frozenset({BODY, MODEL, USER, USER_VALVES, INPUT})


@dataclass(frozen=True)
class _Sink:
    kind: str  # code, shell, process, deserialize, path
    args: tuple[cst.BaseExpression, ...]
    policy: TaintPolicy
    shell: bool = False


def _is_path_value(model: ActionModule, info: FunctionInfo, expr: cst.BaseExpression) -> bool:
    """`Path(x)`, `base / name`, or a local name assigned one of those."""
    for _ in range(4):
        if isinstance(expr, cst.Call):
            return bool(_names(model, expr.func) & PATH_TYPES)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
            return True
        if isinstance(expr, cst.Name):
            binding = single_assignment(model, info, expr.value)
            if binding is None or binding.value is None:
                return False
            expr = binding.value
            continue
        return False
    return False


def _sink_of(model: ActionModule, info: FunctionInfo, call: cst.Call) -> _Sink | None:
    names = _names(model, call.func)
    if names & CODE_SINKS:
        first = _positional(call, 0, "source", "code")
        return _Sink("code", (first,), CODE_POLICY) if first is not None else None
    if names & DESERIALIZERS or (
        "yaml.load" in names
        and not (
            _names(model, loader) & SAFE_YAML_LOADERS
            if (loader := _positional(call, 1, "Loader")) is not None
            else False
        )
    ):
        first = _positional(call, 0, "data", "stream", "file", "string")
        return _Sink("deserialize", (first,), CODE_POLICY) if first is not None else None
    if names & SHELL_SINKS:
        first = _positional(call, 0, "cmd", "command")
        return _Sink("shell", (first,), SHELL_POLICY, shell=True) if first is not None else None
    if names & PROCESS_SINKS:
        shell = _keyword(call, "shell")
        is_shell = isinstance(shell, cst.Name) and shell.value == "True"
        args = tuple(a.value for a in call.args if a.keyword is None or a.keyword.value == "args")
        return _Sink("process", args, SHELL_POLICY, shell=is_shell) if args else None
    for name in sorted(names):
        count = PATH_SINKS.get(name)
        if count is not None:
            paths = [
                _positional(call, i, "file", "path", "src", "dst", "name") for i in range(count)
            ]
            found = tuple(p for p in paths if p is not None)
            return _Sink("path", found, PATH_POLICY) if found else None
    func = call.func
    if isinstance(func, cst.Attribute) and (
        func.attr.value in PATH_METHODS
        or (func.attr.value in AMBIGUOUS_PATH_METHODS and _is_path_value(model, info, func.value))
    ):
        return _Sink("path", (func.value,), PATH_POLICY)
    return None


_SINK_TEXT = {
    "code": (
        "runs it as Python in the server process (code injection, CWE-94)",
        "never evaluate untrusted text: parse it with `json.loads` or `ast.literal_eval`",
    ),
    "deserialize": (
        "deserialises it, which can run arbitrary code in the server process (CWE-94)",
        "exchange data as JSON (`json.loads`) or use `yaml.safe_load`",
    ),
    "shell": (
        "hands it to a shell (command injection, CWE-78)",
        "pass an argument list without `shell=True`, or quote each value with `shlex.quote`",
    ),
    "process": (
        "passes it to a process the server starts (command or argument injection, CWE-78)",
        "keep the program and its options fixed, validate the value against an allow-list "
        "and put it after `--`",
    ),
    "path": (
        "uses it in a file path (path traversal, CWE-22): `../` reaches any file the server "
        "can read or write",
        "keep a fixed directory and use only `os.path.basename(name)` (or a generated id) "
        "inside it",
    ),
}


class UntrustedInputToDangerousCall(LintRule):
    """
    ## What it does
    Follows `body` (client-controlled chat content), model output, `__user__` fields,
    UserValves and `input` answers through assignments, f-strings, `+`, `%`, `.format`,
    containers and the module's helpers, and reports where they reach:

    - `eval`, `exec`, `compile`, `pickle.loads`, `marshal.loads`, `yaml.load` without a
      safe loader (code execution);
    - `subprocess.*`, `os.system`, `os.popen`, `asyncio.create_subprocess_*` (any argument;
      `shell=True`, `os.system` and `os.popen` mean a shell and raise the confidence);
    - file-system paths of `open`, `os.remove`, `os.makedirs`, `shutil.*` and `Path(...)`
      methods such as `write_text` (path traversal).

    Sanitisers: `shlex.quote` for shells; `os.path.basename`, `secure_filename`, or
    replacing `/` in the name for paths; `int()` / `float()` casts for everything. The
    clicking user's `__user__["id"]` and `["role"]` are set by the server and are trusted,
    and so are admin `Valves`.

    ## Why is this bad?
    An action runs inside the Open WebUI server with its full privileges (§10 of the action
    contract). Any user who can see the button controls the request body, and model output
    follows prompt injections; a UserValve or the user's display name is free text too. Such
    text reaching `eval`, a shell or a file path becomes code execution, command
    injection (CWE-78) or a read / write / delete of any file on the server (CWE-22).

    ## Example
    ```python
    title = body["messages"][0]["content"][:40]
    with open(f"/app/backend/data/exports/{title}.md", "w") as fh:
        fh.write(markdown)
    ```

    ## Use instead
    ```python
    import os
    import re

    EXPORT_DIR = "/app/backend/data/exports"

    class Action:
        async def action(self, body, __event_emitter__=None):
            title = re.sub(r"[^\\w -]", "_", body["messages"][0]["content"][:40])
            markdown = "".join(m["content"] for m in body["messages"])
            with open(os.path.join(EXPORT_DIR, f"{title}.md"), "w") as fh:
                fh.write(markdown)
            await __event_emitter__({"type": "notification", "data": {"type": "success", "content": "Exported"}})
    ```
    """

    code = "OWA601"
    name = "untrusted-input-to-dangerous-call"
    level = Level.ERROR
    security = True
    cwe = (94, 78, 22)
    security_severity = "9.0"
    summary = (
        "Untrusted input reaches eval/exec, a shell or process, a deserialiser or a file path."
    )

    def check(self) -> None:
        model = self.module
        for info in _reachable(model):
            # One finding per tainted path variable: `os.makedirs(dirname(p))`, `open(p)`
            # and `os.remove(p)` share their root cause, the first one is reported.
            first: dict[tuple[str, frozenset[str]], list[int]] = {}
            pending: list[tuple[cst.Call, cst.Call, _Sink, Taint, list[int]]] = []
            for site, call in _calls(model, info):
                sink = _sink_of(model, info, call)
                if sink is None:
                    continue
                engine = taint_engine(model, sink.policy)
                taint: Taint = frozenset()
                for arg in sink.args:
                    taint |= engine.taint(arg, info)
                taint = frozenset(t for t in taint if t in UNTRUSTED_601)
                if not taint:
                    continue
                names = frozenset(
                    n.value
                    for arg in sink.args
                    for n in model.walk_of(arg, cst.Name)
                    if isinstance(n, cst.Name) and engine.taint(n, info)
                )
                line = model.position(site).start.line
                key = (sink.kind, names)
                if sink.kind == "path" and names and key in first:
                    first[key].append(line)
                    continue
                also: list[int] = []
                first[key] = also
                pending.append((site, call, sink, taint, also))
            for site, call, sink, taint, also in pending:
                self._report(info, site, call, sink, taint, also)

    def _report(
        self,
        info: FunctionInfo,
        site: cst.Call,
        call: cst.Call,
        sink: _Sink,
        taint: Taint,
        also: list[int],
    ) -> None:
        model = self.module
        what, fix = _SINK_TEXT[sink.kind]
        if sink.kind == "process" and sink.shell:
            what, fix = _SINK_TEXT["shell"]
        confidence = None
        if all(t == USER for t in taint) or (sink.kind == "process" and not sink.shell):
            confidence = Confidence.MEDIUM
        more = ""
        if also:
            more = " (the same path is used again on line" + ("s " if len(also) > 1 else " ")
            more += ", ".join(str(n) for n in sorted(set(also))) + ")"
        self.report(
            None,
            f"`{_code(model, call.func, 30)}(...)` gets a value built from "
            f"{describe_taint(taint)} and {what}{more}; {fix}" + _suffix(model, info),
            location=model.statement_location(site),
            confidence=confidence,
        )

    VALID = [
        Valid(
            """
            import os
            import re

            EXPORT_DIR = "/app/backend/data/exports"

            class Action:
                async def action(self, body, __user__=None):
                    title = body["messages"][0]["content"][:40]
                    safe = re.sub(r"[^\\w -]", "_", title)
                    path = os.path.join(EXPORT_DIR, __user__["id"], f"{safe}.md")
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w", encoding="utf-8") as fh:
                        fh.write(body["messages"][-1]["content"])
            """
        ),
        Valid(
            """
            import asyncio
            import shlex
            import subprocess

            class Action:
                def _run(self, text: str) -> str:
                    return subprocess.run(f"echo {shlex.quote(text)} | wc -w", shell=True, capture_output=True, text=True).stdout

                async def action(self, body):
                    count = await asyncio.to_thread(self._run, body["messages"][-1]["content"])
                    return {"content": count}
            """
        ),
        Valid(
            """
            import json
            import yaml

            class Action:
                async def action(self, body):
                    reply = body["messages"][-1]["content"]
                    try:
                        data = json.loads(reply)
                    except ValueError:
                        data = yaml.load(reply, Loader=yaml.SafeLoader)
                    return {"content": str(data)}
            """
        ),
        Valid(
            """
            import subprocess
            from pydantic import BaseModel

            class Action:
                class Valves(BaseModel):
                    converter: str = "/usr/bin/pandoc"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body):
                    pages = int(body.get("pages", 1))
                    subprocess.run([self.valves.converter, "--columns", str(pages), "/tmp/in.md"], check=True)
            """
        ),
        Valid(
            """
            from pathlib import Path

            class Action:
                def _file_name(self, title: str) -> str:
                    return "".join(c for c in title if c.isalnum() or c in " -_").strip() or "chat"

                async def action(self, body, __user__=None):
                    name = self._file_name(body.get("title", ""))
                    out = Path("/tmp/exports") / f"{name}.txt"
                    out.write_text(body["messages"][-1]["content"], encoding="utf-8")
            """
        ),
        Valid(
            """
            import logging

            log = logging.getLogger(__name__)

            class Action:
                async def action(self, body, __user__=None):
                    expression = body["messages"][-1]["content"]
                    log.info("evaluating %s for %s", expression, __user__["id"])
                    return {"content": str(len(expression))}
            """
        ),
        Valid(
            """
            import os
            import tempfile

            class Action:
                async def action(self, body, __user__=None):
                    # What is written into a temporary file never becomes its name.
                    upload = body["files"][0]["data"]
                    scratch = tempfile.NamedTemporaryFile(delete=False, suffix=".docx")
                    scratch.write(upload.encode())
                    scratch.close()
                    with open(scratch.name, "rb") as fh:
                        size = len(fh.read())
                    os.unlink(scratch.name)
                    return {"content": f"{size} bytes"}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body):
                    expression = body["messages"][-1]["content"].strip()
                    result = eval(expression)
                    return {"content": f"{expression} = {result}"}
            """,
            lines=(4,),
            message="`body` (client-controlled chat content)",
        ),
        Invalid(
            """
            import asyncio
            import subprocess

            class Action:
                def _convert(self, name: str) -> None:
                    subprocess.run(f"pandoc /tmp/chat.md -o /tmp/{name}.docx", shell=True, check=True)

                async def action(self, body, __event_call__=None):
                    name = await __event_call__({"type": "input", "data": {"title": "Export", "message": "File name?"}})
                    if not name:
                        return
                    await asyncio.to_thread(self._convert, name)
            """,
            lines=(6,),
            message="an `input` answer",
        ),
        Invalid(
            """
            import os

            class Action:
                async def action(self, body, __user__=None):
                    folder = os.path.join("/app/backend/data/exports", __user__["name"])
                    os.makedirs(folder, exist_ok=True)
                    with open(os.path.join(folder, "chat.md"), "w") as fh:
                        fh.write(body["messages"][-1]["content"])
            """,
            lines=(6,),
            message="the same path is used again on line 7",
        ),
        Invalid(
            """
            import base64
            import pickle

            class Action:
                async def action(self, body):
                    state = body.get("saved_state")
                    if state:
                        restored = pickle.loads(base64.b64decode(state))
                        return {"content": str(restored)}
            """,
            lines=(8,),
        ),
        Invalid(
            """
            import shutil
            from pathlib import Path

            class Action:
                def _target(self, user_valves) -> Path:
                    return Path("/srv/notes") / user_valves.notebook

                async def action(self, body, __user__=None):
                    target = self._target(__user__["valves"])
                    if target.exists():
                        shutil.rmtree(target)
                    target.mkdir(parents=True)
            """,
            lines=(11,),
            message="UserValves",
        ),
        Invalid(
            """
            import os
            from open_webui.utils.chat import generate_chat_completion

            class Action:
                async def action(self, body, __user__=None, __request__=None):
                    reply = await generate_chat_completion(__request__, {"model": body["model"], "messages": body["messages"]}, None)
                    command = reply["choices"][0]["message"]["content"]
                    output = os.popen(command).read()
                    return {"content": output}
            """,
            lines=(8,),
            message="model output",
        ),
    ]


# --- OWA602 ----------------------------------------------------------------------------------


def unsafe_requirement(item: str) -> str | None:
    """Why pip would treat `item` as more than a package from the configured index."""
    if item.startswith("-"):
        return "is a pip option, not a package"
    lowered = item.lower()
    for marker in ("git+", "hg+", "svn+", "bzr+"):
        if marker in lowered:
            return "installs from a version-control URL"
    if re.search(r"\b(https?|ftp)://", lowered) or lowered.startswith("file:"):
        return "installs from a URL"
    if " @ " in item or re.match(r"^[\w.\-\[\],]+\s*@", item):
        return "is a direct reference (`name @ url`)"
    return None


class UnsafeRequirements(LintRule):
    """
    ## What it does
    Reads the frontmatter `requirements` value the way Open WebUI does (split at commas,
    each item stripped) and reports items starting with `-` (pip options such as
    `--index-url`, `--extra-index-url`, `--trusted-host`, `-e`) and URL or version-control
    specs (`git+https://…`, `https://…/pkg.whl`, `file:…`, `name @ url`).

    ## Why is this bad?
    The loader passes the items to `pip install` as arguments, on every save, at every
    start-up and on every replica (§7 of the action contract). An option redirects all of
    the server's package installs to another index; a URL or a branch of a repository
    installs whatever is there at that moment, unpinned and unreviewed, into the server's
    Python environment (CWE-829).

    ## Example
    ```
    \"\"\"
    title: Summarise
    requirements: --extra-index-url https://pkgs.example.net/simple, git+https://github.com/me/tool.git
    \"\"\"
    ```

    ## Use instead
    ```python
    \"\"\"
    title: Summarise
    description: Summarise the chat with tool
    requirements: tool==1.4.2
    \"\"\"

    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "notification", "data": {"type": "info", "content": "Done"}})
    ```
    """

    code = "OWA602"
    name = "unsafe-requirements"
    level = Level.ERROR
    security = True
    cwe = (829,)
    summary = "A frontmatter `requirements` item that is a pip option or a URL / VCS spec."

    def check(self) -> None:
        found = frontmatter(self.module.source.text).get("requirements")
        if found is None:
            return
        line, value = found
        for item in (i.strip() for i in value.split(",")):
            if not item:
                continue
            why = unsafe_requirement(item)
            if why is None:
                continue
            self.report(
                None,
                f"the frontmatter `requirements` item `{item}` (line {line}) {why}: Open WebUI "
                "runs `pip install` with it on every save and start-up; list only pinned "
                "package names from PyPI (`package==1.2.3`)",
                location=self.module.line_location(1),
            )

    VALID = [
        Valid(
            '''
            """
            title: Export to Word
            description: Saves the chat as a .docx file
            requirements: python-docx==1.1.2, markdown>=3.5
            """

            class Action:
                async def action(self, body):
                    return body
            '''
        ),
        Valid(
            '''
            """
            title: Mind map
            description: Draws a mind map of the answer
            requirements: beautifulsoup4, lxml[html_clean]==5.2.1
            """

            class Action:
                async def action(self, body):
                    return body
            '''
        ),
        Valid(
            """
            # requirements: --index-url https://example.net (a comment, not frontmatter)

            class Action:
                async def action(self, body):
                    return body
            """
        ),
        Valid(
            '''
            """
            title: Link fetcher
            description: Fetches https://example.com pages named in the chat
            author_url: https://github.com/someone/actions
            requirements: httpx==0.27.0
            """

            class Action:
                async def action(self, body):
                    return body
            '''
        ),
        Valid(
            '''
            """
            title: Word count
            description: Counts words
            """

            REQUIREMENTS = "git+https://github.com/x/y.git"

            class Action:
                async def action(self, body):
                    return body
            '''
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Summarise
            description: Summarises the chat
            requirements: --extra-index-url https://pkgs.example.net/simple, summarizer
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(1,),
            message="is a pip option",
        ),
        Invalid(
            '''
            """
            title: Diagram
            description: Renders diagrams
            requirements: git+https://github.com/someone/diagram-tool.git@main
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(1,),
            message="version-control URL",
        ),
        Invalid(
            '''
            """
            title: Sheets
            requirements: openpyxl, https://files.example.com/wheels/sheetkit-0.3-py3-none-any.whl
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(1,),
            message="installs from a URL",
        ),
        Invalid(
            '''
            """
            title: Local tools
            requirements: toolkit @ file:///opt/wheels/toolkit-1.0.tar.gz
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(1,),
        ),
        Invalid(
            '''
            """
            title: Trusted mirror
            requirements: pandas==2.2.2,--trusted-host=mirror.internal, -e ./vendor/plot
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(1,),
            message="pip option",
        ),
    ]


# --- OWA603 ----------------------------------------------------------------------------------

REWRITTEN = ("from utils", "from apps", "from main", "from config")


class ImportRewriteHazard(LintRule):
    """
    ## What it does
    Searches the source text the way Open WebUI's `replace_imports` does (a plain,
    case-sensitive `str.replace`) for `from utils`, `from apps`, `from main` and
    `from config`, and reports each occurrence the rewrite changes by mistake: inside
    strings (prompts, docstrings, messages) and in imports of other modules that merely
    start with those letters (`from configparser`, `from mainframe`). Comments are left
    alone (rewriting them changes nothing), and so are imports of exactly `utils`, `apps`,
    `main` or `config`, which the rewrite is meant for.

    ## Why is this bad?
    When the function is saved, the loader prefixes every occurrence with `open_webui.`
    and stores the rewritten source (§1 of the action contract). `from configparser import
    ConfigParser` becomes `from open_webui.configparser import ConfigParser` and the
    function fails to load; a prompt saying "Answer from memory, not from main sources"
    silently becomes "… from open_webui.main sources".

    ## Example
    ```python
    from configparser import ConfigParser
    PROMPT = "Summarise the points that come from utils and tests."
    ```

    ## Use instead
    ```python
    import configparser

    PROMPT = "Summarise the points that come from " + "utils and tests."

    class Action:
        async def action(self, body, __event_emitter__=None):
            parser = configparser.ConfigParser()
            await __event_emitter__({"type": "message", "data": {"content": PROMPT}})
    ```
    """

    code = "OWA603"
    name = "import-rewrite-hazard"
    level = Level.WARNING
    summary = "Text Open WebUI's import rewriting changes: `from utils|apps|main|config`."

    def check(self) -> None:
        model = self.module
        comments = [model.position(c) for c in model.walk_of(model.module, cst.Comment)]
        imports = [
            node
            for node in model.walk_of(model.module, cst.ImportFrom)
            if isinstance(node, cst.ImportFrom)
        ]
        for number, line in enumerate(model.source.lines, start=1):
            for pattern in REWRITTEN:
                start = line.find(pattern)
                while start != -1:
                    self._occurrence(number, start, pattern, line, comments, imports)
                    start = line.find(pattern, start + len(pattern))

    def _occurrence(
        self,
        number: int,
        column: int,
        pattern: str,
        line: str,
        comments: list[CodeRange],
        imports: list[cst.ImportFrom],
    ) -> None:
        model = self.module
        for rng in comments:
            if rng.start.line == number and rng.start.column <= column:
                return
        word = pattern.split()[1]
        follows = line[column + len(pattern) :]
        for node in imports:
            rng = model.position(node)
            if not (rng.start.line <= number <= rng.end.line):
                continue
            if rng.start.line == number and rng.start.column > column:
                continue
            module = _code(model, node.module, 200) if node.module else ""
            if module.split(".")[0] == word:
                return  # `from utils.misc import x`: what the rewrite is for
            self.report(
                None,
                f"`from {module}` starts with `{pattern}`, so Open WebUI rewrites it to "
                f"`from open_webui.{word}{follows.split()[0] if follows.split() else ''}` "
                f"when the function is saved and the import fails; write `import {module}` "
                "(or alias it) instead",
                location=model.line_location(number),
            )
            return
        self.report(
            None,
            f"`{pattern}` here is rewritten to `from open_webui.{word}` when the function is "
            "saved (Open WebUI's import rewriting is a plain text replace, strings included), "
            f'which changes this text; split the string (`"from " "{word}"`) or reword it',
            location=model.line_location(number),
        )

    VALID = [
        Valid(
            """
            import configparser
            from open_webui.utils.misc import get_last_user_message

            class Action:
                async def action(self, body):
                    return {"content": get_last_user_message(body["messages"])}
            """
        ),
        Valid(
            """
            from utils.misc import get_last_user_message  # pre-0.5 path, rewritten on purpose

            class Action:
                async def action(self, body):
                    return {"content": get_last_user_message(body["messages"])}
            """
        ),
        Valid(
            """
            # Values come from config files in older versions.

            class Action:
                async def action(self, body):
                    return body
            """
        ),
        Valid(
            """
            PROMPT = "Pick the answer From Main sources and quote them."

            class Action:
                async def action(self, body):
                    return {"content": PROMPT}
            """
        ),
        Valid(
            """
            from open_webui.config import DATA_DIR

            class Action:
                async def action(self, body):
                    note = "Read " + "from " + "config: " + str(DATA_DIR)
                    return {"content": note}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from configparser import ConfigParser

            class Action:
                async def action(self, body):
                    return body
            """,
            lines=(1,),
            message="the import fails",
        ),
        Invalid(
            """
            SYSTEM = "List the facts that come from main sources first, then from utils like wikis."

            class Action:
                async def action(self, body):
                    return {"content": SYSTEM}
            """,
            lines=(1,),
        ),
        Invalid(
            '''
            """
            title: Import helper
            description: Imports a chat from apps like ChatGPT
            """

            class Action:
                async def action(self, body):
                    return body
            ''',
            lines=(3,),
            message="from open_webui.apps",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body):
                    try:
                        from mainframe_client import Client
                    except ImportError:
                        return {"content": "install mainframe_client"}
                    return {"content": Client().ping()}
            """,
            lines=(4,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": f"Loading {len(body['messages'])} items from config", "done": True}})
            """,
            lines=(3,),
        ),
    ]


# --- OWA604 ----------------------------------------------------------------------------------

AWAITING_CALLS = frozenset(
    {
        "asyncio.wait_for",
        "asyncio.gather",
        "asyncio.shield",
        "asyncio.create_task",
        "asyncio.ensure_future",
        "asyncio.run_coroutine_threadsafe",
        "asyncio.wait",
        "asyncio.run",
        "inspect.isawaitable",
        "asyncio.iscoroutine",
        "inspect.iscoroutine",
    }
)
THREAD_CALLS = frozenset(
    {
        "asyncio.to_thread",
        "anyio.to_thread.run_sync",
        "starlette.concurrency.run_in_threadpool",
        "fastapi.concurrency.run_in_threadpool",
    }
)
THREAD_METHODS = frozenset({"run_in_executor", "submit"})


def _async_method(model: ActionModule, expr: cst.BaseExpression) -> ModelMethod | None:
    names = model.resolve_name(expr)
    method = lookup_model_method(names)
    if method is None:
        # Re-exported by another Open WebUI module (`from open_webui.routers.users import
        # Users`): the same singleton, found by `Users.get_user_by_id`.
        shorts = {".".join(n.rsplit(".", 2)[-2:]) for n in names if n.startswith("open_webui.")}
        method = _by_short().get(min(shorts)) if len(shorts) == 1 else None
    return method if method is not None and method.is_async else None


@cache
def _by_short() -> dict[str, ModelMethod]:
    """Data-layer methods by `Object.method`, for the names only one module defines."""
    found: dict[str, list[ModelMethod]] = {}
    for method in model_methods().values():
        found.setdefault(method.short, []).append(method)
    return {short: methods[0] for short, methods in found.items() if len(methods) == 1}


def _is_thread_call(model: ActionModule, call: cst.Call) -> bool:
    if model.imported_name(call.func) & THREAD_CALLS:
        return True
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in THREAD_METHODS


_BUILTIN_NAMES = frozenset({"len", "str", "list", "print", "getattr", "hasattr", "dict"})


def _is_partial(model: ActionModule, call: cst.Call) -> bool:
    return "functools.partial" in model.resolve_name(call.func)


class UnawaitedDbCall(LintRule):
    """
    ## What it does
    Reports calls of Open WebUI's data layer (`Users`, `Chats`, `Files`, `Models`, … from
    `open_webui.models`, import aliases and pre-0.5 paths included) whose method is async
    in current Open WebUI, when the call is not awaited: used as a statement, a value
    (`user.name`, `for chat in ...`, `if ...`, `len(...)`), kept in a variable that is
    never awaited, or handed to `asyncio.to_thread` / `run_in_executor` directly, through
    `functools.partial`, a lambda or a function that returns the call.

    Awaiting in any usual way counts: `await`, `asyncio.gather` / `wait_for` /
    `create_task`, and the version-gated `r = f(); if inspect.isawaitable(r): r = await r`.

    ## Why is this bad?
    Since Open WebUI 0.9 these methods are coroutines (`owui-models-api.tsv`). Without
    `await` the call returns a coroutine object: nothing is read or written, the object is
    truthy (so `if not user:` never fires) and reading a field raises `AttributeError`.
    A thread does not help: `asyncio.to_thread(Users.get_user_by_id, uid)` only creates the
    coroutine in the thread and returns it unawaited.

    ## Example
    ```python
    user = await asyncio.to_thread(Users.get_user_by_id, __user__["id"])
    chats = Chats.get_chats_by_user_id(user.id)
    ```

    ## Use instead
    ```python
    from open_webui.models.chats import Chats
    from open_webui.models.users import Users

    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            user = await Users.get_user_by_id(__user__["id"])
            chats = await Chats.get_chats_by_user_id(user.id)
            await __event_emitter__({"type": "notification", "data": {"type": "info", "content": f"{len(chats)} chats"}})
    ```
    """

    code = "OWA604"
    name = "unawaited-db-call"
    level = Level.ERROR
    summary = "An async Open WebUI data-layer method called without `await`."

    def check(self) -> None:
        model = self.module
        self.reported: set[cst.CSTNode] = set()
        for call in model.walk_of(model.module, cst.Call):
            assert isinstance(call, cst.Call)
            if _is_thread_call(model, call):
                self._offload(call)
            method = _async_method(model, call.func)
            if method is not None:
                self._direct(call, method)

    def _report(self, node: cst.CSTNode, message: str) -> None:
        model = self.module
        stmt = model.statement_of(node)
        if stmt in self.reported:
            return
        self.reported.add(stmt)
        info = model.enclosing_function(node)
        self.report(None, message + _suffix(model, info), location=model.statement_location(node))

    def _offload(self, call: cst.Call) -> None:
        model = self.module
        for arg in call.args:
            value = arg.value
            target: cst.BaseExpression | None = value
            how = "runs `{m}` in a thread"
            if isinstance(value, cst.Call) and _is_partial(model, value) and value.args:
                target = value.args[0].value
                how = "runs a `functools.partial` of `{m}` in a thread"
            elif isinstance(value, cst.Lambda) and isinstance(value.body, cst.Call):
                target = value.body.func
                how = "runs a lambda calling `{m}` in a thread"
            method = _async_method(model, target) if target is not None else None
            if method is None:
                continue
            self._report(
                call,
                f"`{_code(model, call.func, 30)}(...)` {how.format(m=method.short)}, but it is "
                "async: the thread only creates a coroutine, which is returned unawaited "
                f"(nothing is read or written); call `await {method.short}(...)` directly",
            )
            return

    def _direct(self, call: cst.Call, method: ModelMethod) -> None:
        model = self.module
        text = f"{method.short}(...)"
        fix = f"write `await {_code(model, call, 60)}`"
        node: cst.CSTNode = call
        parent = model.parent(node)
        while isinstance(parent, cst.IfExp) and node is not parent.test:
            node, parent = parent, model.parent(parent)
        if isinstance(parent, cst.Await):
            return
        info = model.enclosing_function(call)
        if isinstance(parent, cst.Lambda):
            return  # reported where the lambda is handed to a thread (or awaited by a caller)
        if isinstance(parent, cst.Arg):
            outer = model.parent(parent)
            if isinstance(outer, cst.Call):
                names = _names(model, outer.func)
                if names & AWAITING_CALLS or _is_partial(model, outer):
                    return
                if isinstance(outer.func, cst.Attribute) and outer.func.attr.value in (
                    "create_task",
                    "run_until_complete",
                    "ensure_future",
                ):
                    return
                if any(n.startswith("builtins.") for n in model.resolve_name(outer.func)):
                    self._report(
                        call,
                        f"`{text}` is not awaited and its coroutine is passed to "
                        f"`{_code(model, outer.func, 20)}`: the data layer is async, so that "
                        f"sees a coroutine object, not the result; {fix}",
                    )
            return
        if isinstance(parent, cst.Expr):
            self._report(
                call,
                f"`{text}` is called without `await`: it only creates a coroutine, so nothing "
                f"is read or written; {fix}" + self._make_async(info),
            )
            return
        if isinstance(parent, (cst.Assign, cst.AnnAssign)):
            target = (
                parent.targets[0].target
                if isinstance(parent, cst.Assign) and len(parent.targets) == 1
                else parent.target
                if isinstance(parent, cst.AnnAssign)
                else None
            )
            if not isinstance(target, cst.Name) or self._awaited_later(target, info):
                return
            self._report(
                call,
                f"`{target.value} = {text}` keeps a coroutine that is never awaited: "
                f"`{target.value}` is not the record but a truthy coroutine object, so checks "
                f"and field reads go wrong; {fix}" + self._make_async(info),
            )
            return
        if isinstance(parent, cst.Return):
            if info is None or info.is_async or self._awaited_by_callers(info):
                return
            offload = next(
                (s for s in model.callers.get(info.qualname, []) if s.kind == "offload"), None
            )
            how = (
                f"which the thread of line {model.position(offload.node).start.line} returns "
                "unawaited"
                if offload is not None
                else "which nobody awaits"
            )
            self._report(
                call,
                f"`return {text}` in `def {info.name}` hands back a coroutine, {how}: nothing is "
                f"read or written; make `{info.name}` `async`, write `return await "
                f"{_code(model, call, 40)}` and await `{info.name}()` instead of using a thread",
            )
            return
        if (
            (isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node)
            or isinstance(parent, (cst.Comparison, cst.ComparisonTarget, cst.BooleanOperation))
            or (isinstance(parent, (cst.If, cst.While)) and node is parent.test)
            or isinstance(parent, cst.UnaryOperation)
            or (isinstance(parent, (cst.For, cst.CompFor)) and node is parent.iter)
        ):
            self._report(
                call,
                f"`{text}` is used without `await`: the data layer is async, so this reads a "
                f"coroutine object (always truthy, no fields), not the record; {fix}"
                + self._make_async(info),
            )

    def _make_async(self, info: FunctionInfo | None) -> str:
        if info is None:
            return " inside an `async def` (module-level code cannot await)"
        return "" if info.is_async else f" and make `{info.name}` `async`"

    def _awaited_later(self, target: cst.Name, info: FunctionInfo | None) -> bool:
        """The variable is awaited (`await r`, `inspect.isawaitable(r)`, `gather(r)`), or
        only passed on or returned and never read as the record (`r.name`, `if not r:`)."""
        model = self.module
        scope: cst.CSTNode = info.node.body if info is not None else model.module
        passed = read = False
        for node in model.walk_of(scope, cst.Name):
            assert isinstance(node, cst.Name)
            if node.value != target.value or node is target:
                continue
            parent = model.parent(node)
            if isinstance(parent, cst.Await):
                return True
            if isinstance(parent, cst.Arg):
                outer = model.parent(parent)
                callee = _names(model, outer.func) if isinstance(outer, cst.Call) else frozenset()
                if callee & AWAITING_CALLS:
                    return True
                if any(
                    n.startswith(("open_webui.", "builtins.")) or n in _BUILTIN_NAMES
                    for n in callee
                ):
                    read = True  # Open WebUI's own functions take the record, not a coroutine
                else:
                    passed = True
            elif isinstance(parent, (cst.Return, cst.Element, cst.Yield)) or (
                isinstance(parent, cst.Assign) and parent.value is node
            ):
                passed = True
            elif (
                (isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node)
                or (isinstance(parent, (cst.If, cst.While)) and parent.test is node)
                or isinstance(
                    parent,
                    (
                        cst.UnaryOperation,
                        cst.BooleanOperation,
                        cst.Comparison,
                        cst.ComparisonTarget,
                        cst.For,
                        cst.CompFor,
                    ),
                )
            ):
                read = True
        return passed and not read

    def _awaited_by_callers(self, info: FunctionInfo) -> bool:
        model = self.module
        for site in model.callers.get(info.qualname, []):
            if site.kind == "call" and isinstance(model.parent(site.node), cst.Await):
                return True
        return False

    VALID = [
        Valid(
            """
            from open_webui.models.users import Users as U
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None):
                    user = await U.get_user_by_id(__user__["id"])
                    chat = await Chats.get_chat_by_id_and_user_id(body["chat_id"], user.id)
                    return {"content": chat.title if chat else "no chat"}
            """
        ),
        Valid(
            """
            import inspect
            from open_webui.models.users import Users

            class Action:
                async def _user(self, user_id: str):
                    r = Users.get_user_by_id(user_id)
                    if inspect.isawaitable(r):
                        r = await r
                    return r

                async def action(self, body, __user__=None):
                    user = await self._user(__user__["id"])
                    return {"content": user.name}
            """
        ),
        Valid(
            """
            import asyncio
            from open_webui.models.chats import Chats
            from open_webui.models.files import Files

            class Action:
                async def action(self, body, __user__=None):
                    chat, files = await asyncio.gather(
                        Chats.get_chat_by_id(body["chat_id"]),
                        Files.get_files_by_user_id(__user__["id"]),
                    )
                    task = asyncio.create_task(Chats.update_chat_title_by_id(body["chat_id"], "Exported"))
                    await asyncio.wait_for(task, timeout=10)
                    return {"content": f"{len(files)} files"}
            """
        ),
        Valid(
            """
            import asyncio
            from open_webui.models.access_grants import AccessGrants

            class Action:
                def _filter(self, query):
                    return AccessGrants.has_permission_filter(query, None, {}, "chat", "read")

                async def action(self, body, __user__=None):
                    words = await asyncio.to_thread(str.split, body["messages"][-1]["content"])
                    return {"content": str(len(words))}
            """
        ),
        Valid(
            """
            from open_webui.models.memories import Memories

            class Action:
                async def _remember(self, user_id: str, text: str):
                    return await Memories.insert_new_memory(user_id, text)

                async def action(self, body, __user__=None):
                    memory = await self._remember(__user__["id"], body["messages"][-1]["content"])
                    return {"content": "saved" if memory else "failed"}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import asyncio
            from open_webui.models.users import Users

            class Action:
                async def action(self, body, __user__=None):
                    user = await asyncio.to_thread(Users.get_user_by_id, __user__["id"])
                    return {"content": f"Hello {user.name}"}
            """,
            lines=(6,),
            message="the thread only creates a coroutine",
        ),
        Invalid(
            """
            from open_webui.models.users import Users as U

            class Action:
                async def action(self, body, __user__=None):
                    user = U.get_user_by_id(__user__["id"])
                    if not user:
                        return {"content": "unknown user"}
                    return {"content": user.email}
            """,
            lines=(5,),
            message="never awaited",
        ),
        Invalid(
            """
            import asyncio
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None):
                    loop = asyncio.get_running_loop()
                    chats = await loop.run_in_executor(None, lambda: Chats.get_chats_by_user_id(__user__["id"]))
                    Chats.update_chat_title_by_id(body["chat_id"], f"{len(chats)} chats")
            """,
            lines=(7, 8),
        ),
        Invalid(
            """
            import asyncio
            from open_webui.models.files import Files

            class Action:
                async def action(self, body, __user__=None):
                    def load():
                        return Files.get_files_by_user_id(__user__["id"])

                    files = await asyncio.to_thread(load)
                    return {"content": ", ".join(f.filename for f in files)}
            """,
            lines=(7,),
            message="make `load` `async`",
        ),
        Invalid(
            """
            import functools
            from concurrent.futures import ThreadPoolExecutor
            from open_webui.apps.webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None):
                    for chat in Chats.get_chats_by_user_id(__user__["id"]):
                        print(chat.title)
                    with ThreadPoolExecutor() as pool:
                        pool.submit(functools.partial(Chats.delete_chat_by_id, body["chat_id"]))
            """,
            lines=(7, 10),
        ),
    ]


# --- OWA605 ----------------------------------------------------------------------------------

STATE_POLICY = TaintPolicy("instance-state", objects=True)
PER_REQUEST_KINDS = frozenset({"body", "user", "user_valves", "object"})


def _self_target(target: cst.BaseExpression) -> bool:
    """`self.x`, `self.x.y`: an attribute of the instance."""
    current = target
    while isinstance(current, cst.Attribute):
        current = current.value
    return (
        isinstance(target, cst.Attribute)
        and isinstance(current, cst.Name)
        and current.value == "self"
    )


def _shared_classes(model: ActionModule) -> set[str]:
    """`Action` and the module's classes it inherits from: their `self` is the one shared
    instance."""
    cls = model.action_class
    if cls is None:
        return set()
    out: set[str] = set()
    pending = [cls]
    while pending:
        current = pending.pop()
        if current.name.value in out:
            continue
        out.add(current.name.value)
        for base in current.bases:
            if isinstance(base.value, cst.Name) and base.value.value in model.classes:
                pending.append(model.classes[base.value.value])
    return out


class SharedInstanceState(LintRule):
    """
    ## What it does
    Reports `self.<attr> = value` inside `action` or a method it reaches when the value is
    per-request: the injected callables and objects (`__event_emitter__`, `__event_call__`,
    `__request__`, `__model__`, `__user__`, aliases and helper parameters included) or a
    value derived from `body` or `__user__` (the chat id, the user's id, name, UserValves).
    Values built from admin `Valves` (`self.client = Client(self.valves.base_url)`), and
    state kept in a `contextvars.ContextVar`, are fine.

    ## Why is this bad?
    Open WebUI creates one `Action` instance per function and serves every user and every
    concurrent request with it (§1 of the action contract). While one request awaits, another
    overwrites `self.event_emitter` or `self.user_id`: the first user's statuses and dialogs
    go to the other user's browser, and data is read or written for the wrong person.

    ## Example
    ```python
    async def action(self, body, __user__=None, __event_emitter__=None):
        self.event_emitter = __event_emitter__
        self.user_id = __user__["id"]
        await self._export(body)
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            await self._export(body, user_id=__user__["id"], emit=__event_emitter__)

        async def _export(self, body, user_id, emit):
            count = len(body.get("messages", []))
            await emit({"type": "notification", "data": {"type": "info", "content": f"{count} exported"}})
    ```
    """

    code = "OWA605"
    name = "shared-instance-state"
    level = Level.WARNING
    security = True
    summary = "Per-request data stored on `self`, the one instance that serves every user."

    def check(self) -> None:
        model = self.module
        shared = _shared_classes(model)
        for info in _reachable(model):
            owner: FunctionInfo | None = info
            while owner is not None and owner.parent is not None:
                owner = owner.parent
            if info.name == "__init__" or owner is None or owner.class_name not in shared:
                continue  # a helper object made per request may keep what it likes
            for stmt in model.own_of(info.node.body, cst.Assign, lambdas=False):
                targets = [t.target for t in stmt.targets]
                self._check(info, stmt, targets, stmt.value)
            for ann in model.own_of(info.node.body, cst.AnnAssign, lambdas=False):
                if ann.value is not None:
                    self._check(info, ann, [ann.target], ann.value)
            for aug in model.own_of(info.node.body, cst.AugAssign, lambdas=False):
                self._check(info, aug, [aug.target], aug.value)

    def _check(
        self,
        info: FunctionInfo,
        stmt: cst.CSTNode,
        targets: Sequence[cst.BaseExpression],
        value: cst.BaseExpression,
    ) -> None:
        model = self.module
        attrs = [_code(model, t, 40) for t in targets if _self_target(t)]
        if not attrs:
            return
        events = event_facts(model)
        kind = events.alias_kind(value, info)
        what: str
        if kind is not None:
            what = "`__event_call__`" if kind == "call" else "`__event_emitter__`"
        else:
            taint = taint_engine(model, STATE_POLICY).taint(value, info)
            objects = sorted({t.detail for t in taint if t.kind == "object"})
            rest = frozenset(t for t in taint if t.kind in PER_REQUEST_KINDS - {"object"})
            if objects:
                what = ", ".join(f"`{o}`" for o in objects)
            elif rest:
                what = describe_taint(rest)
            else:
                return
            if not isinstance(value, cst.Name):
                what = f"a value derived from {what}"
        self.report(
            None,
            f"`{attrs[0]}` keeps {what} from this request on `self`, but one `Action` instance "
            "serves every user and concurrent request: another request overwrites it while "
            "this one awaits; pass the value to the helpers as an argument (or keep it in a "
            "local or a `contextvars.ContextVar`)" + _suffix(model, info),
            location=model.statement_location(stmt),
        )

    VALID = [
        Valid(
            """
            from pydantic import BaseModel

            class Client:
                def __init__(self, base_url: str):
                    self.base_url = base_url

            class Action:
                class Valves(BaseModel):
                    base_url: str = "http://localhost:8080"

                def __init__(self):
                    self.valves = self.Valves()
                    self.client = None

                async def action(self, body, __user__=None):
                    if self.client is None:
                        self.client = Client(self.valves.base_url)
                    return {"content": self.client.base_url}
            """
        ),
        Valid(
            """
            from contextvars import ContextVar

            _emitter: ContextVar = ContextVar("emitter", default=None)

            class Action:
                async def _status(self, text: str) -> None:
                    emit = _emitter.get()
                    if emit:
                        await emit({"type": "status", "data": {"description": text, "done": True}})

                async def action(self, body, __event_emitter__=None):
                    _emitter.set(__event_emitter__)
                    await self._status("Working")
            """
        ),
        Valid(
            """
            import time

            class Action:
                def __init__(self):
                    self.calls = 0
                    self.last_run = 0.0

                async def action(self, body, __user__=None, __event_emitter__=None):
                    self.calls += 1
                    self.last_run = time.time()
                    emit = __event_emitter__
                    await emit({"type": "status", "data": {"description": f"run {self.calls}", "done": True}})
            """
        ),
        Valid(
            """
            class Exporter:
                def __init__(self, emitter, user_id: str):
                    self.emitter = emitter
                    self.user_id = user_id

                async def run(self, body):
                    self.title = body.get("title", "chat")
                    await self.emitter({"type": "status", "data": {"description": self.title, "done": True}})

            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    exporter = Exporter(__event_emitter__, __user__["id"])
                    await exporter.run(body)
            """
        ),
        Valid(
            """
            class Action:
                def __init__(self):
                    self.cache = {}

                async def action(self, body, __user__=None):
                    key = __user__["id"]
                    self.cache[key] = len(body["messages"])
                    return {"content": str(self.cache[key])}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def _status(self, text: str) -> None:
                    await self.event_emitter({"type": "status", "data": {"description": text, "done": True}})

                async def action(self, body, __event_emitter__=None):
                    self.event_emitter = __event_emitter__
                    await self._status("Exporting")
            """,
            lines=(6,),
            message="`__event_emitter__`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    self.user_id = __user__["id"]
                    self.chat_id = body.get("chat_id")
                    return {"content": f"{self.user_id}/{self.chat_id}"}
            """,
            lines=(3, 4),
        ),
        Invalid(
            """
            class Action:
                def _setup(self, request, user):
                    self.request = request
                    self.user_valves = user.get("valves")

                async def action(self, body, __user__=None, __request__=None):
                    self._setup(__request__, __user__)
                    return body
            """,
            lines=(3, 4),
            message="line 7 reaches it through Action._setup",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    ask = __event_call__
                    self.ask = ask
                    self.messages = [m["content"] for m in body["messages"]]
                    answer = await self.ask({"type": "confirmation", "data": {"title": "Go?", "message": "Continue?"}})
                    return {"content": str(answer)}
            """,
            lines=(4, 5),
        ),
        Invalid(
            """
            from pydantic import BaseModel

            class Action:
                class Valves(BaseModel):
                    language: str = "en"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body, __user__=None):
                    self.valves.language = __user__["valves"].language
                    return body
            """,
            lines=(11,),
            message="UserValves",
        ),
    ]


# --- OWA606 ----------------------------------------------------------------------------------

HTTP_FUNCTIONS = frozenset(
    f"{lib}.{verb}"
    for lib in ("requests", "httpx")
    for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream")
) | frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "aiohttp.request",
    }
)
# `quote(value)` cannot change the host; an HTTP response is not its arguments (a
# `poll_url` the service sends back is the service's, not the user's).
URL_POLICY = TaintPolicy(
    "url",
    frozenset({"urllib.parse.quote", "urllib.parse.quote_plus", *HTTP_FUNCTIONS}),
    opaque_awaited=True,
)
UNTRUSTED_606 = frozenset({BODY, USER_VALVES, INPUT})
# `urlopen(Request(url, ...))`: the URL is the request's.
URL_REQUESTS = frozenset({"urllib.request.Request"})
HTTP_CLIENTS = frozenset(
    {
        "requests.Session",
        "requests.session",
        "httpx.Client",
        "httpx.AsyncClient",
        "aiohttp.ClientSession",
    }
)
HTTP_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "ws_connect"}
)


def _is_client(model: ActionModule, info: FunctionInfo, expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Call):
        return bool(model.resolve_name(expr.func) & HTTP_CLIENTS)
    if isinstance(expr, cst.Name):
        for binding in local_bindings(model, info).get(expr.value, []):
            value = binding.value
            if isinstance(value, cst.Await):
                value = value.expression
            if isinstance(value, cst.Call) and model.resolve_name(value.func) & HTTP_CLIENTS:
                return True
    if (
        isinstance(expr, cst.Attribute)
        and isinstance(expr.value, cst.Name)
        and expr.value.value == "self"
        and model.action_class is not None
    ):  # `self.session = requests.Session()` in a method of the class
        for target, value in model.assignments_under(model.action_class):
            if (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == "self"
                and target.attr.value == expr.attr.value
                and isinstance(value, cst.Call)
                and model.resolve_name(value.func) & HTTP_CLIENTS
            ):
                return True
    return False


def _url_arg(model: ActionModule, info: FunctionInfo, call: cst.Call) -> cst.BaseExpression | None:
    func = call.func
    names = model.resolve_name(func)
    verb: str | None = None
    if names & HTTP_FUNCTIONS:
        verb = sorted(names & HTTP_FUNCTIONS)[0].rsplit(".", 1)[-1]
    elif (
        isinstance(func, cst.Attribute)
        and func.attr.value in HTTP_METHODS
        and _is_client(model, info, func.value)
    ):
        verb = func.attr.value
    if verb is None:
        return None
    index = 1 if verb in ("request", "stream") else 0
    return _positional(call, index, "url")


def _fixes_host(text: str) -> bool:
    """A literal start of a URL that already names the host."""
    if "://" in text:
        return bool(text.split("://", 1)[1])
    return bool(text) and not re.fullmatch(r"(?i)[a-z+]*:?/{0,2}", text)


def _reaching(model: ActionModule, info: FunctionInfo, name: cst.Name) -> list[Binding]:
    """The bindings of `name` that may reach this read: the last one before it in a block
    that holds the read (it dominates the read), else all of them."""
    bindings = local_bindings(model, info).get(name.value, [])
    number = model.index.number
    ancestors = set(model.ancestors(name))
    dominating = [
        b
        for b in bindings
        if number(b.node) < number(name) and model.parent(model.statement_of(b.node)) in ancestors
    ]
    if dominating:
        return [max(dominating, key=lambda b: number(b.node))]
    return bindings


class UntrustedUrl(LintRule):
    """
    ## What it does
    Reports outbound HTTP (`requests`, `httpx`, `aiohttp`, `urllib.request`, clients and
    sessions of these libraries) whose URL comes from `body` (chat content, client-
    controlled), UserValves or `input` answers, through assignments, f-strings, `+` and the
    module's helpers. A URL whose host is fixed (a literal `https://api.example.com/...`
    or an admin Valve such as `f"{self.valves.base_url}/v1/..."`) is fine even when its
    path or query carries such data.

    ## Why is this bad?
    The request goes out from the Open WebUI server, inside its network (§10 of the action
    contract). A user who controls the URL makes the server call internal services, cloud
    metadata endpoints (`http://169.254.169.254/`) or Open WebUI's own admin API, and read
    the answer back in the chat (server-side request forgery, CWE-918). Admin Valves are
    trusted; UserValves are set by any user.

    ## Example
    ```python
    url = body["messages"][-1]["content"].strip()
    async with httpx.AsyncClient() as client:
        page = await client.get(url)
    ```

    ## Use instead
    ```python
    from urllib.parse import urlparse

    import httpx
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            allowed_hosts: str = Field(default="example.com", description="Hosts it may fetch")

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __event_emitter__=None):
            url = body["messages"][-1]["content"].strip()
            if urlparse(url).hostname not in self.valves.allowed_hosts.split(","):
                await __event_emitter__(
                    {"type": "notification", "data": {"type": "error", "content": "Host not allowed"}}
                )
                return
            async with httpx.AsyncClient() as client:
                page = await client.get(url)  # noqa: OWA606 (host checked above)
            await __event_emitter__({"type": "message", "data": {"content": page.text[:500]}})
    ```
    """

    code = "OWA606"
    name = "untrusted-url"
    level = Level.WARNING
    security = True
    cwe = (918,)
    summary = "Outbound HTTP to a URL taken from `body`, UserValves or an `input` answer (SSRF)."

    def check(self) -> None:
        model = self.module
        engine = taint_engine(model, URL_POLICY)
        for info in _reachable(model):
            for site, call in _calls(model, info):
                url = _url_arg(model, info, call)
                if url is None:
                    continue
                taint = frozenset(t for t in engine.taint(url, info) if t in UNTRUSTED_606)
                if not taint or self._host_fixed(info, url):
                    continue
                self.report(
                    None,
                    f"the URL of `{_code(model, call.func, 30)}(...)` comes from "
                    f"{describe_taint(taint)}: the server fetches whatever host it names, "
                    "internal services and cloud metadata included (SSRF); build it from a "
                    "base URL in admin Valves, or check the host against an allow-list first"
                    + _suffix(model, info),
                    location=model.statement_location(site),
                )

    def _host_fixed(self, info: FunctionInfo, url: cst.BaseExpression) -> bool:
        """True when every value the URL may hold starts with a literal or trusted part that
        names the host, so the untrusted data is only in its path or query."""
        model = self.module
        pending = [url]
        seen: set[cst.CSTNode] = set()
        while pending:
            expr = pending.pop()
            if expr in seen:
                continue
            seen.add(expr)
            if isinstance(expr, cst.Name):
                bindings = _reaching(model, info, expr)
                if not bindings or any(
                    b.kind not in ("assign", "ann", "walrus") or b.value is None for b in bindings
                ):
                    return False
                pending += [b.value for b in bindings if b.value is not None]
            elif isinstance(expr, cst.Call) and model.resolve_name(expr.func) & URL_REQUESTS:
                inner = _positional(expr, 0, "url")
                if inner is None:
                    return False
                pending.append(inner)
            elif not self._prefix_fixed(info, expr):
                return False
        return True

    def _prefix_fixed(self, info: FunctionInfo, url: cst.BaseExpression) -> bool:
        """The leftmost part of this URL expression (a literal, or a trusted value) names
        the host."""
        model = self.module
        engine = taint_engine(model, URL_POLICY)
        expr: cst.BaseExpression = url
        for _ in range(12):
            if isinstance(expr, cst.Name):
                binding = single_assignment(model, info, expr.value)
                if binding is None or binding.value is None:
                    return False
                expr = binding.value
            elif (
                isinstance(expr, cst.BinaryOperation)
                and isinstance(expr.operator, (cst.Add, cst.Modulo))
            ) or isinstance(expr, cst.ConcatenatedString):
                expr = expr.left
            elif isinstance(expr, cst.SimpleString):
                text = string_value(expr)
                return text is not None and _fixes_host(text)
            elif isinstance(expr, cst.FormattedString):
                text = ""
                for part in expr.parts:
                    if isinstance(part, cst.FormattedStringText):
                        text += part.value
                        continue
                    if text:
                        return _fixes_host(text)
                    assert isinstance(part, cst.FormattedStringExpression)
                    return not (engine.taint(part.expression, info) & UNTRUSTED_606)
                return True
            elif (
                isinstance(expr, cst.Call)
                and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value == "format"
            ):
                expr = expr.func.value
            else:
                return not (engine.taint(expr, info) & UNTRUSTED_606)
        return False

    VALID = [
        Valid(
            """
            import httpx
            from pydantic import BaseModel

            class Action:
                class Valves(BaseModel):
                    base_url: str = "http://localhost:11434"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body):
                    async with httpx.AsyncClient(timeout=30) as client:
                        r = await client.post(f"{self.valves.base_url}/api/generate", json={"prompt": body["messages"][-1]["content"]})
                    return {"content": r.json()["response"]}
            """
        ),
        Valid(
            """
            import requests
            import asyncio

            class Action:
                async def action(self, body):
                    chat_id = body["chat_id"]
                    url = "https://api.example.com/v1/chats/" + chat_id
                    r = await asyncio.to_thread(requests.get, url, timeout=10)
                    return {"content": r.text}
            """
        ),
        Valid(
            """
            import aiohttp
            from urllib.parse import quote

            class Action:
                async def action(self, body):
                    term = body["messages"][-1]["content"]
                    async with aiohttp.ClientSession() as session:
                        async with session.get(f"https://en.wikipedia.org/w/index.php?search={quote(term)}") as resp:
                            html = await resp.text()
                    return {"content": html[:200]}
            """
        ),
        Valid(
            """
            import httpx
            from pydantic import BaseModel

            class Action:
                class Valves(BaseModel):
                    webhook_url: str = ""

                def __init__(self):
                    self.valves = self.Valves()

                async def _post(self, url: str, payload: dict) -> None:
                    async with httpx.AsyncClient() as client:
                        await client.post(url, json=payload)

                async def action(self, body, __user__=None):
                    await self._post(self.valves.webhook_url, {"text": body["messages"][-1]["content"], "user": __user__["name"]})
            """
        ),
        Valid(
            """
            import requests

            API = "https://translate.example.org/api"

            class Action:
                def _translate(self, text: str, lang: str) -> str:
                    return requests.post(API + "/translate", json={"q": text, "target": lang}, timeout=20).json()["text"]

                async def action(self, body, __user__=None):
                    lang = __user__["valves"].target_language
                    return {"content": self._translate(body["messages"][-1]["content"], lang)}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import httpx

            class Action:
                async def action(self, body):
                    url = body["messages"][-1]["content"].strip()
                    async with httpx.AsyncClient() as client:
                        page = await client.get(url, follow_redirects=True)
                    return {"content": page.text[:500]}
            """,
            lines=(7,),
            message="`body` (client-controlled chat content)",
        ),
        Invalid(
            """
            import requests

            class Action:
                def _fetch(self, base: str, path: str) -> str:
                    return requests.get(f"{base}{path}", timeout=10).text

                async def action(self, body, __user__=None):
                    server = __user__["valves"].server_url
                    return {"content": self._fetch(server, "/status")}
            """,
            lines=(5,),
            message="UserValves",
        ),
        Invalid(
            """
            import aiohttp

            class Action:
                async def action(self, body, __event_call__=None):
                    link = await __event_call__({"type": "input", "data": {"title": "Import", "message": "URL of the document"}})
                    if not isinstance(link, str) or not link:
                        return
                    async with aiohttp.ClientSession() as session:
                        async with session.get(link) as resp:
                            text = await resp.text()
                    return {"content": text[:1000]}
            """,
            lines=(9,),
            message="an `input` answer",
        ),
        Invalid(
            """
            import urllib.request

            class Action:
                async def action(self, body):
                    host = body.get("host", "localhost")
                    with urllib.request.urlopen("http://" + host + ":8000/health", timeout=5) as resp:
                        return {"content": resp.read().decode()}
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import requests

            class Action:
                async def action(self, body, __user__=None):
                    images = [m["content"] for m in body["messages"] if m["content"].startswith("http")]
                    session = requests.Session()
                    for src in images:
                        data = session.get(src, timeout=15).content
                        print(len(data))
            """,
            lines=(8,),
        ),
    ]


# --- OWA607 ----------------------------------------------------------------------------------

LOGGING_GLOBAL = frozenset({"logging.basicConfig", "logging.disable", "logging.config.dictConfig"})
ROOT_LOGGER_METHODS = frozenset({"setLevel", "addHandler", "removeHandler", "handlers"})
NETWORK_CALLS = frozenset(
    f"{lib}.{verb}"
    for lib in ("requests", "httpx")
    for verb in ("get", "post", "put", "patch", "delete", "head", "request")
) | frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "socket.create_connection",
        "nltk.download",
        "spacy.cli.download",
        "huggingface_hub.snapshot_download",
        "huggingface_hub.hf_hub_download",
    }
)
PROCESS_CALLS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "os.system",
        "os.popen",
        "pip.main",
    }
)
FILE_CALLS = frozenset(
    {
        "open",
        "io.open",
        "os.makedirs",
        "os.mkdir",
        "os.remove",
        "os.unlink",
        "os.rename",
        "os.replace",
        "os.rmdir",
        "shutil.rmtree",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "dotenv.load_dotenv",
    }
)
# Process-wide settings: every other function and Open WebUI itself run with them.
PROCESS_SETTINGS = frozenset(
    {
        "warnings.filterwarnings",
        "warnings.simplefilter",
        "sys.setrecursionlimit",
        "socket.setdefaulttimeout",
        "nest_asyncio.apply",
        "asyncio.set_event_loop_policy",
        "asyncio.set_event_loop",
        "signal.signal",
        "atexit.register",
        "os.chdir",
        "os.umask",
    }
)
ENV_CALLS = frozenset({"os.putenv", "os.environ.update", "os.environ.setdefault"})
# Methods that change a mutable object in place (an imported module's dict or list).
MUTATING_METHODS = frozenset(
    {"setdefault", "update", "append", "extend", "insert", "pop", "clear", "remove", "add"}
)
FILE_METHODS = frozenset(
    {"mkdir", "write_text", "write_bytes", "touch", "unlink", "rmdir", "read_text", "read_bytes"}
)


def _is_main_or_type_checking(model: ActionModule, test: cst.BaseExpression) -> bool:
    """`__name__ == "__main__"` (either way round), `TYPE_CHECKING`, `typing.TYPE_CHECKING`."""
    if any(n.endswith("TYPE_CHECKING") for n in model.resolve_name(test)):
        return True
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        sides = [test.left, test.comparisons[0].comparator]
        names = [s.value for s in sides if isinstance(s, cst.Name)]
        texts = [string_value(s) for s in sides]
        return isinstance(test.comparisons[0].operator, cst.Equal) and (
            names == ["__name__"] and "__main__" in texts
        )
    return False


def _module_statements(
    model: ActionModule,
) -> Iterator[cst.SimpleStatementLine | cst.SimpleStatementSuite]:
    """Statements that run when the module is loaded: module level, blocks at module level
    and class bodies; not function bodies, `if __name__ == "__main__":` or `if TYPE_CHECKING:`
    (their `else` runs)."""
    # Whether what is under a node runs, by `id(node)`: statements share their ancestors,
    # each chain is followed only up to a node already decided.
    decided: dict[int, bool] = {}
    # Function and lambda bodies never run on load: skip their statements by source-order
    # number (most statements are there) instead of climbing to the `def` from each.
    index = model.index
    spans: list[list[int]] = []
    for lo, hi in sorted(
        (index.number(node), index.end(node))
        for kind in (cst.FunctionDef, cst.Lambda)
        for node in index.of_type(kind)
    ):
        if spans and lo < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)  # nested in the one before
        else:
            spans.append([lo, hi])
    at = 0
    for stmt in model.walk_of(model.module, cst.SimpleStatementLine, cst.SimpleStatementSuite):
        assert isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
        number = index.number(stmt)
        while at < len(spans) and spans[at][1] <= number:
            at += 1
        if at < len(spans) and spans[at][0] < number:
            continue  # inside a function or lambda
        below: cst.CSTNode = stmt
        runs = True
        path: list[cst.CSTNode] = []
        # (position in `path` of an `if` body, its `if`): tested only outside functions.
        guards: list[tuple[int, cst.If]] = []
        for parent in model.ancestors(stmt):
            known = decided.get(id(below))
            if known is not None:
                runs = known
                break
            path.append(below)
            # Exact types: a failed `isinstance` against LibCST's ABCs runs Python code.
            if type(parent) in (cst.FunctionDef, cst.Lambda):
                runs = False
                break
            if type(parent) is cst.If and below is parent.body:
                guards.append((len(path) - 1, parent))
            below = parent
        verdicts = [runs] * len(path)
        if runs:
            for at, guard in reversed(guards):  # outermost first
                if _is_main_or_type_checking(model, guard.test):
                    verdicts[: at + 1] = [False] * (at + 1)
                    break
        for node, verdict in zip(path, verdicts, strict=True):
            decided[id(node)] = verdict
        if verdicts[0] if verdicts else runs:
            yield stmt


class ImportTimeSideEffect(LintRule):
    """
    ## What it does
    Reports module-level code (including class bodies and module-level `if` / `try`
    blocks) that changes the server or talks to the outside world when the module is
    loaded:

    - `logging.basicConfig(...)`, `logging.disable(...)`, and configuring the root logger
      (`logging.getLogger().setLevel(...)`);
    - process-wide settings (`warnings.filterwarnings`, `nest_asyncio.apply()`,
      `sys.setrecursionlimit`, `signal.signal`, `os.chdir`, ...);
    - network and file I/O and processes (`requests.get`, `open`, `os.makedirs`,
      `Path(...).mkdir()`, `subprocess.check_call([... "pip", "install" ...])`,
      `load_dotenv()`), also inside a module function called at module level;
    - monkey-patching: assigning to an attribute of an imported module or class
      (`requests.Session.request = ...`, `Users.get_user_by_id = ...`), `setattr` on one,
      changing an imported object in place (`nsmap.setdefault(...)`), and writes to
      `os.environ` or `sys.path`.

    Imports, constants, class and function definitions, `logging.getLogger(__name__)`
    and the module's own logger (`log.setLevel(...)`, `log.addHandler(...)`), and code
    under `if __name__ == "__main__":` are fine.

    ## Why is this bad?
    Open WebUI runs the module's top-level code in its own process when the function is
    saved, at every start-up and on every reload (§1 and §10 of the action contract).
    `logging.basicConfig` reconfigures the host's logging for the whole server; downloads
    and installs slow down or break start-up; a monkey-patch changes Open WebUI itself.
    What it changes stays changed after the function is disabled or deleted.

    ## Example
    ```python
    import logging

    logging.basicConfig(level=logging.DEBUG)
    logger = logging.getLogger(__name__)
    ```

    ## Use instead
    ```python
    import logging

    logger = logging.getLogger(__name__)
    logger.setLevel(logging.DEBUG)

    class Action:
        async def action(self, body):
            logger.debug("%d messages", len(body.get("messages", [])))
    ```
    """

    code = "OWA607"
    name = "import-time-side-effect"
    level = Level.WARNING
    summary = "Module-level code with side effects (logging setup, I/O, monkey-patching)."

    def check(self) -> None:
        model = self.module
        for stmt in _module_statements(model):
            why = self._statement(stmt)
            if why is not None:
                self.report(
                    None,
                    f"{why}; this runs in the Open WebUI server process every time the module "
                    "is loaded (save, start-up, reload) and its effects outlive the function",
                    location=model.statement_location(stmt),
                )

    def _statement(self, stmt: cst.SimpleStatementLine | cst.SimpleStatementSuite) -> str | None:
        model = self.module
        for small in stmt.body:
            if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                targets = (
                    [t.target for t in small.targets]
                    if isinstance(small, cst.Assign)
                    else [small.target]
                )
                for target in targets:
                    why = self._patched(target)
                    if why is not None:
                        return why
        for call in model.own_of(stmt, cst.Call, lambdas=False):
            why = self._call(call)
            if why is not None:
                return why
            callee = self._local_function(call)
            if callee is not None:
                found = self._inside(callee)
                if found is not None:
                    inner, why = found
                    line = model.position(inner).start.line
                    return (
                        f"`{_code(model, call.func, 30)}()` runs at import and {why} (line {line})"
                    )
        return None

    def _patched(self, target: cst.BaseExpression) -> str | None:
        model = self.module
        if not isinstance(target, (cst.Attribute, cst.Subscript)):
            return None
        root: cst.BaseExpression = target
        while isinstance(root, (cst.Attribute, cst.Subscript)):
            root = root.value
        if not isinstance(root, cst.Name):
            return None
        dotted = _code(model, target, 60)
        imported = model.imported_name(root)
        if not imported:
            return None
        if dotted.startswith("os.environ") or any(
            n == "os.environ" for n in model.resolve_name(target)
        ):
            return f"`{dotted} = ...` changes the server process's environment"
        return (
            f"`{dotted} = ...` monkey-patches the imported `{root.value}` for the whole "
            "server; wrap or subclass it inside your own code instead"
        )

    def _call(self, call: cst.Call) -> str | None:
        model = self.module
        names = _names(model, call.func)
        func = call.func
        if names & LOGGING_GLOBAL:
            return (
                f"`{_code(model, func, 50)}(...)` reconfigures logging for the whole Open WebUI "
                "server; configure your own logger (`logger = logging.getLogger(__name__)`, "
                "`logger.setLevel(...)`) instead"
            )
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ROOT_LOGGER_METHODS
            and self._is_root_logger(func.value)
        ):
            return (
                f"`{_code(model, func, 40)}(...)` changes the root logger of the whole "
                "Open WebUI server; use `logging.getLogger(__name__)` instead"
            )
        if names & PROCESS_SETTINGS:
            return (
                f"`{_code(model, func, 50)}(...)` changes a process-wide setting of the Open "
                "WebUI server, for every other function too; set it around your own code "
                "inside `action` (or not at all)"
            )
        if names & NETWORK_CALLS:
            return (
                f"`{_code(model, func, 50)}(...)` does network I/O at import time; do it "
                "lazily inside `action` (or in `__init__` behind a flag)"
            )
        if names & PROCESS_CALLS:
            return (
                f"`{_code(model, func, 50)}(...)` starts a process at import time (installing "
                "packages belongs in the frontmatter `requirements`); do it inside `action`"
            )
        if names & FILE_CALLS:
            return (
                f"`{_code(model, func, 50)}(...)` does file-system I/O at import time; do it "
                "lazily when `action` needs it"
            )
        if names & ENV_CALLS or (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("update", "setdefault", "pop")
            and "os.environ" in model.resolve_name(func.value)
        ):
            return f"`{_code(model, func, 50)}(...)` changes the server process's environment"
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("append", "insert", "extend")
            and "sys.path" in model.resolve_name(func.value)
        ):
            return f"`{_code(model, func, 50)}(...)` changes the import path of the whole server"
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATING_METHODS:
            root = func.value
            while isinstance(root, (cst.Attribute, cst.Subscript)):
                root = root.value
            if isinstance(root, cst.Name) and model.imported_name(root):
                return (
                    f"`{_code(model, func, 50)}(...)` changes the imported `{root.value}` for "
                    "the whole server (every other function and Open WebUI itself see it); "
                    "keep your own copy instead"
                )
        if "setattr" in names and call.args:
            first = call.args[0].value
            if isinstance(first, cst.Name) and model.imported_name(first):
                return (
                    f"`setattr({first.value}, ...)` monkey-patches the imported "
                    f"`{first.value}` for the whole server"
                )
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in FILE_METHODS
            and self._is_module_path(func.value)
        ):
            return (
                f"`{_code(model, func, 50)}(...)` does file-system I/O at import time; do it "
                "lazily when `action` needs it"
            )
        return None

    def _is_root_logger(self, expr: cst.BaseExpression) -> bool:
        model = self.module
        if "logging.root" in model.resolve_name(expr):
            return True
        if isinstance(expr, cst.Name):
            for binding in model.bindings.get(expr.value, []):
                value = assigned_value(binding, model)
                if value is not None and self._is_root_logger(value):
                    return True
            return False
        if isinstance(expr, cst.Call) and "logging.getLogger" in model.resolve_name(expr.func):
            if not expr.args:
                return True
            name = string_value(expr.args[0].value)
            return name in ("root", "")
        return False

    def _is_module_path(self, expr: cst.BaseExpression) -> bool:
        model = self.module
        for _ in range(4):
            if isinstance(expr, cst.Call):
                return bool(_names(model, expr.func) & PATH_TYPES)
            if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
                return True
            if isinstance(expr, cst.Name):
                bound = [assigned_value(b, model) for b in model.bindings.get(expr.value, [])]
                values = [v for v in bound if v is not None]
                if len(values) != 1:
                    return False
                expr = values[0]
                continue
            return False
        return False

    def _local_function(self, call: cst.Call) -> FunctionInfo | None:
        func = call.func
        if isinstance(func, cst.Name) and func.value in self.module.functions:
            return self.module.functions[func.value]
        return None

    def _inside(self, start: FunctionInfo) -> tuple[cst.Call, str] | None:
        """The first side-effect call in `start` or a module function it calls."""
        model = self.module
        seen = {start.qualname}
        pending = [start]
        while pending:
            info = pending.pop()
            for call in model.own_of(info.node.body, cst.Call, lambdas=False):
                names = _names(model, call.func)
                if names & (LOGGING_GLOBAL | NETWORK_CALLS | PROCESS_CALLS | FILE_CALLS):
                    why = self._call(call)
                    if why is not None:
                        return call, f"calls `{_code(model, call.func, 30)}`"
            for site in model.call_sites.get(info.qualname, []):
                if site.callee not in seen and site.callee in model.functions:
                    seen.add(site.callee)
                    pending.append(model.functions[site.callee])
        return None

    VALID = [
        Valid(
            """
            import logging

            log = logging.getLogger(__name__)
            log.setLevel(logging.INFO)
            if not log.handlers:
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
                log.addHandler(handler)

            class Action:
                async def action(self, body):
                    log.info("clicked")
                    return body
            """
        ),
        Valid(
            """
            import asyncio
            import json

            DEFAULT_PROMPT = "Summarise the conversation."
            LIMITS = json.loads('{"max": 40}')

            class Action:
                async def action(self, body):
                    return {"content": DEFAULT_PROMPT}

            if __name__ == "__main__":
                logging_setup = __import__("logging").basicConfig(level=10)
                print(asyncio.run(Action().action({"messages": []})))
            """
        ),
        Valid(
            """
            import os
            from pathlib import Path

            DATA_DIR = Path(os.environ.get("DATA_DIR", "/app/backend/data")) / "exports"

            class Action:
                def _ensure_dir(self) -> Path:
                    DATA_DIR.mkdir(parents=True, exist_ok=True)
                    return DATA_DIR

                async def action(self, body):
                    folder = self._ensure_dir()
                    (folder / "last.md").write_text(body["messages"][-1]["content"])
            """
        ),
        Valid(
            """
            from typing import TYPE_CHECKING
            from pydantic import BaseModel, Field

            if TYPE_CHECKING:
                from open_webui.models.users import UserModel

            try:
                import markdown
            except ImportError:
                markdown = None

            class Action:
                class Valves(BaseModel):
                    style: str = Field(default="plain", description="Output style")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body):
                    return body
            """
        ),
        Valid(
            """
            import logging
            import httpx

            logger = logging.getLogger("owui.actions.translate")
            client_timeout = httpx.Timeout(30.0)

            class Action:
                async def action(self, body):
                    async with httpx.AsyncClient(timeout=client_timeout) as client:
                        r = await client.get("https://api.example.com/ping")
                    logger.debug("status %s", r.status_code)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import logging

            logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
            logger = logging.getLogger(__name__)

            class Action:
                async def action(self, body):
                    logger.debug("clicked")
                    return body
            """,
            lines=(3,),
            message="reconfigures logging",
        ),
        Invalid(
            """
            import subprocess
            import sys

            try:
                import docx
            except ImportError:
                subprocess.check_call([sys.executable, "-m", "pip", "install", "python-docx"])
                import docx

            class Action:
                async def action(self, body):
                    return body
            """,
            lines=(7,),
            message="starts a process",
        ),
        Invalid(
            """
            import os

            EXPORT_DIR = "/app/backend/data/exports"
            os.makedirs(EXPORT_DIR, exist_ok=True)
            os.environ["TOKENIZERS_PARALLELISM"] = "false"

            class Action:
                async def action(self, body):
                    return body
            """,
            lines=(4, 5),
        ),
        Invalid(
            """
            import requests
            from open_webui.models.users import Users as U

            _original_get = requests.Session.request

            def _patched(self, method, url, **kwargs):
                kwargs.setdefault("timeout", 30)
                return _original_get(self, method, url, **kwargs)

            requests.Session.request = _patched
            setattr(U, "cached", True)

            class Action:
                async def action(self, body):
                    return body
            """,
            lines=(10, 11),
            message="monkey-patches",
        ),
        Invalid(
            """
            import logging
            import nltk

            root = logging.getLogger()
            root.setLevel(logging.INFO)

            def _prepare():
                nltk.download("punkt", quiet=True)

            _prepare()

            class Action:
                async def action(self, body):
                    return body
            """,
            lines=(5, 10),
        ),
    ]
