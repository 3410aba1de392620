"""Shared fixtures for tests against the real local stack.

Every fixture reads the stack's environment (``scripts/local-stack.sh env``)
and FAILS the test when it is missing: a silently skipped integration suite
looks exactly like a passing one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg.rows import dict_row
from sdk_stack import ENV_NAMES, INTEGRATION_RETRY, StackEnv

from supabase_monitoring import AsyncMonitoringClient, MonitoringClient


@pytest.fixture(scope="session")
def stack_env() -> StackEnv:
    missing = [name for name in ENV_NAMES if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run with the local stack's environment "
            '(eval "$(scripts/local-stack.sh env)", or make py-test)'
        )
    return StackEnv(
        url=os.environ["SUPABASE_URL"],
        anon_key=os.environ["SUPABASE_ANON_KEY"],
        service_role_key=os.environ["SUPABASE_SERVICE_ROLE_KEY"],
        db_url=os.environ["SUPABASE_DB_URL"],
    )


@pytest.fixture
def unique() -> str:
    """A name no other test uses: tag, queue and worker names carry it."""
    return f"it-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def monitor(stack_env: StackEnv) -> Iterator[MonitoringClient]:
    """A strict service_role client: any failure fails the test.

    It writes synchronously (batching=False) so each test can read its row
    right after the call; test_batching_outage covers the default batching writer.
    """
    client = MonitoringClient(
        stack_env.url,
        stack_env.service_role_key,
        strict=True,
        retry=INTEGRATION_RETRY,
        disabled=False,
        batching=False,
    )
    yield client
    client.close()


@pytest.fixture
async def async_monitor(stack_env: StackEnv) -> AsyncIterator[AsyncMonitoringClient]:
    """The async twin of ``monitor``, bound to the test's event loop."""
    client = AsyncMonitoringClient(
        stack_env.url,
        stack_env.service_role_key,
        strict=True,
        retry=INTEGRATION_RETRY,
        disabled=False,
        batching=False,
    )
    yield client
    await client.close()


@pytest.fixture
def anon_monitor(stack_env: StackEnv) -> Iterator[MonitoringClient]:
    """A strict client holding the anon key, which must get nothing."""
    client = MonitoringClient(
        stack_env.url,
        stack_env.anon_key,
        strict=True,
        retry=INTEGRATION_RETRY,
        disabled=False,
        batching=False,
    )
    yield client
    client.close()


@pytest.fixture
def db(stack_env: StackEnv) -> Iterator[psycopg.Connection[dict[str, object]]]:
    """A direct Postgres connection to check what really landed (autocommit)."""
    with psycopg.connect(stack_env.db_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn
