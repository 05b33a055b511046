"""Benchmark: a no-op command through the Docker task runner against a bare ``docker run``.

    .venv/bin/python bench/docker_runner.py [--runs 20] [--no-write]

Starts a private Docker engine and a local busybox image (tests/docker_engine.py; needs root and
scripts/install-services.sh), then times, alternately, ``docker run --rm --network none IMAGE
/bin/sh -c true`` (the CLI: create, attach, start, wait, remove) and the same command as a
``ScriptJob`` through ``DockerScriptRunner.run`` with ``fileHandlingStrategy`` VOLUME (the
default: the working directory is copied in and back; an empty one is not sent, and comes back
only if the command wrote in it) and MOUNT. Target: under 1.2x the bare
run. The table, with the machine and the date, replaces the "Docker task runner" section of
docs/performance.md (other sections are kept).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report as perf_doc  # noqa: E402 - after the sys.path line above
from engine.plugins.ext.scripts import DockerRunner  # noqa: E402 - after the sys.path line above
from engine.tasks.docker_runner import DockerScriptRunner  # noqa: E402 - after the sys.path line above
from engine.tasks.script_runner import ScriptJob  # noqa: E402 - after the sys.path line above
from tests.docker_engine import DockerEngine, busybox_image, start_dockerd  # noqa: E402 - same

START = "<!-- bench/docker_runner.py: start -->"
END = "<!-- bench/docker_runner.py: end -->"
TARGET_RATIO = 1.2
COMMAND = ("/bin/sh", "-c", "true")
NOTE = ("VOLUME (Kestra's default) copies the working directory into the container before it starts and "
        "back when it ends, two archive calls for each of which the engine mounts the container's "
        "filesystem and runs a helper process: that is the whole difference with MOUNT. An empty working "
        "directory (a Commands task without files) is not sent, and comes back only when the engine's "
        "list of the container's changes shows the command wrote in it.")


class _Quiet:
    def line(self, text: str, *, stderr: bool) -> None:
        pass


def _bare(engine: DockerEngine, image: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(["docker", "-H", engine.host, "run", "--rm", "--network", "none", image, *COMMAND],
                       check=True, capture_output=True)
    return run


def _runner(engine: DockerEngine, image: str, strategy: str, folder: Path, script: bool) -> Callable[[], None]:
    options = DockerRunner.model_validate({"type": "io.kestra.plugin.scripts.runner.docker.Docker",
                                           "networkMode": "none", "fileHandlingStrategy": strategy})
    runner = DockerScriptRunner(options, default_host=engine.host)
    folder.mkdir()
    if script:                          # a Script task's file: copied in, and the folder back
        (folder / "script.sh").write_text("true\n")

    def run() -> None:
        job = ScriptJob(COMMAND, {"WORKING_DIR": str(folder)}, folder, folder / "out", image)
        code = runner.run(job, _Quiet(), lambda: False)
        assert code == 0, code
    return run


def measure(runs: int) -> dict[str, list[float]]:
    engine = start_dockerd()
    try:
        image = busybox_image(engine)
        with tempfile.TemporaryDirectory(prefix="podium-bench-docker-") as tmp:
            work = Path(tmp)
            cases = {"bare docker run": _bare(engine, image),
                     "runner, VOLUME, empty working dir": _runner(engine, image, "VOLUME", work / "v", False),
                     "runner, VOLUME, a script file": _runner(engine, image, "VOLUME", work / "s", True),
                     "runner, MOUNT, a script file": _runner(engine, image, "MOUNT", work / "m", True)}
            for case in cases.values():                    # warm the image layers and the caches
                case()
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(runs):                          # alternate, so load drifts hit every case
                for name, case in cases.items():
                    started = time.perf_counter()
                    case()
                    times[name].append((time.perf_counter() - started) * 1000)
        assert engine.containers() == [], "a run left a container"
        return times
    finally:
        engine.stop()


def table(times: dict[str, list[float]], runs: int) -> str:
    bare = statistics.median(times["bare docker run"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    machine = f"{perf_doc.cpu_model()}, {platform.machine()}, Python {platform.python_version()}"
    lines = [START, f"## Docker task runner ({stamp}, {machine})", "",
             "`bench/docker_runner.py`: a no-op `/bin/sh -c true` in a local busybox image on a private "
             f"dockerd (network mode none), median of {runs} runs each, alternated. Target: under "
             f"{TARGET_RATIO}x the bare `docker run --rm`. Load average when it started: "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             "| how | median (ms) | min (ms) | vs bare |", "|---|---|---|---|"]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.0f} | {min(values):.0f} | {median / bare:.2f}x |")
    return "\n".join([*lines, "", NOTE, "", END, ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        print("bench/docker_runner.py starts a private dockerd: run it as root after scripts/install-services.sh",
              file=sys.stderr)
        return 1
    text = table(measure(args.runs), args.runs)
    print(text)
    if not args.no_write:
        perf_doc.write_section(START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
