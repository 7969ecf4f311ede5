"""Races a hostile (or just unlucky) client can provoke through the API: delete vs exec,
stop vs the first call's cold start, cargo delete vs a create that binds it, concurrent
skill promotions, idempotent create races. Each ends in a consistent state: no leaked
runtime, no sandbox on deleted storage, no duplicate objects, Bay healthy.
"""

from __future__ import annotations

import concurrent.futures as cf
import secrets

import httpx

from _apisec import alive, healthy, session_pids, wait_until


def _client(bay) -> httpx.Client:
    return httpx.Client(base_url=bay.url, headers={"Authorization": f"Bearer {bay.api_key}"},
                        timeout=60)


def _no_runtime_for(bay, keep: int = 0) -> bool:
    return sum(alive(p) for p in session_pids(bay)) <= keep


# DELETE while several executions run: the delete answers fast, the executions end (any
# status but a hang), the sandbox is gone, and no runtime survives it.
def test_delete_vs_exec(bay):
    sid = bay.create()["id"]
    bay.shell(sid, "echo warm")
    with cf.ThreadPoolExecutor(6) as pool, _client(bay) as c:
        calls = [pool.submit(c.post, f"/v1/sandboxes/{sid}/shell/exec",
                             json={"command": "sleep 10", "timeout": 30}) for _ in range(3)]
        calls += [pool.submit(c.post, f"/v1/sandboxes/{sid}/python/exec",
                              json={"code": "import time; time.sleep(10)", "timeout": 30})]
        wait_until(lambda: bay.client.get(f"/v1/sandboxes/{sid}").json()["status"] == "ready", 5)
        import time as _t
        _t.sleep(0.5)
        t0 = _t.monotonic()
        assert bay.client.delete(f"/v1/sandboxes/{sid}").status_code == 204
        assert _t.monotonic() - t0 < 5
        for f in calls:
            r = f.result(40)
            assert r.status_code in (200, 404, 500, 502, 503, 504), r.text
        # Calls after the delete: 404, never a resurrected session.
        assert bay.client.post(f"/v1/sandboxes/{sid}/shell/exec",
                               json={"command": "id"}).status_code == 404
    assert bay.client.get(f"/v1/sandboxes/{sid}").status_code == 404
    assert wait_until(lambda: _no_runtime_for(bay), timeout=10)
    healthy(bay)


# STOP racing the first call's cold start, repeated: every call answers; afterwards the
# sandbox is readable with a valid status, at most one runtime per sandbox is alive, and
# the next call works.
def test_stop_vs_first_call(bay):
    sids = [bay.create()["id"] for _ in range(3)]
    with cf.ThreadPoolExecutor(12) as pool, _client(bay) as c:
        for round_ in range(2):
            futs = []
            for sid in sids:
                futs += [pool.submit(c.post, f"/v1/sandboxes/{sid}/shell/exec", json={"command": "echo hi"})
                         for _ in range(2)]
                futs.append(pool.submit(c.post, f"/v1/sandboxes/{sid}/stop"))
            for f in futs:
                r = f.result(60)
                assert r.status_code in (200, 500, 502, 503), r.text
            for sid in sids:
                g = bay.client.get(f"/v1/sandboxes/{sid}")
                assert g.status_code == 200 and g.json()["status"] in ("idle", "ready", "failed")
    assert wait_until(lambda: _no_runtime_for(bay, keep=len(sids)), timeout=10)
    for sid in sids:
        assert bay.shell(sid, "echo after")["output"] == "after"
    bay.destroy_all()
    assert wait_until(lambda: _no_runtime_for(bay), timeout=10)
    healthy(bay)


