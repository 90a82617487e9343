"""The doctor: drift named with its fix, region drift, errors recorded earlier, and its CLI and dialog."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import cli_env, client

from wizard.doctor import _policy_source, render
from wizard.files import identity as idf


def by_topic(findings: list[Any]) -> dict[str, Any]:
    return {finding.topic: finding for finding in findings}


def test_a_provider_deleted_by_hand_is_named_as_drifted_with_its_fix(deployed: Any, sandbox_endpoint: str) -> None:
    name = deployed.state.resources("provider")["name"]
    client("bedrock-agentcore-control", sandbox_endpoint).delete_oauth2_credential_provider(name=name)
    findings = by_topic(deployed.doctor())
    provider = findings["stage 5 (Create credential provider)"]
    assert provider.level == "error" and "drifted" in provider.message and name in provider.message
    assert "Run stage 5 (Create credential provider) again" in provider.fix and "--through provider" in provider.fix
    assert deployed.status_of(deployed.stage("provider")) == "drifted"
    assert findings["stage 7 (Deploy agent)"].level == "ok"
    assert findings["credentials"].level == "ok"


def test_a_healthy_project_has_only_ok_findings(deployed: Any) -> None:
    findings = deployed.doctor()
    assert all(finding.level == "ok" for finding in findings), render(findings)
    assert "stage 7 (Deploy agent)" in by_topic(findings)


def test_region_drift_in_the_files_is_an_error(wizard: Any) -> None:
    assert wizard.run_stage("preflight").ok and wizard.run_stage("cognito").ok
    path = wizard.options.project / idf.JSON_NAME
    data = json.loads(path.read_text())
    data["identity"]["discovery_url"] = data["identity"]["discovery_url"].replace("us-east-1", "eu-west-1", 1)
    path.write_text(json.dumps(data))
    region = [finding for finding in wizard.doctor() if finding.topic == "region"]
    assert region and region[0].level == "error"
    assert "eu-west-1" in region[0].message and "us-east-1" in region[0].message


def test_a_recorded_failure_comes_back_with_the_known_fix(wizard: Any) -> None:
    assert wizard.run_stage("preflight").ok
    wizard.state.set_status(
        "cognito",
        "failed",
        {"message": "InitiateAuth: NotAuthorizedException: Unable to verify secret hash for client x", "fix": ""},
    )
    finding = by_topic(wizard.doctor())["stage 1 (Create Cognito pools)"]
    assert finding.level == "error" and "SECRET_HASH" in finding.fix


def test_policy_source_maps_sessions_to_roles() -> None:
    assert (
        _policy_source("arn:aws:sts::111122223333:assumed-role/Admin/alice") == "arn:aws:iam::111122223333:role/Admin"
    )
    assert _policy_source("arn:aws:iam::111122223333:user/bob") == "arn:aws:iam::111122223333:user/bob"
    assert _policy_source("arn:aws:iam::111122223333:root") == ""


@pytest.mark.cli
def test_doctor_cli_on_a_fresh_folder(tmp_path: Path, sandbox_endpoint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wizard", "doctor", "--json", "--sandbox-endpoint", sandbox_endpoint],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert {"level", "topic", "message", "fix"} <= set(findings[0])
    assert any(finding["topic"] == "credentials" and finding["level"] == "ok" for finding in findings)


@pytest.mark.cli
def test_doctor_cli_exits_1_on_an_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wizard", "doctor", "--sandbox-endpoint", "http://127.0.0.1:9"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "✗ prerequisites" in result.stdout and "agentcore-wizard sandbox serve" in result.stdout
