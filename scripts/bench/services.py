"""The machine's PostgreSQL server and Redis db that a benchmark uses, through the ordinary clients."""
from __future__ import annotations

import psycopg2
import redis

from .config import DB_NAME, PG_ADMIN, REDIS_URL


def pg_admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN + "/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_query(sql: str, database: str = DB_NAME) -> list[tuple]:
    conn = psycopg2.connect(f"{PG_ADMIN}/{database}")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def pg_version() -> str:
    conn = psycopg2.connect(PG_ADMIN + "/postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]
    finally:
        conn.close()


def recreate_database(name: str) -> None:
    drop_database(name)
    pg_admin(f"CREATE DATABASE {name}")


def drop_database(name: str) -> None:
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def inbound_count() -> int:
    """Inbound turns stored in the benchmark's database."""
    return pg_query("SELECT count(*) FROM messages WHERE direction = 'inbound'")[0][0]


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


def flush_redis() -> None:
    redis_client().flushdb()  # our db only (BENCH_REDIS_DB, 13 by default)
