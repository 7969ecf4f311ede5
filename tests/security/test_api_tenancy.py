"""Hostile API client: authentication, tenancy across every resource type, ID guessing.

Two owners (alice = attacker, bob = victim) on one real Bay with the process driver.
Bob's sandbox holds a marker secret in its workspace and its history; a second marker
lives in a host file outside every cargo. Every attack asserts that neither marker
appears in any answer and that Bay stays healthy.
"""

from __future__ import annotations

import base64
import re
import secrets

import httpx
import pytest

from _apisec import (ALICE_KEY, BOB_KEY, Markers, client, healthy, multi_owner_config,
                     plant_host_secret)


@pytest.fixture
def world(bay_factory, tmp_state):
    bay = bay_factory(config_text=multi_owner_config())
    m = Markers()
    plant_host_secret(m, tmp_state)
    alice, bob = client(bay, ALICE_KEY), client(bay, BOB_KEY)
    # Bob: a sandbox with a secret file, one history entry that printed the secret, an
    # external cargo, a payload, a candidate with an active release.
    sb = bob.post("/v1/sandboxes", json={}).json()
    r = bob.put(f"/v1/sandboxes/{sb['id']}/filesystem/files",
                json={"path": "secret.txt", "content": m.victim})
    assert r.status_code == 200, r.text
    ex = bob.post(f"/v1/sandboxes/{sb['id']}/shell/exec",
                  json={"command": "cat secret.txt", "tags": "victim"}).json()
    assert ex["output"] == m.victim
    cargo = bob.post("/v1/cargos", json={"size_limit_mb": 16}).json()
    blob = bob.post("/v1/skills/payloads", json={"payload": {"secret": m.victim}}).json()
    cand = bob.post("/v1/skills/candidates",
                    json={"skill_key": "victim-skill", "source_execution_ids": [ex["execution_id"]],
                          "payload_ref": blob["payload_ref"], "summary": m.victim}).json()
    assert bob.post(f"/v1/skills/candidates/{cand['id']}/evaluate",
                    json={"passed": True, "score": 1.0}).status_code == 200
    rel = bob.post(f"/v1/skills/candidates/{cand['id']}/promote", json={}).json()
    # Alice has one sandbox of her own (a valid target for cross-resource mixes).
    mine = alice.post("/v1/sandboxes", json={}).json()
    w = dict(bay=bay, m=m, alice=alice, bob=bob, sb=sb, exec_id=ex["execution_id"],
             cargo=cargo, blob=blob["payload_ref"], cand=cand, rel=rel, mine=mine)
    yield w
    alice.close()
    bob.close()


def _routes(sid: str, eid: str = "exec-000000000000"):
    """Every sandbox-scoped route with a plausible request."""
    files = {"file": ("x.txt", b"pwned")}
    return [
        ("GET", f"/v1/sandboxes/{sid}", {}),
        ("DELETE", f"/v1/sandboxes/{sid}", {}),
        ("POST", f"/v1/sandboxes/{sid}/stop", {}),
        ("POST", f"/v1/sandboxes/{sid}/keepalive", {}),
        ("POST", f"/v1/sandboxes/{sid}/extend_ttl", {"json": {"extend_by": 60}}),
        ("POST", f"/v1/sandboxes/{sid}/python/exec", {"json": {"code": "print(open('secret.txt').read())"}}),
        ("POST", f"/v1/sandboxes/{sid}/shell/exec", {"json": {"command": "cat secret.txt"}}),
        ("GET", f"/v1/sandboxes/{sid}/filesystem/files", {"params": {"path": "secret.txt"}}),
        ("PUT", f"/v1/sandboxes/{sid}/filesystem/files", {"json": {"path": "secret.txt", "content": "x"}}),
        ("DELETE", f"/v1/sandboxes/{sid}/filesystem/files", {"params": {"path": "secret.txt"}}),
        ("GET", f"/v1/sandboxes/{sid}/filesystem/directories", {"params": {"path": "."}}),
        ("POST", f"/v1/sandboxes/{sid}/filesystem/upload", {"data": {"path": "secret.txt"}, "files": files}),
        ("GET", f"/v1/sandboxes/{sid}/filesystem/download", {"params": {"path": "secret.txt"}}),
        ("GET", f"/v1/sandboxes/{sid}/history", {}),
        ("GET", f"/v1/sandboxes/{sid}/history/last", {}),
        ("GET", f"/v1/sandboxes/{sid}/history/{eid}", {}),
        ("PATCH", f"/v1/sandboxes/{sid}/history/{eid}", {"json": {"notes": "pwned"}}),
        ("POST", f"/v1/sandboxes/{sid}/browser/exec", {"json": {"cmd": "open x"}}),
        ("POST", f"/v1/sandboxes/{sid}/browser/exec_batch", {"json": {"commands": ["open x"]}}),
        ("POST", f"/v1/sandboxes/{sid}/browser/skills/victim-skill/run", {"json": {}}),
        ("GET", f"/v1/sandboxes/{sid}/browser/traces/blob:blob-000000000000", {}),
    ]


