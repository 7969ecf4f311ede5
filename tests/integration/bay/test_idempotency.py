"""Idempotency keys (bay-api-v1.md §7)."""

from __future__ import annotations

import concurrent.futures

import httpx


def post(bay, path, key, json=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return bay.client.post(path, json=json, headers=headers)


# A replay returns the original status and body and creates nothing new.
def test_create_replay(bay):
    a = post(bay, "/v1/sandboxes", "k1", {"ttl": 600})
    b = post(bay, "/v1/sandboxes", "k1", {"ttl": 600})
    assert a.status_code == b.status_code == 201
    assert a.content == b.content
    assert len(bay.client.get("/v1/sandboxes").json()["items"]) == 1
    # Defaults are applied before fingerprinting: {} equals {"profile": "python-default"}.
    c = post(bay, "/v1/sandboxes", "k2", {})
    d = post(bay, "/v1/sandboxes", "k2", {"profile": "python-default"})
    assert c.json()["id"] == d.json()["id"]


# The same key with a different body (or path) is 409; malformed keys are 409 too.
def test_conflicts(bay):
    post(bay, "/v1/sandboxes", "k", {"ttl": 10})
    r = post(bay, "/v1/sandboxes", "k", {"ttl": 20})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "conflict" and err["details"]["key"] == "k" and err["details"]["hint"]
    r = post(bay, "/v1/cargos", "k", {})
    assert r.status_code == 409
    for bad in ("has space", "x" * 129, "", "a/b", "k.1"):
        r = bay.client.post("/v1/sandboxes", headers={"Idempotency-Key": bad})
        assert r.status_code == 409, bad
        assert r.json()["error"]["details"]["key"] == bad


# A failed request leaves the key unused, so a retry executes.
def test_failure_not_stored(bay):
    assert post(bay, "/v1/sandboxes", "retry", {"profile": "nope"}).status_code == 400
    # Different body now, but the key was never used: no conflict.
    assert post(bay, "/v1/sandboxes", "retry", {}).status_code == 201


# extend_ttl: a replay returns the first body byte-for-byte and does not extend again.
def test_extend_ttl_replay(bay):
    sb = bay.create(ttl=100)
    path = f"/v1/sandboxes/{sb['id']}/extend_ttl"
    first = post(bay, path, "e1", {"extend_by": 50})
    again = post(bay, path, "e1", {"extend_by": 50})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    now = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()["expires_at"]
    assert now == first.json()["expires_at"]
    other = post(bay, path, "e2", {"extend_by": 50})
    assert other.json()["expires_at"] > first.json()["expires_at"]


# Cargo creation replays the same cargo.
def test_cargo_replay(bay):
    a = post(bay, "/v1/cargos", "c1", {"size_limit_mb": 5})
    b = post(bay, "/v1/cargos", "c1", {"size_limit_mb": 5})
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert len(bay.client.get("/v1/cargos").json()["items"]) == 1


# 50 concurrent creates with one key: exactly one sandbox, 50 identical answers.
def test_concurrent_same_key(bay):
    def call(_):
        with httpx.Client(base_url=bay.url, headers=bay.client.headers, timeout=60) as c:
            return c.post("/v1/sandboxes", json={"ttl": 300}, headers={"Idempotency-Key": "burst"})

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201]
    assert len({r.content for r in results}) == 1
    assert len(bay.client.get("/v1/sandboxes").json()["items"]) == 1
    # Keys are per owner: without one, two creates make two sandboxes.
    bay.client.post("/v1/sandboxes")
    bay.client.post("/v1/sandboxes")
    assert len(bay.client.get("/v1/sandboxes").json()["items"]) == 3


# Keys survive a Bay restart.
def test_replay_after_restart(bay):
    a = post(bay, "/v1/sandboxes", "persist", {})
    bay.restart()
    b = post(bay, "/v1/sandboxes", "persist", {})
    assert a.content == b.content
