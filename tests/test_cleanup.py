"""Cleanup against the in-process sandbox: exactly what the wizard made goes, in order, resumably; the rest stays.

The sandbox is shared by every test of the session, so each test asserts only about the ids and names its
own wizard recorded, and gives what it makes by hand a unique name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from wizard_helpers import BEFORE_DEPLOY, cli_env, client, make_unique, reopen

from wizard.errors import ConfirmationRequired, NeedsAction, UsageError
from wizard.events import AwsCall, Confirm
from wizard.files import agentcore_yaml
from wizard.files import identity as idf
from wizard.files.agent_code import AGENT_FILE, REQUIREMENTS_FILE
from wizard.state import STATE_NAME, wizard_dir
from wizard.steps.cleanup import CleanupStage, render_plan
from wizard.steps.provider import ProviderStage, provider_input

NOT_FOUND = "ResourceNotFoundException"
TRUST_AGENTCORE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


# --- helpers ----------------------------------------------------------------------------------------


def unique() -> str:
    return uuid.uuid4().hex[:8]


def missing(call: Callable[[], Any], *codes: str) -> bool:
    """True when the call fails with one of the not-found codes; any other error is raised."""
    try:
        call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in (codes or (NOT_FOUND,)):
            return True
        raise
    return False


def run_stages(wizard: Any, *keys: str) -> None:
    for key in keys:
        outcome = wizard.run_stage(key)
        assert outcome.ok, (key, outcome.error and outcome.error.message)


def cleanup(wizard: Any) -> Any:
    """Cleanup as `cleanup --yes` runs it: the deletion's confirmation (it needs a yes) gets one."""
    wizard.port.assume_yes = True
    return wizard.run_stage("cleanup")


def plan_of(wizard: Any) -> list[Any]:
    assert isinstance(wizard.stage("cleanup"), CleanupStage)
    return wizard.cleanup_plan()


def item_naming(plan: list[Any], text: str) -> Any:
    found = [item for item in plan if text in item.what]
    assert len(found) == 1, (text, [item.what for item in plan])
    return found[0]


def aws_calls(wizard: Any, since: int = 0) -> list[str]:
    """Operation names ("DeleteUserPool") of the AWS calls the wizard made from event `since` on."""
    return [event.operation for event in wizard.events[since:] if isinstance(event, AwsCall)]


def deletes(wizard: Any, since: int = 0) -> list[str]:
    return [call for call in aws_calls(wizard, since) if call.startswith("Delete")]


def logs(wizard: Any, since: int = 0, level: str | None = None) -> list[str]:
    return [
        event.message
        for event in wizard.events[since:]
        if event.kind == "log" and (level is None or event.level == level)
    ]


def recorded(wizard: Any) -> dict[str, Any]:
    """The ids this wizard recorded, captured before cleanup forgets them."""
    state = wizard.state
    return {key: state.resources(key) for key in ("deploy", "provider", "workload", "cognito", "configure")}


def pool_ids(project: Path) -> tuple[str, str]:
    files = idf.read_identity_json(project)
    assert files is not None
    return files.runtime.pool_id, files.identity.pool_id


def pool_gone(cognito: Any, pool_id: str) -> bool:
    return missing(lambda: cognito.describe_user_pool(UserPoolId=pool_id))


def provider_secrets(endpoint: str, provider: str) -> list[str]:
    pages = client("secretsmanager", endpoint).get_paginator("list_secrets").paginate()
    return [s["Name"] for page in pages for s in page["SecretList"] if s["Name"].endswith(f"/oauth2/{provider}")]


def make_role(endpoint: str, name: str) -> dict[str, Any]:
    return client("iam", endpoint).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_AGENTCORE))[
        "Role"
    ]


def delete_role(endpoint: str, name: str) -> None:
    missing(lambda: client("iam", endpoint).delete_role(RoleName=name), "NoSuchEntity")


def assert_reset(wizard: Any) -> None:
    """Every numbered stage pending with nothing recorded; cleanup itself done."""
    for stage in wizard.stages:
        if stage.number is None:
            continue
        assert wizard.status_of(stage) == "pending", (stage.key, wizard.status_of(stage))
        assert wizard.state.resources(stage.key) == {}, (stage.key, wizard.state.resources(stage.key))
    assert wizard.status_of(wizard.stage("cleanup")) == "done"


