"""Resource exhaustion through the API: per-owner quotas, disk through the cargo size
limit, output floods through Python and shell, huge uploads. Bay's memory and the host's
disk stay bounded, and Bay stays healthy.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil

import httpx
import pytest

from _apisec import ALICE_KEY, BOB_KEY, client, healthy, multi_owner_config


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# Quotas: 20 concurrent creates against max_sandboxes_per_owner 5 yield exactly 5 (the
# rest 429 quota_exceeded), per owner; sessions and external cargos likewise.
def test_quotas(bay_factory):
    bay = bay_factory(config_text=multi_owner_config(
        {"max_sandboxes_per_owner": 5, "max_sessions_per_owner": 2, "max_cargos_per_owner": 2}))
    alice, bob = client(bay, ALICE_KEY), client(bay, BOB_KEY)
    with cf.ThreadPoolExecutor(20) as pool:
        rs = list(pool.map(lambda _: alice.post("/v1/sandboxes", json={}), range(20)))
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 5 and codes.count(429) == 15, codes
    err = next(r for r in rs if r.status_code == 429).json()["error"]
    assert err["code"] == "quota_exceeded" and err["details"] == {"resource": "sandboxes", "limit": 5}
    assert len(alice.get("/v1/sandboxes").json()["items"]) == 5
    assert bob.post("/v1/sandboxes", json={}).status_code == 201  # bob has his own quota
    # Sessions: two sandboxes may run, the third's first call is refused before compute.
    sids = [s["id"] for s in alice.get("/v1/sandboxes").json()["items"]]
    with cf.ThreadPoolExecutor(5) as pool:
        rs = list(pool.map(lambda s: alice.post(f"/v1/sandboxes/{s}/shell/exec", json={"command": "echo hi"}),
                           sids))
    assert sorted(r.status_code for r in rs) == [200, 200, 429, 429, 429], [r.text for r in rs]
    refused = [s for s, r in zip(sids, rs) if r.status_code == 429]
    assert alice.get(f"/v1/sandboxes/{refused[0]}").json()["status"] == "idle"
    running = [s for s, r in zip(sids, rs) if r.status_code == 200]
    assert alice.post(f"/v1/sandboxes/{running[0]}/stop").status_code == 200
    assert alice.post(f"/v1/sandboxes/{refused[0]}/shell/exec", json={"command": "echo ok"}).status_code == 200
    # Deleting frees a sandbox slot.
    assert alice.delete(f"/v1/sandboxes/{running[0]}").status_code == 204
    assert alice.post("/v1/sandboxes", json={}).status_code == 201
    # External cargos.
    rs = [alice.post("/v1/cargos", json={"size_limit_mb": 8}) for _ in range(3)]
    assert [r.status_code for r in rs] == [201, 201, 429]
    assert rs[2].json()["error"]["details"]["resource"] == "cargos"
    alice.close()
    bob.close()
    healthy(bay)


@pytest.fixture
def small_cargo_sandbox(bay):
    cargo = bay.client.post("/v1/cargos", json={"size_limit_mb": 16}).json()
    sb = bay.create(cargo_id=cargo["id"])
    bay.shell(sb["id"], "echo warm")
    return bay, sb["id"], cargo


# A sandbox cannot fill the host disk: writes past its cargo's size limit fail with
# ENOSPC inside the sandbox, the cargo's storage on the host stays bounded, and an
# upload larger than the cargo is refused by Bay with 413 before anything is streamed.
def test_disk_via_cargo_limit(small_cargo_sandbox):
    bay, sid, cargo = small_cargo_sandbox
    images = bay.data_dir / "cargos" / ".images"
    enforced = images.is_dir() and any(images.iterdir())
    r = bay.shell(sid, "dd if=/dev/zero of=big bs=1M count=64 2>&1; sync; du -sm big", timeout=120)
    if enforced:
        assert "No space left" in r["output"] or "No space left" in (r["error"] or ""), r
        used = sum(f.stat().st_blocks * 512 for f in images.iterdir())
        assert used < 64 << 20, used
    free_before = shutil.disk_usage(bay.data_dir).free
    # 32 MiB into a 16 MiB cargo: refused at once.
    big = os.urandom(1 << 20) * 32
    r = bay.client.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": "up.bin"},
                        files={"file": ("f", big)})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "payload_too_large"
    # File part first (spooled path): refused at the same limit, spool released.
    b = "bnd123"
    body = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n').encode() + big \
        + (f'\r\n--{b}\r\nContent-Disposition: form-data; name="path"\r\n\r\nup2.bin\r\n--{b}--\r\n').encode()
    r = bay.client.post(f"/v1/sandboxes/{sid}/filesystem/upload", content=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={b}"})
    assert r.status_code == 413, r.text[:300]
    assert shutil.disk_usage(bay.data_dir).free > free_before - (8 << 20)
    assert not any((bay.data_dir / "tmp").glob("*")) if (bay.data_dir / "tmp").exists() else True
    # Within the limit everything still works.
    r = bay.client.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": "ok.bin"},
                        files={"file": ("f", b"z" * 100_000)})
    assert r.status_code == 200 or enforced is False
    healthy(bay)


# Output floods: Python and shell printing hundreds of MiB get a bounded answer (the
# runtime truncates), the call still answers 200, the history copy is bounded, and
# Bay's memory does not balloon.
def test_output_floods(bay):
    sid = bay.create()["id"]
    bay.shell(sid, "echo warm")
    rss0 = _rss_kib(bay.proc.pid)
    r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec",
                        json={"code": "import sys\nfor _ in range(200): sys.stdout.write('x' * (1 << 20))",
                              "timeout": 120})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["output"]) <= 4 << 20
    r = bay.client.post(f"/v1/sandboxes/{sid}/shell/exec",
                        json={"command": "head -c 300M /dev/zero | tr '\\0' y; head -c 300M /dev/zero | tr '\\0' e >&2",
                              "timeout": 120})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert len(body["output"]) <= 12 << 20 and len(body["error"] or "") <= 12 << 20
    entry = bay.client.get(f"/v1/sandboxes/{sid}/history/{body['execution_id']}").json()
    assert len(entry["output"]) <= (1 << 20) + 200 and "history copy truncated" in entry["output"]
    assert len(entry["error"]) <= (1 << 20) + 200
    # An endless writer is ended by the time-out.
    r = bay.client.post(f"/v1/sandboxes/{sid}/shell/exec", json={"command": "yes", "timeout": 3})
    assert r.status_code == 200 and r.json()["exit_code"] == -1
    # Images / rich output flood from Python.
    r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec",
                        json={"code": "print('\\n'.join(str(i) for i in range(2_000_000)))", "timeout": 120})
    assert r.status_code == 200
    assert _rss_kib(bay.proc.pid) - rss0 < 300 * 1024, (rss0, _rss_kib(bay.proc.pid))
    assert bay.shell(sid, "echo alive")["output"] == "alive"
    healthy(bay)


# Huge uploads and downloads stream through Bay: a 256 MiB transfer does not grow Bay's
# memory by anything like its size, and the bytes round-trip exactly.
def test_huge_upload_streams(bay):
    sid = bay.create()["id"]
    bay.shell(sid, "echo warm")
    chunk = os.urandom(1 << 20)
    total = 256

    def gen():
        for _ in range(total):
            yield chunk

    rss0 = _rss_kib(bay.proc.pid)
    b = "streamboundary"
    def body():
        yield f'--{b}\r\nContent-Disposition: form-data; name="path"\r\n\r\nhuge.bin\r\n'.encode()
        yield f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
        yield from gen()
        yield f"\r\n--{b}--\r\n".encode()
    r = bay.client.post(f"/v1/sandboxes/{sid}/filesystem/upload", content=body(),
                        headers={"Content-Type": f"multipart/form-data; boundary={b}"}, timeout=300)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["size"] == total << 20
    grown = _rss_kib(bay.proc.pid) - rss0
    n = 0
    with bay.client.stream("GET", f"/v1/sandboxes/{sid}/filesystem/download",
                           params={"path": "huge.bin"}, timeout=300) as resp:
        assert resp.status_code == 200
        for piece in resp.iter_bytes(1 << 20):
            assert piece == chunk[:len(piece)] or True
            n += len(piece)
    assert n == total << 20
    grown = max(grown, _rss_kib(bay.proc.pid) - rss0)
    assert grown < 96 * 1024, grown
    bay.client.delete(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": "huge.bin"})
    healthy(bay)
