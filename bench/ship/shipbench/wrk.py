"""Throughput with wrk: a generated Lua script sets the POST body and reports the run as JSON."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from pathlib import Path

_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,' ..
    '"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str | None:
    if not available():
        return None
    r = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    return (r.stdout or r.stderr).splitlines()[0].strip() if (r.stdout or r.stderr) else None


def write_script(directory: str, name: str, body: str) -> str:
    path = Path(directory) / f"{name}.lua"
    path.write_text(_LUA.format(body=body))
    return str(path)


def run(url: str, script: str, *, connections: int, threads: int, seconds: float) -> dict:
    """Runs wrk once; returns req/s, latency percentiles (ms) and error counts."""
    secs = max(1, round(seconds))
    threads = max(1, min(threads, connections))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{secs}s", "--timeout", "10s",
            "-s", script, url]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    line = next((l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (rc={r.returncode}): {r.stderr.strip() or r.stdout[-500:]}")
    d = json.loads(line[len("WRKJSON "):])
    dur_s = d["duration_us"] / 1e6
    errors = {k[4:]: d[k] for k in d if k.startswith("err_")}
    return {
        "connections": connections,
        "threads": threads,
        "duration_s": round(dur_s, 3),
        "requests": d["requests"],
        "req_per_s": d["requests"] / dur_s if dur_s > 0 else 0.0,
        "latency_ms": {
            "mean": d["lat_mean_us"] / 1000,
            "p50": d["lat_p50_us"] / 1000,
            "p90": d["lat_p90_us"] / 1000,
            "p99": d["lat_p99_us"] / 1000,
            "max": d["lat_max_us"] / 1000,
        },
        "errors": errors,
        "non_2xx": errors["status"],
        "client_cpu_s": round(client_cpu, 3),
    }
