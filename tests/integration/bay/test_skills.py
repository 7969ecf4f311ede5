"""Skills lifecycle through HTTP against the real bay (bay-api-v1.md §12): payload blobs,
candidates, evaluations, promotion, releases, rollback, release health and soft deletes."""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime, timedelta

import httpx
import pytest

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

CANDIDATE_FIELDS = {
    "id", "skill_key", "scenario_key", "payload_ref", "skill_type", "auto_release_eligible",
    "auto_release_reason", "summary", "usage_notes", "preconditions", "postconditions",
    "source_execution_ids", "status", "latest_score", "latest_pass", "last_evaluated_at",
    "promotion_release_id", "created_by", "created_at", "updated_at", "is_deleted",
    "deleted_at", "deleted_by", "delete_reason",
}
RELEASE_FIELDS = {
    "id", "skill_key", "candidate_id", "version", "stage", "is_active", "release_mode",
    "promoted_by", "promoted_at", "rollback_of", "auto_promoted_from", "health_window_end_at",
    "upgrade_of_release_id", "upgrade_reason", "change_summary", "is_deleted", "deleted_at",
    "deleted_by", "delete_reason",
}
HEALTH_FIELDS = {
    "release_id", "skill_key", "stage", "window_start_at", "window_end_at", "window_complete",
    "samples", "success_rate", "error_rate", "p95_duration", "baseline_success_rate",
    "baseline_error_rate", "baseline_samples", "success_drop", "error_rate_multiplier",
    "healthy", "should_rollback", "rollback_reasons", "thresholds",
}


def parse_ts(s: str) -> datetime:
    assert TS.match(s), s
    return datetime.fromisoformat(s)


def error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, r.text
    assert err["request_id"] == r.headers["x-request-id"]
    return err


