"""L1 pure core's one helper process: jq runs in ``jq_child.py``, never in a Podium process.

In process, libjq reads the environment (``$ENV``, ``env``: the encryption key, every
``SECRET_*``), reads files (``import "x" as $d {search: "/etc"};``) and runs in C without ever
giving the interpreter lock back (``[repeat(1)]`` stalls every thread, heartbeats included). In a
helper process with an empty environment, a deleted working directory and a memory cap, a
program sees only its input; a program over its time budget has its helper killed (a new one
starts for the next call), and one over its memory cap dies on its own. Module directives and
the builtins that read module files are refused before anything runs.

Helpers are long-lived (starting one costs a Python start-up) and shared by the threads of one
process: a caller takes an idle helper or starts one, and gives it back when done.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from engine.templating.errors import ExpressionError

_CHILD = str(Path(__file__).with_name("jq_child.py"))
_KEPT_IDLE = 4
#: jq words that reach module files: the directives, and builtins that search or read modules.
_FILE_WORDS = frozenset({"import", "include", "module", "modulemeta", "get_search_list",
                         "get_prog_origin", "get_jq_origin"})


def refuse_file_access(program: str) -> None:
    """Refuse a jq program that names a module directive or a module-reading builtin.

    Words are looked for in the code only: string literals are skipped (their ``\\(...)``
    interpolations are code), and so are comments and field names (``.import``).
    """
    word = next((w for w in _code_words(program) if w in _FILE_WORDS), None)
    if word is not None:
        raise ExpressionError(f"jq: `{word}` is not allowed in expressions (jq programs may not read "
                              "modules or files); pass the data as the filter's input instead")


def _code_words(program: str) -> list[str]:
    words: list[str] = []
    interpolations: list[int] = []  # paren depth at which each open `\(` returns to its string
    depth, index, in_string = 0, 0, False
    while index < len(program):
        char = program[index]
        if in_string:
            if char == "\\" and program[index + 1:index + 2] == "(":
                interpolations.append(depth)
                depth, in_string = depth + 1, False
                index += 2
                continue
            in_string = char != '"'
            index += 2 if char == "\\" else 1
            continue
        if char == '"':
            in_string = True
        elif char == "#":
            newline = program.find("\n", index)
            index = len(program) if newline < 0 else newline
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if interpolations and depth == interpolations[-1]:
                interpolations.pop()
                in_string = True
        elif char.isalpha() or char == "_":
            end = index
            while end < len(program) and (program[end].isalnum() or program[end] == "_"):
                end += 1
            if program[index - 1:index] not in (".", "$"):
                words.append(program[index:end])
            index = end
            continue
        index += 1
    return words


class _Helper:
    """One jq helper process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        folder = tempfile.mkdtemp(prefix="podium-jq-")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", _CHILD, str(memory_mb)], env={}, cwd=folder,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True)
        finally:
            os.rmdir(folder)  # the helper keeps a working directory where nothing can be created
        self.owner = os.getpid()
        self.pending = b""

    def ask(self, request: bytes, timeout: float) -> dict[str, Any]:
        """Send one request line; the reply, or TimeoutError, or EOFError if the helper died."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(request + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise EOFError from None
        line = self._read_line(self.process.stdout.fileno(), timeout)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _read_line(self, fd: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def kill(self) -> None:
        if os.getpid() != self.owner:
            return  # a forked copy: the helper is the parent's
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def _kill_all(helpers: list[_Helper]) -> None:
    for helper in helpers:
        helper.kill()
    helpers.clear()


class JqProcesses:
    """The jq helpers of one process; thread-safe, and safe to carry across a fork (the child
    process starts its own helpers)."""

    def __init__(self, memory_mb: int = 512) -> None:
        self.memory_mb = memory_mb
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []
        weakref.finalize(self, _kill_all, self._idle)

    def run(self, program: str, data: Any, *, timeout: float, max_chars: int) -> list[Any]:
        """Results of ``program`` on ``data`` (plain JSON values); TimeoutError after ``timeout``
        seconds (the helper is killed)."""
        refuse_file_access(program)
        request = json.dumps({"program": program, "input": data, "max": max_chars, "timeout": timeout},
                             ensure_ascii=False, separators=(",", ":")).encode()
        helper = self._take()
        try:
            reply = helper.ask(request, timeout)
        except TimeoutError:
            helper.kill()
            raise
        except (EOFError, ValueError):
            helper.kill()
            if helper.process.returncode == -signal.SIGXCPU:
                raise TimeoutError from None
            raise ExpressionError(f"jq expression `{program}` failed: it ran out of memory "
                                  f"({self.memory_mb} MB, expressions.jq_memory_mb)") from None
        self._give_back(helper)
        if "error" in reply:
            message = " ".join(str(reply["error"]).split())
            raise ExpressionError(f"jq expression `{program}` failed: {message}")
        results: list[Any] = reply["ok"]
        return results

    def close(self) -> None:
        with self._lock:
            _kill_all(self._idle)

    def _take(self) -> _Helper:
        if os.getpid() != self._owner:  # forked: the parent's helpers and lock are not ours
            self._owner, self._lock = os.getpid(), threading.Lock()
            self._idle.clear()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Helper(self.memory_mb)

    def _give_back(self, helper: _Helper) -> None:
        with self._lock:
            if os.getpid() == self._owner and len(self._idle) < _KEPT_IDLE:
                self._idle.append(helper)
                return
        helper.kill()
