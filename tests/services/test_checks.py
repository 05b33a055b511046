"""A flow's checks: which fail, and the behaviour that wins (engine/services/checks.py)."""
from __future__ import annotations

from engine.model.flow import CheckBehavior, CheckStyle
from engine.services.checks import FailedCheck, behavior_of, failed_checks
from engine.templating import Renderer
from tests.executor.helpers import load

FLOW = """
id: f
namespace: t
checks:
  - {condition: "{{ inputs.n > 1 }}", message: small}
  - {condition: "{{ inputs.n > 2 }}", message: not big, behavior: CREATE_EXECUTION, style: WARNING}
  - {condition: "{{ 'true' }}", message: text is not a boolean, behavior: FAIL_EXECUTION}
  - {condition: "{{ inputs.missing.deeper }}", message: never shown, behavior: CREATE_EXECUTION}
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: hi}
"""


def test_failed_checks_and_their_behaviour() -> None:
    flow = load(FLOW)
    failed = failed_checks(flow, {"inputs": {"n": 2}}, Renderer().render_typed)
    assert [(f.message, f.behavior) for f in failed[:2]] == [
        ("not big", CheckBehavior.CREATE_EXECUTION), ("text is not a boolean", CheckBehavior.FAIL_EXECUTION)]
    broken = failed[2]  # a condition that cannot be rendered blocks, whatever its own behaviour
    assert broken.behavior == CheckBehavior.BLOCK_EXECUTION and broken.style == CheckStyle.ERROR
    assert broken.message.startswith("Failed to evaluate check condition. Cause:")
    assert failed[0].level == "WARN"


def test_the_most_restrictive_behaviour_wins() -> None:
    def of(*behaviors: CheckBehavior) -> CheckBehavior:
        return behavior_of([FailedCheck("m", CheckStyle.INFO, b) for b in behaviors])

    assert of() == CheckBehavior.CREATE_EXECUTION
    assert of(CheckBehavior.CREATE_EXECUTION, CheckBehavior.FAIL_EXECUTION) == CheckBehavior.FAIL_EXECUTION
    assert of(CheckBehavior.FAIL_EXECUTION, CheckBehavior.BLOCK_EXECUTION,
              CheckBehavior.CREATE_EXECUTION) == CheckBehavior.BLOCK_EXECUTION
