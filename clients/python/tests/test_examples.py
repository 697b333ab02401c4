"""examples/python runs against hotpool serve."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_code_interpreter_example(server):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "clients" / "python"))
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "code_interpreter.py")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "'output': 'Hello from sandbox!'" in p.stdout
    assert "  | 2" in p.stdout, "the loop's lines were streamed"
    assert "ZeroDivisionError" in p.stdout
