"""Workflows over server features that are being built (skipped until the server has them).

Each test's fixture (`needs_cargos`, `needs_skills`, `needs_idempotency`) skips it with
the probe's reason while the server answers 404/405 for the routes, or does not replay
idempotency keys.
"""

from __future__ import annotations

import uuid

import pytest

from shipyard_neo import (
    BayClient,
    CargoFileNotFoundError,
    ConflictError,
    NotFoundError,
    SkillCandidateStatus,
    SkillReleaseStage,
    ValidationError,
)


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------- idempotency


@pytest.mark.usefixtures("needs_idempotency")
async def test_idempotent_create_and_extend(client: BayClient) -> None:
    key = _key("create")
    first = await client.create_sandbox(ttl=600, idempotency_key=key)
    replay = await client.create_sandbox(ttl=600, idempotency_key=key)
    assert replay.id == first.id
    assert replay.cargo_id == first.cargo_id
    listed = await client.list_sandboxes(limit=200)
    assert [s.id for s in listed.items].count(first.id) == 1

    # The same key with a different body is a conflict.
    with pytest.raises(ConflictError):
        await client.create_sandbox(ttl=60, idempotency_key=key)

    extend_key = _key("extend")
    await first.extend_ttl(300, idempotency_key=extend_key)
    once = first.expires_at
    await first.extend_ttl(300, idempotency_key=extend_key)
    assert first.expires_at == once  # replayed, not extended twice
    await first.extend_ttl(300, idempotency_key=_key("extend"))
    assert first.expires_at is not None
    assert once is not None
    assert first.expires_at > once
    await first.delete()


@pytest.mark.usefixtures("needs_idempotency", "needs_cargos")
async def test_idempotent_cargo_create(client: BayClient) -> None:
    key = _key("cargo")
    first = await client.cargos.create(size_limit_mb=512, idempotency_key=key)
    replay = await client.cargos.create(size_limit_mb=512, idempotency_key=key)
    assert replay.id == first.id
    await client.cargos.delete(first.id)


# -------------------------------------------------------------------------- cargos


@pytest.mark.usefixtures("needs_cargos")
async def test_cargo_persists_across_sandboxes(client: BayClient) -> None:
    cargo = await client.cargos.create(size_limit_mb=64)
    assert cargo.id.startswith("ws-")
    assert (cargo.managed, cargo.managed_by_sandbox_id, cargo.size_limit_mb) == (False, None, 64)
    assert cargo.backend == "docker_volume"
    assert (await client.cargos.get(cargo.id)).id == cargo.id
    default_size = await client.cargos.create()
    assert default_size.size_limit_mb == 1024

    external = await client.cargos.list(limit=200)
    assert {cargo.id, default_size.id} <= {c.id for c in external.items}
    assert all(not c.managed for c in external.items)

    writer = await client.create_sandbox(cargo_id=cargo.id, ttl=600)
    assert writer.cargo_id == cargo.id
    managed = await client.cargos.list(managed=True, limit=200)
    assert cargo.id not in {c.id for c in managed.items}

    await writer.filesystem.write_file("state.txt", "persist-me")
    await writer.filesystem.upload("data/blob.bin", bytes(range(256)))
    await writer.python.exec("open('from_python.txt', 'w').write('py')")

    reader = await client.create_sandbox(cargo_id=cargo.id)
    assert await reader.filesystem.read_file("state.txt") == "persist-me"

    # Still referenced by live sandboxes: refused, and the referencing sandboxes named.
    with pytest.raises(ConflictError) as busy:
        await client.cargos.delete(cargo.id)
    assert set(busy.value.details.get("active_sandbox_ids", [])) == {writer.id, reader.id}

    await writer.delete()
    await reader.delete()
    later = await client.create_sandbox(cargo_id=cargo.id)
    assert await later.filesystem.download("data/blob.bin") == bytes(range(256))
    assert await later.filesystem.read_file("from_python.txt") == "py"
    await later.filesystem.delete("from_python.txt")
    with pytest.raises(CargoFileNotFoundError):
        await later.filesystem.read_file("from_python.txt")
    await later.delete()

    await client.cargos.delete(cargo.id)
    await client.cargos.delete(default_size.id)
    with pytest.raises(NotFoundError):
        await client.cargos.get(cargo.id)


@pytest.mark.usefixtures("needs_cargos")
async def test_managed_cargo_follows_its_sandbox(client: BayClient) -> None:
    sandbox = await client.create_sandbox()
    cargo = await client.cargos.get(sandbox.cargo_id)
    assert (cargo.managed, cargo.managed_by_sandbox_id) == (True, sandbox.id)
    with pytest.raises(ConflictError):
        await client.cargos.delete(cargo.id)
    await sandbox.delete()
    with pytest.raises(NotFoundError):
        await client.cargos.get(cargo.id)


# -------------------------------------------------------------------------- skills