# Without a valid key nothing under /v1 (or /metrics) answers; the key is only read from
# `Authorization: Bearer`, never from other headers, the query or cookies.
def test_authentication(world):
    bay, m, sid = world["bay"], world["m"], world["sb"]["id"]
    key = ALICE_KEY
    attempts = {
        "no header": {},
        "wrong key": {"Authorization": "Bearer wrong-" + secrets.token_hex(8)},
        "key prefix": {"Authorization": "Bearer " + key[:-1]},
        "key plus suffix": {"Authorization": "Bearer " + key + "x"},
        "key without scheme": {"Authorization": key},
        "basic scheme": {"Authorization": "Basic " + base64.b64encode(f"alice:{key}".encode()).decode()},
        "token scheme": {"Authorization": "Token " + key},
        "empty bearer": {"Authorization": "Bearer"},
        "x-api-key": {"X-API-Key": key},
        "api-key": {"Api-Key": key},
        "x-owner only": {"X-Owner": "alice"},
        "cookie": {"Cookie": f"api_key={key}; token={key}"},
        "huge token": {"Authorization": "Bearer " + "A" * 12000},
        "bytes token": {"Authorization": b"Bearer \xff\xfe" + key.encode()},
    }
    routes = [("GET", "/v1/sandboxes", {}), ("POST", "/v1/sandboxes", {"json": {}}),
              ("GET", "/v1/cargos", {}), ("GET", "/v1/skills/candidates", {}),
              ("GET", "/v1/profiles", {}), ("POST", "/v1/admin/gc/run", {}),
              ] + _routes(sid)[:3] + _routes(sid)[5:7]
    with httpx.Client(base_url=bay.url, timeout=30) as anon:
        for name, headers in attempts.items():
            for method, path, kw in routes:
                r = anon.request(method, path, headers=headers, **kw)
                assert r.status_code == 401, (name, method, path, r.status_code, r.text)
                assert r.json()["error"]["code"] == "unauthorized"
                assert r.headers.get("WWW-Authenticate") == "Bearer"
                m.check(r, f"{name} {method} {path}")
            # The key in the query string is not a key either.
            r = anon.get("/v1/sandboxes", params={"api_key": key, "token": key}, headers=headers)
            assert r.status_code == 401
        # The scheme word is case-insensitive; the key itself is not.
        assert anon.get("/v1/sandboxes", headers={"Authorization": "bEaReR " + key}).status_code == 200
        assert anon.get("/v1/sandboxes",
                        headers={"Authorization": "Bearer " + key.upper()}).status_code == 401
        assert anon.get("/health").status_code == 200
    # Bob's sandbox was neither deleted nor touched by the 401s.
    assert world["bob"].get(f"/v1/sandboxes/{sid}").status_code == 200
    healthy(bay)


# X-Owner is ignored while authentication is on: alice cannot become bob with it.
def test_x_owner_does_not_switch_owner(world):
    alice, sid, m = world["alice"], world["sb"]["id"], world["m"]
    r = alice.get(f"/v1/sandboxes/{sid}", headers={"X-Owner": "bob"})
    assert r.status_code == 404
    items = alice.get("/v1/sandboxes", headers={"X-Owner": "bob"}).json()["items"]
    assert [i["id"] for i in items] == [world["mine"]["id"]]
    m.check(r)


