"""The toolkit-compatible identity files, `.agentcore_identity_cognito_user.json` and `.agentcore_identity_user.env`.

Both hold passwords and the client secret, so both are created 0600 from the first byte and git-ignored.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.state import WIZARD_DIR, atomic_write

JSON_NAME = ".agentcore_identity_cognito_user.json"
ENV_NAME = ".agentcore_identity_user.env"
SECRET_FILES = (JSON_NAME, ENV_NAME)

RUNTIME_KEYS = (
    "RUNTIME_POOL_ID",
    "RUNTIME_CLIENT_ID",
    "RUNTIME_DISCOVERY_URL",
    "RUNTIME_USERNAME",
    "RUNTIME_PASSWORD",
)
IDENTITY_KEYS = (
    "IDENTITY_POOL_ID",
    "IDENTITY_CLIENT_ID",
    "IDENTITY_CLIENT_SECRET",
    "IDENTITY_DISCOVERY_URL",
    "IDENTITY_USERNAME",
    "IDENTITY_PASSWORD",
)
ENV_KEYS = RUNTIME_KEYS + IDENTITY_KEYS
SECRET_KEYS = frozenset({"RUNTIME_PASSWORD", "IDENTITY_PASSWORD", "IDENTITY_CLIENT_SECRET"})

# Cognito's default policy wants a symbol. These symbols survive every loader people use
# (`export $(… | xargs)`, dotenv, fish, PowerShell): no quotes, globs, `$`, `&`, `(` or `#`.
PASSWORD_SYMBOLS = "-_+=.,:@%"


@dataclass
class PoolRecord:
    pool_id: str
    client_id: str
    discovery_url: str
    domain_prefix: str
    username: str
    password: str
    client_secret: str | None = None


@dataclass
class IdentityFiles:
    runtime: PoolRecord
    identity: PoolRecord

    def env_values(self) -> dict[str, str]:
        r, i = self.runtime, self.identity
        return {
            "RUNTIME_POOL_ID": r.pool_id,
            "RUNTIME_CLIENT_ID": r.client_id,
            "RUNTIME_DISCOVERY_URL": r.discovery_url,
            "RUNTIME_USERNAME": r.username,
            "RUNTIME_PASSWORD": r.password,
            "IDENTITY_POOL_ID": i.pool_id,
            "IDENTITY_CLIENT_ID": i.client_id,
            "IDENTITY_CLIENT_SECRET": i.client_secret or "",
            "IDENTITY_DISCOVERY_URL": i.discovery_url,
            "IDENTITY_USERNAME": i.username,
            "IDENTITY_PASSWORD": i.password,
        }


def discovery_url(region: str, pool_id: str) -> str:
    # Always the real AWS form, in the sandbox too, so files look the same wherever they were made.
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration"


def issuer_for(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def generate_password(length: int = 16) -> str:
    """A password Cognito's default policy accepts: upper, lower, digit and symbol, 16 characters."""
    rng = secrets.SystemRandom()
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    chars = [
        rng.choice(string.ascii_uppercase),
        rng.choice(string.ascii_lowercase),
        rng.choice(string.digits),
        rng.choice(PASSWORD_SYMBOLS),
    ]
    chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def render_json(files: IdentityFiles) -> str:
    r, i = files.runtime, files.identity
    data = {
        "runtime": {
            "pool_id": r.pool_id,
            "client_id": r.client_id,
            "discovery_url": r.discovery_url,
            "domain_prefix": r.domain_prefix,
            "username": r.username,
            "password": r.password,
        },
        "identity": {
            "pool_id": i.pool_id,
            "client_id": i.client_id,
            "client_secret": i.client_secret,
            "discovery_url": i.discovery_url,
            "domain_prefix": i.domain_prefix,
            "username": i.username,
            "password": i.password,
        },
        "flow_type": "user",
    }
    return json.dumps(data, indent=2) + "\n"


def render_env(files: IdentityFiles) -> str:
    values = files.env_values()
    lines = [
        "# AgentCore Identity Environment Variables",
        f"# To load: export $(grep -v '^#' {ENV_NAME} | xargs)",
        "",
        "# Runtime Pool (Inbound Auth)",
        *(f"{key}={values[key]}" for key in RUNTIME_KEYS),
        "",
        "# Identity Pool (Outbound Auth - User Consent)",
        *(f"{key}={values[key]}" for key in IDENTITY_KEYS),
    ]
    return "\n".join(lines) + "\n"


def write_identity_files(project: Path, files: IdentityFiles) -> None:
    # Each is written whole through a 0600 temp file and renamed, so neither is ever
    # half-written or readable by others.
    atomic_write(project / JSON_NAME, render_json(files), mode=0o600)
    atomic_write(project / ENV_NAME, render_env(files), mode=0o600)
    ensure_gitignored(project, [JSON_NAME, ENV_NAME, f"{WIZARD_DIR}/"])


def back_up_identity_files(project: Path) -> list[Path]:
    """Copies of both identity files, 0600 from the first byte, named `<file>.backup-<time>` (never overwriting
    an earlier copy): what the wizard writes over is never lost."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    made = []
    for name in SECRET_FILES:
        source = project / name
        if not source.exists():
            continue
        target = project / f"{name}.backup-{stamp}"
        counter = 1
        while target.exists():
            counter += 1
            target = project / f"{name}.backup-{stamp}-{counter}"
        atomic_write(target, source.read_text(encoding="utf-8"), mode=0o600)
        made.append(target)
    if made:
        ensure_gitignored(project, [f"{name}.backup-*" for name in SECRET_FILES])
    return made


def read_identity_json(project: Path) -> IdentityFiles | None:
    """The JSON file, made by this wizard, the toolkit or by hand; None if absent or unusable."""
    path = project / JSON_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return IdentityFiles(runtime=_pool(data["runtime"]), identity=_pool(data["identity"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pool(section: Any) -> PoolRecord:
    return PoolRecord(
        pool_id=str(section["pool_id"]),
        client_id=str(section["client_id"]),
        discovery_url=str(section["discovery_url"]),
        domain_prefix=str(section.get("domain_prefix") or ""),
        username=str(section["username"]),
        password=str(section["password"]),
        client_secret=section.get("client_secret"),
    )


def read_env_file(project: Path) -> dict[str, str]:
    """Parse the env file with python-dotenv: never through a shell."""
    from dotenv import dotenv_values

    values = dotenv_values(project / ENV_NAME, interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def file_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None


def ensure_gitignored(project: Path, entries: list[str]) -> list[str]:
    """Append the entries that .gitignore lacks; returns what was added."""
    path = project / ".gitignore"
    existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    present = {line.strip() for line in existing}
    missing = [entry for entry in entries if entry not in present and entry.rstrip("/") not in present]
    if not missing:
        return []
    text = "\n".join(existing)
    if text and not text.endswith("\n"):
        text += "\n"
    if existing:
        text += "\n"
    text += "# agentcore-wizard: secrets and local state, never commit\n" + "\n".join(missing) + "\n"
    atomic_write(path, text, mode=0o644)
    return missing


def mask(value: str) -> str:
    if not value:
        return ""
    return "•" * 8
