"""Every Python example of the seed SDK's hot-pool reference runs against
hotpool serve with its import line changed to ``from hotpool import …``.

tests/hot-pool-reference.md is a copy of the reference; where the
repository sits beside ../shared (CI), a test checks the copy is current.
Fragments (blocks that use ``await`` at the top level or a ``manager`` made
by an earlier block) run inside an async function that makes and starts a
manager first, as the reference's reader would; complete programs run as they
are."""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
COPY = HERE / "hot-pool-reference.md"
SHARED = HERE.parents[3] / "shared" / "reference" / "hot-pool-reference.md"
IMPORTS = "from hotpool import SandboxManager, PoolConfig, PoolExhaustedError, PoolShutdownError, WarmUpTimeoutError, SandboxCreationError"


def blocks():
    text = COPY.read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def swap_import(code: str) -> str:
    return code.replace("from do_app_sandbox import", "from hotpool import")


def program(code: str) -> str:
    """The example as a program: a complete one as it is (with the names an
    earlier block imported, when it imports none itself); a fragment inside an
    async function, its own imports hoisted to the top."""
    code = swap_import(code)
    if "asyncio.run(" in code:
        return code if "from hotpool import" in code else IMPORTS + "\n" + code
    lines = code.splitlines()
    tree = compile(code, "<example>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    spans = [(n.lineno - 1, n.end_lineno) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    taken = {i for a, b in spans for i in range(a, b)}
    imports = [lines[i] for i in sorted(taken)]
    code = "\n".join(l for i, l in enumerate(lines) if i not in taken)
    needs_manager = re.search(r"\bmanager\b", code) and not re.search(r"^manager = ", code, re.M)
    body = []
    if needs_manager:
        body += ['manager = SandboxManager(pools={"python": PoolConfig(target_ready=3)})', "await manager.start()"]
    body.append(code)
    if "async def run_agent_system" in code:
        body.append("await run_agent_system()")
    if re.search(r"\bmanager\b", code):
        body.append("await manager.shutdown()")
    inner = textwrap.indent("\n".join(body), "    ")
    head = "\n".join(["import asyncio", IMPORTS] + imports)
    return f"{head}\n\nasync def _example():\n{inner}\n\nasyncio.run(_example())\n"


def run(code: str, server: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)


def test_the_copy_of_the_reference_is_current():
    if not SHARED.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs {SHARED} beside the repository")
        pytest.skip(f"skipped: needs ../shared/reference/hot-pool-reference.md beside the repository (CI has it); the tests use {COPY.name}")
    assert SHARED.read_text() == COPY.read_text(), "tests/hot-pool-reference.md must be a copy of the reference"


EXAMPLES = blocks()


def test_the_reference_has_its_examples():
    assert len(EXAMPLES) >= 12


# The graceful-shutdown example runs until signalled: test_graceful_shutdown_example.
RUN_TO_END = [c for c in EXAMPLES if "add_signal_handler" not in c]


@pytest.mark.parametrize("code", RUN_TO_END, ids=lambda c: c.strip().splitlines()[0][:40])
def test_reference_example_runs(code, server):
    p = run(program(code), server)
    assert p.returncode == 0, f"{program(code)}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    if "print(2+2)" in code and "asyncio.run(" in code:
        assert p.stdout.strip() == "4"
    if "Hello from sandbox!" in code:
        assert "'output': 'Hello from sandbox!\\n'" in p.stdout and "'success': True" in p.stdout


def test_graceful_shutdown_example(server):
    code = next(c for c in EXAMPLES if "add_signal_handler" in c)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    p = subprocess.Popen([sys.executable, "-c", program(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(3)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGTERM)
        time.sleep(2)
    finally:
        p.kill()
    out, err = p.communicate()
    assert "Shutting down pool..." in out, err
    assert "Traceback" not in err, err
