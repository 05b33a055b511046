"""The flows folder watcher on real services (SQLite) and real files."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.errors import NotFound
from engine.services import Services, build_services
from engine.services.watch import FolderWatcher, ScanResult, WatchEvent
from engine.settings import Settings
from tests.celery.procs import wait_until
from tests.server.helpers import ReadOnly, log_flow, write_flow


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return build_services(Settings(data_dir=tmp_path / "data"), ReadOnly())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    return flows


def revision(services: Services, flow_id: str) -> int:
    stored = services.env.flows.get("company.team", flow_id)
    assert stored is not None
    return int(stored.revision)


def watcher_for(services: Services, folder: Path, events: list[WatchEvent]) -> FolderWatcher:
    return FolderWatcher(services.flows, folder, report=events.append)


def test_first_scan_deploys_every_flow_file_and_skips_hidden_ones(services: Services, folder: Path) -> None:
    write_flow(folder / "a.yaml", log_flow("a", "one"))
    (folder / "team").mkdir()
    write_flow(folder / "team" / "b.yml", log_flow("b", "two"))
    write_flow(folder / ".c.yaml", log_flow("c", "editor swap file"))
    (folder / "notes.txt").write_text("not a flow")
    events: list[WatchEvent] = []
    first = watcher_for(services, folder, events).scan()
    assert sorted(Path(e.path).name for e in first.of_kind("deployed")) == ["a.yaml", "b.yml"]
    assert revision(services, "a") == 1 and revision(services, "b") == 1
    with pytest.raises(NotFound):
        services.flows.get("company.team", "c")
    assert [e.kind for e in events] == ["deployed", "deployed"]


def test_changed_file_is_a_new_revision_and_an_unchanged_save_is_not(services: Services, folder: Path) -> None:
    path = write_flow(folder / "a.yaml", log_flow("a", "one"))
    events: list[WatchEvent] = []
    watcher = watcher_for(services, folder, events)
    watcher.scan()
    assert watcher.scan().events == []  # nothing changed on disk
    path.write_text(path.read_text().replace("one", "two"))  # an in-place save
    changed = watcher.scan()
    assert [e.kind for e in changed.events] == ["deployed"] and revision(services, "a") == 2
    assert "company.team.a revision 2 deployed" in changed.events[0].message
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # same source, new stamp
    touched = watcher.scan()
    assert [e.kind for e in touched.events] == ["unchanged"] and revision(services, "a") == 2
    assert [e.kind for e in events] == ["deployed", "deployed"]  # "unchanged" is not reported


def test_invalid_file_is_reported_with_its_position_and_the_revision_stays(services: Services,
                                                                            folder: Path) -> None:
    path = write_flow(folder / "a.yaml", log_flow("a", "one"))
    events: list[WatchEvent] = []
    watcher = watcher_for(services, folder, events)
    watcher.scan()
    write_flow(path, log_flow("a", "two").replace("message:", "mesage:"))
    refused = watcher.scan().of_kind("refused")
    assert len(refused) == 1
    assert f"{path}:6:5: tasks[0].mesage: unknown property 'mesage'" in refused[0].message
    assert "company.team.a revision 1 stays live" in refused[0].message
    assert revision(services, "a") == 1
    assert services.flows.get("company.team", "a").tasks[0].message == "one"  # type: ignore[attr-defined]
    assert watcher.scan().events == []  # reported once, not on every pass
    write_flow(path, log_flow("a", "fixed"))
    assert [e.kind for e in watcher.scan().events] == ["deployed"] and revision(services, "a") == 2


def test_invalid_new_file_says_nothing_was_deployed_from_it(services: Services, folder: Path) -> None:
    path = write_flow(folder / "new.yaml", "id: new\nnamespace: company.team\ntasks: [\n")
    result = FolderWatcher(services.flows, folder, report=lambda event: None).scan()
    assert [e.kind for e in result.events] == ["refused"]
    assert str(path) in result.events[0].message and "nothing deployed from it" in result.events[0].message


def test_deleted_file_keeps_the_flow_and_its_history(services: Services, folder: Path) -> None:
    path = write_flow(folder / "a.yaml", log_flow("a", "one"))
    watcher = watcher_for(services, folder, [])
    watcher.scan()
    path.unlink()
    deleted = watcher.scan().of_kind("deleted")
    assert len(deleted) == 1 and "stays deployed (revision 1, history kept)" in deleted[0].message
    assert revision(services, "a") == 1
    write_flow(path, log_flow("a", "back"))
    assert [e.kind for e in watcher.scan().events] == ["deployed"] and revision(services, "a") == 2


def test_thread_picks_up_a_save_and_stops_cleanly(services: Services, folder: Path) -> None:
    write_flow(folder / "a.yaml", log_flow("a", "one"))
    before = set(threading.enumerate())
    watcher = services.watch_folder(folder, interval=0.05, report=lambda event: None)
    assert watcher.running and watcher.initial is not None and len(watcher.initial.of_kind("deployed")) == 1
    write_flow(folder / "a.yaml", log_flow("a", "two"))
    assert wait_until(lambda: revision(services, "a") == 2, 30)
    watcher.stop()
    assert not watcher.running
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []


def test_watching_a_missing_folder_is_a_clear_error(services: Services, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="flows folder .*missing does not exist"):
        services.watch_folder(tmp_path / "missing")


HOSTILE = {
    "bomb.yaml": ("id: bomb\nnamespace: company.team\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                  + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)),
                  ":8:5: the YAML aliases (*name) here expand the document beyond 100,000 values"),
    "deep.yaml": ("id: deep\nnamespace: company.team\nx: " + "[" * 50_000 + "]" * 50_000 + "\n",
                  ":3:1003: the YAML is nested more than 200 levels deep"),
    "control.yaml": ("id: ctl\nnamespace: company.team\nx: \x1b[2J\n",
                     ":3:4: the character U+001B is not allowed in YAML"),
    "digits.yaml": ("id: digits\nnamespace: company.team\nx: " + "1" * 5000 + "\n",
                    ":3:4: x: a number of 5,000 characters is longer than the limit of 1,000"),
}


def test_hostile_files_are_refused_at_once_and_the_others_deploy(services: Services, folder: Path) -> None:
    write_flow(folder / "good.yaml", log_flow("good", "one"))
    for name, (source, _) in HOSTILE.items():
        (folder / name).write_text(source)
    (folder / "huge.yaml").write_bytes(b"id: huge\n" + b"#" * (13 * 1024 * 1024))
    watcher = watcher_for(services, folder, [])
    scanned: list[ScanResult] = []
    scanning = threading.Thread(target=lambda: scanned.append(watcher.scan()), daemon=True)
    scanning.start()
    scanning.join(60)  # generous: a bomb expanded would not end at all
    assert scanned, "a scan of the folder did not end"
    kinds = {Path(e.path).name: e.kind for e in scanned[0].events}
    assert kinds == {"good.yaml": "deployed", "huge.yaml": "refused", **{name: "refused" for name in HOSTILE}}
    messages = {Path(e.path).name: e.message for e in scanned[0].events}
    for name, (_, problem) in HOSTILE.items():
        assert f"{folder / name}{problem}" in messages[name]
    assert "the file is larger than a flow may be" in messages["huge.yaml"]
    assert watcher.scan().events == []  # each refusal is reported once per save, not on every pass
