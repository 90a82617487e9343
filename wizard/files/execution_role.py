"""The agent runtime's execution role: trust policy and a least-privilege inline policy.

Narrower than the toolkit's template: the Identity actions name this agent's provider, its secret and
the runtime's own workload identity instead of wildcards, and only the chosen model may be invoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POLICY_NAME = "AgentCoreWizardRuntimePolicy"


@dataclass(frozen=True)
class RoleInputs:
    account: str
    region: str
    agent_name: str
    provider_arn: str
    provider_secret_arn: str
    model_id: str
    partition: str = "aws"

    @property
    def agentcore(self) -> str:
        return f"arn:{self.partition}:bedrock-agentcore:{self.region}:{self.account}"


def trust_policy(inputs: RoleInputs) -> dict[str, Any]:
    """Only AgentCore, acting for this account's runtimes, may assume the role (no confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AgentCoreRuntimeAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": inputs.account},
                    "ArnLike": {"aws:SourceArn": f"{inputs.agentcore}:*"},
                },
            }
        ],
    }


def _model_arns(inputs: RoleInputs) -> list[str]:
    model = inputs.model_id
    arns = [f"arn:{inputs.partition}:bedrock:*::foundation-model/{model.split('.', 1)[-1]}"]
    if model.split(".", 1)[0] in ("us", "eu", "apac", "global", "jp", "au", "ca"):
        # A cross-region inference profile, and the models it routes to in any region.
        arns.insert(0, f"arn:{inputs.partition}:bedrock:{inputs.region}:{inputs.account}:inference-profile/{model}")
    else:
        arns = [f"arn:{inputs.partition}:bedrock:{inputs.region}::foundation-model/{model}"]
    return arns


def inline_policy(inputs: RoleInputs) -> dict[str, Any]:
    agentcore = inputs.agentcore
    directory = f"{agentcore}:workload-identity-directory/default"
    # The runtime's own workload identity is named after its id, which starts with the agent name.
    runtime_workloads = f"{directory}/workload-identity/{inputs.agent_name}-*"
    logs = f"arn:{inputs.partition}:logs:{inputs.region}:{inputs.account}:log-group:/aws/bedrock-agentcore/runtimes/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                "Resource": [logs, f"{logs}:log-stream:*"],
            },
            {"Sid": "LogGroupsList", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
            {
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                "Resource": "*",
            },
            {
                "Sid": "Metrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}},
            },
            {
                "Sid": "InvokeTheModel",
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                "Resource": _model_arns(inputs),
            },
            {
                "Sid": "WorkloadAccessTokens",
                "Effect": "Allow",
                "Action": [
                    "bedrock-agentcore:GetWorkloadAccessToken",
                    "bedrock-agentcore:GetWorkloadAccessTokenForJWT",
                    "bedrock-agentcore:GetWorkloadAccessTokenForUserId",
                ],
                "Resource": [directory, runtime_workloads],
            },
            {
                "Sid": "OAuthTokensForTheUser",
                "Effect": "Allow",
                "Action": "bedrock-agentcore:GetResourceOauth2Token",
                "Resource": [
                    f"{agentcore}:token-vault/default",
                    inputs.provider_arn,
                    directory,
                    runtime_workloads,
                ],
            },
            {
                "Sid": "ProviderClientSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": inputs.provider_secret_arn,
            },
        ],
    }
