"""owui-lint never runs the code it analyses: no import, exec, eval, compile-and-run,
unpickling or installation of what a module asks for.

Each module below does something observable the moment any part of it runs (writes a
marker file, connects to a local socket, exits the process with status 3, runs `touch`,
installs a package through a fake `pip`). The real `owui-lint` command lints them, with
`--jobs 1` and `--jobs 2`, and nothing may happen. A second run installs an audit hook
(inherited by the forked workers) that records every exec, import of the modules' names,
process start and network connection.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.3)
    yield server
    server.close()


def _evil_modules(markers: Path, port: int) -> dict[str, str]:
    m = str(markers)
    action = textwrap.dedent(
        """
        class Action:
            async def action(self, body, __user__=None):
                return body
        """
    )
    return {
        "top_level_write.py": f"open({m!r} + '/top_level', 'w').write('ran')\n{action}",
        "network.py": (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port})).sendall(b'ran')\n{action}"
        ),
        "exits.py": f"import os\nos._exit(3)\n{action}",
        "spawns.py": (
            f"__import__('subprocess').run(['touch', {m!r} + '/subprocess'])\n"
            f"__import__('os').system('touch ' + {m!r} + '/system')\n{action}"
        ),
        "evals.py": (
            f"exec(\"open({m!r} + '/exec', 'w')\")\n"
            f"eval(compile(\"open({m!r} + '/eval', 'w')\", 'x', 'eval'))\n{action}"
        ),
        "unpickles.py": (
            f"import pickle\npickle.loads(b\"cos\\nsystem\\n(S'touch {m}/pickle'\\ntR.\")\n{action}"
        ),
        "requirements.py": (
            '"""\ntitle: Needs a package\nrequirements: owui-evil-package-xyz, requests\n"""\n'
            f"import owui_evil_package_xyz\n{action}"
        ),
        "imports_sibling.py": f"import owui_evil_sibling\n{action}",
        "owui_evil_sibling.py": f"open({m!r} + '/sibling', 'w')\nAction = None\n",
        "hidden_everywhere.py": textwrap.dedent(
            f"""
            import atexit
            from pydantic import BaseModel, Field

            atexit.register(lambda: open({m!r} + '/atexit', 'w'))

            def mark(name):
                open({m!r} + '/' + name, 'w')
                return lambda f: f

            class Meta(type):
                def __new__(mcs, *args):
                    open({m!r} + '/metaclass', 'w')
                    return super().__new__(mcs, *args)

            class Base:
                def __init_subclass__(cls):
                    open({m!r} + '/init_subclass', 'w')

            class Action(Base, metaclass=Meta):
                open({m!r} + '/class_body', 'w')

                class Valves(BaseModel):
                    key: str = Field(default=open({m!r} + '/valves', 'w').name)

                def __init__(self):
                    open({m!r} + '/init', 'w')
                    self.valves = self.Valves()

                @mark('decorator')
                async def action(self, body, __user__=None, _d=open({m!r} + '/default', 'w')):
                    open({m!r} + '/action', 'w')
                    return body

            if __name__ == '__main__':
                open({m!r} + '/main', 'w')
            """
        ),
        # Names a program started in this directory might import by mistake.
        "sitecustomize.py": f"open({m!r} + '/sitecustomize', 'w')\n",
        "usercustomize.py": f"open({m!r} + '/usercustomize', 'w')\n",
        "click.py": f"open({m!r} + '/click', 'w')\n",
        "libcst.py": f"open({m!r} + '/libcst', 'w')\n",
        "json.py": f"open({m!r} + '/json', 'w')\n",
        "rules.py": f"open({m!r} + '/rules', 'w')\n",
    }


@pytest.fixture
def evil(tmp_path: Path, listener: socket.socket) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir()
    project = tmp_path / "untrusted"
    project.mkdir()
    for name, text in _evil_modules(markers, listener.getsockname()[1]).items():
        (project / name).write_text(text, encoding="utf-8")
    # Installers on PATH that leave a mark if anything asks them to install a requirement.
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    for tool in ("pip", "pip3", "uv", "pipx", "conda", "poetry"):
        script = fake_bin / tool
        script.write_text(f"#!/bin/sh\ntouch {markers}/installer-{tool}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return project


def _env(evil: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{evil.parent / 'fake-bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONSAFEPATH", None)
    return env


def _assert_nothing_ran(evil: Path, listener: socket.socket, code: int, out: str) -> None:
    assert code == 1, out  # 3 would mean `os._exit(3)` ran
    assert sorted(p.name for p in (evil.parent / "markers").iterdir()) == []
    with pytest.raises(socket.timeout):
        listener.accept()
    summary = json.loads(out)["summary"]
    assert summary["files"] == len(list(evil.glob("*.py")))
    assert summary["actions"] == 10  # every module that binds `Action` was fully analysed


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_command_runs_nothing_it_reads(evil: Path, listener: socket.socket, jobs: str) -> None:
    command = [str(BIN / "owui-lint"), "check", ".", "--jobs", jobs, "--format", "json"]
    done = subprocess.run(
        command, cwd=evil, env=_env(evil), capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr
    _assert_nothing_ran(evil, listener, done.returncode, done.stdout)


DRIVER = """
import os, sys
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
untrusted = sys.argv[2]
import importlib.util
# The untrusted modules' names that nothing else provides (a real `click` may be imported).
stems = {n[:-3] for n in os.listdir(untrusted) if n.endswith(".py")}
names = {n for n in stems if importlib.util.find_spec(n) is None} | {"owui_evil_package_xyz"}
assert "network" in names and "click" not in names
# Everything owui-lint needs, imported before the hook starts watching (the CLI imports
# the engine, the cache and the process pool only when a run needs them).
from analyzer.cli import main
from analyzer.registry import all_rules
import analyzer.api, analyzer.cache, analyzer.reporters.sarif
import analyzer.flow.guards, concurrent.futures.process, multiprocessing.connection
all_rules()
import importlib.metadata  # the cache's key reads versions (namedtuple: eval)
import analyzer.config; analyzer.config._schema()  # pydantic, when there is a config to check

