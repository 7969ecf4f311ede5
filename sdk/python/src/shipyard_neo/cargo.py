"""`client.cargos`: external cargos (persistent workspaces shared across sandboxes)."""

from __future__ import annotations

from ._http import HTTPClient
from .types import CargoInfo, CargoList, _CreateCargoRequest

__all__ = ["CargoManager"]


class CargoManager:
    def __init__(self, http: HTTPClient) -> None:
        self._http = http

    async def create(
        self, *, size_limit_mb: int | None = None, idempotency_key: str | None = None
    ) -> CargoInfo:
        """Creates an external cargo; `size_limit_mb` must be 1..65536 when given."""
        body = _CreateCargoRequest(size_limit_mb=size_limit_mb)
        response = await self._http.post(
            "/v1/cargos",
            json=body.model_dump(exclude_none=True) or None,
            idempotency_key=idempotency_key,
        )
        return CargoInfo.model_validate(response)

    async def get(self, cargo_id: str) -> CargoInfo:
        return CargoInfo.model_validate(await self._http.get(f"/v1/cargos/{cargo_id}"))

    async def delete(self, cargo_id: str) -> None:
        """Deletes an external cargo; `ConflictError` while a live sandbox uses it."""
        await self._http.delete(f"/v1/cargos/{cargo_id}")

    # Defined last: inside the class body the name `list` refers to this method.
    async def list(
        self, *, limit: int = 50, cursor: str | None = None, managed: bool | None = None
    ) -> CargoList:
        """Lists cargos; without `managed` only external cargos are returned."""
        response = await self._http.get(
            "/v1/cargos", params={"limit": limit, "cursor": cursor, "managed": managed}
        )
        return CargoList.model_validate(response)
