"""Child processes of a benchmark run: started with a log file, measured (CPU seconds), stopped for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its waited-for children, read from /proc.

    Returns 0.0 when the process is gone (a stopped process's figure is taken before it stops).
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` plus its live descendants (nginx workers, runner instances)."""
    total = cpu_seconds(pid)
    for child in _children(pid):
        total += tree_cpu_seconds(child)
    return total


def labelled_descendants_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each descendant, labelled by its ``--instance`` argument (a runner's
    per-instance process) or by its command name."""
    found: dict[str, float] = {}
    for child in _children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        label = argv[argv.index("--instance") + 1] if "--instance" in argv[:-1] else Path(argv[0]).name
        found[label] = found.get(label, 0.0) + tree_cpu_seconds(child)
        found.update(labelled_descendants_cpu(child))
    return found


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads' children)."""
    return _children(pid)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def child_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a benchmark child: ours plus ``extra``, with bytecode caching allowed.

    With PYTHONDONTWRITEBYTECODE set (as on this project's machines) every child recompiles every
    module it imports; a pipeline of five processes then spends many seconds starting up.
    """
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class ProcessFailed(RuntimeError):
    """A benchmark child process exited early or did not become ready; the message quotes its log."""


@dataclass
class ManagedProcess:
    """One child process with its own log file; ``stop()`` always ends it (TERM, then KILL)."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    final_cpu_seconds: float | None = field(default=None, init=False)
    child_cpu_seconds: dict[str, float] = field(default_factory=dict, init=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")  # append: the child may write the same file itself
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_environment(self.env),
                cwd=self.cwd,
                start_new_session=True,  # so stop() can signal the whole process group
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ProcessFailed(f"{self.name} was never started")
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """CPU seconds so far (the figure frozen at stop time once stopped)."""
        if self.final_cpu_seconds is not None:
            return self.final_cpu_seconds
        return tree_cpu_seconds(self.pid) if self.alive() else 0.0

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def fail(self, what: str) -> ProcessFailed:
        return ProcessFailed(f"{self.name}: {what}; log {self.log_path}:\n{self.log_tail()}")

    def wait(self, timeout: float) -> int:
        """Wait for a normal exit; raises ProcessFailed on timeout (the process is then stopped).

        The exited child is left unreaped until its CPU time is read from /proc (a zombie keeps it).
        """
        if self.popen is None:
            raise ProcessFailed(f"{self.name} was never started")
        deadline = time.monotonic() + timeout
        while self.popen.returncode is None:
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            if os.waitid(os.P_PID, self.popen.pid, flags) is not None:
                self.final_cpu_seconds = cpu_seconds(self.popen.pid)
                break
            if time.monotonic() > deadline:
                self.stop()
                raise self.fail(f"did not finish within {timeout:.0f} s")
            time.sleep(0.05)
        return self.popen.wait()

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20.0) -> None:
        """Signal the process (it stops its own children), wait ``grace`` seconds, then kill its
        whole process group, so nothing it started outlives it."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.final_cpu_seconds = tree_cpu_seconds(self.popen.pid)
            self.child_cpu_seconds = labelled_descendants_cpu(self.popen.pid)
            self.popen.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers of the group, if any
        if self.popen.poll() is None:
            self.popen.wait(timeout=grace)