WATCHED = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
           "socket.connect", "socket.getaddrinfo", "os.startfile")
# What the worker processes legitimately unpickle: their tasks and results.
OURS = ("analyzer.", "rules.", "concurrent.futures", "multiprocessing", "copyreg",
        "collections", "enum", "pathlib", "pydantic", "functools")
SAFE_BUILTINS = {"set", "frozenset", "list", "dict", "tuple", "bytes", "slice", "range"}

def unexpected_class(module, name):
    if module.startswith(OURS):
        return False
    if module == "builtins":
        return not (name in SAFE_BUILTINS or name.endswith(("Error", "Exception")))
    return True

def hook(event, args):
    line = None
    if event == "exec":
        # Imports exec their module's code too: only code that is not from a file on
        # disk outside the untrusted folder counts.
        where = getattr(args[0], "co_filename", "?")
        if where.startswith(untrusted) or not os.path.isfile(where):
            line = f"exec {where}"
    elif event == "import" and args[0].split(".")[0] in names:
        line = f"import {args[0]}"
    elif event == "compile" and isinstance(args[1], str) and args[1].startswith(untrusted):
        line = f"compile {args[1]}"
    elif event == "pickle.find_class" and unexpected_class(*args):
        line = f"unpickle {args[0]}.{args[1]}"
    elif event.startswith(WATCHED):
        line = f"{event} {args!r}"
    if line is not None:
        os.write(log, (line + "\\n").encode())

sys.addaudithook(hook)
if os.environ.get("OWUI_LINT_SELFCHECK"):  # prove the hook notices what it looks for
    sys.path.insert(0, untrusted)
    import owui_evil_sibling
sys.argv = ["owui-lint", *sys.argv[3:]]
main()
"""


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the hook reaches workers by fork"
)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_audit_hook_sees_no_execution(
    evil: Path, listener: socket.socket, tmp_path: Path, jobs: str
) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    log = tmp_path / "audit.log"
    args = ["check", ".", "--jobs", jobs, "--format", "json"]
    done = subprocess.run(
        [sys.executable, str(driver), str(log), str(evil), *args],
        cwd=evil,
        env=_env(evil),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    _assert_nothing_ran(evil, listener, done.returncode, done.stdout)
    events = log.read_text().splitlines() if log.exists() else []
    assert events == []


def test_python_m_from_an_untrusted_directory_needs_safe_path(tmp_path: Path) -> None:
    """`python -m` puts the current directory first on sys.path (Python's rule, not ours):
    the README says to use the `owui-lint` command or `python -P -m analyzer` there."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "click.py").write_text("raise SystemExit('shadowed')\n")
    safe = subprocess.run(
        [sys.executable, "-P", "-m", "analyzer", "rules"], cwd=project, capture_output=True
    )
    assert safe.returncode == 0
    assert shutil.which("owui-lint", path=str(BIN))


def test_the_audit_hook_would_notice(evil: Path, tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    log = tmp_path / "audit.log"
    env = {**_env(evil), "OWUI_LINT_SELFCHECK": "1"}
    subprocess.run(
        [sys.executable, str(driver), str(log), str(evil), "rules"],
        cwd=evil,
        env=env,
        capture_output=True,
        timeout=120,
    )
    events = log.read_text().splitlines()
    assert "import owui_evil_sibling" in events
    assert f"exec {evil / 'owui_evil_sibling.py'}" in events
    assert (evil.parent / "markers" / "sibling").exists()