@pytest.mark.usefixtures("needs_skills")
async def test_skill_payloads_round_trip(client: BayClient) -> None:
    payload = {"commands": ["open https://example.com", "snapshot"], "n": [1, 2.5, None]}
    created = await client.skills.create_payload(payload=payload, kind="browser_script")
    assert created.payload_ref.startswith("blob:")
    assert created.kind == "browser_script"
    fetched = await client.skills.get_payload(created.payload_ref)
    assert (fetched.payload_ref, fetched.kind, fetched.payload) == (
        created.payload_ref,
        "browser_script",
        payload,
    )
    from_text = await client.skills.create_payload(payload='[1, "two"]')
    assert (await client.skills.get_payload(from_text.payload_ref)).payload == [1, "two"]
    with pytest.raises(NotFoundError):
        await client.skills.get_payload("blob:blob-000000000000")
    with pytest.raises(ValidationError, match="Unsupported payload_ref"):
        await client.skills.get_payload("s3%3A%2F%2Fcandidate%2Fpayload-1")


@pytest.mark.usefixtures("needs_skills")
async def test_skill_lifecycle(client: BayClient) -> None:
    skill_key = _key("sdk-skill")
    sandbox = await client.create_sandbox()
    e1 = await sandbox.python.exec("print('step1')", tags="etl")
    e2 = await sandbox.shell.exec("echo step2", tags="etl")
    ids = [e1.execution_id or "", e2.execution_id or ""]

    with pytest.raises(ValidationError):
        await client.skills.create_candidate(skill_key=skill_key, source_execution_ids=[])
    with pytest.raises(ValidationError):
        await client.skills.create_candidate(
            skill_key=skill_key, source_execution_ids=["exec-000000000000"]
        )

    first = await client.skills.create_candidate(
        skill_key=skill_key,
        source_execution_ids=ids,
        scenario_key="csv-import",
        payload_ref="s3://skills/etl-loader/v1",
        summary="loads csv",
        preconditions={"format": "csv"},
    )
    assert first.status is SkillCandidateStatus.DRAFT
    assert first.source_execution_ids == ids
    assert first.preconditions == {"format": "csv"}
    assert (await client.skills.get_candidate(first.id)).summary == "loads csv"
    drafts = await client.skills.list_candidates(status=SkillCandidateStatus.DRAFT)
    assert first.id in [c.id for c in drafts.items]
    by_key = await client.skills.list_candidates(skill_key=skill_key, limit=1)
    assert (by_key.total, by_key.items[0].id) == (1, first.id)

    # Promotion needs a passing evaluation.
    with pytest.raises(ConflictError):
        await client.skills.promote_candidate(first.id)
    rejected = await client.skills.evaluate_candidate(first.id, passed=False, score=0.2)
    assert rejected.passed is False
    assert (await client.skills.get_candidate(first.id)).status is SkillCandidateStatus.REJECTED
    evaluation = await client.skills.evaluate_candidate(
        first.id, passed=True, score=0.96, benchmark_id="bench-1", report="ok"
    )
    assert (evaluation.candidate_id, evaluation.score, evaluation.passed) == (first.id, 0.96, True)
    v1 = await client.skills.promote_candidate(first.id, stage=SkillReleaseStage.STABLE)
    assert (v1.version, v1.stage, v1.is_active) == (1, SkillReleaseStage.STABLE, True)

    # Nothing to roll back to yet.
    with pytest.raises(ConflictError):
        await client.skills.rollback_release(v1.id)

    second = await client.skills.create_candidate(skill_key=skill_key, source_execution_ids=ids)
    await client.skills.evaluate_candidate(second.id, passed=True)
    v2 = await client.skills.promote_candidate(
        second.id, upgrade_of_release_id=v1.id, upgrade_reason="faster", change_summary="v2"
    )
    assert (v2.version, v2.stage, v2.upgrade_of_release_id) == (2, SkillReleaseStage.CANARY, v1.id)
    active = await client.skills.list_releases(skill_key=skill_key, active_only=True)
    assert [r.id for r in active.items] == [v2.id]
    stable = await client.skills.list_releases(skill_key=skill_key, stage="stable")
    assert [r.id for r in stable.items] == [v1.id]
    with pytest.raises(ValidationError):
        await client.skills.list_releases(stage="beta")

    health = await client.skills.get_release_health(v2.id)
    assert (health.release_id, health.samples, health.healthy) == (v2.id, 0, False)
    assert health.thresholds == {"success_drop": 0.03, "error_rate_multiplier": 2.0}

    v3 = await client.skills.rollback_release(v2.id)
    assert (v3.version, v3.rollback_of, v3.candidate_id) == (3, v2.id, first.id)
    assert v3.stage is SkillReleaseStage.STABLE
    rolled = await client.skills.get_candidate(second.id)
    assert rolled.status is SkillCandidateStatus.ROLLED_BACK

    # A candidate backing an active release cannot be deleted.
    with pytest.raises(ConflictError):
        await client.skills.delete_candidate(first.id)
    deleted = await client.skills.delete_release(v3.id, reason="cleanup")
    assert (deleted["id"], deleted["delete_reason"]) == (v3.id, "cleanup")
    gone = await client.skills.delete_candidate(second.id)
    assert gone["id"] == second.id
    with pytest.raises(NotFoundError):
        await client.skills.get_candidate(second.id)
    with pytest.raises(NotFoundError):
        await client.skills.delete_release(v3.id)
    remaining = await client.skills.list_releases(skill_key=skill_key)
    assert {r.id for r in remaining.items} == {v1.id, v2.id}
    await sandbox.delete()
