"""`sandbox.filesystem`: files of the sandbox workspace (paths relative to /workspace)."""

from __future__ import annotations

from ..types import FileInfo, _FileWriteRequest
from .base import BaseCapability

__all__ = ["FilesystemCapability"]


class FilesystemCapability(BaseCapability):
    async def read_file(self, path: str) -> str:
        """Returns the file decoded as UTF-8 text."""
        response = await self._http.get(
            f"{self._base_path}/filesystem/files", params={"path": path}
        )
        content = response.get("content", "")
        return content if isinstance(content, str) else str(content)

    async def write_file(self, path: str, content: str) -> None:
        """Creates or overwrites a text file (parent directories are created)."""
        body = _FileWriteRequest(path=path, content=content)
        await self._http.put(f"{self._base_path}/filesystem/files", json=body.model_dump())

    async def list_dir(self, path: str = ".") -> list[FileInfo]:
        response = await self._http.get(
            f"{self._base_path}/filesystem/directories", params={"path": path}
        )
        return [FileInfo.model_validate(e) for e in response.get("entries", [])]

    async def delete(self, path: str) -> None:
        """Deletes a file, or a directory recursively."""
        await self._http.delete(f"{self._base_path}/filesystem/files", params={"path": path})

    async def upload(self, path: str, content: bytes) -> None:
        """Writes binary content byte-exactly (multipart upload)."""
        await self._http.upload(
            f"{self._base_path}/filesystem/upload", file_content=content, file_path=path
        )

    async def download(self, path: str) -> bytes:
        """Returns the file's bytes unchanged."""
        return await self._http.download(
            f"{self._base_path}/filesystem/download", params={"path": path}
        )
