"""Cargo API example from the shipyard-neo-sdk project page.

The snippet (between the markers) is verbatim; around it only the client set-up, with
the endpoint and token from BAY_ENDPOINT / BAY_TOKEN, and a few prints were added:

    BAY_ENDPOINT=http://127.0.0.1:8000 BAY_TOKEN=... python examples/cargo.py
"""

import asyncio
import os

from shipyard_neo import BayClient


async def main():
    async with BayClient(
        endpoint_url=os.environ.get("BAY_ENDPOINT", "http://localhost:8000"),
        access_token=os.environ.get("BAY_TOKEN", "your-token"),
    ) as client:
        # --- snippet from the project page -------------------------------------------
        cargo = await client.cargos.create(size_limit_mb=1024)

        sandbox = await client.create_sandbox(
            profile="python-default",
            cargo_id=cargo.id,  # attach external cargo
            ttl=600,
        )

        await sandbox.filesystem.write_file("state.txt", "persist-me")
        await sandbox.delete()  # external cargo still exists

        sandbox2 = await client.create_sandbox(profile="python-default", cargo_id=cargo.id)
        assert await sandbox2.filesystem.read_file("state.txt") == "persist-me"

        await sandbox2.delete()
        await client.cargos.delete(cargo.id)
        # --- end of snippet ------------------------------------------------------------

        print("cargo:", cargo.id, cargo.backend, cargo.size_limit_mb)
        print("first sandbox:", sandbox.id, "second sandbox:", sandbox2.id)
        print("state.txt survived the first sandbox: persist-me")


asyncio.run(main())