# DELETE of an external cargo racing creates that bind it: either the delete wins (204,
# the creates then 404) or a create wins (the delete then 409) - never a live sandbox on a
# deleted cargo.
def test_cargo_delete_vs_create(bay):
    for _ in range(6):
        cid = bay.client.post("/v1/cargos", json={"size_limit_mb": 16}).json()["id"]
        with cf.ThreadPoolExecutor(6) as pool, _client(bay) as c:
            creates = [pool.submit(c.post, "/v1/sandboxes", json={"cargo_id": cid}) for _ in range(3)]
            delete = pool.submit(c.delete, f"/v1/cargos/{cid}")
            creates += [pool.submit(c.post, "/v1/sandboxes", json={"cargo_id": cid}) for _ in range(2)]
            made = [f.result(30) for f in creates]
            d = delete.result(30)
        assert d.status_code in (204, 409), d.text
        ok = [r.json()["id"] for r in made if r.status_code == 201]
        assert all(r.status_code in (201, 404) for r in made), [r.text for r in made]
        cargo = bay.client.get(f"/v1/cargos/{cid}")
        if d.status_code == 204:
            assert cargo.status_code == 404
            # Only creates that bound the cargo before the delete could succeed - and then
            # the delete would have been refused. So none may exist.
            assert not ok, ok
        else:
            assert cargo.status_code == 200 and ok
            for sid in ok:
                assert bay.client.get(f"/v1/sandboxes/{sid}").json()["cargo_id"] == cid
            assert bay.shell(ok[0], "echo x > f && cat f")["output"] == "x"
        bay.destroy_all()
    healthy(bay)


# Concurrent promotions and rollbacks of one skill: versions stay unique, exactly one
# release is active.
def test_concurrent_skill_promotion(bay):
    sid = bay.create()["id"]
    eid = bay.shell(sid, "echo skill")["execution_id"]
    cands = []
    for _ in range(6):
        c = bay.client.post("/v1/skills/candidates",
                            json={"skill_key": "race-skill", "source_execution_ids": [eid]}).json()
        assert bay.client.post(f"/v1/skills/candidates/{c['id']}/evaluate",
                               json={"passed": True}).status_code == 200
        cands.append(c["id"])
    with cf.ThreadPoolExecutor(12) as pool, _client(bay) as c:
        futs = [pool.submit(c.post, f"/v1/skills/candidates/{cid}/promote", json={"stage": "stable"})
                for cid in cands for _ in range(2)]
        rels = [f.result(30) for f in futs]
        assert all(r.status_code == 200 for r in rels), [r.text for r in rels]
        roll = [pool.submit(c.post, f"/v1/skills/releases/{r.json()['id']}/rollback") for r in rels[-4:]]
        for f in roll:
            assert f.result(30).status_code in (200, 409)
    items = bay.client.get("/v1/skills/releases", params={"skill_key": "race-skill", "limit": 500}).json()["items"]
    versions = [r["version"] for r in items]
    assert len(versions) == len(set(versions)), sorted(versions)
    assert sum(r["is_active"] for r in items) == 1
    healthy(bay)


# Many concurrent creates with one Idempotency-Key produce one sandbox; every answer that
# is a 201 carries its id (the others may be 409 while the first runs).
def test_idempotent_create_race(bay):
    key = "race-" + secrets.token_hex(6)
    before = len(bay.client.get("/v1/sandboxes", params={"limit": 200}).json()["items"])
    with cf.ThreadPoolExecutor(16) as pool, _client(bay) as c:
        futs = [pool.submit(c.post, "/v1/sandboxes", json={"ttl": 600}, headers={"Idempotency-Key": key})
                for _ in range(16)]
        rs = [f.result(30) for f in futs]
    ids = {r.json()["id"] for r in rs if r.status_code == 201}
    assert len(ids) == 1, ids
    assert all(r.status_code in (201, 409) for r in rs)
    after = bay.client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]
    assert len(after) == before + 1
    # A different body with the same key is a conflict, not a second sandbox.
    r = bay.client.post("/v1/sandboxes", json={"ttl": 601}, headers={"Idempotency-Key": key})
    assert r.status_code == 409
    healthy(bay)
