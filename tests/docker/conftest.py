"""Fixtures of the Docker task runner tests: one private Docker engine per test session
(tests/docker_engine.py), and the locally built images it runs.

Skipped without root or the binaries of scripts/install-services.sh; failed instead under
``PODIUM_REQUIRE_SERVICES=1`` (CI), like the PostgreSQL and Redis fixtures.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docker_engine import DockerEngine, busybox_image, python_image, start_dockerd
from tests.servers import require_service


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    try:
        import docker  # noqa: F401 - the SDK the runner talks through
    except ImportError:
        require_service("the docker SDK is not installed: pip install -e '.[test]'")
    engine = start_dockerd()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def busybox(docker_engine: DockerEngine) -> str:
    """The name of a busybox image on the private engine (sh and the usual tools in /bin)."""
    return busybox_image(docker_engine)


@pytest.fixture(scope="session")
def python_in_docker(docker_engine: DockerEngine) -> str:
    """The name of a Debian image with python3 on the private engine."""
    return python_image(docker_engine)