# Every sandbox-scoped route answers 404 for another owner's sandbox - exactly as for a
# sandbox that does not exist - and leaves the victim's sandbox and files untouched.
def test_sandbox_tenancy(world):
    bay, alice, bob, m = world["bay"], world["alice"], world["bob"], world["m"]
    sid = world["sb"]["id"]
    missing = "sandbox-" + secrets.token_hex(6)
    for (method, path, kw), (_, path_missing, _) in zip(_routes(sid, world["exec_id"]),
                                                          _routes(missing, world["exec_id"])):
        r = alice.request(method, path, **kw)
        r2 = alice.request(method, path_missing, **kw)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r2.status_code == 404, (method, path_missing, r2.status_code)
        assert r.json()["error"]["code"] == r2.json()["error"]["code"] == "not_found"
        m.check(r, f"{method} {path}")
    assert sid not in alice.get("/v1/sandboxes", params={"limit": 200}).text
    for status in ("idle", "ready", "starting", "failed", "expired"):
        assert sid not in alice.get("/v1/sandboxes", params={"status": status}).text
    # Alice cannot bind bob's managed cargo either.
    r = alice.post("/v1/sandboxes", json={"cargo_id": world["sb"]["cargo_id"]})
    assert r.status_code == 404
    # The victim's state is intact: file unchanged, history not annotated, sandbox alive.
    assert bob.get(f"/v1/sandboxes/{sid}/filesystem/files",
                   params={"path": "secret.txt"}).json()["content"] == m.victim
    entry = bob.get(f"/v1/sandboxes/{sid}/history/{world['exec_id']}").json()
    assert entry["notes"] is None
    assert bob.get(f"/v1/sandboxes/{sid}").json()["expires_at"] is None
    healthy(bay)


# Idempotency keys are per owner: alice reusing bob's key gets her own sandbox, never a
# replay of bob's answer.
def test_idempotency_key_scope(world):
    alice, bob = world["alice"], world["bob"]
    key = "shared-" + secrets.token_hex(6)
    b = bob.post("/v1/sandboxes", json={}, headers={"Idempotency-Key": key})
    a = alice.post("/v1/sandboxes", json={}, headers={"Idempotency-Key": key})
    assert b.status_code == a.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert alice.get(f"/v1/sandboxes/{b.json()['id']}").status_code == 404


# Cargos: get, delete, bind and list never reach another owner's cargo.
def test_cargo_tenancy(world):
    alice, bob, m = world["alice"], world["bob"], world["m"]
    cid, managed = world["cargo"]["id"], world["sb"]["cargo_id"]
    for c in (cid, managed):
        for method in ("GET", "DELETE"):
            r = alice.request(method, f"/v1/cargos/{c}")
            assert r.status_code == 404, (method, c, r.text)
            m.check(r)
        assert alice.post("/v1/sandboxes", json={"cargo_id": c}).status_code == 404
    for managed_flag in (None, "true", "false"):
        params = {"limit": 200} | ({"managed": managed_flag} if managed_flag else {})
        text = alice.get("/v1/cargos", params=params).text
        assert cid not in text and managed not in text
    assert bob.get(f"/v1/cargos/{cid}").status_code == 200


# History, skills (candidates, evaluations, releases) and payloads are owner-scoped:
# 404 for every operation on bob's objects, and bob's execution ids cannot seed alice's
# candidates or be read through alice's own sandbox.
def test_history_and_skills_tenancy(world):
    alice, bob, m = world["alice"], world["bob"], world["m"]
    mine, eid = world["mine"]["id"], world["exec_id"]
    cand, rel, blob = world["cand"]["id"], world["rel"]["id"], world["blob"]
    # Bob's execution through alice's own sandbox.
    for method, kw in (("GET", {}), ("PATCH", {"json": {"notes": "x"}})):
        r = alice.request(method, f"/v1/sandboxes/{mine}/history/{eid}", **kw)
        assert r.status_code == 404
        m.check(r)
    assert alice.get(f"/v1/sandboxes/{mine}/history").json()["total"] == 0
    r = alice.post("/v1/skills/candidates", json={"skill_key": "k", "source_execution_ids": [eid]})
    assert r.status_code == 400 and "not owned" in r.json()["error"]["message"]
    # Candidates and releases.
    calls = [("GET", f"/v1/skills/candidates/{cand}", {}),
             ("DELETE", f"/v1/skills/candidates/{cand}", {}),
             ("POST", f"/v1/skills/candidates/{cand}/evaluate", {"json": {"passed": False}}),
             ("POST", f"/v1/skills/candidates/{cand}/promote", {"json": {}}),
             ("POST", f"/v1/skills/releases/{rel}/rollback", {}),
             ("GET", f"/v1/skills/releases/{rel}/health", {}),
             ("DELETE", f"/v1/skills/releases/{rel}", {})]
    for method, path, kw in calls:
        r = alice.request(method, path, **kw)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        m.check(r, path)
    for path in ("/v1/skills/candidates", "/v1/skills/releases"):
        body = alice.get(path, params={"skill_key": "victim-skill"}).json()
        assert body["total"] == 0 and body["items"] == []
        m.check(alice.get(path))
    # Payloads, also with the reference encoded in other ways.
    blob_id = blob.split(":", 1)[1]
    for ref in (blob, blob.replace(":", "%3A"), blob.replace(":", "%3a"), "blob:%62" + blob_id[1:],
                blob + "%00", blob + "/", blob.upper()):
        r = alice.get(f"/v1/skills/payloads/{ref}")
        assert r.status_code in (400, 404), (ref, r.status_code)
        m.check(r, ref)
    # Bob still sees everything unchanged.
    c = bob.get(f"/v1/skills/candidates/{cand}").json()
    assert c["status"] == "promoted" and c["latest_pass"] is True
    assert bob.get(f"/v1/skills/payloads/{blob}").json()["payload"] == {"secret": m.victim}
    releases = bob.get("/v1/skills/releases").json()["items"]
    assert [r["id"] for r in releases if r["is_active"]] == [rel]


