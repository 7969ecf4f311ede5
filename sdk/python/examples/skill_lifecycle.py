"""Skill Lifecycle API example from the shipyard-neo-sdk project page.

Steps 1-5 (between the markers) are verbatim; around them only the client and sandbox
set-up, with the endpoint and token from BAY_ENDPOINT / BAY_TOKEN, and prints were
added:

    BAY_ENDPOINT=http://127.0.0.1:8000 BAY_TOKEN=... python examples/skill_lifecycle.py

Step 5 rolls the new release back to the *previous* release of "etl-loader"; the server
answers 409 conflict when there is none. So on a server that has never seen this skill
the set-up first promotes a baseline release (version 1) to roll back to.
"""

import asyncio
import os

from shipyard_neo import BayClient


async def ensure_previous_release(client, sandbox):
    existing = await client.skills.list_releases(skill_key="etl-loader")
    if existing.total:
        return
    baseline = await sandbox.python.exec("print('baseline')", tags="etl")
    candidate = await client.skills.create_candidate(
        skill_key="etl-loader", source_execution_ids=[baseline.execution_id]
    )
    await client.skills.evaluate_candidate(candidate.id, passed=True, score=1.0)
    await client.skills.promote_candidate(candidate.id)
    print("promoted a baseline release of etl-loader")


async def main():
    async with BayClient(
        endpoint_url=os.environ.get("BAY_ENDPOINT", "http://localhost:8000"),
        access_token=os.environ.get("BAY_TOKEN", "your-token"),
    ) as client:
        sandbox = await client.create_sandbox(profile="python-default", ttl=600)
        try:
            await ensure_previous_release(client, sandbox)

            # --- snippet from the project page ---------------------------------------
            from shipyard_neo import SkillReleaseStage

            # 1) collect execution evidence
            e1 = await sandbox.python.exec("print('step1')", tags="etl")
            e2 = await sandbox.shell.exec("echo step2", tags="etl")

            # 2) create candidate
            candidate = await client.skills.create_candidate(
                skill_key="etl-loader",
                source_execution_ids=[e1.execution_id, e2.execution_id],
                scenario_key="csv-import",
                payload_ref="s3://skills/etl-loader/v1",
            )

            # 3) evaluate
            evaluation = await client.skills.evaluate_candidate(
                candidate.id,
                passed=True,
                score=0.96,
                benchmark_id="bench-etl-001",
                report="all checks passed",
            )

            # 4) promote
            release = await client.skills.promote_candidate(
                candidate.id,
                stage=SkillReleaseStage.CANARY,
            )

            # 5) list / rollback
            releases = await client.skills.list_releases(skill_key="etl-loader", active_only=True)
            rollback_release = await client.skills.rollback_release(release.id)
            # --- end of snippet --------------------------------------------------------

            print("evidence:", e1.output, "/", e2.output)
            print("candidate:", candidate.id, candidate.status.value)
            print("evaluation:", evaluation.id, evaluation.passed, evaluation.score)
            print("release:", release.id, f"v{release.version}", release.stage.value)
            print("active releases:", [(r.id, r.version) for r in releases.items])
            print(
                "rollback:",
                rollback_release.id,
                f"v{rollback_release.version}",
                f"rollback_of={rollback_release.rollback_of}",
            )
        finally:
            await sandbox.delete()


asyncio.run(main())
