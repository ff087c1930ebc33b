"""Child processes that end with the process that started them.

`notifier run` starts the workers, beat, the API and (REDIS_URL unset) a redis-server. Killed
with SIGKILL it cannot stop them, and they went on as orphans: a second `notifier run` would find
the API port taken and stop, or start a second redis-server on the same append-only file.
On Linux the kernel sends each child SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG), so
they stop as cleanly as if the supervisor had stopped them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def ends_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets SIGTERM when this process dies.

    Call it in the thread that starts the child and lives as long as the process (the signal
    follows the thread that forked). None where the kernel has no such thing."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: never dlopen after a fork
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
