"""What an app built inside the benchmark's own process needs around it (bench_profile): the fakes' child
process, a fresh database, our Redis db, the bot's settings in os.environ and the release command run."""
from __future__ import annotations

import os
import subprocess

from .fakes import FakesProcess, fakes_command, load_fakes
from .procs import stop_group
from .services import drop_database, flush_redis, recreate_database
from .snapshot import Code
from .stack import app_env, base_env, free_port, run_release


class InProcessStack:
    """A context manager: on entry everything is ready for `create_app()`; on exit it is all gone again."""

    def __init__(self, code: Code, db_name: str):
        self.code, self.db_name = code, db_name
        self.db_created = False

    def __enter__(self) -> InProcessStack:
        proc = subprocess.Popen(fakes_command(self.code.fakes), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                start_new_session=True)
        self.fakes = FakesProcess(proc, "this script's stderr")
        try:
            self._prepare(self.fakes.ports())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _prepare(self, ports: dict[str, int]) -> None:
        fakes = load_fakes(self.code.fakes)
        self.account_sid, self.auth_token = fakes.ACCOUNT_SID, fakes.AUTH_TOKEN
        self.public = f"http://127.0.0.1:{free_port()}"  # only names the signed URL; nothing listens on it
        recreate_database(self.db_name)
        self.db_created = True
        flush_redis()
        os.environ.update(app_env(self.db_name, ports, self.public, fakes))
        run_release(self.code.src, base_env())

    def fakes_count(self) -> int:
        """Messages the fake Twilio has received so far."""
        return self.fakes.cmd("count")["messages"]

    def __exit__(self, *_exc) -> None:
        self.fakes.quit(timeout=5)
        stop_group(self.fakes.proc)
        if self.db_created:
            drop_database(self.db_name)
        flush_redis()