def assert_all_gone(wizard: Any, ids: dict[str, Any], endpoint: str) -> None:
    """Everything this wizard recorded (ids captured before cleanup) is gone from the sandbox and the folder."""
    control = client("bedrock-agentcore-control", endpoint)
    deploy = ids["deploy"]
    if deploy.get("runtime_id"):
        assert missing(lambda: control.get_agent_runtime(agentRuntimeId=deploy["runtime_id"]))
    if deploy.get("runtime_workload"):
        assert missing(lambda: control.get_workload_identity(name=deploy["runtime_workload"]))
    if deploy.get("role_name") and deploy.get("role_origin") == "created":
        iam = client("iam", endpoint)
        assert missing(lambda: iam.get_role(RoleName=deploy["role_name"]), "NoSuchEntity")
    if deploy.get("bucket"):
        s3 = client("s3", endpoint)
        assert deploy.get("s3_keys")
        for key in deploy["s3_keys"]:
            assert missing(lambda key=key: s3.head_object(Bucket=deploy["bucket"], Key=key), "404", "NoSuchKey")
        bucket_gone = missing(lambda: s3.head_bucket(Bucket=deploy["bucket"]), "404", "NoSuchBucket")
        if not bucket_gone:
            # Shared by every test's wizard: kept if it was not this wizard's, or if it held others' objects.
            kept = any(f"Kept bucket {deploy['bucket']}" in line for line in logs(wizard))
            assert deploy.get("bucket_origin") != "created" or kept, deploy
    provider = ids["provider"].get("name")
    if provider:
        assert missing(lambda: control.get_oauth2_credential_provider(name=provider))
        assert provider_secrets(endpoint, provider) == []
    workload = ids["workload"].get("name")
    if workload:
        assert missing(lambda: control.get_workload_identity(name=workload))
    cognito = client("cognito-idp", endpoint)
    for role in ("runtime", "identity"):
        assert pool_gone(cognito, ids["cognito"][f"{role}_pool_id"]), role
    project = wizard.options.project
    for name in (*idf.SECRET_FILES, AGENT_FILE, REQUIREMENTS_FILE, agentcore_yaml.YAML_NAME):
        assert not (project / name).exists(), name
    assert not (wizard_dir(project) / "build").exists()


def cli_cleanup(project: Path, endpoint: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "wizard",
            "cleanup",
            *extra,
            "--sandbox-endpoint",
            endpoint,
            "--region",
            "us-east-1",
            "--dir",
            str(project),
        ],
        cwd=project,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def pools_only(wizard: Any) -> Any:
    """A folder after stages 0-1 only: two pools and the identity files, nothing else."""
    run_stages(wizard, "preflight", "cognito")
    return wizard


# --- the full journey --------------------------------------------------------------------------------


