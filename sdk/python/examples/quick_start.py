"""Quick Start from the shipyard-neo-sdk project page.

Verbatim apart from the endpoint and token, which come from BAY_ENDPOINT / BAY_TOKEN
(defaulting to the values printed on the page):

    BAY_ENDPOINT=http://127.0.0.1:8000 BAY_TOKEN=... python examples/quick_start.py
"""

import asyncio
import os

from shipyard_neo import BayClient


async def main():
    async with BayClient(
        endpoint_url=os.environ.get("BAY_ENDPOINT", "http://localhost:8000"),
        access_token=os.environ.get("BAY_TOKEN", "your-token"),
    ) as client:
        sandbox = await client.create_sandbox(profile="python-default", ttl=600)

        py = await sandbox.python.exec(
            "print('hello')",
            include_code=True,
            description="smoke run",
            tags="smoke,python",
        )
        print(py.output)
        print(py.execution_id, py.execution_time_ms)

        history = await sandbox.get_execution_history(limit=10)
        print("history entries:", history.total)

        await sandbox.delete()


asyncio.run(main())
