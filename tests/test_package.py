"""The deploy zip: what goes in, what never does, and the cached dependency layer.

Dependencies come from a wheelhouse the test makes, with pip told not to use an index: no network.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from wizard_helpers import make_wheel

from wizard.errors import WizardError
from wizard.files.package import Target, build_dependencies, build_zip, source_files

SECRET = "Sup3r-Secret-Passw0rd"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    (folder / "agent.py").write_text("print('agent')\n")
    (folder / "requirements.txt").write_text("tinydep\n")
    (folder / "sub" / "helper.py").write_text("X = 1\n")
    (folder / ".agentcore_identity_cognito_user.json").write_text(f'{{"password": "{SECRET}"}}')
    (folder / ".agentcore_identity_user.env").write_text(f"RUNTIME_PASSWORD={SECRET}\n")
    (folder / ".env").write_text("TOKEN=x\n")
    (folder / ".bedrock_agentcore.yaml").write_text("default_agent: a\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / ".agentcore-wizard").mkdir()
    (folder / ".agentcore-wizard" / "state.json").write_text("{}")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "agent.cpython-312.pyc").write_bytes(b"\0")
    (folder / "myenv").mkdir()
    (folder / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (folder / "myenv" / "lib.py").write_text("")
    return folder


@pytest.fixture
def target(tmp_path: Path) -> Target:
    make_wheel(tmp_path / "wheelhouse")
    return Target("3.12", find_links=(str(tmp_path / "wheelhouse"),), no_index=True)


def test_source_files_leave_out_secrets_state_and_environments(project: Path) -> None:
    names = sorted(path.relative_to(project).as_posix() for path in source_files(project))
    assert names == ["agent.py", "requirements.txt", "sub/helper.py"]


def test_dependencies_are_built_once_per_input(project: Path, target: Target, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, rebuilt = build_dependencies(cache, project / "requirements.txt", target)
    assert rebuilt and (first / "tinydep.py").exists()
    again, rebuilt_again = build_dependencies(cache, project / "requirements.txt", target)
    assert again == first and not rebuilt_again
    (project / "requirements.txt").write_text("tinydep==1.0\n")
    changed, rebuilt_changed = build_dependencies(cache, project / "requirements.txt", target)
    assert rebuilt_changed and changed != first
    other_python, rebuilt_other = build_dependencies(
        cache, project / "requirements.txt", Target("3.11", target.platform, target.find_links, target.no_index)
    )
    assert rebuilt_other and other_python != changed


def test_missing_dependency_is_a_clear_error(project: Path, target: Target, tmp_path: Path) -> None:
    (project / "requirements.txt").write_text("nosuchpackage-xyz\n")
    with pytest.raises(WizardError) as caught:
        build_dependencies(tmp_path / "cache", project / "requirements.txt", target)
    assert "linux/arm64" in caught.value.message
    assert "requirements.txt" in caught.value.fix
    assert not list((tmp_path / "cache").glob("deps-*"))  # nothing half-built is left as if complete


def test_zip_holds_source_and_dependencies_and_no_secret(project: Path, target: Target, tmp_path: Path) -> None:
    deps, _ = build_dependencies(tmp_path / "cache", project / "requirements.txt", target)
    package = build_zip(project, tmp_path / "out" / "agent.zip", deps, [SECRET])
    with zipfile.ZipFile(package.path) as archive:
        names = set(archive.namelist())
        contents = b"".join(archive.read(name) for name in names)
    assert {"agent.py", "requirements.txt", "sub/helper.py", "tinydep.py", "tinydep-1.0.dist-info/METADATA"} <= names
    assert not any(name.startswith(".") or "/." in name for name in names)
    assert not any("pyvenv.cfg" in name or name.endswith(".pyc") for name in names)
    assert SECRET.encode() not in contents
    assert package.source_files == ["agent.py", "requirements.txt", "sub/helper.py"]


def test_same_inputs_give_the_same_zip(project: Path, tmp_path: Path) -> None:
    first = build_zip(project, tmp_path / "a.zip", None, [SECRET])
    second = build_zip(project, tmp_path / "b.zip", None, [SECRET])
    assert first.sha256 == second.sha256
    (project / "agent.py").write_text("print('changed')\n")
    assert build_zip(project, tmp_path / "c.zip", None, [SECRET]).sha256 != first.sha256


def test_a_secret_in_a_source_file_stops_the_build(project: Path, tmp_path: Path) -> None:
    (project / "sub" / "helper.py").write_text(f"PASSWORD = '{SECRET}'\n")
    with pytest.raises(WizardError) as caught:
        build_zip(project, tmp_path / "agent.zip", None, [SECRET])
    assert "sub/helper.py" in caught.value.message
    assert not (tmp_path / "agent.zip").exists()
    assert not list(tmp_path.glob("agent.zip*"))  # no half-written temp file either
