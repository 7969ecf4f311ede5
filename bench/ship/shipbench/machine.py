"""What the figures were measured on: machine and build descriptions."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def loadavg() -> list[float]:
    parts = _read("/proc/loadavg").split()
    return [float(x) for x in parts[:3]] if len(parts) >= 3 else []


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in _read("/proc/cpuinfo").splitlines()
                if l.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next((int(l.split()[1]) for l in _read("/proc/meminfo").splitlines()
                    if l.startswith("MemTotal:")), 0)
    hyper = next((l.split(":", 1)[1].strip() for l in _read("/proc/cpuinfo").splitlines()
                  if l.startswith("flags") and " hypervisor" in l), None)
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "virtualised": hyper is not None,
        "kernel": platform.release(),
        "os": _os_name(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "hostname": platform.node(),
        "python": platform.python_version(),
    }


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _git(repo: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def build(binary: str, repo: Path) -> dict:
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = None
    build_type = None
    cache_dir = None
    p = Path(binary).resolve().parent
    for _ in range(5):  # <build>/app/bin/ship -> <build>/CMakeCache.txt
        cache = p / "CMakeCache.txt"
        if cache.is_file():
            cache_dir = str(p)
            for line in cache.read_text(errors="replace").splitlines():
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip() or None
                elif line.startswith("CMAKE_HOME_DIRECTORY:"):
                    # The commit is the one of the tree the binary was built from (another
                    # worktree, say), not of the harness's own checkout.
                    source = Path(line.split("=", 1)[1].strip())
                    if (source / ".git").exists():
                        repo = source
            break
        p = p.parent
    st = os.stat(binary)
    porcelain = _git(repo, "status", "--porcelain", "--untracked-files=no")
    commit_time = _git(repo, "log", "-1", "--format=%ct")
    return {
        "ship_version": version,
        "git_commit": _git(repo, "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(porcelain) if porcelain is not None else None,
        "build_type": build_type,
        "build_dir": cache_dir,
        "binary": str(Path(binary).resolve()),
        "binary_bytes": st.st_size,
        "binary_mtime": datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds"),
        # The commit is the tree's HEAD at run time; a binary older than that commit was
        # built from an earlier tree.
        "binary_predates_commit": bool(commit_time) and st.st_mtime < int(commit_time),
    }
