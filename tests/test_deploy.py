"""Stage 7 against the in-process sandbox: package, upload, role, runtime READY, return URL, drift.

Dependencies come from a wheelhouse of stand-in wheels the test makes: no network.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from wizard_helpers import BEFORE_DEPLOY, client, make_unique, reopen

from wizard.files import identity as idf


def messages(wizard: Any) -> list[str]:
    """What the log, AWS-call and progress events said (status and operation events carry no message)."""
    return [event.message for event in wizard.events if isinstance(getattr(event, "message", None), str)]


def test_deploy_makes_a_ready_runtime_with_the_yaml_authorizer(deployed: Any, sandbox_endpoint: str) -> None:
    recorded = deployed.state.resources("deploy")
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    runtime = control.get_agent_runtime(agentRuntimeId=recorded["runtime_id"])
    data = yaml.safe_load((deployed.options.project / ".bedrock_agentcore.yaml").read_text())
    entry = data["agents"][data["default_agent"]]
    assert runtime["status"] == "READY"
    assert runtime["authorizerConfiguration"] == entry["authorizer_configuration"]
    assert entry["bedrock_agentcore"]["agent_arn"] == runtime["agentRuntimeArn"]
    assert entry["bedrock_agentcore"]["agent_id"] == recorded["runtime_id"]
    assert entry["aws"]["execution_role"] == recorded["role_arn"]
    endpoint = control.get_agent_runtime_endpoint(agentRuntimeId=recorded["runtime_id"], endpointName="DEFAULT")
    assert endpoint["status"] == "READY"
    workload = runtime["workloadIdentityDetails"]["workloadIdentityArn"].split("/")[-1]
    urls = control.get_workload_identity(name=workload)["allowedResourceOauth2ReturnUrls"]
    assert deployed.ctx.return_url in urls
    # The return URL is no setting of the runtime: it travels with each call (the OAuth2CallbackUrl header).
    assert "AGENTCORE_OAUTH2_RETURN_URL" not in (runtime.get("environmentVariables") or {})


def test_the_uploaded_zip_has_code_and_dependencies_and_no_secret(deployed: Any, sandbox_endpoint: str) -> None:
    bucket, key = deployed.state.resources("deploy")["s3_uri"].removeprefix("s3://").split("/", 1)
    body = client("s3", sandbox_endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        contents = b"".join(archive.read(name) for name in names)
    assert "agent.py" in names and "requirements.txt" in names
    assert {"bedrock_agentcore.py", "strands_agents.py", "boto3.py"} <= set(names)
    assert not [name for name in names if name.startswith(".") or "/." in name]
    files = idf.read_identity_json(deployed.options.project)
    assert files is not None
    for secret in (files.runtime.password, files.identity.password, files.identity.client_secret or "x" * 20):
        assert secret.encode() not in contents


def test_the_role_grants_identity_actions_on_the_right_resources(deployed: Any, sandbox_endpoint: str) -> None:
    recorded = deployed.state.resources("deploy")
    provider = deployed.state.resources("provider")
    iam = client("iam", sandbox_endpoint)
    policy = iam.get_role_policy(RoleName=recorded["role_name"], PolicyName="AgentCoreWizardRuntimePolicy")
    statements = {item["Sid"]: item for item in policy["PolicyDocument"]["Statement"]}
    oauth = statements["OAuthTokensForTheUser"]
    assert oauth["Action"] == "bedrock-agentcore:GetResourceOauth2Token"
    assert provider["arn"] in oauth["Resource"]
    runtime_workload = deployed.state.resources("deploy")["runtime_workload"]
    assert any(
        runtime_workload.startswith(r.rsplit("/", 1)[-1].rstrip("*")) for r in oauth["Resource"] if r.endswith("*")
    )
    assert statements["ProviderClientSecret"]["Resource"] == provider["client_secret_arn"]
    trust = iam.get_role(RoleName=recorded["role_name"])["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}


def test_unchanged_redeploy_rebuilds_and_updates_nothing(deployed: Any, sandbox_endpoint: str) -> None:
    recorded = deployed.state.resources("deploy")
    deployed.state.set_status("deploy", "pending")
    deployed.events.clear()
    assert deployed.run_stage("deploy").ok
    said = messages(deployed)
    assert any("reusing the cached layer" in line for line in said), said
    assert any("unchanged since the last deploy" in line for line in said), said
    assert not [line for line in said if "UpdateAgentRuntime" in line or "CreateAgentRuntime" in line]
    assert deployed.state.resources("deploy")["runtime_id"] == recorded["runtime_id"]
    runtime = client("bedrock-agentcore-control", sandbox_endpoint).get_agent_runtime(
        agentRuntimeId=recorded["runtime_id"]
    )
    assert runtime["agentRuntimeVersion"] == "1"


def test_changed_agent_updates_the_runtime(deployed: Any, sandbox_endpoint: str) -> None:
    project = deployed.options.project
    recorded = deployed.state.resources("deploy")
    (project / "agent.py").write_text((project / "agent.py").read_text() + "\n# a change\n")
    deployed.state.set_status("deploy", "pending")
    deployed.events.clear()
    assert deployed.run_stage("deploy").ok
    said = messages(deployed)
    assert any("UpdateAgentRuntime" in line for line in said), said
    assert any("reusing the cached layer" in line for line in said), said
    runtime = client("bedrock-agentcore-control", sandbox_endpoint).get_agent_runtime(
        agentRuntimeId=recorded["runtime_id"]
    )
    assert runtime["agentRuntimeVersion"] == "2" and runtime["status"] == "READY"
    # One object, where the toolkit's own deploy keeps it, now holding the changed code.
    after = deployed.state.resources("deploy")
    assert after["s3_keys"] == recorded["s3_keys"] and after["s3_keys"][0].endswith(
        f"/{deployed.settings.agent_name}/deployment.zip"
    )
    assert after["package_sha256"] != recorded["package_sha256"] == recorded["deployed_sha256"]
    assert after["deployed_sha256"] == after["package_sha256"]
    s3 = client("s3", sandbox_endpoint)
    head = s3.head_object(Bucket=after["bucket"], Key=after["s3_keys"][0])
    assert head["Metadata"]["sha256"] == after["package_sha256"]


def test_a_runtime_deleted_out_of_band_is_drift_then_deployed_again(deployed: Any, sandbox_endpoint: str) -> None:
    old = deployed.state.resources("deploy")["runtime_id"]
    client("bedrock-agentcore-control", sandbox_endpoint).delete_agent_runtime(agentRuntimeId=old)
    outcome = deployed.verify_stage("deploy")
    assert not outcome.ok and deployed.status_of(deployed.stage("deploy")) == "drifted"
    assert deployed.run_stage("deploy").ok
    new = deployed.state.resources("deploy")["runtime_id"]
    assert new != old
    assert (
        client("bedrock-agentcore-control", sandbox_endpoint).get_agent_runtime(agentRuntimeId=new)["status"] == "READY"
    )


def test_a_role_you_bring_is_used_as_it_is(wizard: Any, wheelhouse: Path, sandbox_endpoint: str) -> None:
    iam = client("iam", sandbox_endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(
        RoleName=f"mine-{wizard.options.project.parent.name}"[:64], AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    wizard = reopen(make_unique(wizard, wheelhouse), execution_role=role["Arn"])
    for key in BEFORE_DEPLOY:
        assert wizard.run_stage(key).ok
    assert wizard.run_stage("deploy").ok
    recorded = wizard.state.resources("deploy")
    assert recorded["role_arn"] == role["Arn"] and recorded["role_origin"] == "yours"
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"] == trust
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == []


def test_a_reconfigured_return_url_reaches_the_runtime(deployed: Any, sandbox_endpoint: str) -> None:
    """--reconfigure --return-url: the workload identity and the runtime's own workload identity both allow the new
    URL (the calls carry it in their OAuth2CallbackUrl header; the runtime's environment does not hold it)."""
    from wizard_helpers import free_port

    new_url = f"http://localhost:{free_port()}/oauth2/callback"
    runtime_id = deployed.state.resources("deploy")["runtime_id"]
    switched = reopen(deployed, return_url=new_url, reconfigure=True)
    assert {switched.status_of(key) for key in ("workload", "deploy", "invoke")} == {"pending"}
    outcome = switched.run_through("deploy")
    assert outcome.ok, outcome.error and outcome.error.message
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    runtime = control.get_agent_runtime(agentRuntimeId=runtime_id)
    assert "AGENTCORE_OAUTH2_RETURN_URL" not in (runtime.get("environmentVariables") or {})
    assert switched.state.resources("deploy")["runtime_id"] == runtime_id  # updated in place, not a second one
    own = runtime["workloadIdentityDetails"]["workloadIdentityArn"].rsplit("/", 1)[-1]
    assert new_url in control.get_workload_identity(name=own)["allowedResourceOauth2ReturnUrls"]


def test_a_workload_name_is_recorded_before_it_is_created(wizard: Any, wheelhouse: Path, monkeypatch: Any) -> None:
    """A stage 6 that fails after CreateWorkloadIdentity must not let a later run forget the name (an orphan)."""
    from wizard.errors import UsageError
    from wizard.files import agentcore_yaml

    wizard = make_unique(wizard, wheelhouse)
    for key in ("preflight", "cognito", "agent", "configure"):
        assert wizard.run_stage(key).ok
    name = wizard.settings.workload_name

    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(agentcore_yaml, "save", broken_save)
    assert not wizard.run_stage("workload").ok
    monkeypatch.undo()
    assert wizard.state.data["settings"]["workload_name"] == name
    with pytest.raises(UsageError) as refused:
        reopen(wizard, workload_name="another-workload", reconfigure=True)
    assert f"workload identity {name}" in refused.value.fix
