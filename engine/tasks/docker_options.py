"""L2 adapter: a Docker task runner's options (``taskRunner`` or the deprecated ``docker``) as
the arguments of Docker's create-container call, each bad value a one-line error naming its field.

Host access is the worker's decision, not the flow's: ``volumes`` (host folders) and
``privileged`` (the whole host) are refused unless the worker allows them
(``scripts.docker_volumes_enabled``, Kestra's ``volume-enabled`` plugin setting, off by default).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.durations import DurationError, parse_duration
from engine.plugins.ext.scripts import DockerRunner, DockerSettings, FileHandlingStrategy, PullPolicy
from engine.tasks.outcome import TaskFailed

VOLUMES_SETTING = "scripts.docker_volumes_enabled (PODIUM_SCRIPTS__DOCKER_VOLUMES_ENABLED=true)"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class RunnerOptions:
    """What one run needs from the options, checked once before anything starts."""

    image: str
    pull_policy: PullPolicy
    mount: bool                     # fileHandlingStrategy MOUNT (else VOLUME: copy in and out)
    delete: bool
    kill_grace: float               # seconds of SIGTERM before SIGKILL on a kill; 0: SIGKILL at once
    create: dict[str, Any]          # create_container keyword arguments, host_config excepted
    host: dict[str, Any]            # create_host_config keyword arguments, binds excepted
    binds: tuple[str, ...]          # the user's volumes, host:container[:mode]
    auth: dict[str, str] | None     # registry credentials for a pull
    user: str | None                # the container's user, when not the image's


def field_prefix(options: DockerSettings | None) -> str:
    return "taskRunner" if isinstance(options, DockerRunner) or options is None else "docker"


def runner_options(options: DockerSettings | None, container_image: str | None,
                   *, volumes_enabled: bool) -> RunnerOptions:
    """Checks ``options`` and turns them into Docker's terms (Kestra's ``Docker.configure``)."""
    given = options if options is not None else DockerSettings()
    where = field_prefix(options)
    image = given.image or container_image
    if not image:
        raise TaskFailed(f"{where}: the Docker task runner needs an image; set the task's containerImage "
                         "(e.g. containerImage: python:3.12-slim)")
    _check_host_access(given, where, volumes_enabled)
    return RunnerOptions(
        image=image,
        pull_policy=given.pull_policy or PullPolicy.IF_NOT_PRESENT,
        mount=getattr(given, "file_handling_strategy", None) == FileHandlingStrategy.MOUNT,
        delete=bool(getattr(given, "delete", True)),
        kill_grace=_grace(getattr(given, "kill_grace_period", None), where),
        create=_create_args(given),
        host=_host_args(given, where),
        binds=tuple(given.volumes or ()),
        auth=_auth(given),
        user=given.user or None)


def _check_host_access(given: DockerSettings, where: str, volumes_enabled: bool) -> None:
    if volumes_enabled:
        return
    if given.volumes:
        raise TaskFailed(f"{where}.volumes: host volumes are disabled on this worker; mount nothing, or "
                         f"let the worker's administrator set {VOLUMES_SETTING}")
    if given.privileged:
        raise TaskFailed(f"{where}.privileged: a privileged container controls the whole host and is "
                         f"disabled on this worker; remove it, or let the worker's administrator set "
                         f"{VOLUMES_SETTING}")


def _create_args(given: DockerSettings) -> dict[str, Any]:
    # Kestra's default entry point is [""]: the image's own entry point is reset, so the task's
    # command runs as written rather than as arguments of, say, "python".
    args: dict[str, Any] = {"entrypoint": list(given.entry_point) if given.entry_point is not None else [""]}
    if given.user:
        args["user"] = given.user
    return args


def _host_args(given: DockerSettings, where: str) -> dict[str, Any]:
    host: dict[str, Any] = {}
    if given.network_mode:
        host["network_mode"] = given.network_mode
    if given.extra_hosts:
        host["extra_hosts"] = list(given.extra_hosts)
    if given.shm_size:
        host["shm_size"] = size(given.shm_size, f"{where}.shmSize")
    if given.privileged:
        host["privileged"] = True
    if given.cpu is not None and given.cpu.cpus is not None:
        host["nano_cpus"] = _nano_cpus(given.cpu.cpus, f"{where}.cpu.cpus")
    if given.memory is not None:
        host.update(_memory_args(given, where))
    if given.device_requests:
        host["device_requests"] = [_device_request(item) for item in given.device_requests]
    return host


def _memory_args(given: DockerSettings, where: str) -> dict[str, Any]:
    memory = given.memory
    assert memory is not None
    args: dict[str, Any] = {}
    for field, key, value in (("memory", "mem_limit", memory.memory),
                              ("memorySwap", "memswap_limit", memory.memory_swap),
                              ("memoryReservation", "mem_reservation", memory.memory_reservation),
                              ("kernelMemory", "kernel_memory", memory.kernel_memory)):
        if value is not None:
            args[key] = size(value, f"{where}.memory.{field}")
    if memory.memory_swappiness is not None:
        args["mem_swappiness"] = _integer(memory.memory_swappiness, f"{where}.memory.memorySwappiness")
    if memory.oom_kill_disable is not None:
        args["oom_kill_disable"] = memory.oom_kill_disable
    return args


def size(value: str | int, where: str) -> int:
    """Bytes of ``512MB``, ``1g``, ``64Mb`` or ``1048576`` (units of 1024, as Kestra's)."""
    match = _SIZE.match(str(value))
    if not match:
        raise TaskFailed(f"{where}: {str(value)[:40]!r} is not a size; write bytes or a number with "
                         "KB, MB or GB (e.g. 512MB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _nano_cpus(value: float | str, where: str) -> int:
    try:
        cpus = float(value)
    except ValueError:
        cpus = -1.0
    if cpus <= 0:
        raise TaskFailed(f"{where}: {str(value)[:40]!r} is not a number of CPUs; write e.g. 0.5 or 2")
    return int(cpus * 1_000_000_000)


def _integer(value: str | int, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise TaskFailed(f"{where}: {str(value)[:40]!r} is not a whole number (0 to 100)") from None


def _grace(value: str | None, where: str) -> float:
    if not value:
        return 0.0
    try:
        return parse_duration(value).total_seconds()
    except DurationError as error:
        raise TaskFailed(f"{where}.killGracePeriod: {error}") from None


def _device_request(item: dict[str, Any]) -> Any:
    from docker.types import DeviceRequest

    def pick(*names: str) -> Any:
        return next((item[name] for name in names if name in item), None)

    return DeviceRequest(driver=pick("driver") or "", count=pick("count") or 0,
                         device_ids=pick("deviceIds", "device_ids"), capabilities=pick("capabilities"),
                         options=pick("options"))


def _auth(given: DockerSettings) -> dict[str, str] | None:
    credentials = given.credentials
    if credentials is None:
        return None
    pairs = {"username": credentials.username, "password": credentials.password,
             "serveraddress": credentials.registry, "identitytoken": credentials.identity_token,
             "registrytoken": credentials.registry_token, "auth": credentials.auth}
    return {key: value for key, value in pairs.items() if value}
