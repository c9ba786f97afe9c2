"""Shared fixtures: storage backends for contract tests.

PostgreSQL tests use ``LEDGER_TEST_POSTGRES_URL`` (default: the local server with trust auth) and a
fresh schema per test. They skip when the server is unreachable, unless ``LEDGER_REQUIRE_POSTGRES=1``
(CI), where they fail instead.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# No timed assertions in tests: Hypothesis's per-example deadline is one, and on a shared 2-core machine it
# fails examples that merely waited for a CPU. Examples are still bounded by the suite's timeout.
settings.register_profile("ledger", deadline=None)
settings.load_profile("ledger")

POSTGRES_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOW_TO_ENABLE_POSTGRES = (
    "PostgreSQL not reachable at LEDGER_TEST_POSTGRES_URL={url!r}: start it (trust auth, database 'test') "
    "or point LEDGER_TEST_POSTGRES_URL at one; set LEDGER_REQUIRE_POSTGRES=1 to make this a failure."
)


def _postgres_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL, or skip (fail under LEDGER_REQUIRE_POSTGRES=1) when unreachable."""
    problem = _postgres_available()
    if problem is not None:
        message = HOW_TO_ENABLE_POSTGRES.format(url=POSTGRES_URL) + f" ({problem})"
        if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A libpq URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


HOW_TO_ENABLE_REDIS = (
    "Redis not reachable at LEDGER_TEST_REDIS_URL={url!r}: start it (redis-server --port 6379) or point "
    "LEDGER_TEST_REDIS_URL at one; set LEDGER_REQUIRE_REDIS=1 to make this a failure."
)


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The Redis URL, or skip (fail under LEDGER_REQUIRE_REDIS=1) when unreachable."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        message = HOW_TO_ENABLE_REDIS.format(url=REDIS_URL) + f" ({error})"
        if os.environ.get("LEDGER_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix nobody else uses; its keys are deleted after the test."""
    import redis

    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each contract test runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
