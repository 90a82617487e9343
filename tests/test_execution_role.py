"""The execution role's policies: who may assume it, and exactly which Identity resources it reaches."""

from __future__ import annotations

import json
import threading

import pytest
from wizard_helpers import client

from wizard.files.execution_role import RoleInputs, inline_policy, trust_policy

INPUTS = RoleInputs(
    account="123456789012",
    region="us-west-2",
    agent_name="identity_demo",
    provider_arn="arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/oauth2credentialprovider/ExternalServiceProvider",
    provider_secret_arn="arn:aws:secretsmanager:us-west-2:123456789012:secret:bedrock-agentcore-identity!default/oauth2/ExternalServiceProvider-AbCdEf",
    model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
)


def statement(sid: str) -> dict:
    found = [s for s in inline_policy(INPUTS)["Statement"] if s["Sid"] == sid]
    assert len(found) == 1, sid
    return found[0]


def test_trust_policy_names_agentcore_and_this_account_only() -> None:
    (only,) = trust_policy(INPUTS)["Statement"]
    assert only["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    assert only["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    assert only["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:bedrock-agentcore:us-west-2:123456789012:")


def test_oauth_token_action_targets_the_provider_vault_and_runtime_workload() -> None:
    oauth = statement("OAuthTokensForTheUser")
    assert oauth["Action"] == "bedrock-agentcore:GetResourceOauth2Token"
    assert INPUTS.provider_arn in oauth["Resource"]
    assert "arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default" in oauth["Resource"]
    workload = (
        "arn:aws:bedrock-agentcore:us-west-2:123456789012:workload-identity-directory/default/"
        "workload-identity/identity_demo-*"
    )
    assert workload in oauth["Resource"]
    assert not any(resource.endswith("oauth2credentialprovider/*") for resource in oauth["Resource"])


def test_secret_and_model_are_the_chosen_ones() -> None:
    assert statement("ProviderClientSecret")["Resource"] == INPUTS.provider_secret_arn
    model = statement("InvokeTheModel")["Resource"]
    assert (
        "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0" in model
    )
    assert "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0" in model


def test_in_region_model_ids_are_not_treated_as_profiles() -> None:
    inputs = RoleInputs(**{**INPUTS.__dict__, "model_id": "anthropic.claude-3-haiku-20240307-v1:0"})
    resources = [s for s in inline_policy(inputs)["Statement"] if s["Sid"] == "InvokeTheModel"][0]["Resource"]
    assert resources == ["arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]


def test_no_statement_grants_everything() -> None:
    for item in inline_policy(INPUTS)["Statement"]:
        assert item["Action"] != "*" and "bedrock-agentcore:*" not in json.dumps(item["Action"])


def test_policies_are_accepted_by_iam(sandbox_endpoint: str) -> None:
    iam = client("iam", sandbox_endpoint)
    name = f"policy-check-{threading.get_ident()}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy(INPUTS)))
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(inline_policy(INPUTS)))
    stored = iam.get_role_policy(RoleName=name, PolicyName="p")["PolicyDocument"]
    assert stored == inline_policy(INPUTS)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(RoleName=name, PolicyName="broken", PolicyDocument="{not json")