def test_full_journey_then_cleanup_deletes_exactly_what_the_wizard_made(deployed: Any, sandbox_endpoint: str) -> None:
    wizard = reopen(deployed, auto_consent=True)
    run_stages(wizard, "invoke")
    ids = recorded(wizard)
    provider = ids["provider"]["name"]
    assert ids["deploy"]["role_origin"] == "created" and ids["provider"]["origin"] == "created"
    assert provider_secrets(sandbox_endpoint, provider), "the provider's secret should exist before cleanup"

    # Look-alikes another client made: same naming scheme, not the wizard's.
    cognito = client("cognito-idp", sandbox_endpoint)
    suffix = str(wizard.state.data["project_id"])[:8]
    look_alike_pool = cognito.create_user_pool(PoolName=f"AgentCoreRuntimePool-{suffix}")["UserPool"]["Id"]
    agent = ids["configure"]["agent_name"]
    look_alike_role = f"AgentCoreWizard-{agent}-other{unique()}"[:64]
    make_role(sandbox_endpoint, look_alike_role)
    try:
        mark = len(wizard.events)
        outcome = cleanup(wizard)
        assert outcome.ok, outcome.error and outcome.error.message
        assert_all_gone(wizard, ids, sandbox_endpoint)
        assert not pool_gone(cognito, look_alike_pool)
        client("iam", sandbox_endpoint).get_role(RoleName=look_alike_role)
        assert_reset(wizard)

        # Dependency order, the registry's reversed: runtime, role, code (stage 7), workload (6), provider (5),
        # pools (1).
        assert [stage.key for stage in wizard.stages.teardown_order] == [
            "invoke",
            "deploy",
            "workload",
            "provider",
            "configure",
            "agent",
            "cognito",
        ]
        calls = deletes(wizard, mark)
        order = [
            "DeleteAgentRuntime",
            "DeleteRole",
            "DeleteObject",
            "DeleteWorkloadIdentity",
            "DeleteOauth2CredentialProvider",
            "DeleteUserPool",
        ]
        assert [calls.index(name) for name in order] == sorted(calls.index(name) for name in order), calls

        # A second run finds nothing left and calls no Delete*.
        second = len(wizard.events)
        outcome = cleanup(wizard)
        assert outcome.ok, outcome.error and outcome.error.message
        assert deletes(wizard, second) == []
        assert_reset(wizard)
    finally:
        missing(lambda: cognito.delete_user_pool(UserPoolId=look_alike_pool))
        delete_role(sandbox_endpoint, look_alike_role)


