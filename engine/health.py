"""L1: a health report from probes (no I/O here: each probe is the caller's).

Each part is ``UP`` or ``DOWN: <reason>`` after calling its probe; ``status`` is ``UP`` only when
every part is. Served by the web process (``app/health.py``) and by ``podium server local``
(``cli/health_server.py``). Credentials in a URL, in a reason or an extra value, are hidden
(``engine.credentials``): a driver's error message may quote the URL it could not reach.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.credentials import mask_credentials


def health_report(probes: Mapping[str, Callable[[], None]], *, error_names: bool = False,
                  **extra: Any) -> dict[str, Any]:
    """``{"status", <part>: "UP" | "DOWN: ...", **extra}``; ``error_names`` prefixes each reason
    with its exception's class name."""
    parts = {name: _probe(probe, error_names) for name, probe in probes.items()}
    status = "UP" if all(value == "UP" for value in parts.values()) else "DOWN"
    shown = {name: mask_credentials(value) if isinstance(value, str) else value for name, value in extra.items()}
    return {"status": status, **parts, **shown}


def _probe(probe: Callable[[], None], error_names: bool) -> str:
    try:
        probe()
    except Exception as err:  # noqa: BLE001 - any failure means DOWN, with its reason
        reason = mask_credentials(str(err))
        return f"DOWN: {type(err).__name__}: {reason}" if error_names else f"DOWN: {reason}"
    return "UP"
