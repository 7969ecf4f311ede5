"""CargoManager and SkillManager methods: the exact request each sends and how it parses
the answer."""

from __future__ import annotations

import inspect

import pytest

from shipyard_neo import (
    BayClient,
    CargoInfo,
    CargoList,
    SkillCandidateInfo,
    SkillCandidateList,
    SkillCandidateStatus,
    SkillEvaluationInfo,
    SkillPayloadCreateInfo,
    SkillPayloadInfo,
    SkillReleaseHealth,
    SkillReleaseInfo,
    SkillReleaseList,
    SkillReleaseStage,
)
from shipyard_neo.capabilities import (
    BrowserCapability,
    FilesystemCapability,
    PythonCapability,
    ShellCapability,
)
from shipyard_neo.cargo import CargoManager
from shipyard_neo.sandbox import Sandbox
from shipyard_neo.skills import SkillManager

from . import samples as s
from . import test_requests
from .conftest import FakeBay
from .request_cases import Case, check_case

CASES: list[Case] = [
    # ------------------------------------------------------------------- cargos
    Case(
        "cargos.create-no-body",
        lambda c, sb: c.cargos.create(),
        "POST",
        "/v1/cargos",
        None,
        s.CARGO,
        lambda r: isinstance(r, CargoInfo) and r.backend == "docker_volume" and not r.managed,
        status=201,
    ),
    Case(
        "cargos.create-size-and-key",
        lambda c, sb: c.cargos.create(size_limit_mb=512, idempotency_key="cargo-req-001"),
        "POST",
        "/v1/cargos",
        b'{"size_limit_mb":512}',
        {**s.CARGO, "size_limit_mb": 512},
        lambda r: r.size_limit_mb == 512,
        status=201,
        idempotency_key="cargo-req-001",
    ),
    Case(
        "cargos.get",
        lambda c, sb: c.cargos.get("ws-0c4e55a1b9f2"),
        "GET",
        "/v1/cargos/ws-0c4e55a1b9f2",
        None,
        s.CARGO,
        lambda r: isinstance(r, CargoInfo) and r.id == "ws-0c4e55a1b9f2",
    ),
    Case(
        "cargos.list-defaults",
        lambda c, sb: c.cargos.list(),
        "GET",
        "/v1/cargos?limit=50",
        None,
        {"items": [s.CARGO], "next_cursor": None},
        lambda r: isinstance(r, CargoList) and len(r.items) == 1,
    ),
    Case(
        "cargos.list-all-arguments",
        lambda c, sb: c.cargos.list(limit=10, cursor="cur", managed=False),
        "GET",
        "/v1/cargos?limit=10&cursor=cur&managed=false",
        None,
        {"items": [], "next_cursor": None},
    ),
    Case(
        "cargos.list-managed",
        lambda c, sb: c.cargos.list(managed=True),
        "GET",
        "/v1/cargos?limit=50&managed=true",
        None,
        {"items": []},
    ),
    Case(
        "cargos.delete",
        lambda c, sb: c.cargos.delete("ws-0c4e55a1b9f2"),
        "DELETE",
        "/v1/cargos/ws-0c4e55a1b9f2",
        None,
        None,
        lambda r: r is None,
        status=204,
    ),
    # ------------------------------------------------------------------- skills
    Case(
        "skills.create_payload-object",
        lambda c, sb: c.skills.create_payload(payload={"commands": ["open", "click"]}),
        "POST",
        "/v1/skills/payloads",
        b'{"payload":{"commands":["open","click"]},"kind":"generic"}',
        {"payload_ref": "blob:blob-0f1e2d3c4b5a", "kind": "generic"},
        lambda r: isinstance(r, SkillPayloadCreateInfo) and r.payload_ref.startswith("blob:"),
        status=201,
    ),
    Case(
        "skills.create_payload-json-string-and-kind",
        lambda c, sb: c.skills.create_payload(payload='[1, {"a": null}]', kind="trace"),
        "POST",
        "/v1/skills/payloads",
        b'{"payload":[1,{"a":null}],"kind":"trace"}',
        {"payload_ref": "blob:blob-1", "kind": "trace"},
        lambda r: r.kind == "trace",
        status=201,
    ),
    Case(
        "skills.get_payload-keeps-colon",
        lambda c, sb: c.skills.get_payload("blob:blob-1"),
        "GET",
        "/v1/skills/payloads/blob:blob-1",
        None,
        {"payload_ref": "blob:blob-1", "kind": "generic", "payload": [1, {"a": None}]},
        lambda r: isinstance(r, SkillPayloadInfo) and r.payload == [1, {"a": None}],
    ),
    Case(
        "skills.create_candidate-required-only",
        lambda c, sb: c.skills.create_candidate(
            skill_key="etl-loader", source_execution_ids=["exec-1"]
        ),
        "POST",
        "/v1/skills/candidates",
        b'{"skill_key":"etl-loader","source_execution_ids":["exec-1"]}',
        s.CANDIDATE,
        lambda r: isinstance(r, SkillCandidateInfo) and r.status is SkillCandidateStatus.DRAFT,
        status=201,
    ),
    Case(
        "skills.create_candidate-all-arguments",
        lambda c, sb: c.skills.create_candidate(
            skill_key="etl-loader",
            source_execution_ids=["exec-1", "exec-2"],
            scenario_key="csv-import",
            payload_ref="s3://skills/etl-loader/v1",
            summary="sum",
            usage_notes="use",
            preconditions={"needs": "csv"},
            postconditions={"rows": 1},
        ),
        "POST",
        "/v1/skills/candidates",
        b'{"skill_key":"etl-loader","source_execution_ids":["exec-1","exec-2"],'
        b'"scenario_key":"csv-import","payload_ref":"s3://skills/etl-loader/v1",'
        b'"summary":"sum","usage_notes":"use","preconditions":{"needs":"csv"},'
        b'"postconditions":{"rows":1}}',
        s.CANDIDATE,
        lambda r: r.preconditions == {"needs": "csv"},
        status=201,
    ),
    Case(
        "skills.list_candidates-defaults",
        lambda c, sb: c.skills.list_candidates(),
        "GET",
        "/v1/skills/candidates?limit=100&offset=0",
        None,
        {"items": [s.CANDIDATE], "total": 1},
        lambda r: isinstance(r, SkillCandidateList) and r.total == 1,
    ),
    Case(
        "skills.list_candidates-status-enum",
        lambda c, sb: c.skills.list_candidates(status=SkillCandidateStatus.DRAFT, limit=5),
        "GET",
        "/v1/skills/candidates?status=draft&limit=5&offset=0",
        None,
        {"items": [], "total": 0},
    ),
    Case(
        "skills.list_candidates-all-arguments",
        lambda c, sb: c.skills.list_candidates(
            status="evaluating", skill_key="etl-loader", limit=1, offset=2
        ),
        "GET",
        "/v1/skills/candidates?status=evaluating&skill_key=etl-loader&limit=1&offset=2",
        None,
        {"items": [], "total": 0},
    ),
    Case(
        "skills.get_candidate",
        lambda c, sb: c.skills.get_candidate("sc-1e2d3c4b5a69"),
        "GET",
        "/v1/skills/candidates/sc-1e2d3c4b5a69",
        None,
        s.CANDIDATE,
        lambda r: isinstance(r, SkillCandidateInfo) and r.source_execution_ids[1].endswith("2"),
    ),
    Case(
        "skills.evaluate_candidate-passed-only",
        lambda c, sb: c.skills.evaluate_candidate("sc-1", passed=False),
        "POST",
        "/v1/skills/candidates/sc-1/evaluate",
        b'{"passed":false}',
        {**s.EVALUATION, "passed": False, "score": None},
        lambda r: isinstance(r, SkillEvaluationInfo) and r.passed is False,
    ),
    Case(
        "skills.evaluate_candidate-all-arguments",
        lambda c, sb: c.skills.evaluate_candidate(
            "sc-1", passed=True, score=0.96, benchmark_id="bench-etl-001", report="ok"
        ),
        "POST",
        "/v1/skills/candidates/sc-1/evaluate",
        b'{"passed":true,"score":0.96,"benchmark_id":"bench-etl-001","report":"ok"}',
        s.EVALUATION,
        lambda r: r.score == 0.96,
    ),
    Case(
        "skills.promote_candidate-default-stage",
        lambda c, sb: c.skills.promote_candidate("sc-1"),
        "POST",
        "/v1/skills/candidates/sc-1/promote",
        b'{"stage":"canary"}',
        s.RELEASE,
        lambda r: isinstance(r, SkillReleaseInfo) and r.stage is SkillReleaseStage.CANARY,
    ),
    Case(
        "skills.promote_candidate-all-arguments",
        lambda c, sb: c.skills.promote_candidate(
            "sc-1",
            stage="stable",
            upgrade_of_release_id="sr-0",
            upgrade_reason="better",
            change_summary="faster",
        ),
        "POST",
        "/v1/skills/candidates/sc-1/promote",
        b'{"stage":"stable","upgrade_of_release_id":"sr-0","upgrade_reason":"better",'
        b'"change_summary":"faster"}',
        {**s.RELEASE, "stage": "stable"},
        lambda r: r.stage is SkillReleaseStage.STABLE,
    ),
    Case(
        "skills.list_releases-defaults",
        lambda c, sb: c.skills.list_releases(),
        "GET",
        "/v1/skills/releases?active_only=false&limit=100&offset=0",
        None,
        {"items": [s.RELEASE], "total": 1},
        lambda r: isinstance(r, SkillReleaseList) and r.items[0].version == 1,
    ),
    Case(
        "skills.list_releases-all-arguments",
        lambda c, sb: c.skills.list_releases(
            skill_key="csv-loader", active_only=True, stage=SkillReleaseStage.STABLE, limit=10
        ),
        "GET",
        "/v1/skills/releases?skill_key=csv-loader&active_only=true&stage=stable&limit=10&offset=0",
        None,
        {"items": [], "total": 0},
    ),
    Case(
        "skills.rollback_release",
        lambda c, sb: c.skills.rollback_release("sr-a1b2c3d4e5f6"),
        "POST",
        "/v1/skills/releases/sr-a1b2c3d4e5f6/rollback",
        None,
        {**s.RELEASE, "version": 3, "rollback_of": "sr-a1b2c3d4e5f6"},
        lambda r: isinstance(r, SkillReleaseInfo) and r.rollback_of == "sr-a1b2c3d4e5f6",
    ),
    Case(
        "skills.get_release_health",
        lambda c, sb: c.skills.get_release_health("sr-a1b2c3d4e5f6"),
        "GET",
        "/v1/skills/releases/sr-a1b2c3d4e5f6/health",
        None,
        s.HEALTH,
        lambda r: isinstance(r, SkillReleaseHealth) and r.thresholds["success_drop"] == 0.03,
    ),
    Case(
        "skills.delete_release-reason",
        lambda c, sb: c.skills.delete_release("sr-1", reason="cleanup"),
        "DELETE",
        "/v1/skills/releases/sr-1",
        b'{"reason":"cleanup"}',
        s.DELETED,
        lambda r: r == s.DELETED,
    ),
    Case(
        "skills.delete_release-no-reason-sends-empty-object",
        lambda c, sb: c.skills.delete_release("sr-1"),
        "DELETE",
        "/v1/skills/releases/sr-1",
        b"{}",
        s.DELETED,
        lambda r: isinstance(r, dict) and r["deleted_by"] == "default",
    ),
    Case(
        "skills.delete_candidate-reason",
        lambda c, sb: c.skills.delete_candidate("sc-1", reason="dup"),
        "DELETE",
        "/v1/skills/candidates/sc-1",
        b'{"reason":"dup"}',
        {**s.DELETED, "id": "sc-1", "delete_reason": "dup"},
        lambda r: r["id"] == "sc-1",
    ),
    Case(
        "skills.delete_candidate-no-reason",
        lambda c, sb: c.skills.delete_candidate("sc-1"),
        "DELETE",
        "/v1/skills/candidates/sc-1",
        b"{}",
        {**s.DELETED, "id": "sc-1"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_request_and_response(
    case: Case, bay: FakeBay, client: BayClient, sandbox: Sandbox
) -> None:
    await check_case(case, bay, client, sandbox)


def test_every_public_method_is_covered() -> None:
    """The request tables name each public coroutine of the SDK at least once."""
    prefixes = {
        BayClient: "",
        Sandbox: "sandbox.",
        PythonCapability: "python.",
        ShellCapability: "shell.",
        FilesystemCapability: "filesystem.",
        BrowserCapability: "browser.",
        CargoManager: "cargos.",
        SkillManager: "skills.",
    }
    ids = [c.id for c in CASES + test_requests.CASES]
    # Covered by test_transfer.py (multipart upload and binary download).
    elsewhere = {"filesystem.upload", "filesystem.download"}
    for cls, prefix in prefixes.items():
        for name, _ in inspect.getmembers(cls, inspect.iscoroutinefunction):
            key = f"{prefix}{name}"
            if name.startswith("_") or key in elsewhere:
                continue
            assert any(i == key or i.startswith(key + "-") for i in ids), f"no test for {key}"
