"""The quickstart's own CLI (bedrock-agentcore-starter-toolkit 0.3.14, the real one) and the wizard, on one folder.

The toolkit runs as a user would run it, in a subprocess, pointed at a sandbox of this module's own (its fixed
names, identity_demo and ExternalServiceProvider, must not meet other tests'): AWS_ENDPOINT_URL and the two
BEDROCK_AGENTCORE_*_ENDPOINT variables, dummy credentials, and uv offline from a wheelhouse of stand-in wheels.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import cli_env, free_port
from wizard_helpers import client as sandbox_client

from wizard.files import identity as idf

pytestmark = pytest.mark.cli

BIN = Path(sys.executable).parent
AGENTCORE = BIN / "agentcore"
YAML_NAME = ".bedrock_agentcore.yaml"

# What a person writes by hand in step 3 (the quickstart's agent: a Strands agent whose tool asks AgentCore
# Identity for the user's token, in the quickstart's shape; the wizard checks it, never runs it).
QUICKSTART_AGENT = '''\
import asyncio
from strands import Agent, tool
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from bedrock_agentcore.identity.auth import requires_access_token

app = BedrockAgentCoreApp()
pending = {"url": None}


@requires_access_token(
    provider_name="ExternalServiceProvider",
    scopes=["openid"],
    auth_flow="USER_FEDERATION",
    on_auth_url=lambda url: pending.update(url=url),
)
async def token_for_user(*, access_token: str) -> str:
    return access_token


@tool
async def check_external_service() -> str:
    """Check authentication to the external service."""
    task = asyncio.create_task(token_for_user())
    await asyncio.sleep(0.5)
    if pending["url"]:
        task.cancel()
        return f"Authorization Required: {pending['url']}"
    return f"Authenticated, token length {len(await task)}"


@app.entrypoint
async def invoke(payload, context):
    agent = Agent(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", tools=[check_external_service])
    answer = await agent.invoke_async(payload.get("prompt", ""))
    return {"response": str(answer)}


if __name__ == "__main__":
    app.run()
'''


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A sandbox process of this module's own (per xdist worker); each test starts from an empty one."""
    if not AGENTCORE.exists():
        pytest.fail(f"{AGENTCORE} is missing: the tests need the toolkit (pip install -e '.[test]')", pytrace=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0", "--ready-delay", "0.2"],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
    assert match, "the sandbox did not announce its endpoint"
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    try:
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def sandbox(endpoint: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30):
        pass
    return endpoint


def toolkit_env(endpoint: str, wheelhouse: Path) -> dict[str, str]:
    env = cli_env()
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        BEDROCK_AGENTCORE_CP_ENDPOINT=endpoint,
        BEDROCK_AGENTCORE_DP_ENDPOINT=endpoint,
        AWS_ACCESS_KEY_ID="sandbox",
        AWS_SECRET_ACCESS_KEY="sandbox",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AGENTCORE_SUPPRESS_RECOMMENDATION="1",
        # The toolkit's deploy installs the dependencies with uv: offline, from the stand-in wheels.
        UV_NO_INDEX="1",
        UV_OFFLINE="1",
        UV_FIND_LINKS=str(wheelhouse),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def agentcore(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(AGENTCORE), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"agentcore {' '.join(args)}:\n{result.stdout[-2500:]}\n{result.stderr[-2500:]}"
    return result


def toolkit_steps(folder: Path, endpoint: str, wheelhouse: Path, through: int) -> None:
    """The quickstart's steps 1, 3, 4, 5, 6 and 7 with the toolkit, up to `through`."""
    env = toolkit_env(endpoint, wheelhouse)
    agentcore(folder, env, "identity", "setup-cognito")
    (folder / "agent.py").write_text(QUICKSTART_AGENT)
    (folder / "requirements.txt").write_text("bedrock-agentcore\nstrands-agents\nboto3\n")
    values = idf.read_env_file(folder)
    if through >= 4:
        authorizer = {
            "customJWTAuthorizer": {
                "discoveryUrl": values["RUNTIME_DISCOVERY_URL"],
                "allowedClients": [values["RUNTIME_CLIENT_ID"]],
            }
        }
        agentcore(
            folder, env, "configure", "-e", "agent.py", "--name", "identity_demo", "--authorizer-config",
            json.dumps(authorizer), "--disable-memory", "-ni", "--deployment-type", "direct_code_deploy",
            "--runtime", "PYTHON_3_12",
        )  # fmt: skip
    if through >= 5:
        agentcore(
            folder, env, "identity", "create-credential-provider", "--name", "ExternalServiceProvider",
            "--type", "cognito", "--client-id", values["IDENTITY_CLIENT_ID"],
            "--client-secret", values["IDENTITY_CLIENT_SECRET"], "--discovery-url", values["IDENTITY_DISCOVERY_URL"],
            "--cognito-pool-id", values["IDENTITY_POOL_ID"],
        )  # fmt: skip
    if through >= 6:
        agentcore(folder, env, "identity", "create-workload-identity", "--name", "identity-demo-workload")
    if through >= 7:
        agentcore(folder, env, "deploy")


_RETURN_URLS: dict[Path, str] = {}


def wizard(folder: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    if args and args[0] == "run" and "--return-url" not in args:
        # The folder's own return URL: the default port is shared by every wizard on the machine.
        url = _RETURN_URLS.setdefault(folder, f"http://localhost:{free_port()}/oauth2/callback")
        args = (*args, "--return-url", url)
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args, "--sandbox-endpoint", endpoint],
        cwd=folder,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


def world(endpoint: str) -> dict[str, Any]:
    """What the sandbox holds, by kind."""
    idp = sandbox_client("cognito-idp", endpoint)
    control = sandbox_client("bedrock-agentcore-control", endpoint)
    iam = sandbox_client("iam", endpoint)
    s3 = sandbox_client("s3", endpoint)
    objects = []
    for bucket in s3.list_buckets().get("Buckets", []):
        listed = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        objects += [f"{bucket['Name']}/{item['Key']}" for item in listed]
    runtimes = sorted(r["agentRuntimeId"] for r in control.list_agent_runtimes()["agentRuntimes"])
    return {
        "pools": sorted(pool["Id"] for pool in idp.list_user_pools(MaxResults=60)["UserPools"]),
        "providers": sorted(p["name"] for p in control.list_oauth2_credential_providers()["credentialProviders"]),
        # A runtime's own workload identity is named after it and goes with it: only the others count here.
        "workloads": sorted(
            w["name"] for w in control.list_workload_identities()["workloadIdentities"] if w["name"] not in runtimes
        ),
        "runtimes": runtimes,
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "buckets": sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])),
        "objects": sorted(objects),
    }


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".agentcore-wizard" not in path.parts
    }


