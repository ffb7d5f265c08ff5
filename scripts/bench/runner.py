"""One benchmark invocation: the lock, a work directory, the code under test, then --runs fresh stacks, each
put through the chosen phases in a fixed order (intake, drain, e2e, followup)."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass

from .config import log
from .host import acquire_lock, host_speed_ms, machine_info, release_lock, wait_quiet
from .load import Generator
from .phases.drain import phase_drain
from .phases.e2e import phase_e2e
from .phases.followup import phase_followup
from .phases.intake import phase_intake
from .signing import Signer
from .snapshot import Code, use_snapshot
from .stack import Stack


@dataclass
class Run:
    """What the phases of one run share."""

    stack: Stack
    signer: Signer
    gen: Generator
    args: object
    index: int


def run_all(args, phases: set[str]) -> tuple[dict, list[dict], bool]:
    """Returns (machine info, each successful run's figures, whether anything failed). Records the code under
    test in args.code, and sets args.keep_logs after a failure: the JSON's "args" shows both."""
    lock = acquire_lock(timeout=args.lock_wait)
    workdir = tempfile.mkdtemp(prefix="bench_intake-")
    runs: list[dict] = []
    info = machine_info()
    failed = False
    try:
        code = use_snapshot(args.ref, workdir)
        info["code"] = args.code = code.info
        for index in range(args.runs):
            result = one_run(code, workdir, args, phases, index)
            failed = failed or result is None
            if result is not None:
                runs.append(result)
    except KeyboardInterrupt:
        log("interrupted; stopped every process this script started")
        failed = True
    except Exception as exc:  # reported in one line; the logs are kept for the details
        log(f"error: {exc}")
        failed = True
        args.keep_logs = True
    finally:
        _clean_up(workdir, keep=args.keep_logs or failed)
        release_lock(lock)
    return info, runs, failed


def _clean_up(workdir: str, keep: bool) -> None:
    if keep:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def one_run(code: Code, workdir: str, args, phases: set[str], index: int) -> dict | None:
    """A fresh stack through the chosen phases; None (logged, logs kept) when the run failed."""
    result = {"background_busy_pct": wait_quiet(args.quiet_wait), "host_speed_ms": host_speed_ms()}
    stack = Stack(workdir, code, {}, fakes_as_is=args.fakes_as_is)
    try:
        log(f"run {index + 1}/{args.runs}: starting the stack (logs in {workdir})")
        stack.start()
        signer = Signer(stack.public, stack.account_sid, stack.auth_token)
        gen = Generator(stack, args.generator_used, args.connections, args.wrk_threads, workdir)
        run = Run(stack, signer, gen, args, index)
        for name, phase in PHASES:
            if name in phases:
                phase(run, result)
        return result
    except Exception as exc:  # one failed run must not discard the others
        log(f"  run {index + 1} failed: {exc}")
        args.keep_logs = True
        return None
    finally:
        stack.stop()


def _intake(run: Run, result: dict) -> None:
    log("  intake: /healthz then the signed webhook, no worker running")
    intake = result["intake"] = phase_intake(run.stack, run.gen, run.signer, run.args, run.index)
    log(f"    healthz {intake['healthz']['rps']}/s webhook {intake['webhook']['rps']}/s "
        f"ratio {intake['ratio']} p99 {intake['webhook']['p99_ms']} ms "
        f"(gunicorn workers busy: healthz {intake['healthz']['busy_workers']}, "
        f"webhook {intake['webhook']['busy_workers']})")


def _drain(run: Run, result: dict) -> None:
    log(f"  drain: {run.args.turns} queued turns, then one worker")
    drain = result["drain"] = phase_drain(run.stack, run.signer, run.args, run.index)
    log(f"    {drain['replies']} replies, {drain['rps']}/s")


def _e2e(run: Run, result: dict) -> None:
    args = run.args
    log(f"  e2e: {args.e2e_messages} messages one at a time, {args.e2e_gap_ms:g} ms apart")
    e2e = result["e2e"] = phase_e2e(run.stack, run.signer, args, run.index)
    log(f"    p50 {e2e['p50_ms']} ms p99 {e2e['p99_ms']} ms")
    log(f"  e2e idle: {args.e2e_messages} messages, each after the previous reply arrived")
    idle = result["e2e_idle"] = phase_e2e(run.stack, run.signer, args, run.index, serial=True)
    log(f"    p50 {idle['p50_ms']} ms p99 {idle['p99_ms']} ms")


def _followup(run: Run, result: dict) -> None:
    args = run.args
    log(f"  followup: {args.followup_users} users, 2nd message during a {args.followup_llm_ms:g} ms LLM call")
    followup = result["followup"] = phase_followup(run.stack, run.signer, args, run.index)
    log(f"    2nd webhook p50 {followup['second_p50_ms']} ms")


PHASES = (("intake", _intake), ("drain", _drain), ("e2e", _e2e), ("followup", _followup))
