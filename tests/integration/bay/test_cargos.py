"""Cargos (bay-api-v1.md §10)."""

from __future__ import annotations

import re
import time


# External cargos: create with defaults or a size, schema limits are 422.
def test_create_and_get(bay):
    r = bay.client.post("/v1/cargos")
    assert r.status_code == 201, r.text
    c = r.json()
    assert re.fullmatch(r"ws-[0-9a-f]{12}", c["id"])
    assert c["managed"] is False and c["managed_by_sandbox_id"] is None
    assert c["backend"] == "docker_volume" and c["size_limit_mb"] == 1024
    assert c["created_at"].endswith("+00:00") and c["last_accessed_at"].endswith("+00:00")
    assert bay.client.post("/v1/cargos", json={"size_limit_mb": 10}).json()["size_limit_mb"] == 10
    for bad in (0, 70000, "x", 1.5):
        assert bay.client.post("/v1/cargos", json={"size_limit_mb": bad}).status_code == 422
    assert bay.client.get(f"/v1/cargos/{c['id']}").json() == c
    assert bay.client.get("/v1/cargos/ws-000000000000").status_code == 404


# Lists show external cargos by default, managed ones on request; cursors page through.
def test_list(bay):
    ext = [bay.client.post("/v1/cargos").json()["id"] for _ in range(3)]
    sb = bay.create()
    items = bay.client.get("/v1/cargos").json()["items"]
    assert [c["id"] for c in items] == ext and all(not c["managed"] for c in items)
    assert [c["id"] for c in bay.client.get("/v1/cargos", params={"managed": "false"}).json()["items"]] == ext
    managed = bay.client.get("/v1/cargos", params={"managed": "true"}).json()["items"]
    assert [c["id"] for c in managed] == [sb["cargo_id"]]
    assert managed[0]["managed_by_sandbox_id"] == sb["id"]
    page1 = bay.client.get("/v1/cargos", params={"limit": 2}).json()
    page2 = bay.client.get("/v1/cargos", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [c["id"] for c in page1["items"] + page2["items"]] == ext and page2["next_cursor"] is None
    assert bay.client.get("/v1/cargos", params={"cursor": "bad!"}).status_code == 400


# Delete rules: referenced external → 409 with the sandbox ids; managed of a live sandbox → 409.
def test_delete_rules(bay):
    ext = bay.client.post("/v1/cargos").json()["id"]
    sb = bay.create(cargo_id=ext)
    assert sb["cargo_id"] == ext
    r = bay.client.delete(f"/v1/cargos/{ext}")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert r.json()["error"]["details"] == {"active_sandbox_ids": [sb["id"]]}
    managed = bay.create()
    r = bay.client.delete(f"/v1/cargos/{managed['cargo_id']}")
    assert r.status_code == 409
    assert r.json()["error"]["details"] == {"managed_by_sandbox_id": managed["id"]}
    # Deleting the sandbox never deletes an external cargo; afterwards it is deletable.
    assert bay.client.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204
    assert bay.client.get(f"/v1/cargos/{ext}").status_code == 200
    storage = bay.data_dir / "cargos" / ext
    assert storage.exists()
    assert bay.client.delete(f"/v1/cargos/{ext}").status_code == 204
    assert bay.client.get(f"/v1/cargos/{ext}").status_code == 404
    assert not storage.exists()
    assert bay.client.delete(f"/v1/cargos/{ext}").status_code == 404
    # A managed cargo goes with its sandbox.
    assert bay.client.delete(f"/v1/sandboxes/{managed['id']}").status_code == 204
    assert bay.client.get(f"/v1/cargos/{managed['cargo_id']}").status_code == 404


# An external cargo is shared: data written through one sandbox is seen from the next.
def test_shared_external_cargo(bay):
    ext = bay.client.post("/v1/cargos").json()["id"]
    a = bay.create(cargo_id=ext)["id"]
    bay.shell(a, "echo from-a > shared.txt")
    b = bay.create(cargo_id=ext)["id"]
    assert bay.shell(b, "cat shared.txt")["output"] == "from-a"
    bay.client.delete(f"/v1/sandboxes/{a}")
    c = bay.create(cargo_id=ext)["id"]
    assert bay.python(c, "open('shared.txt').read().strip()")["output"] == "'from-a'"
    # last_accessed_at moves when a session mounts the cargo.
    got = bay.client.get(f"/v1/cargos/{ext}").json()
    assert got["last_accessed_at"] > got["created_at"]


# A managed cargo of another live sandbox cannot be bound; foreign cargos are 404.
def test_bind_rules(bay_factory):
    b = bay_factory(api_key=None, extra_env={"BAY_SECURITY__ALLOW_ANONYMOUS": "true"})
    import httpx
    alice = httpx.Client(base_url=b.url, headers={"X-Owner": "alice"})
    bob = httpx.Client(base_url=b.url, headers={"X-Owner": "bob"})
    sb = alice.post("/v1/sandboxes").json()
    r = alice.post("/v1/sandboxes", json={"cargo_id": sb["cargo_id"]})
    assert r.status_code == 409
    ext = alice.post("/v1/cargos").json()["id"]
    assert bob.post("/v1/sandboxes", json={"cargo_id": ext}).status_code == 404
    assert bob.get(f"/v1/cargos/{ext}").status_code == 404
    assert bob.delete(f"/v1/cargos/{ext}").status_code == 404
    assert bob.get("/v1/cargos").json()["items"] == []
    alice.delete(f"/v1/sandboxes/{sb['id']}")
    alice.delete(f"/v1/cargos/{ext}")


# size_limit_mb is enforced: writes past it fail with "No space left on device" inside the
# sandbox, and Bay and the sandbox keep working (files can be removed and written again).
def test_size_limit(bay):
    ext = bay.client.post("/v1/cargos", json={"size_limit_mb": 16}).json()["id"]
    sb = bay.create(cargo_id=ext)["id"]
    r = bay.shell(sb, "dd if=/dev/zero of=big bs=1M count=64 2>&1; echo rc=$?")
    assert "No space left on device" in r["output"], r
    r = bay.python(sb, "open('more.bin', 'wb').write(b'x' * (8 << 20))")
    assert r["success"] is False and "No space left on device" in r["error"]
    assert bay.client.get("/health").status_code == 200
    assert bay.shell(sb, "rm big more.bin; echo ok > small.txt && cat small.txt")["output"] == "ok"
    used = bay.shell(sb, "df -m --output=size /workspace | tail -1")["output"].strip()
    assert int(used) <= 16
    # The default limit applies to managed cargos too (1024 MiB).
    other = bay.create()["id"]
    size = int(bay.shell(other, "df -m --output=size /workspace | tail -1")["output"].strip())
    assert 900 <= size <= 1024
