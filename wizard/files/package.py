"""The direct-code-deploy zip: the agent's source plus its dependencies for the runtime's platform.

Never packs secrets or local state (the toolkit's packager ships `.agentcore_identity_*` files into
the uploaded zip), and refuses outright if any file would carry a known secret value. The dependency
layer is cached by everything that decides its content, so an unchanged redeploy does not rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wizard.errors import WizardError

# Dot-files and dot-folders (secrets, .env, .git, the wizard's state, the toolkit's YAML) never go in.
EXCLUDED_DIRS = {"__pycache__", "venv", "env", "node_modules", "build", "dist", "site-packages"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".zip", ".whl")
RUNTIME_PLATFORM = "manylinux2014_aarch64"  # AgentCore Runtime runs linux/arm64
HOST_PLATFORM = "host"  # this machine, for the sandbox running an agent here
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # identical inputs give an identical zip


@dataclass(frozen=True)
class Target:
    python_version: str  # "3.12"
    platform: str = RUNTIME_PLATFORM
    # Where pip may look; empty means PyPI. Tests pass a local wheelhouse and no index.
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    @classmethod
    def host(cls, find_links: tuple[str, ...] = (), no_index: bool = False) -> Target:
        """This machine's own Python and platform: the environment the sandbox runs an agent in."""
        import platform

        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return cls(f"{version}-{sys.platform}-{platform.machine()}", HOST_PLATFORM, find_links, no_index)

    @property
    def label(self) -> str:
        return "the sandbox (this machine)" if self.platform == HOST_PLATFORM else "linux/arm64"

    def key(self, requirements: str) -> str:
        # A local wheelhouse counts by what it holds, not where it is: a copy elsewhere gives the same layer.
        links = [_link_identity(link) for link in self.find_links]
        data = json.dumps([requirements, self.python_version, self.platform, links, self.no_index])
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def _link_identity(link: str) -> object:
    folder = Path(link)
    if not folder.is_dir():
        return link
    return sorted((path.name, path.stat().st_size) for path in folder.iterdir() if path.is_file())


@dataclass
class Package:
    path: Path
    sha256: str
    source_files: list[str] = field(default_factory=list)
    dependencies_rebuilt: bool = False


def source_files(project: Path) -> list[Path]:
    """What of the project belongs in the zip, in a stable order."""
    chosen = []
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in EXCLUDED_DIRS and not _is_venv(Path(root) / d)
        )
        for name in sorted(files):
            if name.startswith(".") or name.endswith(EXCLUDED_SUFFIXES):
                continue
            chosen.append(Path(root) / name)
    return chosen


CODE_FILES = ("requirements.txt", "pyproject.toml")


def sources_digest(project: Path) -> str:
    """The agent's code among what would be packed (Python files, requirements.txt, pyproject.toml), by name and
    content: changes when the code does, not when a log file in the folder grows (`run … > run.log` here)."""
    digest = hashlib.sha256()
    for path in source_files(project):
        if path.suffix != ".py" and path.name not in CODE_FILES:
            continue
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def _is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").exists()


CACHE_ENV = "AGENTCORE_WIZARD_CACHE"


def user_cache() -> Path:
    """Where dependency layers are kept for every project of this user, so a second project (or a rebuilt
    folder) never installs an unchanged layer again: $AGENTCORE_WIZARD_CACHE, else the XDG cache folder."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "agentcore-wizard"


def dependency_dir(cache_root: Path, requirements: str, target: Target) -> Path:
    return cache_root / f"deps-{target.key(requirements)}"


def _remove_abandoned_builds(final: Path) -> None:
    """Half-built layers of builders that died (their pid is gone); a live one's is left alone."""
    for building in final.parent.glob(f"{final.name}.building-*"):
        try:
            pid = int(building.name.rsplit(".building-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(building, ignore_errors=True)
        except PermissionError:
            continue  # someone else's live process


def build_dependencies(
    cache_root: Path,
    requirements_file: Path,
    target: Target,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[Path, bool]:
    """The installed dependency tree for the target, built only when its inputs changed. Several wizards may
    build the same layer at once (a workshop, a test suite): each builds in a folder of its own and the first
    to finish publishes it; the others use that one."""
    requirements = requirements_file.read_text(encoding="utf-8")
    final = dependency_dir(cache_root, requirements, target)
    if (final / ".complete").exists():
        return final, False
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(final)
    building = final.with_name(f"{final.name}.building-{os.getpid()}-{os.urandom(3).hex()}")
    building.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(building),
        "--requirement",
        str(requirements_file),
        "--upgrade",
    ]
    if target.platform != HOST_PLATFORM:
        command += ["--platform", target.platform, "--implementation", "cp"]
        command += ["--python-version", target.python_version, "--only-binary=:all:"]
    for link in target.find_links:
        command += ["--find-links", link]
    if target.no_index:
        command.append("--no-index")
    log("pip " + " ".join(command[3:]))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line.rstrip())
        log(line.rstrip())
    if process.wait() != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise WizardError(
            f"Installing the agent's dependencies for {target.label} failed: " + " ".join(output[-3:]),
            fix="Check requirements.txt: every package needs a wheel for linux aarch64 (or a pure-Python one) "
            f"for Python {target.python_version}."
            if target.platform != HOST_PLATFORM
            else "Check requirements.txt, and that this machine reaches PyPI (or give the sandbox a wheelhouse "
            "with --wheelhouse DIR).",
        )
    (building / ".complete").write_text(requirements)
    try:
        os.replace(building, final)
    except OSError:
        if not (final / ".complete").exists():
            raise
        shutil.rmtree(building, ignore_errors=True)  # another builder published the same layer first
    return final, True


def _files_under(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".complete" and "__pycache__" not in path.parts:
            yield path


def build_zip(
    project: Path,
    out: Path,
    dependencies: Path | None,
    secrets: Iterable[str],
) -> Package:
    """Write the zip whole (temp + rename); refuse if any packed file holds a secret value."""
    needles = [value.encode() for value in secrets if value and len(value) >= 8]
    sources = [path for path in source_files(project) if out not in (path, path.parent)]
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(out.name + ".tmp")
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            if dependencies is not None:
                for path in _files_under(dependencies):
                    _add(archive, path, path.relative_to(dependencies).as_posix(), needles)
            for path in sources:
                _add(archive, path, path.relative_to(project).as_posix(), needles)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return Package(out, digest, [path.relative_to(project).as_posix() for path in sources])


def _add(archive: zipfile.ZipFile, path: Path, name: str, needles: list[bytes]) -> None:
    data = path.read_bytes()
    if any(needle in data for needle in needles):
        raise WizardError(
            f"{name} contains one of this project's secrets (a test-user password or the client secret).",
            fix=f"Remove the secret from {name}; secrets belong only in the 0600 identity files, which are "
            "never packaged.",
        )
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = (0o644 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)
