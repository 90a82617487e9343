""".bedrock_agentcore.yaml in the starter toolkit's schema, merged rather than clobbered.

The toolkit rewrites a whole agent entry on every `configure` (and so forgets its identity
section); the wizard changes only the keys it owns and leaves other agents alone.
"""

from __future__ import annotations

import copy
import difflib
import sys
from pathlib import Path
from typing import Any

from wizard.errors import WizardError
from wizard.state import atomic_write

YAML_NAME = ".bedrock_agentcore.yaml"
SUPPORTED_RUNTIMES = ("PYTHON_3_10", "PYTHON_3_11", "PYTHON_3_12", "PYTHON_3_13")


def python_runtime() -> str:
    current = f"PYTHON_{sys.version_info[0]}_{sys.version_info[1]}"
    return current if current in SUPPORTED_RUNTIMES else "PYTHON_3_12"


def load(project: Path) -> dict[str, Any] | None:
    """The parsed file, None when absent; a clear error when it is not YAML the toolkit could read."""
    import yaml

    path = project / YAML_NAME
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WizardError(
            f"{path} is not valid YAML: {exc}",
            fix="Fix it by hand, or move it aside and run this stage again to write a fresh one.",
        ) from None
    if data is None:
        return {"default_agent": None, "agents": {}}
    if not isinstance(data, dict) or not isinstance(data.get("agents", {}), dict):
        raise WizardError(
            f"{path} does not have the toolkit's shape (a mapping with `agents`).",
            fix="Move it aside and run this stage again.",
        )
    data.setdefault("agents", {})
    return data


def dump(data: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(data, default_flow_style=False, sort_keys=False))


def diff(project: Path, new_text: str) -> str:
    path = project / YAML_NAME
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new_text.splitlines(keepends=True), YAML_NAME + " (now)", YAML_NAME + " (new)"
    )
    return "".join(lines)


def save(project: Path, data: dict[str, Any]) -> None:
    # No secrets in this file, so the usual mode; written whole so the toolkit never reads half of it.
    atomic_write(project / YAML_NAME, dump(data), mode=0o644)


def new_agent(name: str, project: Path, account: str, region: str, authorizer: dict[str, Any]) -> dict[str, Any]:
    """A fresh agent entry with every key the toolkit writes, in its order."""
    return {
        "name": name,
        "language": "python",
        "node_version": "20",
        "entrypoint": str(project / "agent.py"),
        "deployment_type": "direct_code_deploy",
        "runtime_type": python_runtime(),
        "platform": "linux/arm64",
        "container_runtime": None,
        "source_path": str(project),
        "aws": {
            "execution_role": None,
            "execution_role_auto_create": True,
            "account": account,
            "region": region,
            "ecr_repository": None,
            "ecr_auto_create": False,
            "s3_path": None,
            "s3_auto_create": True,
            "network_configuration": {"network_mode": "PUBLIC", "network_mode_config": None},
            "protocol_configuration": {"server_protocol": "HTTP"},
            "observability": {"enabled": True},
            "lifecycle_configuration": {"idle_runtime_session_timeout": None, "max_lifetime": None},
        },
        "bedrock_agentcore": {"agent_id": None, "agent_arn": None, "agent_session_id": None},
        "codebuild": {"project_name": None, "execution_role": None, "source_bucket": None},
        "memory": {
            "mode": "NO_MEMORY",
            "memory_id": None,
            "memory_arn": None,
            "memory_name": None,
            "event_expiry_days": 30,
            "first_invoke_memory_check_done": False,
            "was_created_by_toolkit": False,
        },
        "identity": {"credential_providers": [], "workload": None},
        "aws_jwt": {
            "enabled": False,
            "audiences": [],
            "signing_algorithm": "ES384",
            "issuer_url": None,
            "duration_seconds": 300,
        },
        "authorizer_configuration": authorizer,
        "request_header_configuration": None,
        "oauth_configuration": None,
        "api_key_env_var_name": None,
        "api_key_credential_provider_name": None,
        "is_generated_by_agentcore_create": False,
    }


def merged_configure(
    existing: dict[str, Any] | None,
    name: str,
    project: Path,
    account: str,
    region: str,
    authorizer: dict[str, Any],
) -> dict[str, Any]:
    """The file after `configure`: this agent's configure keys set, everything else kept."""
    data = copy.deepcopy(existing) if existing else {"default_agent": None, "agents": {}}
    fresh = new_agent(name, project, account, region, authorizer)
    current = data["agents"].get(name)
    if not isinstance(current, dict):
        data["agents"][name] = fresh
    else:
        for key in ("name", "language", "entrypoint", "source_path", "authorizer_configuration"):
            current[key] = fresh[key]
        for key, value in fresh.items():
            current.setdefault(key, value)
        aws = current.setdefault("aws", {})
        aws["account"], aws["region"] = account, region
        for key, value in fresh["aws"].items():
            aws.setdefault(key, value)
        memory = current.get("memory")
        if isinstance(memory, dict):
            memory["mode"] = "NO_MEMORY"
    data["default_agent"] = name
    return {"default_agent": data["default_agent"], **{k: v for k, v in data.items() if k != "default_agent"}}


def identity_section(data: dict[str, Any], agent: str) -> dict[str, Any]:
    entry = data["agents"][agent]
    identity = entry.get("identity")
    if not isinstance(identity, dict):
        identity = entry["identity"] = {"credential_providers": [], "workload": None}
    if not isinstance(identity.get("credential_providers"), list):
        identity["credential_providers"] = []
    return identity


def with_provider(data: dict[str, Any], agent: str, name: str, arn: str, callback_url: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    providers = identity_section(data, agent)["credential_providers"]
    entry = {"name": name, "arn": arn, "type": "cognito", "callback_url": callback_url}
    same = [i for i, p in enumerate(providers) if isinstance(p, dict) and p.get("name") == name]
    if not same:
        providers.append(entry)
        return data
    # One entry per name, kept in its place (the toolkit appends a duplicate on every run).
    providers[same[0]] = entry
    for index in reversed(same[1:]):
        del providers[index]
    return data


def with_deployment(
    data: dict[str, Any], agent: str, runtime_id: str, runtime_arn: str, role_arn: str, s3_path: str
) -> dict[str, Any]:
    """The deploy's record, as the toolkit writes it; `s3_path` is a bucket and prefix (`s3://bucket/prefix`), the
    toolkit's deploy then puts the code at `<prefix>/<agent>/deployment.zip`."""
    data = copy.deepcopy(data)
    entry = data["agents"][agent]
    deployed = entry.get("bedrock_agentcore")
    if not isinstance(deployed, dict):
        deployed = entry["bedrock_agentcore"] = {"agent_id": None, "agent_arn": None, "agent_session_id": None}
    deployed["agent_id"], deployed["agent_arn"] = runtime_id, runtime_arn
    aws = entry.setdefault("aws", {})
    aws["execution_role"], aws["execution_role_auto_create"] = role_arn, False
    aws["s3_path"], aws["s3_auto_create"] = s3_path, False
    return data


def with_workload(data: dict[str, Any], agent: str, name: str, arn: str, return_urls: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    identity_section(data, agent)["workload"] = {"name": name, "arn": arn, "return_urls": list(return_urls)}
    return data