class Skills:
    """Raw-HTTP helpers over one client (one owner)."""

    def __init__(self, client: httpx.Client):
        self.c = client

    def candidate(self, key: str, execs: list[str], **extra) -> dict:
        r = self.c.post("/v1/skills/candidates",
                        json={"skill_key": key, "source_execution_ids": execs, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def evaluate(self, cid: str, passed: bool = True, **extra) -> dict:
        r = self.c.post(f"/v1/skills/candidates/{cid}/evaluate", json={"passed": passed, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    def promote(self, cid: str, **body) -> dict:
        r = self.c.post(f"/v1/skills/candidates/{cid}/promote", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def passed_release(self, key: str, execs: list[str], **body) -> tuple[dict, dict]:
        cand = self.candidate(key, execs)
        self.evaluate(cand["id"])
        return cand, self.promote(cand["id"], **body)

    def get_candidate(self, cid: str) -> dict:
        r = self.c.get(f"/v1/skills/candidates/{cid}")
        assert r.status_code == 200, r.text
        return r.json()

    def releases(self, **params) -> dict:
        r = self.c.get("/v1/skills/releases", params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def execs(bay) -> list[str]:
    """Two execution ids of the test owner: one python, one shell."""
    sb = bay.create()["id"]
    return [bay.python(sb, "print('step1')", tags="etl")["execution_id"],
            bay.shell(sb, "echo step2", tags="etl")["execution_id"]]


# ------------------------------------------------------------------------- payloads

# Payload blobs: objects and arrays round-trip exactly, kind defaults to "generic", the
# reference is read from the (percent-decoded) rest of the path.
def test_payloads(bay):
    doc = {"commands": ["open https://example.com", "click #go"], "n": 1.5, "big": 2**63,
           "nested": {"list": [None, True, False, -0.25, "ünïcode ✓"], "empty": {}}}
    r = bay.client.post("/v1/skills/payloads", json={"payload": doc, "kind": "browser_trace"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "browser_trace"
    ref = body["payload_ref"]
    assert re.fullmatch(r"blob:blob-[0-9a-f]{12}", ref)
    got = bay.client.get(f"/v1/skills/payloads/{ref}")
    assert got.status_code == 200, got.text
    assert got.json() == {"payload_ref": ref, "kind": "browser_trace", "payload": doc}
    # Percent-encoded ':' decodes to the same reference; the echo is the decoded request.
    enc = bay.client.get("/v1/skills/payloads/" + ref.replace(":", "%3A"))
    assert enc.status_code == 200 and enc.json()["payload_ref"] == ref

    arr = bay.client.post("/v1/skills/payloads", json={"payload": [1, "two", [3]]})
    assert arr.status_code == 201 and arr.json()["kind"] == "generic"
    got = bay.client.get(f"/v1/skills/payloads/{arr.json()['payload_ref']}").json()
    assert got["payload"] == [1, "two", [3]] and got["kind"] == "generic"
    empty = bay.client.post("/v1/skills/payloads", json={"payload": {}})
    assert bay.client.get(f"/v1/skills/payloads/{empty.json()['payload_ref']}").json()["payload"] == {}


# Payload errors: 422 for schema violations, 400 for unsupported or invalid references,
# 404 for unknown blobs.
def test_payload_errors(bay):
    for body in ({"payload": 3}, {"payload": "text"}, {"payload": None}, {"payload": True},
                 {}, {"kind": "x"}, {"payload": {}, "kind": ""}, {"payload": {}, "kind": 5}):
        r = bay.client.post("/v1/skills/payloads", json=body)
        assert r.status_code == 422, (body, r.text)
    r = bay.client.post("/v1/skills/payloads", content=b"{nope",
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    err = error(bay.client.get("/v1/skills/payloads/s3%3A%2F%2Fcandidate%2Fpayload-1"), 400,
                "validation_error")
    assert "Unsupported payload_ref" in err["message"]
    err = error(bay.client.get("/v1/skills/payloads/s3:%2F%2Fx"), 400, "validation_error")
    assert "Unsupported payload_ref" in err["message"]
    err = error(bay.client.get("/v1/skills/payloads/blob:"), 400, "validation_error")
    assert "Invalid payload_ref" in err["message"]
    error(bay.client.get("/v1/skills/payloads/blob:blob-000000000000"), 404, "not_found")
    error(bay.client.get("/v1/skills/payloads/blob:blob-0%2F..%2Fx"), 404, "not_found")
    assert bay.client.post("/v1/skills/payloads/blob:x", json={}).status_code == 405


# ------------------------------------------------------------------------- candidates

# A candidate echoes every given field, trims the key, starts as draft and is owned.
def test_create_candidate(bay, execs):
    s = Skills(bay.client)
    pre = {"python": ">=3.10", "files": ["a.csv"], "n": {"deep": [1, 2.5]}}
    c = s.candidate("  etl-loader  ", list(reversed(execs)), scenario_key="csv-import",
                    payload_ref="s3://skills/etl-loader/v1", summary="loads", usage_notes="use",
                    preconditions=pre, postconditions={}, unknown_field=1)
    assert set(c) == CANDIDATE_FIELDS
    assert re.fullmatch(r"sc-[0-9a-f]{12}", c["id"])
    assert c["skill_key"] == "etl-loader"
    assert c["source_execution_ids"] == list(reversed(execs))
    assert c["scenario_key"] == "csv-import" and c["payload_ref"] == "s3://skills/etl-loader/v1"
    assert c["summary"] == "loads" and c["usage_notes"] == "use"
    assert c["preconditions"] == pre and c["postconditions"] == {}
    assert c["status"] == "draft" and c["skill_type"] == "code"
    assert c["auto_release_eligible"] is False and c["auto_release_reason"] is None
    assert c["latest_score"] is None and c["latest_pass"] is None
    assert c["last_evaluated_at"] is None and c["promotion_release_id"] is None
    assert c["created_by"] == "default"
    assert c["is_deleted"] is False and c["deleted_at"] is None
    assert c["deleted_by"] is None and c["delete_reason"] is None
    parse_ts(c["created_at"])
    assert c["created_at"] == c["updated_at"]
    assert s.get_candidate(c["id"]) == c
    minimal = s.candidate("k", execs[:1])
    assert minimal["scenario_key"] is None and minimal["preconditions"] is None


# Candidate validation in the spec's order: 422 schema, 400 empty key, 400 empty ids,
# 400 unknown execution.
def test_create_candidate_errors(bay, execs):
    url = "/v1/skills/candidates"
    for body in ({"source_execution_ids": execs}, {"skill_key": "k"},
                 {"skill_key": 5, "source_execution_ids": execs},
                 {"skill_key": None, "source_execution_ids": execs},
                 {"skill_key": "k", "source_execution_ids": execs[0]},
                 {"skill_key": "k", "source_execution_ids": [1]},
                 {"skill_key": "k", "source_execution_ids": execs, "preconditions": [1]},
                 {"skill_key": "k", "source_execution_ids": execs, "summary": 3},
                 {"skill_key": "  ", "source_execution_ids": None}):
        r = bay.client.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
    assert bay.client.post(url, content=b"[]",
                           headers={"Content-Type": "application/json"}).status_code == 422
    err = error(bay.client.post(url, json={"skill_key": " \t ", "source_execution_ids": []}), 400,
                "validation_error")
    assert "skill_key" in err["message"]
    err = error(bay.client.post(url, json={"skill_key": "k", "source_execution_ids": []}), 400,
                "validation_error")
    assert "source_execution_ids" in err["message"]
    r = bay.client.post(url, json={"skill_key": "k",
                                   "source_execution_ids": [execs[0], "exec-000000000000"]})
    err = error(r, 400, "validation_error")
    assert err["message"] == "Execution ID not found or not owned: exec-000000000000"
    assert bay.client.get(url).json()["total"] == 0


# Candidate lists: newest first, status and skill_key filters, offset pagination with a total,
# 400 for an unknown status, 422 for out-of-range paging; get → 404 when unknown.
def test_list_candidates(bay, execs):
    s = Skills(bay.client)
    c1 = s.candidate("a", execs)
    c2 = s.candidate("b", execs)
    c3 = s.candidate("a", execs)
    s.evaluate(c1["id"], passed=False)
    s.evaluate(c2["id"], passed=True)
    url = "/v1/skills/candidates"

    def ids(**params):
        body = bay.client.get(url, params=params).json()
        return [c["id"] for c in body["items"]], body["total"]

    assert ids() == ([c3["id"], c2["id"], c1["id"]], 3)
    assert ids(skill_key="a") == ([c3["id"], c1["id"]], 2)
    assert ids(status="draft") == ([c3["id"]], 1)
    assert ids(status="rejected") == ([c1["id"]], 1)
    assert ids(status="evaluating", skill_key="b") == ([c2["id"]], 1)
    assert ids(status="promoted") == ([], 0)
    assert ids(status="draft", limit=5, offset=0) == ([c3["id"]], 1)
    assert ids(limit=1, offset=1) == ([c2["id"]], 3)
    assert ids(offset=3) == ([], 3)
    assert ids(skill_key="nope") == ([], 0)
    err = error(bay.client.get(url, params={"status": "bogus"}), 400, "validation_error")
    assert "bogus" in err["message"]
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}):
        assert bay.client.get(url, params=params).status_code == 422, params
    assert bay.client.get(url, params={"limit": 500}).status_code == 200
    error(bay.client.get(f"{url}/sc-000000000000"), 404, "not_found")


# Evaluation: the se- record, latest_* on the candidate, evaluating/rejected from any status.
def test_evaluate(bay, execs):
    s = Skills(bay.client)
    c = s.candidate("k", execs)
    ev = s.evaluate(c["id"], passed=True, score=0.95, benchmark_id="bench-1", report="ok")
    assert set(ev) == {"id", "candidate_id", "benchmark_id", "score", "passed", "report",
                       "evaluated_by", "created_at"}
    assert re.fullmatch(r"se-[0-9a-f]{12}", ev["id"])
    assert ev["candidate_id"] == c["id"] and ev["benchmark_id"] == "bench-1"
    assert ev["score"] == 0.95 and ev["passed"] is True and ev["report"] == "ok"
    assert ev["evaluated_by"] == "default"
    got = s.get_candidate(c["id"])
    assert got["status"] == "evaluating" and got["latest_score"] == 0.95
    assert got["latest_pass"] is True and got["last_evaluated_at"] == ev["created_at"]
    assert parse_ts(got["updated_at"]) >= parse_ts(got["created_at"])

    ev2 = s.evaluate(c["id"], passed=False)
    assert ev2["score"] is None and ev2["benchmark_id"] is None and ev2["report"] is None
    got = s.get_candidate(c["id"])
    assert got["status"] == "rejected" and got["latest_pass"] is False
    assert got["latest_score"] is None
    s.evaluate(c["id"], passed=True, score=1)
    s.promote(c["id"])
    assert s.get_candidate(c["id"])["status"] == "promoted"
    s.evaluate(c["id"], passed=True)
    assert s.get_candidate(c["id"])["status"] == "evaluating"

    url = f"/v1/skills/candidates/{c['id']}/evaluate"
    for body in ({}, {"passed": "yes"}, {"passed": None}, {"passed": True, "score": "high"},
                 {"passed": True, "report": 1}):
        assert bay.client.post(url, json=body).status_code == 422, body
    error(bay.client.post("/v1/skills/candidates/sc-000000000000/evaluate", json={"passed": True}),
          404, "not_found")


# ------------------------------------------------------------------------- promotion

# Promotion: optional body, canary by default, 400 for an unknown stage, 404 unknown, 409 with
# candidate_id without a passing evaluation; versions per key, one active release.
def test_promote(bay, execs):
    s = Skills(bay.client)
    draft = s.candidate("etl", execs)
    url = f"/v1/skills/candidates/{draft['id']}/promote"
    err = error(bay.client.post(url), 409, "conflict")
    assert err["details"] == {"candidate_id": draft["id"]}
    s.evaluate(draft["id"], passed=False)
    error(bay.client.post(url, json={}), 409, "conflict")
    error(bay.client.post(url, json={"stage": "prod"}), 400, "validation_error")
    assert bay.client.post(url, json={"stage": 1}).status_code == 422
    error(bay.client.post("/v1/skills/candidates/sc-000000000000/promote"), 404, "not_found")
    error(bay.client.post("/v1/skills/candidates/sc-000000000000/promote",
                          json={"stage": "bogus"}), 400, "validation_error")

    s.evaluate(draft["id"], passed=True)
    r1 = bay.client.post(url)  # no body at all, no Content-Type
    assert r1.status_code == 200, r1.text
    r1 = r1.json()
    assert set(r1) == RELEASE_FIELDS
    assert re.fullmatch(r"sr-[0-9a-f]{12}", r1["id"])
    assert r1["version"] == 1 and r1["stage"] == "canary" and r1["is_active"] is True
    assert r1["release_mode"] == "manual" and r1["promoted_by"] == "default"
    assert r1["skill_key"] == "etl" and r1["candidate_id"] == draft["id"]
    assert r1["rollback_of"] is None and r1["auto_promoted_from"] is None
    assert r1["health_window_end_at"] is None and r1["is_deleted"] is False
    parse_ts(r1["promoted_at"])
    got = s.get_candidate(draft["id"])
    assert got["status"] == "promoted" and got["promotion_release_id"] == r1["id"]

    c2 = s.candidate("etl", execs)
    s.evaluate(c2["id"])
    r2 = s.promote(c2["id"], stage="stable", upgrade_of_release_id=r1["id"],
                   upgrade_reason="faster", change_summary="v2")
    assert r2["version"] == 2 and r2["stage"] == "stable"
    assert r2["upgrade_of_release_id"] == r1["id"] and r2["upgrade_reason"] == "faster"
    assert r2["change_summary"] == "v2"
    _, other = s.passed_release("other-key", execs)
    assert other["version"] == 1
    active = s.releases(active_only="true")["items"]
    assert sorted(r["id"] for r in active) == sorted([r2["id"], other["id"]])

    # A deleted release keeps its version: the next promotion does not reuse it.
    assert bay.client.delete(f"/v1/skills/releases/{r2['id']}").status_code == 200
    r3 = s.promote(draft["id"])
    assert r3["version"] == 3


def _promote_in_thread(url: str, headers: dict, cid: str, out: list, barrier: threading.Barrier):
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        barrier.wait()
        out.append(c.post(f"/v1/skills/candidates/{cid}/promote", json={"stage": "canary"}))


# 20 concurrent promotions of candidates of one key: versions 1..20 exactly once, and exactly
# one active release.
def test_concurrent_promotions(bay, execs):
    s = Skills(bay.client)
    cands = []
    for _ in range(20):
        c = s.candidate("race", execs)
        s.evaluate(c["id"])
        cands.append(c["id"])
    results: list[httpx.Response] = []
    barrier = threading.Barrier(len(cands))
    threads = [threading.Thread(target=_promote_in_thread,
                                args=(bay.url, dict(bay.client.headers), cid, results, barrier))
               for cid in cands]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 20
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(r.json()["version"] for r in results) == list(range(1, 21))
    listed = s.releases(skill_key="race")
    assert listed["total"] == 20
    assert sorted(r["version"] for r in listed["items"]) == list(range(1, 21))
    active = s.releases(skill_key="race", active_only="true")
    assert active["total"] == 1 and active["items"][0]["version"] == 20


# Release lists: newest promotion first, skill_key / active_only / stage filters, paging,
# 400 for an unknown stage, 422 for bad booleans and ranges; deleted releases hidden.
def test_list_releases(bay, execs):
    s = Skills(bay.client)
    _, a1 = s.passed_release("a", execs)
    _, b1 = s.passed_release("b", execs, stage="stable")
    _, a2 = s.passed_release("a", execs, stage="stable")

    def ids(**params):
        body = s.releases(**params)
        return [r["id"] for r in body["items"]], body["total"]

    assert ids() == ([a2["id"], b1["id"], a1["id"]], 3)
    assert ids(skill_key="a") == ([a2["id"], a1["id"]], 2)
    assert ids(active_only="true") == ([a2["id"], b1["id"]], 2)
    assert ids(active_only="1", skill_key="a") == ([a2["id"]], 1)
    assert ids(active_only="false") == ([a2["id"], b1["id"], a1["id"]], 3)
    assert ids(active_only="0", stage="canary") == ([a1["id"]], 1)
    assert ids(stage="stable") == ([a2["id"], b1["id"]], 2)
    assert ids(skill_key="a", active_only="true", stage="stable", limit=10, offset=0) == (
        [a2["id"]], 1)
    assert ids(limit=1, offset=1) == ([b1["id"]], 3)
    err = error(bay.client.get("/v1/skills/releases", params={"stage": "prod"}), 400,
                "validation_error")
    assert "prod" in err["message"]
    for params in ({"active_only": "yes"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert bay.client.get("/v1/skills/releases", params=params).status_code == 422, params
    assert bay.client.delete(f"/v1/skills/releases/{b1['id']}").status_code == 200
    assert ids() == ([a2["id"], a1["id"]], 2)


# ------------------------------------------------------------------------- rollback

# Rollback: 409 without a previous release; otherwise a new active release (max + 1) with the
# previous live release's candidate and stage; R's candidate becomes rolled_back.
def test_rollback(bay, execs):
    s = Skills(bay.client)
    c1, r1 = s.passed_release("k", execs, stage="stable")
    err = error(bay.client.post(f"/v1/skills/releases/{r1['id']}/rollback"), 409, "conflict")
    assert r1["id"] in err["message"]
    c2, r2 = s.passed_release("k", execs)
    c3, r3 = s.passed_release("k", execs)
    # R2 deleted: rolling back R3 skips it and returns to R1.
    assert bay.client.delete(f"/v1/skills/releases/{r2['id']}").status_code == 200
    r = bay.client.post(f"/v1/skills/releases/{r3['id']}/rollback", json={})
    assert r.status_code == 200, r.text
    n = r.json()
    assert set(n) == RELEASE_FIELDS
    assert n["version"] == 4 and n["candidate_id"] == c1["id"] and n["stage"] == "stable"
    assert n["rollback_of"] == r3["id"] and n["is_active"] is True
    assert n["release_mode"] == "manual" and n["promoted_by"] == "default"
    assert s.get_candidate(c3["id"])["status"] == "rolled_back"
    assert s.get_candidate(c1["id"])["status"] == "promoted"
    active = s.releases(skill_key="k", active_only="true")["items"]
    assert [x["id"] for x in active] == [n["id"]]
    assert s.releases(skill_key="k")["items"][0]["id"] == n["id"]  # newest promotion first
    # Rolling back the rollback returns to the previous live version (R3, version 3).
    n2 = bay.client.post(f"/v1/skills/releases/{n['id']}/rollback").json()
    assert n2["version"] == 5 and n2["candidate_id"] == c3["id"] and n2["rollback_of"] == n["id"]
    assert s.get_candidate(c1["id"])["status"] == "rolled_back"
    error(bay.client.post(f"/v1/skills/releases/{r2['id']}/rollback"), 404, "not_found")
    error(bay.client.post("/v1/skills/releases/sr-000000000000/rollback"), 404, "not_found")


# ------------------------------------------------------------------------- health

def nearest_rank_p95(values: list[int]) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


# Release health: executions tagged release:<id> (whole tag, any position) in the window,
# p95 by nearest rank, the previous version as baseline, thresholds and reasons.
def test_release_health(bay, execs):
    s = Skills(bay.client)
    sb = bay.create()["id"]
    _, r1 = s.passed_release("health", execs)
    h = bay.client.get(f"/v1/skills/releases/{r1['id']}/health")
    assert h.status_code == 200, h.text
    h = h.json()
    assert set(h) == HEALTH_FIELDS
    assert h["release_id"] == r1["id"] and h["skill_key"] == "health" and h["stage"] == "canary"
    start, end = parse_ts(h["window_start_at"]), parse_ts(h["window_end_at"])
    assert h["window_start_at"] == r1["promoted_at"] and end - start == timedelta(hours=24)
    assert h["window_complete"] is False
    assert h["samples"] == 0 and h["success_rate"] == 0.0 and h["error_rate"] == 0.0
    assert h["p95_duration"] == 0
    assert h["baseline_success_rate"] == 1.0 and h["baseline_error_rate"] == 0.0
    assert h["baseline_samples"] == 0
    assert h["healthy"] is False and h["should_rollback"] is False
    assert h["thresholds"] == {"success_drop": 0.03, "error_rate_multiplier": 2.0}

    # Baseline window: 2 successes, 1 failure for r1.
    tag1 = f"release:{r1['id']}"
    bay.python(sb, "1", tags=tag1)
    bay.shell(sb, "true", tags=f"skill:health,{tag1}")
    bay.shell(sb, "exit 3", tags=tag1)
    bay.python(sb, "2", tags=f"{tag1}x")  # another tag, not counted
    h1 = bay.client.get(f"/v1/skills/releases/{r1['id']}/health").json()
    assert h1["samples"] == 3
    assert h1["success_rate"] == pytest.approx(2 / 3) and h1["error_rate"] == pytest.approx(1 / 3)
    assert h1["error_rate_multiplier"] == 1000000.0  # against the default 0.0 baseline
    assert h1["rollback_reasons"] == ["success_rate_drop", "error_rate_regression"]
    assert h1["should_rollback"] is True and h1["healthy"] is False

    _, r2 = s.passed_release("health", execs, stage="stable")
    tag2 = f"release:{r2['id']}"
    times = []
    for i in range(4):
        times.append(bay.python(sb, f"sum(range({i}))", tags=f"a,{tag2},z")["execution_time_ms"])
    times.append(bay.shell(sb, "false", tags=tag2)["execution_time_ms"])
    h2 = bay.client.get(f"/v1/skills/releases/{r2['id']}/health").json()
    assert h2["stage"] == "stable"
    assert h2["samples"] == 5
    assert h2["success_rate"] == pytest.approx(0.8) and h2["error_rate"] == pytest.approx(0.2)
    # The history's own records of those executions give the expected percentile.
    hist = bay.client.get(f"/v1/sandboxes/{sb}/history", params={"tags": tag2}).json()
    recorded = [e["execution_time_ms"] for e in hist["entries"] if tag2 in e["tags"].split(",")]
    assert sorted(recorded) == sorted(times)
    assert h2["p95_duration"] == nearest_rank_p95(recorded)
    assert h2["baseline_samples"] == 3
    assert h2["baseline_success_rate"] == pytest.approx(2 / 3)
    assert h2["baseline_error_rate"] == pytest.approx(1 / 3)
    assert h2["success_drop"] == pytest.approx(2 / 3 - 0.8)
    assert h2["error_rate_multiplier"] == pytest.approx(0.2 / (1 / 3))
    assert h2["rollback_reasons"] == [] and h2["healthy"] is True
    assert h2["should_rollback"] is False

    error(bay.client.get("/v1/skills/releases/sr-000000000000/health"), 404, "not_found")
    assert bay.client.delete(f"/v1/skills/releases/{r1['id']}").status_code == 200
    error(bay.client.get(f"/v1/skills/releases/{r1['id']}/health"), 404, "not_found")
    # Without its previous release the baseline falls back to the defaults.
    h2 = bay.client.get(f"/v1/skills/releases/{r2['id']}/health").json()
    assert h2["baseline_samples"] == 0 and h2["baseline_success_rate"] == 1.0


# ------------------------------------------------------------------------- deletes

# Soft deletes: optional {"reason"} body, the documented response, hidden from lists and GET,
# 409 for a candidate backing an active release, promotion_release_id reset, no implicit
# re-activation, repeat → 404.
def test_soft_deletes(bay, execs):
    s = Skills(bay.client)
    c1, r1 = s.passed_release("k", execs)
    c2, r2 = s.passed_release("k", execs)
    err = error(bay.client.delete(f"/v1/skills/candidates/{c2['id']}"), 409, "conflict")
    assert c2["id"] in err["message"]
    assert bay.client.request("DELETE", f"/v1/skills/releases/{r2['id']}",
                              content=b'{"reason": 5}',
                              headers={"Content-Type": "application/json"}).status_code == 422

    r = bay.client.request("DELETE", f"/v1/skills/releases/{r2['id']}", json={"reason": "cleanup"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == {"id", "deleted_at", "deleted_by", "delete_reason"}
    assert d["id"] == r2["id"] and d["deleted_by"] == "default"
    assert d["delete_reason"] == "cleanup"
    parse_ts(d["deleted_at"])
    assert s.get_candidate(c2["id"])["promotion_release_id"] is None
    assert s.get_candidate(c1["id"])["promotion_release_id"] == r1["id"]
    assert s.releases(skill_key="k", active_only="true")["total"] == 0  # r1 stays inactive
    assert [x["id"] for x in s.releases(skill_key="k")["items"]] == [r1["id"]]
    error(bay.client.delete(f"/v1/skills/releases/{r2['id']}"), 404, "not_found")
    error(bay.client.post(f"/v1/skills/releases/{r2['id']}/rollback"), 404, "not_found")
    error(bay.client.delete("/v1/skills/releases/sr-000000000000"), 404, "not_found")

    # c2 backs no active release any more; an empty {} body is fine.
    r = bay.client.request("DELETE", f"/v1/skills/candidates/{c2['id']}", json={})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d == {"id": c2["id"], "deleted_at": d["deleted_at"], "deleted_by": "default",
                 "delete_reason": None}
    error(bay.client.get(f"/v1/skills/candidates/{c2['id']}"), 404, "not_found")
    assert c2["id"] not in [c["id"] for c in bay.client.get("/v1/skills/candidates").json()["items"]]
    assert bay.client.get("/v1/skills/candidates").json()["total"] == 1
    error(bay.client.delete(f"/v1/skills/candidates/{c2['id']}"), 404, "not_found")
    error(bay.client.post(f"/v1/skills/candidates/{c2['id']}/evaluate", json={"passed": True}),
          404, "not_found")
    error(bay.client.post(f"/v1/skills/candidates/{c2['id']}/promote"), 404, "not_found")
    error(bay.client.delete("/v1/skills/candidates/sc-000000000000"), 404, "not_found")
    # r1 (inactive) still references c1: deleting c1 is allowed (only active releases block).
    assert bay.client.delete(f"/v1/skills/candidates/{c1['id']}").status_code == 200


# ------------------------------------------------------------------------- scoping

# Everything is owner-scoped: another owner's payloads, candidates, releases and executions
# are indistinguishable from missing ones.
def test_owner_scoping(bay_factory):
    b = bay_factory(api_key=None, extra_env={"BAY_SECURITY__ALLOW_ANONYMOUS": "true"})
    alice = httpx.Client(base_url=b.url, headers={"X-Owner": "alice"}, timeout=120)
    bob = httpx.Client(base_url=b.url, headers={"X-Owner": "bob"}, timeout=120)
    try:
        sb = alice.post("/v1/sandboxes").json()["id"]
        ex = alice.post(f"/v1/sandboxes/{sb}/python/exec", json={"code": "1"}).json()
        ref = alice.post("/v1/skills/payloads", json={"payload": {"a": 1}}).json()["payload_ref"]
        a = Skills(alice)
        cand, rel = a.passed_release("k", [ex["execution_id"]])
        assert cand["created_by"] == "alice" and rel["promoted_by"] == "alice"

        error(bob.get(f"/v1/skills/payloads/{ref}"), 404, "not_found")
        error(bob.get(f"/v1/skills/candidates/{cand['id']}"), 404, "not_found")
        error(bob.post(f"/v1/skills/candidates/{cand['id']}/evaluate", json={"passed": True}),
              404, "not_found")
        error(bob.post(f"/v1/skills/candidates/{cand['id']}/promote"), 404, "not_found")
        error(bob.delete(f"/v1/skills/candidates/{cand['id']}"), 404, "not_found")
        error(bob.post(f"/v1/skills/releases/{rel['id']}/rollback"), 404, "not_found")
        error(bob.get(f"/v1/skills/releases/{rel['id']}/health"), 404, "not_found")
        error(bob.delete(f"/v1/skills/releases/{rel['id']}"), 404, "not_found")
        assert bob.get("/v1/skills/candidates").json() == {"items": [], "total": 0}
        assert bob.get("/v1/skills/releases").json() == {"items": [], "total": 0}
        err = error(bob.post("/v1/skills/candidates",
                             json={"skill_key": "k", "source_execution_ids": [ex["execution_id"]]}),
                    400, "validation_error")
        assert err["message"] == f"Execution ID not found or not owned: {ex['execution_id']}"
        # Bob's own key "k" is independent: his first release is version 1.
        sb2 = bob.post("/v1/sandboxes").json()["id"]
        ex2 = bob.post(f"/v1/sandboxes/{sb2}/python/exec", json={"code": "2"}).json()
        _, brel = Skills(bob).passed_release("k", [ex2["execution_id"]])
        assert brel["version"] == 1
        assert a.releases(active_only="true")["items"][0]["id"] == rel["id"]
        for c, s in ((alice, sb), (bob, sb2)):
            assert c.delete(f"/v1/sandboxes/{s}").status_code == 204
    finally:
        alice.close()
        bob.close()


# Skills endpoints require authentication like every /v1 route.
def test_skills_require_auth(bay):
    for method, path in (("GET", "/v1/skills/candidates"), ("POST", "/v1/skills/payloads"),
                         ("GET", "/v1/skills/releases"),
                         ("GET", "/v1/skills/releases/sr-000000000000/health")):
        r = httpx.request(method, bay.url + path, json={})
        error(r, 401, "unauthorized")


# Executions of a deleted sandbox stay usable as candidate sources: history rows are kept for
# skill statistics and skill state is per owner, not per sandbox.
def test_candidate_from_deleted_sandbox(bay):
    sb = bay.create()["id"]
    ex = bay.python(sb, "print('x')")["execution_id"]
    assert bay.client.delete(f"/v1/sandboxes/{sb}").status_code == 204
    c = Skills(bay.client).candidate("k", [ex])
    assert c["source_execution_ids"] == [ex]


# ------------------------------------------------------------------------- seed flow

# The seed's "Skill Lifecycle" flow in raw HTTP: evidence from python and shell, candidate,
# evaluation, canary promotion, listing, rollback to the previous release, release health.
def test_seed_skill_lifecycle_flow(bay):
    c = bay.client
    sb = c.post("/v1/sandboxes", json={"profile": "python-default", "ttl": 600}).json()["id"]
    e1 = c.post(f"/v1/sandboxes/{sb}/python/exec",
                json={"code": "print('step1')", "tags": "etl"}).json()
    e2 = c.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "echo step2", "tags": "etl"}).json()
    assert e1["output"] == "step1" and e2["output"] == "step2"

    r = c.post("/v1/skills/candidates", json={
        "skill_key": "etl-loader",
        "source_execution_ids": [e1["execution_id"], e2["execution_id"]],
        "scenario_key": "csv-import",
        "payload_ref": "s3://skills/etl-loader/v1",
    })
    assert r.status_code == 201, r.text
    candidate = r.json()
    assert candidate["status"] == "draft"

    r = c.post(f"/v1/skills/candidates/{candidate['id']}/evaluate", json={
        "passed": True, "score": 0.96, "benchmark_id": "bench-etl-001",
        "report": "all checks passed"})
    assert r.status_code == 200 and r.json()["passed"] is True

    r = c.post(f"/v1/skills/candidates/{candidate['id']}/promote", json={"stage": "canary"})
    assert r.status_code == 200, r.text
    release = r.json()
    assert release["version"] == 1 and release["is_active"] is True

    releases = c.get("/v1/skills/releases", params={"skill_key": "etl-loader",
                                                     "active_only": True}).json()
    assert releases["total"] == 1 and releases["items"][0]["id"] == release["id"]

    # The only release has nothing to roll back to.
    r = c.post(f"/v1/skills/releases/{release['id']}/rollback")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"

    # A second version, exercised through the release tag, then rolled back.
    e3 = c.post(f"/v1/sandboxes/{sb}/python/exec", json={"code": "print('step1 v2')"}).json()
    cand2 = c.post("/v1/skills/candidates", json={
        "skill_key": "etl-loader", "source_execution_ids": [e3["execution_id"]]}).json()
    c.post(f"/v1/skills/candidates/{cand2['id']}/evaluate", json={"passed": True, "score": 0.99})
    release2 = c.post(f"/v1/skills/candidates/{cand2['id']}/promote",
                      json={"stage": "canary"}).json()
    assert release2["version"] == 2
    for code in ("print('ok')", "1/0"):
        c.post(f"/v1/sandboxes/{sb}/python/exec",
               json={"code": code, "tags": f"skill:etl-loader,release:{release2['id']}"})
    health = c.get(f"/v1/skills/releases/{release2['id']}/health").json()
    assert health["samples"] == 2 and health["success_rate"] == 0.5
    assert health["should_rollback"] is True
    assert "success_rate_drop" in health["rollback_reasons"]

    r = c.post(f"/v1/skills/releases/{release2['id']}/rollback")
    assert r.status_code == 200, r.text
    rollback_release = r.json()
    assert rollback_release["version"] == 3
    assert rollback_release["candidate_id"] == candidate["id"]
    assert rollback_release["rollback_of"] == release2["id"]
    active = c.get("/v1/skills/releases", params={"skill_key": "etl-loader",
                                                  "active_only": "true"}).json()["items"]
    assert [x["id"] for x in active] == [rollback_release["id"]]
    assert c.get(f"/v1/skills/candidates/{cand2['id']}").json()["status"] == "rolled_back"
    assert c.delete(f"/v1/sandboxes/{sb}").status_code == 204
