"""What bench_profile counts and prints: round trips to PostgreSQL and Redis, and profiled time per step."""
from __future__ import annotations

import pstats

import redis.connection
from sqlalchemy import event


class Counters:
    """SQL statements, transactions, pool checkouts and Redis round trips, counted through public hooks."""

    def __init__(self, engine):
        self.sql = self.begin = self.commit = self.rollback = self.checkout = self.redis = 0
        # with pool_pre_ping every checkout costs a SELECT 1; a custom "ping when idle" listener is not counted
        self.pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
        self.statements: dict[str, int] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(conn, cursor, statement, parameters, context, executemany):
            self.sql += 1
            key = " ".join(statement.split()[:4])[:60]
            self.statements[key] = self.statements.get(key, 0) + 1

        # On a connection in autocommit (isolation_level="AUTOCOMMIT") psycopg2 sends no BEGIN, COMMIT or
        # ROLLBACK, though SQLAlchemy still fires these events: they are not round trips (checked with strace).
        def _wire(conn) -> bool:
            return not getattr(conn.connection.dbapi_connection, "autocommit", False)

        @event.listens_for(engine, "begin")
        def _begin(conn):
            self.begin += _wire(conn)

        @event.listens_for(engine, "commit")
        def _commit(conn):
            self.commit += _wire(conn)

        @event.listens_for(engine, "rollback")
        def _rollback(conn):
            self.rollback += _wire(conn)

        @event.listens_for(engine.pool, "checkout")
        def _checkout(dbapi_conn, record, proxy):
            self.checkout += 1

        original = redis.connection.AbstractConnection.send_packed_command
        counters = self

        def counted(conn, command, check_health=True):
            counters.redis += 1
            return original(conn, command, check_health)
        redis.connection.AbstractConnection.send_packed_command = counted  # this process only

    def snapshot(self) -> dict:
        return {"sql": self.sql, "begin": self.begin, "commit": self.commit, "rollback": self.rollback,
                "checkout": self.checkout, "ping": self.checkout if self.pre_ping else 0, "redis": self.redis,
                "statements": dict(self.statements)}


def diff(after: dict, before: dict, n: int) -> dict:
    out = {k: round((after[k] - before[k]) / n, 2) for k in after if k != "statements"}
    out["statements"] = {k: round((v - before["statements"].get(k, 0)) / n, 2)
                         for k, v in after["statements"].items() if v - before["statements"].get(k, 0)}
    # libpq round trips: every statement, psycopg2's implicit BEGIN, COMMIT, and the pre-ping SELECT 1
    # (the ping runs in autocommit, so it is not preceded by BEGIN and is not counted by before_cursor_execute)
    out["pg_round_trips"] = round(out["sql"] + out["begin"] + out["commit"] + out["rollback"] + out["ping"], 2)
    return out


def steps(stats: pstats.Stats, table: list[tuple[str, str, str]], n: int) -> list[tuple[str, float, float]]:
    rows = []
    for label, suffix, name in table:
        cum = calls = 0.0
        for (file, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
            if func == name and file.replace("\\", "/").endswith(suffix):
                cum += ct
                calls += nc
        rows.append((label, round(1000 * cum / n, 3), round(calls / n, 2)))
    return rows


def top_self(stats: pstats.Stats, n: int, count: int = 15) -> list[tuple[str, float]]:
    items = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:count]
    out = []
    for (file, line, func), (_cc, _nc, tt, _ct, _callers) in items:
        short = file.split("site-packages/")[-1].split("/main/")[-1].split("python3.11/")[-1]
        out.append((f"{short}:{line} {func}", round(1000 * tt / n, 3)))
    return out


def print_section(title: str, n: int, wall_ms: float, cpu_ms: float, counts: dict, rows, top) -> None:
    print(f"\n== {title}: {n} serial, {wall_ms:.2f} ms wall and {cpu_ms:.2f} ms CPU each (under cProfile)")
    print(f"   per item: {counts['pg_round_trips']:g} PostgreSQL round trips = {counts['sql']:g} statements "
          f"+ {counts['begin']:g} BEGIN + {counts['commit']:g} COMMIT + {counts['rollback']:g} ROLLBACK "
          f"+ {counts['ping']:g} pool pre-ping ({counts['checkout']:g} pool checkouts); "
          f"{counts['redis']:g} Redis round trips")
    for stmt, per in sorted(counts["statements"].items(), key=lambda kv: -kv[1]):
        print(f"     {per:5g} x {stmt}")
    print(f"   {'step':<58} {'ms/item':>8} {'calls':>6}")
    for label, ms, calls in rows:
        if calls:  # steps this version of the code does not have are left out
            print(f"   {label:<58} {ms:8.3f} {calls:6g}")
    print("   top self time (ms/item):")
    for name, ms in top:
        print(f"     {ms:7.3f}  {name}")


def print_timed(rows: list[tuple[str, float, float]], n: int, thread_cpu: float) -> None:
    """The StepTimers' rows: CPU per reply by step, measured without the profiler."""
    print(f"   CPU per reply by step, without the profiler (thread CPU clock; the worker's thread: "
          f"{1000 * thread_cpu / n:.2f} ms per reply)")
    print(f"   {'step':<58} {'ms/item':>8} {'calls':>6}")
    for label, ms, calls in rows:
        if calls:
            print(f"   {label:<58} {ms:8.3f} {calls:6g}")
