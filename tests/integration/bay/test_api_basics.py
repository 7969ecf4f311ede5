"""Bay conventions: health, auth, profiles, errors, request ids (bay-api-v1.md §2-§5)."""

from __future__ import annotations

import json
import os
import re
import stat

import httpx

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[a-zA-Z0-9.]+)?$")


# /health needs no auth and answers the documented body.
def test_health(bay):
    r = httpx.get(bay.url + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and SEMVER.match(body["version"])
    assert body["message"] == "Bay service is running"
    assert r.headers["x-request-id"]


# Missing and wrong keys are 401 with the envelope and WWW-Authenticate; a valid key passes.
def test_auth(bay):
    r = httpx.get(bay.url + "/v1/profiles")
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "unauthorized" and err["message"] == "Authentication required"
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.get(bay.url + "/v1/profiles", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "Invalid API key"
    r = httpx.get(bay.url + "/v1/profiles", headers={"Authorization": "bearer test-key"})
    assert r.status_code == 200
    r = httpx.get(bay.url + "/v1/profiles", headers={"Authorization": "Basic dGVzdA=="})
    assert r.status_code == 401


# Without any configured key Bay generates one, stores only its hash and writes it 0600.
def test_generated_key(bay_factory):
    b = bay_factory(api_key=None)
    cred = b.data_dir / "credentials.json"
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    key = json.loads(cred.read_text())["api_key"]
    assert key.startswith("sk-bay-")
    assert str(cred) in b.log()
    assert httpx.get(b.url + "/v1/profiles").status_code == 401
    ok = httpx.get(b.url + "/v1/profiles", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    # The database holds the hash, never the key itself.
    assert key.encode() not in (b.data_dir / "bay.db").read_bytes()
    b.restart()
    ok = httpx.get(b.url + "/v1/profiles", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200


# Anonymous mode: X-Owner selects the owner, and owners cannot see each other.
def test_anonymous_owners(bay_factory):
    b = bay_factory(api_key=None, extra_env={"BAY_SECURITY__ALLOW_ANONYMOUS": "true"})
    alice = httpx.Client(base_url=b.url, headers={"X-Owner": "alice"})
    bob = httpx.Client(base_url=b.url, headers={"X-Owner": "bob"})
    sb = alice.post("/v1/sandboxes").json()
    assert alice.get(f"/v1/sandboxes/{sb['id']}").status_code == 200
    r = bob.get(f"/v1/sandboxes/{sb['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert bob.delete(f"/v1/sandboxes/{sb['id']}").status_code == 404
    assert bob.post(f"/v1/sandboxes/{sb['id']}/python/exec", json={"code": "1"}).status_code == 404
    assert [s["id"] for s in bob.get("/v1/sandboxes").json()["items"]] == []
    assert alice.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204


# Profiles come from the configuration in order, with details on request.
def test_profiles(bay):
    items = bay.client.get("/v1/profiles").json()["items"]
    assert [p["id"] for p in items] == ["python-default", "python-only", "small", "quick-reclaim"]
    d = items[0]
    assert d["resources"] == {"cpus": 1.0, "memory": "1g"}
    assert d["capabilities"] == ["filesystem", "shell", "python"]
    assert d["description"] is None and d["containers"] is None
    detailed = bay.client.get("/v1/profiles", params={"detail": "true"}).json()["items"][0]
    assert detailed["containers"][0]["name"] == "ship"
    assert detailed["containers"][0]["capabilities"] == ["filesystem", "python", "shell"]
    assert bay.client.get("/v1/profiles", params={"detail": "maybe"}).status_code == 422


# Request ids are echoed from X-Request-Id and carried in error envelopes.
def test_request_id(bay):
    r = bay.client.get("/v1/sandboxes/sandbox-000000000000", headers={"X-Request-Id": "abc-123"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["error"]["request_id"] == "abc-123"
    r = bay.client.get("/v1/sandboxes/sandbox-000000000000")
    assert re.fullmatch(r"[0-9a-f-]{36}", r.json()["error"]["request_id"])


# Unknown routes 404 and wrong methods 405 with the envelope; bad JSON is 422.
def test_routing_and_schema(bay):
    r = bay.client.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = bay.client.put("/v1/sandboxes")
    assert r.status_code == 405
    r = bay.client.post("/v1/sandboxes", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "validation_error" and isinstance(body["detail"], list)
    r = bay.client.post("/v1/sandboxes", json={"ttl": -1})
    assert r.status_code == 422
    r = bay.client.post("/v1/sandboxes", json={"profile": "nope"})
    assert r.status_code == 400 and "profile" in r.json()["error"]["message"]
