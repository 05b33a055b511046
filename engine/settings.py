"""L2: the one settings object every Podium process is built from.

Values come, lowest priority first, from defaults, a YAML file (``PODIUM_CONFIG`` or
``--config``), then environment variables prefixed ``PODIUM_`` (nested keys with ``__``,
e.g. ``PODIUM_WORKER__CONCURRENCY=4``). docs/configuration.md lists every field.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import yaml
from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

#: The broker of a persistent instance when none is configured: message folders under
#: ``data_dir/broker`` that every process on this machine can share (no server to run).
EMBEDDED_BROKER_URL = "podium-fs://"
#: Threads of one process only; ``podium run`` (a private, throw-away instance) uses it.
IN_PROCESS_BROKER_URL = "memory://"


class WorkerSettings(BaseModel):
    concurrency: int = Field(default=4, ge=1, description="Task runs one worker process runs at once.")
    queues: list[str] = Field(default_factory=lambda: ["default"],
                              description="Celery queues (worker groups) this worker consumes.")
    lease_seconds: float = Field(default=30.0, gt=0,
                                 description="A running task run's lease; renewed by heartbeats.")
    running_report_after: float = Field(
        default=0.5, ge=0, description="A task run still running after this many seconds is reported RUNNING "
                                       "(0: at once); a quicker one reports only its end, with its start time, "
                                       "which saves the executor one transaction per task run.")
    batch_seconds: float = Field(
        default=0.2, ge=0, description="How long one message may run the attempts of a fan-out chunk, or the "
                                       "links after its own in a chain, before it gives the rest back to the "
                                       "queue (docs/celery.md, \"Batches\"); 0: one attempt per message.")

    @model_validator(mode="after")
    def _batches_end_before_their_claims_lapse(self) -> WorkerSettings:
        if self.batch_seconds >= self.lease_seconds / 3:
            raise ValueError(f"worker.batch_seconds ({self.batch_seconds}) must be less than a third of "
                             f"worker.lease_seconds ({self.lease_seconds}): a batch holds the claims of "
                             "attempts it has not started that long, and nobody renews them; lower "
                             "batch_seconds or raise lease_seconds")
        return self


class ExecutorSettings(BaseModel):
    concurrency: int = Field(default=2, ge=1, description="Events the executor handles at once.")
    chains: bool = Field(
        default=True, description="Dispatch consecutive runnable tasks of a sequence as one Celery chain: the "
        "next task starts on a worker without a round trip through the executor (docs/executor.md, \"Chains\"; "
        "a chain of 500 tasks 1.5x faster on Redis + PostgreSQL, docs/performance.md).")


class LocalFilesSettings(BaseModel):
    allowed_paths: list[Path] = Field(
        default_factory=list, description="Host folders whose files flows may read as file:///path URIs "
        "(FILE inputs, read(), task file properties); empty: none (Kestra's kestra.local-files.allowed-paths).")


class ExpressionSettings(BaseModel):
    """The budget of one expression (docs/flow-language.md, "Limits"); mirrors
    ``engine.templating.ExpressionLimits``."""

    timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest an expression may run (a render, a regex, a jq program); "
                                        "then it fails with an error naming this setting.")
    max_text_length: int = Field(
        default=20_000_000, ge=1000, description="Longest string an expression may build or render, in characters.")
    max_collection_size: int = Field(
        default=1_000_000, ge=1000, description="Most items of one list or map an expression may build (range() too).")
    jq_memory_mb: int = Field(default=512, ge=64, description="Address space of a jq helper process, in MB.")
    http_enabled: bool = Field(
        default=True, description="Whether http() may make requests; false refuses every call with a clear error.")
    http_max_response_bytes: int = Field(
        default=10_000_000, ge=1, description="Largest response body http() reads; a larger one fails the expression.")


class ScriptSettings(BaseModel):
    """Script tasks (``io.kestra.plugin.scripts.*``, docs/scripts.md)."""

    default_runner: Literal["PROCESS", "DOCKER"] = Field(
        default="PROCESS", description="Task runner of a script task that names none: PROCESS (a local process; "
        "works without Docker) or DOCKER (Kestra's default).")
    docker_host: str | None = Field(
        default=None, description="Docker engine of the Docker task runner when the task names no host "
        "(e.g. unix:///var/run/docker.sock); default: DOCKER_HOST, else the local engine.")
    docker_volumes_enabled: bool = Field(
        default=False, description="Whether a Docker task runner may bind-mount host paths (`volumes`) or run "
        "`privileged`: both give a flow author the worker's host, so they are refused unless set.")
    dependency_cache_dir: Path | None = Field(
        default=None, description="Where Python `dependencies` environments are kept, one per distinct set; "
        "default: $XDG_CACHE_HOME/podium/python-envs (~/.cache/podium/python-envs).")


class Settings(BaseSettings):
    """Podium's configuration. Every field has a working default for the embedded mode."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default=Path(".podium"), description="Folder of the embedded database, broker and files.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    broker_url: str | None = Field(
        default=None, description="Celery broker; default: the embedded podium-fs:// broker in data_dir/broker.")
    storage_dir: Path | None = Field(default=None, description="Internal storage root; default: data_dir/storage.")
    encryption_key: str | None = Field(
        default=None, description="Base64 AES key for SECRET inputs, encrypt() and encrypted outputs.")
    env_vars_prefix: str = Field(
        default="ENV_", min_length=1, description="Prefix of the environment variables exposed as {{ envs.x }} "
        "(ENV_FOO is {{ envs.foo }}, Kestra 1.x); KESTRA_ is Kestra 0.x's. Only those variables are exposed, "
        "never PODIUM_* or SECRET_* ones.")
    environment: str | None = Field(
        default=None, description="Name of this instance's environment, {{ kestra.environment }} (e.g. prod).")
    url: str | None = Field(default=None, description="The URL users reach this instance at, {{ kestra.url }}.")
    globals: dict[str, Any] = Field(default_factory=dict, description="Values exposed as {{ globals.x }}.")
    plugin_defaults: list[dict[str, Any]] = Field(
        default_factory=list, description="Global pluginDefaults applied to every flow.")
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    local_files: LocalFilesSettings = Field(default_factory=LocalFilesSettings)
    expressions: ExpressionSettings = Field(default_factory=ExpressionSettings)
    scripts: ScriptSettings = Field(default_factory=ScriptSettings)
    timezone: str = Field(default="UTC", description="Default time zone of date filters and schedules.")
    log_format: Literal["console", "json"] = Field(
        default="console", description="Process logs: console (for people) or json (one JSON object a line).")
    log_level: str = Field(default="INFO", description="Level of the processes' own logs (DEBUG, INFO, WARNING...).")
    metrics_flush_seconds: float = Field(
        default=10.0, ge=0, description="How often executor and worker processes write their metrics (0: at once).")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls, getattr(cls, "config_path", None)))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'podium.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        """The configured broker, else the embedded one (``podium-fs://`` under ``data_dir/broker``)."""
        return self.broker_url or EMBEDDED_BROKER_URL

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "storage").resolve()

    @property
    def is_embedded_broker(self) -> bool:
        """A broker that needs no server (``podium-fs://``, ``memory://``): ``server local`` hosts it."""
        return self.resolved_broker_url.startswith((EMBEDDED_BROKER_URL, IN_PROCESS_BROKER_URL))

    @property
    def is_in_process_broker(self) -> bool:
        """``memory://``: it connects the threads of one process only, never two processes."""
        return self.resolved_broker_url.startswith(IN_PROCESS_BROKER_URL)


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML settings file (top-level keys are field names)."""

    def __init__(self, settings_cls: type[BaseSettings], path: str | None) -> None:
        super().__init__(settings_cls)
        self.path = path or os.environ.get("PODIUM_CONFIG")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = self.path
        if not path:
            return {}
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read the configuration file {path}: {err}") from err
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the configuration file must be a mapping of settings")
        return data


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the YAML file (``config_file`` or ``PODIUM_CONFIG``), then the environment,
    then explicit ``overrides`` (command-line options), each level beating the one before."""
    if config_file is None:
        return Settings(**overrides)
    # A subclass carries the path to the YAML source; it keeps the name Settings for error messages.
    with_file = cast(type[Settings], type("Settings", (Settings,), {
        "__annotations__": {"config_path": ClassVar[str]}, "config_path": str(config_file)}))
    return with_file(**overrides)
