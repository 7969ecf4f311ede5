"""`client.skills`: the skill lifecycle (payloads, candidates, evaluations, releases)."""

from __future__ import annotations

import json
from typing import Any

from ._http import HTTPClient
from .types import (
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
    _SkillPayloadCreateRequest,
)

__all__ = ["SkillManager"]

_PAYLOAD_ERROR = "payload must be a JSON object/array or a JSON string representing one"


def _not_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _enum_value(value: SkillCandidateStatus | SkillReleaseStage | str | None) -> str | None:
    if isinstance(value, (SkillCandidateStatus, SkillReleaseStage)):
        return str(value.value)
    return value


class SkillManager:
    def __init__(self, http: HTTPClient) -> None:
        self._http = http

    # --------------------------------------------------------------------- payloads

    async def create_payload(
        self, *, payload: dict[str, Any] | list[Any] | str, kind: str = "generic"
    ) -> SkillPayloadCreateInfo:
        """Stores a JSON object/array (or a JSON string encoding one) as a `blob:` ref."""
        value: Any = payload
        if isinstance(payload, str):
            try:
                value = json.loads(payload)
            except ValueError:
                raise ValueError(_PAYLOAD_ERROR) from None
        if not isinstance(value, (dict, list)):
            raise ValueError(_PAYLOAD_ERROR)
        body = _SkillPayloadCreateRequest(payload=value, kind=kind)
        response = await self._http.post("/v1/skills/payloads", json=body.model_dump())
        return SkillPayloadCreateInfo.model_validate(response)

    async def get_payload(self, payload_ref: str) -> SkillPayloadInfo:
        response = await self._http.get(f"/v1/skills/payloads/{payload_ref}")
        return SkillPayloadInfo.model_validate(response)

    # ------------------------------------------------------------------- candidates

    async def create_candidate(
        self,
        *,
        skill_key: str,
        source_execution_ids: list[str],
        scenario_key: str | None = None,
        payload_ref: str | None = None,
        summary: str | None = None,
        usage_notes: str | None = None,
        preconditions: dict[str, Any] | None = None,
        postconditions: dict[str, Any] | None = None,
    ) -> SkillCandidateInfo:
        body = _not_none(
            skill_key=skill_key,
            source_execution_ids=source_execution_ids,
            scenario_key=scenario_key,
            payload_ref=payload_ref,
            summary=summary,
            usage_notes=usage_notes,
            preconditions=preconditions,
            postconditions=postconditions,
        )
        response = await self._http.post("/v1/skills/candidates", json=body)
        return SkillCandidateInfo.model_validate(response)

    async def list_candidates(
        self,
        *,
        status: SkillCandidateStatus | str | None = None,
        skill_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SkillCandidateList:
        response = await self._http.get(
            "/v1/skills/candidates",
            params={
                "status": _enum_value(status),
                "skill_key": skill_key,
                "limit": limit,
                "offset": offset,
            },
        )
        return SkillCandidateList.model_validate(response)

    async def get_candidate(self, candidate_id: str) -> SkillCandidateInfo:
        response = await self._http.get(f"/v1/skills/candidates/{candidate_id}")
        return SkillCandidateInfo.model_validate(response)

    async def evaluate_candidate(
        self,
        candidate_id: str,
        *,
        passed: bool,
        score: float | None = None,
        benchmark_id: str | None = None,
        report: str | None = None,
    ) -> SkillEvaluationInfo:
        body = _not_none(passed=passed, score=score, benchmark_id=benchmark_id, report=report)
        response = await self._http.post(
            f"/v1/skills/candidates/{candidate_id}/evaluate", json=body
        )
        return SkillEvaluationInfo.model_validate(response)

    async def promote_candidate(
        self,
        candidate_id: str,
        *,
        stage: SkillReleaseStage | str = SkillReleaseStage.CANARY,
        upgrade_of_release_id: str | None = None,
        upgrade_reason: str | None = None,
        change_summary: str | None = None,
    ) -> SkillReleaseInfo:
        body = _not_none(
            stage=_enum_value(stage),
            upgrade_of_release_id=upgrade_of_release_id,
            upgrade_reason=upgrade_reason,
            change_summary=change_summary,
        )
        response = await self._http.post(f"/v1/skills/candidates/{candidate_id}/promote", json=body)
        return SkillReleaseInfo.model_validate(response)

    async def delete_candidate(
        self, candidate_id: str, *, reason: str | None = None
    ) -> dict[str, Any]:
        """Soft-deletes a candidate; `ConflictError` while an active release uses it."""
        return await self._http.delete(
            f"/v1/skills/candidates/{candidate_id}", json=_not_none(reason=reason)
        )

    # --------------------------------------------------------------------- releases

    async def list_releases(
        self,
        *,
        skill_key: str | None = None,
        active_only: bool = False,
        stage: SkillReleaseStage | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SkillReleaseList:
        response = await self._http.get(
            "/v1/skills/releases",
            params={
                "skill_key": skill_key,
                "active_only": active_only,
                "stage": _enum_value(stage),
                "limit": limit,
                "offset": offset,
            },
        )
        return SkillReleaseList.model_validate(response)

    async def rollback_release(self, release_id: str) -> SkillReleaseInfo:
        """Re-activates the previous release of the skill as a new release."""
        response = await self._http.post(f"/v1/skills/releases/{release_id}/rollback")
        return SkillReleaseInfo.model_validate(response)

    async def get_release_health(self, release_id: str) -> SkillReleaseHealth:
        response = await self._http.get(f"/v1/skills/releases/{release_id}/health")
        return SkillReleaseHealth.model_validate(response)

    async def delete_release(self, release_id: str, *, reason: str | None = None) -> dict[str, Any]:
        return await self._http.delete(
            f"/v1/skills/releases/{release_id}", json=_not_none(reason=reason)
        )
