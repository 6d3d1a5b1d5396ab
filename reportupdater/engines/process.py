"""Run a program (a report's script, a Hive client) with a deadline that holds.

Input: an argv, a timeout and a name for messages. Output: the exit status,
stdout as bytes (the caller checks and decodes it, see ``output``) and stderr
as text. The program runs in its own session. When its time is up, or the
run is interrupted, everything it started is killed: its process group, its
descendants (even those that started sessions of their own), and any process
still holding the write end of its stdout or stderr. Then the pipes are
closed without waiting for an end of file, so a child that escaped cannot
keep the run waiting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO, Mapping

from ..errors import ExecutionError


def spawn(argv: list[str], timeout: float | None, what: str,
          env: Mapping[str, str] | None = None, hint: str = "") -> tuple[int, bytes, str]:
    """Run ``argv``; return (exit status, stdout bytes, stderr text).

    Raises ExecutionError on a timeout (everything the program started is
    killed) or a program that cannot start (``hint`` says what to do then).
    """
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env=dict(env) if env is not None else None)
    except OSError as e:
        raise ExecutionError(f"{what} cannot start: {e.strerror or e}{hint}") from e
    with _running_lock:
        _running.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        _stop(process)
        raise ExecutionError(f"{what} timed out after {timeout:g} s and was killed") from e
    except BaseException:
        _stop(process)
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    return process.returncode, stdout, stderr.decode("utf-8", errors="replace")


# Processes spawn() waits for, so that an interrupted run can stop them: they
# run in their own sessions, out of reach of the terminal's Ctrl-C.
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def stop_all() -> None:
    """Kill everything the programs spawn() waits for started (the run is stopping).

    The waiting threads then see their pipes close and go on.
    """
    with _running_lock:
        processes = list(_running)
    for process in processes:
        kill_tree(process)


def _stop(process: subprocess.Popen) -> None:
    """Kill what ``process`` started, stop reading its pipes, and reap it."""
    kill_tree(process)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    process.wait()


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the process group, the descendants and the pipe holders of ``process``."""
    descendants = _descendants(process.pid)  # before the kill orphans them
    pipes = _pipe_inodes(process.stdout, process.stderr)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in descendants:
        _kill(pid)
    # A holder can fork while it is being looked for: look until none is left.
    for _ in range(5):
        holders = _writers_of(pipes)
        if not holders:
            break
        for pid in holders:
            _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _processes() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:  # no procfs: the process group is all we can reach
        return []


def _descendants(root: int) -> set[int]:
    """The pids below ``root`` in the process tree (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for pid in _processes():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _pipe_inodes(*pipes: IO[bytes] | None) -> set[str]:
    names = set()
    for pipe in pipes:
        try:
            names.add(f"pipe:[{os.fstat(pipe.fileno()).st_ino}]")
        except (AttributeError, ValueError, OSError):  # none, or closed by its thread
            pass
    return names


def _writers_of(pipes: set[str]) -> set[int]:
    """Processes other than this one that hold one of ``pipes`` open for writing."""
    if not pipes:
        return set()
    me = os.getpid()
    writers = set()
    for pid in _processes():
        if pid == me:
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in pipes and _writable(pid, fd):
                    writers.add(pid)
                    break
        except OSError:  # gone, or not ours to look at
            continue
    return writers


def _writable(pid: int, fd: str) -> bool:
    # Only the write end counts: a process forked elsewhere in this program
    # may hold the read end for a moment, and must not be killed for it.
    with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE != os.O_RDONLY
    return False
