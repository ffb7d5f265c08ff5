"""Which code a benchmark runs: the working tree as it is, or a `git archive` snapshot of another commit.

The fakes are copied once per invocation, so an edit to tests/fakes.py during a run cannot change the run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from .config import PROJECT

# the files whose edits change what the stack runs
RUNTIME_PATHS = ("bot", "models", "app.py", "gunicorn.conf.py", "Procfile")


@dataclass(frozen=True)
class Code:
    """The code under test: the directory the stack runs in, its own copy of tests/fakes.py, and a description
    for the report ({"source", "head", "dirty"} for the working tree, {"source", "commit"} for a snapshot)."""

    src: str
    fakes: str
    info: dict


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", PROJECT, *args], capture_output=True, text=True).stdout.strip()


def use_snapshot(ref: str | None, workdir: str) -> Code:
    """The code to benchmark: a `git archive` of ref unpacked in workdir (None: the working tree as it is)."""
    fakes = os.path.join(workdir, "fakes.py")
    shutil.copyfile(os.path.join(PROJECT, "tests", "fakes.py"), fakes)
    if not ref:
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", *RUNTIME_PATHS)
        return Code(PROJECT, fakes, {"source": "working tree", "head": _git("rev-parse", "--short", "HEAD"),
                                     "dirty": bool(dirty)})
    src = os.path.join(workdir, "src")
    _unpack(ref, src)
    if os.path.exists(os.path.join(src, "tests", "fakes.py")):  # the fakes of that commit, when it has them
        shutil.copyfile(os.path.join(src, "tests", "fakes.py"), fakes)
    return Code(src, fakes, {"source": f"git archive {ref}", "commit": _git("rev-parse", "--short", ref)})


def _unpack(ref: str, src: str) -> None:
    os.makedirs(src, exist_ok=True)
    archive = subprocess.Popen(["git", "-C", PROJECT, "archive", "--format=tar", ref], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {ref} failed")


def procfile(src: str) -> dict[str, str]:
    """The Procfile's entries of the code in src: process name -> command."""
    entries = {}
    with open(os.path.join(src, "Procfile"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                name, cmd = line.split(":", 1)
                entries[name.strip()] = cmd.strip()
    return entries
