"""A private Docker engine for the tests and benchmarks of the Docker task runner, and the images
they run, built locally (no image registry is reachable from the test machines).

``start_dockerd`` starts a ``dockerd`` of its own on a unix socket in a temporary directory,
with its data there too, no bridge network and no iptables rules: nothing of the machine's own
Docker (if any) is touched, and containers run with network mode ``none`` or ``host``.

Images: ``busybox_image`` imports Debian's static busybox as a 2 MB image (instant);
``python_image`` imports a Debian rootfs with python3 and its standard library made by ``debootstrap`` (a minute or two
the first time; the rootfs tarball is cached under ``~/.cache/podium-test-images``, so later
sessions import it in a few seconds).

Needs root and the binaries of scripts/install-services.sh; without them ``require_service``
skips (or fails under ``PODIUM_REQUIRE_SERVICES=1``).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.servers import require_service

BUSYBOX_IMAGE = "podium-test/busybox:latest"
PYTHON_IMAGE = "podium-test/python:3"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MIRROR = "http://deb.debian.org/debian"


@dataclass
class DockerEngine:
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def cli(self, *args: str, check: bool = True) -> str:
        """Runs the docker CLI against this engine."""
        result = subprocess.run(["docker", "-H", self.host, *args], capture_output=True,
                                check=False, timeout=300)
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode(errors="replace")

    def containers(self) -> list[str]:
        """Ids of every container of this engine, running or not."""
        return self.cli("ps", "-aq").split()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    """Unmounts what the engine left mounted in its folder (its network namespace, the layers of
    a container it did not stop), deepest first, so the folder can be removed."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def start_dockerd() -> DockerEngine:
    if os.geteuid() != 0:
        require_service("the Docker runner tests start a private dockerd, which needs root")
    binary = shutil.which("dockerd")
    if binary is None or shutil.which("docker") is None:
        require_service("dockerd not found; run scripts/install-services.sh")
    root = Path(tempfile.mkdtemp(prefix="podium-dockerd-"))
    with open(root / "dockerd.log", "ab") as log:
        process = subprocess.Popen(
            [binary, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
             "-H", f"unix://{root}/docker.sock", "--pidfile", str(root / "docker.pid"),
             "--iptables=false", "--ip6tables=false", "--bridge=none"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = DockerEngine(root, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if (root / "docker.sock").exists() and _answers(engine):
            return engine
        time.sleep(0.1)
    tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
    engine.stop()
    raise RuntimeError(f"could not start dockerd: {tail}")


def _answers(engine: DockerEngine) -> bool:
    return subprocess.run(["docker", "-H", engine.host, "info", "--format", "{{.ID}}"],
                          capture_output=True, check=False, timeout=30).returncode == 0


def busybox_image(engine: DockerEngine) -> str:
    """A busybox image (sh, echo, sleep, dd...) made from this machine's static busybox."""
    busybox = Path("/bin/busybox")
    if not busybox.exists() or not _static(busybox):
        require_service("a static /bin/busybox is needed for the test image; run scripts/install-services.sh")
    with tempfile.TemporaryDirectory(prefix="podium-busybox-") as tmp:
        rootfs = Path(tmp)
        for folder in ("bin", "tmp", "etc", "root"):
            (rootfs / folder).mkdir()
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout
        for applet in applets.split():
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                               "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
        (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        archive = Path(tmp + ".tar")
        try:
            _tar(rootfs, archive)
            _import(engine, archive, BUSYBOX_IMAGE, "ENV PATH=/bin")
        finally:
            archive.unlink(missing_ok=True)
    return BUSYBOX_IMAGE


def python_image(engine: DockerEngine) -> str:
    """A Debian bookworm image with python3 (``python`` too), from the cache or debootstrap."""
    tarball = _cache_dir() / "python3-bookworm-stdlib.tar"
    if not tarball.exists():
        _build_python_rootfs(tarball)
    _import(engine, tarball, PYTHON_IMAGE, f"ENV PATH={_PATH}")
    return PYTHON_IMAGE


def _build_python_rootfs(tarball: Path) -> None:
    if shutil.which("debootstrap") is None:
        require_service("debootstrap not found (it builds the Python test image); run scripts/install-services.sh")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with open(tarball.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # another test process may be building it
        if tarball.exists():
            return
        with tempfile.TemporaryDirectory(prefix="podium-debootstrap-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            result = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3",
                                     "bookworm", str(rootfs), os.environ.get("PODIUM_DEBIAN_MIRROR", _MIRROR)],
                                    capture_output=True, text=True, check=False, timeout=1200)
            if result.returncode != 0:
                require_service(f"debootstrap could not build the Python test image: {result.stdout[-500:]}")
            for bulky in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                          "usr/share/locale", "usr/share/info"):
                shutil.rmtree(rootfs / bulky, ignore_errors=True)
            (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
            partial = tarball.with_suffix(".partial")
            _tar(rootfs, partial)
            partial.rename(tarball)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("PODIUM_TEST_IMAGES", Path(base) / "podium-test-images"))


def _tar(rootfs: Path, archive: Path) -> None:
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."],
                   capture_output=True, check=True)


def _import(engine: DockerEngine, archive: Path, name: str, change: str) -> None:
    engine.cli("import", "-c", change, str(archive), name)


def _static(binary: Path) -> bool:
    """True when ``binary`` names no program interpreter (a dynamic one would not run in the image)."""
    with open(binary, "rb") as data:
        return b"/ld-linux" not in data.read(8192)
