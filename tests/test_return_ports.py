"""The return-URL port each project gets of its own (wizard/return_ports.py) and how the settings use it.

Every test has its own claims folder; the ports probed are real ones on 127.0.0.1, and a port a test holds on
purpose is one the OS chose for it.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from wizard_helpers import free_port

from wizard import return_ports
from wizard.errors import WizardError
from wizard.settings import Options, Settings
from wizard.state import STATE_NAME, StateFile, wizard_dir


@pytest.fixture(autouse=True)
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "claims"
    monkeypatch.setenv(return_ports.REGISTRY_ENV, str(folder))
    return folder


def make_project(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def record_return_url(project: Path, url: str) -> None:
    state = StateFile(project)
    state.load()
    state.update(settings={"return_url": url})


def test_thirty_projects_created_at_once_get_distinct_ports(tmp_path: Path, registry: Path) -> None:
    projects = [make_project(tmp_path, f"p{index}") for index in range(30)]
    start = threading.Barrier(len(projects))
    chosen: dict[Path, int] = {}
    failures: list[BaseException] = []

    def choose(project: Path) -> None:
        start.wait()
        try:
            chosen[project] = return_ports.claim(project)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=choose, args=(project,)) for project in projects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(chosen) == 30 and len(set(chosen.values())) == 30, chosen
    assert all(port in return_ports.PORTS for port in chosen.values())
    assert return_ports.port_of(return_ports.TOOLKIT_RETURN_URL) not in chosen.values()
    # One file a port, holding its project's path: the record of who listens where.
    assert return_ports.claims(registry) == {port: str(project.resolve()) for project, port in chosen.items()}


def test_a_project_keeps_its_port(tmp_path: Path) -> None:
    project = make_project(tmp_path, "mine")
    first = return_ports.claim(project)
    make_project(tmp_path, "other")
    assert return_ports.claim(tmp_path / "other") != first
    assert return_ports.claim(project) == first


def test_a_port_in_use_is_skipped(tmp_path: Path) -> None:
    busy, free = free_port(), free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", busy))
        squatter.listen()
        assert return_ports.in_use(busy)
        assert return_ports.claim(make_project(tmp_path, "p"), ports=[busy, free]) == free
    assert return_ports.claimed_by(busy) is None


def test_a_live_claim_is_skipped(tmp_path: Path, registry: Path) -> None:
    port, other_port = free_port(), free_port()
    theirs = make_project(tmp_path, "theirs")
    assert return_ports.claim(theirs, ports=[port]) == port
    # Theirs records nothing yet (it has not reached stage 6): the port stays theirs.
    assert return_ports.claim(make_project(tmp_path, "mine"), ports=[port, other_port]) == other_port
    record_return_url(theirs, return_ports.return_url(port))  # and once it records it, all the more so
    with pytest.raises(WizardError) as caught:
        return_ports.claim(make_project(tmp_path, "fourth"), ports=[port])
    assert caught.value.code == "no_return_port" and "--return-url" in caught.value.fix


def test_the_claim_of_a_deleted_project_is_reclaimed(tmp_path: Path, registry: Path) -> None:
    port = free_port()
    registry.mkdir(parents=True)
    (registry / str(port)).write_text(str(tmp_path / "deleted-long-ago") + "\n", encoding="utf-8")
    project = make_project(tmp_path, "new")
    assert return_ports.claim(project, ports=[port]) == port
    assert return_ports.claimed_by(port) == str(project.resolve())


def test_the_claim_of_a_project_that_records_another_url_is_reclaimed(tmp_path: Path) -> None:
    port = free_port()
    moved = make_project(tmp_path, "moved")
    assert return_ports.claim(moved, ports=[port]) == port
    record_return_url(moved, "http://localhost:8081/oauth2/callback")  # it went back to the toolkit's, say
    project = make_project(tmp_path, "new")
    assert return_ports.claim(project, ports=[port]) == port
    assert return_ports.claimed_by(port) == str(project.resolve())


def test_an_unwritable_claims_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("", encoding="utf-8")
    monkeypatch.setenv(return_ports.REGISTRY_ENV, str(in_the_way / "claims"))
    with pytest.raises(WizardError) as caught:
        return_ports.claim(make_project(tmp_path, "p"))
    assert caught.value.code == "return_ports_unwritable"
    assert return_ports.REGISTRY_ENV in caught.value.fix and "--return-url" in caught.value.fix


def test_the_claims_folder_is_under_the_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(return_ports.REGISTRY_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert return_ports.registry_dir() == tmp_path / "state" / "agentcore-wizard" / "return-ports"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert return_ports.registry_dir() == tmp_path / "home" / ".local" / "state" / "agentcore-wizard" / "return-ports"


# --- the settings: flag > recorded > the project's own port ------------------------------------------------


def settings_of(project: Path, **options: object) -> Settings:
    state = StateFile(project)
    state.load()
    return Settings(Options(project=project, **options), state)  # type: ignore[arg-type]


def test_without_flag_or_record_the_project_gets_its_own_port(tmp_path: Path) -> None:
    one, two = make_project(tmp_path, "one"), make_project(tmp_path, "two")
    first, second = settings_of(one), settings_of(two)
    assert first.return_url != second.return_url
    assert return_ports.port_of(first.return_url) in return_ports.PORTS
    assert first.return_url.endswith("/oauth2/callback")
    assert first.source("return_url") == "chosen for this project"
    assert settings_of(one).return_url == first.return_url  # the next run (or status) sees the same
    first.record("return_url")
    again = settings_of(one)
    assert again.return_url == first.return_url and again.source("return_url") == "this project"
    assert again.as_dict()["return_url"] == {"value": first.return_url, "from": "this project"}


@pytest.mark.parametrize("url", ["http://localhost:8081/oauth2/callback", "http://127.0.0.1:9000/cb"])
def test_a_recorded_url_wins_and_claims_nothing(tmp_path: Path, registry: Path, url: str) -> None:
    project = make_project(tmp_path, "older")
    record_return_url(project, url)
    assert settings_of(project).return_url == url
    assert return_ports.claims(registry) == {}


def test_a_flag_wins_and_claims_nothing(tmp_path: Path, registry: Path) -> None:
    project = make_project(tmp_path, "flagged")
    url = "http://localhost:8081/oauth2/callback"
    settings = settings_of(project, return_url=url)
    assert settings.return_url == url and settings.source("return_url") == "--return-url"
    assert return_ports.claims(registry) == {}


def test_a_state_of_an_earlier_version_counts_as_recorded(tmp_path: Path) -> None:
    """Earlier versions kept return_url at the state's top level: such a project's port is its own."""
    port = free_port()
    older = make_project(tmp_path, "older")
    assert return_ports.claim(older, ports=[port]) == port
    wizard_dir(older).mkdir()
    (wizard_dir(older) / STATE_NAME).write_text(json.dumps({"return_url": return_ports.return_url(port)}))
    with pytest.raises(WizardError):
        return_ports.claim(make_project(tmp_path, "new"), ports=[port])
