"""The flows of bench/run.py's workloads, as YAML sources to deploy (one builder per workload)."""
from __future__ import annotations

import json

BIG_ITEMS = 165669  # 'x'.join of 1..165669 (Pebble's range is inclusive): 1,048,577 characters
BIG = len("x".join(str(i) for i in range(1, BIG_ITEMS + 1)))


def chain_flow(n: int) -> str:
    tasks = "".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: ok\n"
                    for i in range(n))
    return f"id: chain{n}\nnamespace: bench.w1\ntasks:\n{tasks}"


def parallel_flow(n: int) -> str:
    tasks = "".join(f"      - id: p{i}\n        type: io.kestra.plugin.core.debug.Return\n        format: ok\n"
                    for i in range(n))
    return (f"id: parallel{n}\nnamespace: bench.w2\ntasks:\n"
            f"  - id: fan\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{tasks}"
            f"  - id: join\n    type: io.kestra.plugin.core.debug.Return\n    format: joined\n")


ONE_TASK = """id: {flow_id}
namespace: {namespace}
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: ok
"""

BIG_FLOW = f"""id: big
namespace: bench.w4
tasks:
  - id: make
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ range(1, {BIG_ITEMS}) | join('x') }}}}"
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.make.value | length }}}}"
"""
BIG_CHECK = str(BIG)


def foreach_flow(n: int) -> str:
    values = json.dumps(list(range(n)))
    return (f"id: foreach{n}\nnamespace: bench.fe\ntasks:\n"
            f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: {values}\n"
            f"    concurrencyLimit: 0\n    tasks:\n"
            f"      - id: item\n        type: io.kestra.plugin.core.debug.Return\n"
            f"        format: \"{{{{ taskrun.value }}}}\"\n")
