"""The project-page examples in examples/ run unchanged against the real bay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BayServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(example: str, server: BayServer) -> str:
    env = {
        **os.environ,
        "BAY_ENDPOINT": server.url,
        "BAY_TOKEN": server.api_key,
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Shown with `pytest -s` / on failure: the report quotes these outputs.
    print(f"--- {example} ---\n{proc.stdout}{proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_quick_start(bay_url: str, bay_server: BayServer) -> None:
    lines = _run("quick_start.py", bay_server).splitlines()
    assert lines[0] == "hello"
    exec_id, ms = lines[1].split()
    assert exec_id.startswith("exec-")
    assert int(ms) >= 0
    assert lines[2] == "history entries: 1"
    # The example deletes its sandbox.
    assert bay_server.admin.get("/v1/sandboxes").json()["items"] == []


@pytest.mark.usefixtures("needs_cargos")
def test_cargo_example(bay_url: str, bay_server: BayServer) -> None:
    out = _run("cargo.py", bay_server)
    assert "persist-me" in out
    assert bay_server.admin.get("/v1/sandboxes").json()["items"] == []


@pytest.mark.usefixtures("needs_skills")
def test_skill_lifecycle_example(bay_url: str, bay_server: BayServer) -> None:
    out = _run("skill_lifecycle.py", bay_server)
    assert "rollback: sr-" in out
    # Runs again on a server that already knows the skill.
    assert "rollback: sr-" in _run("skill_lifecycle.py", bay_server)