# --- the toolkit first, the wizard after: at every point the toolkit can leave a folder -------------------


@pytest.mark.parametrize("through", [1, 4, 5, 6, 7])
def test_the_wizard_finishes_what_the_toolkit_started(
    tmp_path: Path, sandbox: str, wheelhouse: Path, through: int
) -> None:
    folder = tmp_path / "quickstart"
    folder.mkdir()
    toolkit_steps(folder, sandbox, wheelhouse, through)
    made_by_toolkit = world(sandbox)
    before = files_of(folder)

    # status looks first and writes nothing: what the toolkit made, with whose it is.
    status = wizard(folder, sandbox, "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    rows = {row["key"]: row for row in json.loads(status.stdout)["stages"]}
    assert "before the wizard" in " ".join(rows["cognito"]["found"]["evidence"]), rows["cognito"]
    if through >= 4:
        assert "before the wizard" in " ".join(rows["configure"]["found"]["evidence"]), rows["configure"]
    if through >= 7:
        assert "before the wizard" in " ".join(rows["deploy"]["found"]["evidence"]), rows["deploy"]
    assert files_of(folder) == before and not (folder / ".agentcore-wizard").exists()
    assert world(sandbox) == made_by_toolkit

    run = wizard(folder, sandbox, "run", "--yes", "--auto-consent", "--wheelhouse", str(wheelhouse))
    assert run.returncode == 0, run.stderr[-4000:]
    after = world(sandbox)
    # No duplicate: the toolkit's pools, provider, workload identity and runtime are the ones in use.
    assert after["pools"] == made_by_toolkit["pools"] and len(after["pools"]) == 2
    assert after["providers"] == ["ExternalServiceProvider"]
    assert after["workloads"] == ["identity-demo-workload"]
    assert len(after["runtimes"]) == 1
    if through >= 7:
        assert after["runtimes"] == made_by_toolkit["runtimes"]
        assert after["roles"] == made_by_toolkit["roles"]  # deployed with the toolkit's role, as it is
    assert (folder / "agent.py").read_text() == QUICKSTART_AGENT  # the person's agent.py is kept

    # And back: cleanup deletes what the wizard made and nothing the toolkit made.
    gone = wizard(folder, sandbox, "cleanup", "--yes")
    assert gone.returncode == 0, gone.stderr[-3000:]
    left = world(sandbox)
    for kind in ("pools", "providers", "workloads", "roles"):
        assert set(made_by_toolkit[kind]) <= set(left[kind]), kind
    assert left["pools"] == made_by_toolkit["pools"]
    assert set(left["runtimes"]) == set(made_by_toolkit["runtimes"])  # the wizard's own runtime went, if it made one
    assert [role for role in left["roles"] if role.startswith("AgentCoreWizard-")] == []
    assert (folder / idf.JSON_NAME).exists()  # they name the toolkit's pools
    assert (folder / YAML_NAME).exists() == (through >= 4)


def test_cleanup_of_a_toolkit_folder_deletes_nothing_the_wizard_did_not_make(
    tmp_path: Path, sandbox: str, wheelhouse: Path
) -> None:
    folder = tmp_path / "toolkit-only"
    folder.mkdir()
    toolkit_steps(folder, sandbox, wheelhouse, 7)
    before_files, before_world = files_of(folder), world(sandbox)
    dry = wizard(folder, sandbox, "cleanup", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "Keeps:" in dry.stderr and "before the wizard" in dry.stderr
    assert files_of(folder) == before_files and not (folder / ".agentcore-wizard").exists()
    gone = wizard(folder, sandbox, "cleanup", "--yes")
    assert gone.returncode == 0, gone.stderr[-2000:]
    assert world(sandbox) == before_world
    after_files = files_of(folder)
    # The YAML, the agent and the identity files stay as they were; only the wizard's own state is new.
    for name in (YAML_NAME, "agent.py", idf.JSON_NAME):
        assert after_files[name] == before_files[name], name
    # The toolkit's own cleanup still finds its resources, in the sandbox (never in AWS).
    env = toolkit_env(sandbox, wheelhouse)
    agentcore(folder, env, "identity", "cleanup", "--agent", "identity_demo", "--force")
    agentcore(folder, env, "destroy", "--agent", "identity_demo", "--force")
    after = world(sandbox)
    assert after["providers"] == [] and after["workloads"] == [] and after["runtimes"] == []


# --- toolkit files that no longer match AWS: never replaced silently ------------------------------------


def _break(folder: Path, endpoint: str, how: str) -> None:
    files = idf.read_identity_json(folder)
    assert files is not None
    idp = sandbox_client("cognito-idp", endpoint)
    if how == "deleted pool":
        idp.delete_user_pool(UserPoolId=files.identity.pool_id)
    elif how == "deleted client":
        idp.delete_user_pool_client(UserPoolId=files.runtime.pool_id, ClientId=files.runtime.client_id)
    else:
        idp.admin_set_user_password(
            UserPoolId=files.runtime.pool_id,
            Username=files.runtime.username,
            Password="Changed-By-Hand-1!",
            Permanent=True,
        )


@pytest.mark.parametrize("how", ["deleted pool", "deleted client", "changed password"])
def test_broken_toolkit_files_stop_with_a_choice(tmp_path: Path, sandbox: str, wheelhouse: Path, how: str) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    toolkit_steps(folder, sandbox, wheelhouse, 1)
    _break(folder, sandbox, how)
    pools = world(sandbox)["pools"]
    before = files_of(folder)

    stopped = wizard(folder, sandbox, "run", "--yes", "--through", "cognito")
    assert stopped.returncode == 1, stopped.stderr[-2000:]
    assert "do not check out against AWS" in stopped.stderr, stopped.stderr[-3000:]
    assert "--start-fresh" in stopped.stderr
    assert ("--repair" in stopped.stderr) == (how != "deleted pool")
    assert world(sandbox)["pools"] == pools  # no new pools
    for name in idf.SECRET_FILES:
        assert (folder / name).read_bytes() == before[name], name  # not overwritten

    choice = "--start-fresh" if how == "deleted pool" else "--repair"
    chosen = wizard(folder, sandbox, "run", "--yes", "--through", "env", choice)
    assert chosen.returncode == 0, chosen.stderr[-3000:]
    backups = sorted(path.name for path in folder.glob(".agentcore_identity_*.backup-*"))
    assert len(backups) == 2, backups
    json_backup = next(folder.glob(f"{idf.JSON_NAME}.backup-*"))
    assert json_backup.read_bytes() == before[idf.JSON_NAME]
    assert json_backup.stat().st_mode & 0o777 == 0o600
    after = world(sandbox)["pools"]
    if how == "deleted pool":
        assert len(after) == len(pools) + 2  # fresh pools; the surviving old one is left, and said so
        assert "Left in AWS" in chosen.stderr
    else:
        assert after == pools  # mended in the same pools
    assert (
        shutil.which("git") is None
        or ".agentcore_identity_cognito_user.json.backup-*" in (folder / ".gitignore").read_text()
    )


# --- the wizard first, the toolkit after ------------------------------------------------------------------


def test_the_toolkit_carries_on_in_a_wizard_sandbox_folder(tmp_path: Path, wheelhouse: Path) -> None:
    """A folder the wizard set up in its own sandbox: `env --for-toolkit` points the toolkit at that sandbox."""
    folder = tmp_path / "wizard-first"
    folder.mkdir()
    env = cli_env()
    run = subprocess.run(
        [sys.executable, "-m", "wizard", "run", "--sandbox", "--yes", "--through", "deploy", "--wheelhouse",
         str(wheelhouse)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert run.returncode == 0, run.stderr[-3000:]
        printed = subprocess.run(
            [sys.executable, "-m", "wizard", "env", "--for-toolkit"], cwd=folder, env=env, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert printed.returncode == 0, printed.stderr
        variables = dict(re.findall(r"^export (\w+)='([^']*)'$", printed.stdout, re.MULTILINE))
        endpoint = json.loads((folder / ".agentcore-wizard" / "sandbox.json").read_text())["endpoint"]
        for name in ("AWS_ENDPOINT_URL", "BEDROCK_AGENTCORE_CP_ENDPOINT", "BEDROCK_AGENTCORE_DP_ENDPOINT"):
            assert variables[name] == endpoint, name
        assert variables["AWS_REGION"] == "us-east-1" and "unset AWS_PROFILE" in printed.stdout
        toolkit = {**cli_env(), **variables, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        status = agentcore(folder, toolkit, "status")
        assert "READY" in status.stdout or "Ready" in status.stdout, status.stdout[-2000:]
        # The toolkit's cleanup deletes in the sandbox (its provider and workload identity are gone there).
        agentcore(folder, toolkit, "identity", "cleanup", "--agent", "identity_demo", "--force")
        control = sandbox_client("bedrock-agentcore-control", endpoint)
        assert control.list_oauth2_credential_providers()["credentialProviders"] == []
    finally:
        subprocess.run(
            [sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", str(folder)], env=env, capture_output=True,
            timeout=60,
        )  # fmt: skip
