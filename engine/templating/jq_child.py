"""The jq helper process: runs jq programs for one Renderer's ``JqProcesses``, one per line.

Started by ``engine.templating.jq_process`` with ``python -I`` (no PYTHON* variables, no user
site, no script folder on the path), an EMPTY environment (so jq's ``$ENV`` and ``env`` are
``{}``), the working directory of an emptied and deleted temporary folder, stderr to /dev/null
(``debug``, ``stderr``) and, set below before jq is imported, a cap on its address space, no file
writes and no core dumps; each request may use its ``timeout`` in CPU seconds (and two more).
A request is one JSON line ``{"program", "input", "max", "timeout"}``; the reply
is ``{"ok": [results]}`` or ``{"error": message}``. The parent kills it on timeout.
"""
from __future__ import annotations

import json
import os
import resource
import sys
from collections import OrderedDict
from typing import Any

_KEPT_PROGRAMS = 64


def _limit(memory_mb: int) -> None:
    address_space = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limit_cpu(seconds: float) -> None:
    """Die (SIGXCPU) once this request has used ``seconds`` of CPU: the parent kills a helper at
    its timeout, but a parent killed itself leaves a looping helper to this limit alone."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _answer(request: dict[str, Any], programs: OrderedDict[str, Any]) -> str:
    import jq

    _limit_cpu(float(request["timeout"]))
    source = request["program"]
    program = programs.get(source)
    if program is None:
        program = programs[source] = jq.compile(source)
        if len(programs) > _KEPT_PROGRAMS:
            programs.popitem(last=False)
    results = program.input_value(request["input"]).all()
    text = json.dumps({"ok": results}, ensure_ascii=False, separators=(",", ":"))
    if len(text) > request["max"]:
        return json.dumps({"error": f"its result is over the limit of {request['max']:,} characters "
                                    "(expressions.max_text_length)"})
    return text


def main() -> None:
    os.environ.clear()  # the interpreter may have set LC_CTYPE (PEP 538); jq's $ENV must be empty
    _limit(int(sys.argv[1]))
    programs: OrderedDict[str, Any] = OrderedDict()
    for line in sys.stdin:
        try:
            reply = _answer(json.loads(line), programs)
        except ValueError as error:
            reply = json.dumps({"error": str(error)})
        except MemoryError:
            reply = json.dumps({"error": f"it ran out of memory ({sys.argv[1]} MB, expressions.jq_memory_mb)"})
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