def test_interrupted_cleanup_carries_on_where_it_stopped(
    deployed: Any, sandbox_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = deployed
    ids = recorded(wizard)
    original = ProviderStage.undo
    calls: list[str] = []

    def killed_once(self: ProviderStage, ctx: Any) -> None:
        calls.append("undo")
        if len(calls) == 1:
            raise RuntimeError("killed")
        original(self, ctx)

    monkeypatch.setattr(ProviderStage, "undo", killed_once)
    outcome = cleanup(wizard)
    assert not outcome.ok and outcome.status == "failed"
    assert wizard.status_of(wizard.stage("cleanup")) == "failed"
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    assert missing(lambda: control.get_agent_runtime(agentRuntimeId=ids["deploy"]["runtime_id"]))
    assert "runtime_id" not in wizard.state.resources("deploy")
    assert wizard.state.resources("provider").get("name") == ids["provider"]["name"]
    control.get_oauth2_credential_provider(name=ids["provider"]["name"])  # not deleted yet

    monkeypatch.undo()
    mark = len(wizard.events)
    outcome = cleanup(wizard)
    assert outcome.ok, outcome.error and outcome.error.message
    assert logs(wizard, mark, "error") == []
    assert "DeleteAgentRuntime" not in deletes(wizard, mark)  # already done: not asked again
    assert_all_gone(wizard, ids, sandbox_endpoint)
    assert_reset(wizard)


# --- what the wizard found stays -------------------------------------------------------------------


@pytest.fixture
def brought_role(wizard: Any, wheelhouse: Path, sandbox_endpoint: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A deployment that uses a role made by hand (--execution-role), and that role."""
    role = make_role(sandbox_endpoint, f"mine-{unique()}")
    try:
        wizard = reopen(make_unique(wizard, wheelhouse), execution_role=role["Arn"])
        run_stages(wizard, *BEFORE_DEPLOY, "deploy")
        assert wizard.state.resources("deploy")["role_origin"] == "yours"
        yield wizard, role
    finally:
        delete_role(sandbox_endpoint, role["RoleName"])


def test_a_role_you_bring_is_kept(brought_role: tuple[Any, dict[str, Any]], sandbox_endpoint: str) -> None:
    wizard, role = brought_role
    ids = recorded(wizard)
    item = item_naming(plan_of(wizard), role["RoleName"])
    assert item.delete is False and item.reason
    outcome = cleanup(wizard)
    assert outcome.ok, outcome.error and outcome.error.message
    client("iam", sandbox_endpoint).get_role(RoleName=role["RoleName"])
    assert_all_gone(wizard, ids, sandbox_endpoint)
    assert_reset(wizard)


def test_the_screen_list_shows_a_role_you_bring_as_kept(brought_role: tuple[Any, dict[str, Any]]) -> None:
    wizard, role = brought_role
    rows = wizard.stage("cleanup").values(wizard.ctx)
    assert any(label == "keep" and role["RoleName"] in value for label, value, _ in rows), rows


def _provider_by_hand(wizard: Any, control: Any) -> str:
    """The provider the wizard would make, with the same settings (so stage 5 adopts it)."""
    files = idf.read_identity_json(wizard.options.project)
    assert files is not None
    name = wizard.settings.provider_name
    control.create_oauth2_credential_provider(
        name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=provider_input(files)
    )
    return name


def _workload_by_hand(wizard: Any, control: Any) -> str:
    """The workload identity the wizard would make, without its return URL (stage 6 adopts it and adds it)."""
    name = wizard.settings.workload_name
    control.create_workload_identity(name=name)
    return name


BY_HAND = {
    "provider": (_provider_by_hand, "credential provider", "oauth2_credential_provider"),
    "workload": (_workload_by_hand, "workload identity", "workload_identity"),
}


@pytest.mark.parametrize("stage", sorted(BY_HAND))
def test_an_adopted_resource_is_kept(wizard: Any, wheelhouse: Path, sandbox_endpoint: str, stage: str) -> None:
    by_hand, label, api = BY_HAND[stage]
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    get = getattr(control, f"get_{api}")
    wizard = make_unique(wizard, wheelhouse)
    before = BEFORE_DEPLOY[: BEFORE_DEPLOY.index(stage)]
    run_stages(wizard, *before)
    name = by_hand(wizard, control)
    try:
        run_stages(wizard, *BEFORE_DEPLOY[len(before) :])
        found = wizard.state.resources(stage)
        assert found["name"] == name and found["origin"] == "adopted", found
        ids = recorded(wizard)
        item = item_naming(plan_of(wizard), f"{label} {name}")
        assert item.delete is False and "existed before" in item.reason
        outcome = cleanup(wizard)
        assert outcome.ok, outcome.error and outcome.error.message
        get(name=name)  # still there
        assert_reset(wizard)
        # What the wizard did make around it is gone (the adopted one is left out of the check).
        ids[stage] = {}
        assert_all_gone(wizard, ids, sandbox_endpoint)
    finally:
        missing(lambda: getattr(control, f"delete_{api}")(name=name))


def test_a_provider_the_wizard_recreates_after_adopting_is_deleted(
    wizard: Any, wheelhouse: Path, sandbox_endpoint: str
) -> None:
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    wizard = make_unique(wizard, wheelhouse)
    run_stages(wizard, *BEFORE_DEPLOY[: BEFORE_DEPLOY.index("provider")])
    name = _provider_by_hand(wizard, control)
    try:
        run_stages(wizard, "provider")
        assert wizard.state.resources("provider")["origin"] == "adopted"
        control.delete_oauth2_credential_provider(name=name)  # the person deletes theirs
        mark = len(wizard.events)
        run_stages(wizard, "provider")
        assert f"Created credential provider {name}." in logs(wizard, mark)
        outcome = cleanup(wizard)
        assert outcome.ok, outcome.error and outcome.error.message
        assert missing(lambda: control.get_oauth2_credential_provider(name=name))
    finally:
        missing(lambda: control.delete_oauth2_credential_provider(name=name))


# --- listing without deleting --------------------------------------------------------------------


def test_the_plan_lists_and_changes_nothing(deployed: Any, sandbox_endpoint: str) -> None:
    wizard = deployed
    ids = recorded(wizard)
    before = wizard.state.snapshot()["stages"]
    mark = len(wizard.events)
    text = render_plan(plan_of(wizard))
    assert ids["deploy"]["runtime_id"] in text
    assert ids["cognito"]["runtime_pool_id"] in text and ids["cognito"]["identity_pool_id"] in text
    assert ids["deploy"]["role_name"] in text and ids["provider"]["name"] in text
    assert wizard.state.snapshot()["stages"] == before
    assert deletes(wizard, mark) == []
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    assert control.get_agent_runtime(agentRuntimeId=ids["deploy"]["runtime_id"])["status"] == "READY"
    cognito = client("cognito-idp", sandbox_endpoint)
    assert not pool_gone(cognito, ids["cognito"]["runtime_pool_id"])
    assert (wizard.options.project / AGENT_FILE).exists()


def test_an_edited_agent_py_is_kept(deployed: Any, sandbox_endpoint: str) -> None:
    wizard = deployed
    project = wizard.options.project
    with (project / AGENT_FILE).open("a", encoding="utf-8") as handle:
        handle.write("\n# my own change\n")
    edited = (project / AGENT_FILE).read_text(encoding="utf-8")
    plan = plan_of(wizard)
    agent = [item for item in plan if item.what == AGENT_FILE]
    requirements = [item for item in plan if item.what == REQUIREMENTS_FILE]
    assert len(agent) == 1 and agent[0].delete is False and "edit" in agent[0].reason
    assert len(requirements) == 1 and requirements[0].delete is True
    outcome = cleanup(wizard)
    assert outcome.ok, outcome.error and outcome.error.message
    assert (project / AGENT_FILE).read_text(encoding="utf-8") == edited
    assert not (project / REQUIREMENTS_FILE).exists()
    assert_reset(wizard)


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.cli
def test_cli_cleans_up_pools_when_the_state_file_is_gone(pools_only: Any, sandbox_endpoint: str) -> None:
    wizard = pools_only
    project = wizard.options.project
    runtime_pool, identity_pool = pool_ids(project)
    wizard.close()
    (wizard_dir(project) / STATE_NAME).unlink()
    result = cli_cleanup(project, sandbox_endpoint, "--yes")
    assert result.returncode == 0, result.stderr
    cognito = client("cognito-idp", sandbox_endpoint)
    assert pool_gone(cognito, runtime_pool) and pool_gone(cognito, identity_pool)
    for name in idf.SECRET_FILES:
        assert not (project / name).exists(), name


@pytest.mark.cli
def test_cli_without_yes_and_no_terminal_deletes_nothing(pools_only: Any, sandbox_endpoint: str) -> None:
    wizard = pools_only
    project = wizard.options.project
    runtime_pool, identity_pool = pool_ids(project)
    state_before = json.loads((wizard_dir(project) / STATE_NAME).read_text())["stages"]
    wizard.close()
    result = cli_cleanup(project, sandbox_endpoint)
    assert result.returncode == 2, result.stderr
    assert "--yes" in result.stderr
    cognito = client("cognito-idp", sandbox_endpoint)
    assert not pool_gone(cognito, runtime_pool) and not pool_gone(cognito, identity_pool)
    for name in idf.SECRET_FILES:
        assert (project / name).exists(), name
    state_after = json.loads((wizard_dir(project) / STATE_NAME).read_text())["stages"]
    # Cleanup itself records that it waits for a yes (ConfirmationRequired); every other stage is untouched.
    cleanup_after = state_after.pop("cleanup")
    assert cleanup_after["status"] == "needs_action", cleanup_after
    assert cleanup_after["error"] == {
        "message": "Cleanup deletes the resources listed above, and nobody was asked.",
        "fix": "Pass --yes to confirm, or run it at a terminal to be asked.",
    }
    assert cleanup_after["error"]["message"] in result.stderr
    # (Reading a stage's status gives it the default record, which the stage's save then writes: the same thing.)
    unread = {"status": "pending", "resources": {}}
    for key in (set(state_before) | set(state_after)) - {"cleanup"}:
        assert state_after.get(key, unread) == state_before.get(key, unread), key


@pytest.mark.cli
def test_cli_dry_run_lists_the_pools_and_deletes_nothing(pools_only: Any, sandbox_endpoint: str) -> None:
    wizard = pools_only
    project = wizard.options.project
    runtime_pool, identity_pool = pool_ids(project)
    wizard.close()
    result = cli_cleanup(project, sandbox_endpoint, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert runtime_pool in result.stderr and identity_pool in result.stderr
    cognito = client("cognito-idp", sandbox_endpoint)
    assert not pool_gone(cognito, runtime_pool) and not pool_gone(cognito, identity_pool)
    for name in idf.SECRET_FILES:
        assert (project / name).exists(), name


def test_declining_at_engine_level_deletes_nothing(pools_only: Any, sandbox_endpoint: str) -> None:
    wizard = pools_only
    runtime_pool, identity_pool = pool_ids(wizard.options.project)
    before = wizard.state.snapshot()["stages"]["cognito"]
    # Headless without --yes: nobody can be asked, and deleting needs a yes.
    assert wizard.port.assume_yes is False and wizard.port.decide is None
    mark = len(wizard.events)
    asked = len(wizard.port.questions)
    outcome = wizard.run_stage("cleanup")
    assert not outcome.ok and outcome.status == "needs_action"
    error = outcome.error
    assert isinstance(error, ConfirmationRequired)
    assert isinstance(error, NeedsAction) and isinstance(error, UsageError)
    assert error.message == "Cleanup deletes the resources listed above, and nobody was asked."
    assert error.fix == "Pass --yes to confirm, or run it at a terminal to be asked."
    assert wizard.status_of("cleanup") == "needs_action"
    assert wizard.error_of("cleanup") == {"message": error.message, "fix": error.fix}
    (question,) = wizard.port.questions[asked:]
    assert isinstance(question, Confirm) and question.needs_yes and question.default is False
    assert question.text == "Delete what the plan lists?"
    assert runtime_pool in question.detail and identity_pool in question.detail  # the plan, in full
    assert runtime_pool not in question.text
    assert deletes(wizard, mark) == []
    cognito = client("cognito-idp", sandbox_endpoint)
    assert not pool_gone(cognito, runtime_pool) and not pool_gone(cognito, identity_pool)
    assert wizard.state.snapshot()["stages"]["cognito"] == before
    assert all((wizard.options.project / name).exists() for name in idf.SECRET_FILES)


@pytest.mark.cli
def test_cli_with_lost_state_keeps_the_yaml_of_a_runtime_it_keeps(deployed: Any, sandbox_endpoint: str) -> None:
    wizard = deployed
    project = wizard.options.project
    runtime_id = wizard.state.resources("deploy")["runtime_id"]
    agent = wizard.state.resources("configure")["agent_name"]
    arn = wizard.state.resources("deploy")["runtime_arn"]
    wizard.close()
    (wizard_dir(project) / STATE_NAME).unlink()
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    # Its project tag gone too (someone untagged it): nothing proves the wizard made it.
    control.untag_resource(resourceArn=arn, tagKeys=["agentcore-wizard:project"])
    try:
        result = cli_cleanup(project, sandbox_endpoint, "--yes")
        assert result.returncode == 0, result.stderr
        # Kept, rightly: nothing proves the wizard made it. The advice must still work afterwards.
        assert control.get_agent_runtime(agentRuntimeId=runtime_id)["status"] == "READY"
        assert f"agentcore destroy --agent {agent}" in result.stderr
        data = agentcore_yaml.load(project)
        assert data is not None and agent in data["agents"], "the file `agentcore destroy` reads is gone"
        assert data["agents"][agent]["bedrock_agentcore"]["agent_id"] == runtime_id
    finally:
        missing(lambda: control.delete_agent_runtime(agentRuntimeId=runtime_id))


def test_a_new_journey_after_cleanup_is_not_cleanup_drift(pools_only: Any) -> None:
    wizard = pools_only
    assert cleanup(wizard).ok
    run_stages(wizard, "preflight", "cognito")
    # Building again makes the old cleanup history: pending, so `status --verify` does not check it as drift.
    assert wizard.status_of(wizard.stage("cleanup")) == "pending"
    wizard.verify_stage("cleanup")
    assert wizard.status_of(wizard.stage("cleanup")) == "pending"


def test_something_deleted_by_hand_is_reported_as_already_gone(deployed: Any, sandbox_endpoint: str) -> None:
    name = deployed.state.resources("provider")["name"]
    client("bedrock-agentcore-control", sandbox_endpoint).delete_oauth2_credential_provider(name=name)
    since = len(deployed.events)
    assert cleanup(deployed).ok
    said = logs(deployed, since)
    assert f"Credential provider {name} was already gone." in said, said
    assert not any(line == f"Deleted credential provider {name}." for line in said)
    assert any(line.startswith("Deleted runtime ") for line in said), said
