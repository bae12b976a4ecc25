"""A scratch PostgreSQL database on this machine's server, for tests that publish to one.

Its name takes $STLS_TEST_PG_SUFFIX so that parallel checkouts do not drop each other's.
Without a server on 127.0.0.1:5432 the test is skipped, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER = "postgresql://postgres@127.0.0.1:5432"


def database_name(base: str) -> str:
    return base + os.environ.get("STLS_TEST_PG_SUFFIX", "")


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh, empty database `name` (dropped again afterwards); yields its URL."""
    import psycopg

    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server on 127.0.0.1:5432: {error}")
    admin.execute(f"drop database if exists {name} with (force)")
    admin.execute(f"create database {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.close()