# Cursors are not capabilities: a cursor forged to point into bob's list (or copied from
# it) only ever pages through alice's own sandboxes.
def test_forged_cursors(world):
    alice, bob, m = world["alice"], world["bob"], world["m"]
    for _ in range(2):
        bob.post("/v1/sandboxes", json={})
    page = bob.get("/v1/sandboxes", params={"limit": 1}).json()
    assert page["next_cursor"]
    forged = [page["next_cursor"],
              base64.urlsafe_b64encode(f"sbx:0:{world['sb']['id']}".encode()).decode().rstrip("="),
              base64.urlsafe_b64encode(b"sbx:0:' OR 1=1 --").decode().rstrip("="),
              base64.urlsafe_b64encode(b"cargo:0:x").decode().rstrip("="),
              "%%%", "A" * 5000]
    for cur in forged:
        r = alice.get("/v1/sandboxes", params={"cursor": cur})
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            assert all(i["id"] == world["mine"]["id"] for i in r.json()["items"])
        m.check(r)
        assert alice.get("/v1/cargos", params={"cursor": cur}).status_code in (200, 400)


# IDs come from a CSPRNG: 12 lowercase hex, all distinct, no shared structure; guessing
# (random, sequential, SQL wildcards and injection) finds nothing.
def test_id_guessing(world):
    bay, alice, bob, m = world["bay"], world["alice"], world["bob"], world["m"]
    refs = [bob.post("/v1/skills/payloads", json={"payload": [i]}).json()["payload_ref"]
            for i in range(150)]
    hexes = [r.split("blob-", 1)[1] for r in refs]
    assert all(re.fullmatch(r"[0-9a-f]{12}", h) for h in hexes)
    assert len(set(hexes)) == len(hexes)
    # No common prefix beyond chance and every hex digit used in every position.
    for pos in range(12):
        assert len({h[pos] for h in hexes}) >= 10, pos
    ids = [world["sb"]["id"], world["cargo"]["id"], world["exec_id"], world["cand"]["id"],
           world["rel"]["id"]]
    assert re.fullmatch(r"sandbox-[0-9a-f]{12}", ids[0]) and re.fullmatch(r"ws-[0-9a-f]{12}", ids[1])
    assert re.fullmatch(r"exec-[0-9a-f]{12}", ids[2]) and re.fullmatch(r"sc-[0-9a-f]{12}", ids[3])
    # Neighbours of real ids, random ids, wildcards and injection attempts.
    real = world["sb"]["id"]
    guesses = [real[:-1] + c for c in "0123456789abcdef" if real[:-1] + c != real]
    guesses += ["sandbox-" + secrets.token_hex(6) for _ in range(100)]
    guesses += ["sandbox-%", "sandbox-_____________", "sandbox-*", "%", "*",
                "sandbox-' OR '1'='1", "sandbox-\" OR 1=1 --", real.upper(), real + " ",
                " " + real, real + "%00", real[:-2], "sandbox-" + real[-12:] * 2]
    for g in guesses:
        r = alice.get(f"/v1/sandboxes/{g}")
        assert r.status_code == 404, (g, r.status_code)
        m.check(r, g)
        assert alice.post(f"/v1/sandboxes/{g}/shell/exec",
                          json={"command": "cat secret.txt"}).status_code == 404
    for g in ["ws-%", "ws-" + secrets.token_hex(6), world["cargo"]["id"].upper()]:
        assert alice.get(f"/v1/cargos/{g}").status_code == 404
    healthy(bay)
