"""Which earlier process this one takes over from, so that its leases end at once.

A killed worker's running steps wait out their lease (30 s by default) before anyone runs
them again: another process cannot tell a dead worker from a slow one (WF-3). A process that
restarts in the same `FIRELINE_HOME` can: each worker process holds an exclusive lock on one
of the home's `engine-<n>.lock` files for its whole life (`flock`, released by the kernel
when the process dies, however it dies). A process that gets slot n knows that the process
which held it before is gone, so the steps still leased to that slot's instance are released
at once — never those of a process that might still be alive.

The instance of slot n is `<home id>-<n>`, the home id a random name kept in
`FIRELINE_HOME/instance-id`; a worker id starts with its instance (`<instance>:<pid>:<random>`).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_SLOTS = 64
_ID_FILE = "instance-id"


@dataclass
class Instance:
    id: str
    _lock: IO[bytes]

    def worker_id(self) -> str:
        return f"{self.id}:{os.getpid()}:{secrets.token_hex(4)}"

    def release(self) -> None:
        self._lock.close()  # closing the file ends the lock


def claim(home: Path) -> Instance | None:
    """The first free slot of `home`, held until `release` or the process ends; None when
    all are taken (the process then runs with a worker id of its own, as before)."""
    home.mkdir(parents=True, exist_ok=True)
    home_id = _home_id(home)
    for slot in range(MAX_SLOTS):
        lock = (home / f"engine-{slot}.lock").open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return Instance(f"{home_id}-{slot}", lock)
    return None


def _home_id(home: Path) -> str:
    path = home / _ID_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    made = secrets.token_hex(6)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(made)
    try:
        os.link(temporary, path)  # atomic, and never replaces one another process wrote
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()
