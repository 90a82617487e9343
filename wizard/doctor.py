"""What is wrong with this project and how to fix it: credentials, region drift, stages that drifted,
errors recorded earlier, and (against AWS) permissions the wizard will need."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from wizard.errors import CheckFailed, explain
from wizard.files import agentcore_yaml
from wizard.files import identity as idfiles

if TYPE_CHECKING:
    from wizard.session import Outcome, Session
    from wizard.steps import Stage

    Verify = Callable[[Stage, bool], Outcome]

DISCOVERY_REGION = re.compile(r"cognito-idp\.([a-z0-9-]+)\.amazonaws\.com")

# What the stages call, by IAM action: simulated against the caller's policies when IAM allows it.
NEEDED_ACTIONS = (
    "cognito-idp:CreateUserPool",
    "cognito-idp:DescribeUserPool",
    "cognito-idp:CreateUserPoolClient",
    "cognito-idp:UpdateUserPoolClient",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "bedrock-agentcore:CreateOauth2CredentialProvider",
    "bedrock-agentcore:CreateWorkloadIdentity",
    "bedrock-agentcore:UpdateWorkloadIdentity",
    "bedrock-agentcore:CreateAgentRuntime",
    "bedrock-agentcore:GetAgentRuntime",
    "bedrock-agentcore:CompleteResourceTokenAuth",
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:PassRole",
    "s3:CreateBucket",
    "s3:PutObject",
)


@dataclass
class Finding:
    level: str  # "ok" | "warning" | "error"
    topic: str
    message: str
    fix: str = ""
    stage: str = ""  # the stage whose run is the fix, when there is one (a front end offers to run it)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def diagnose(session: Session, verify: Verify, deep: bool = False) -> list[Finding]:
    """Only what costs nothing, unless deep: then finished stages are also checked the costly way (stage 8 asks
    the deployed agent, which runs its model). `verify` checks one stage inside the session's operation."""
    findings: list[Finding] = []
    credentials_ok = _credentials(session, findings)
    findings.extend(region_findings(session))
    if credentials_ok:
        findings.extend(_stages(session, verify, deep))
        if not session.is_sandbox:
            findings.extend(_permissions(session))
    findings.extend(_recorded_errors(session))
    if not any(finding.level != "ok" for finding in findings):
        findings.append(Finding("ok", "overall", "Nothing is wrong that the wizard can see."))
    return findings


def _credentials(session: Session, findings: list[Finding]) -> bool:
    preflight = session.stage("preflight")
    session.ctx.current_stage = preflight.key
    try:
        checks = preflight.verify(session.ctx)
    except Exception as exc:
        error = explain(exc)
        findings.append(Finding("error", "prerequisites", error.message, error.fix))
        return False
    ok = True
    for check in checks:
        if check.ok:
            if check.name == "AWS credentials":
                findings.append(Finding("ok", "credentials", check.detail))
            elif check.warning:  # held, but nearly used up: worth saying, not an error
                findings.append(Finding("warning", "quotas", check.detail))
            continue
        ok = ok and check.name != "AWS credentials"
        error = explain(CheckFailed(check.name, check.detail, check.code, check.fix))
        findings.append(Finding("error", "prerequisites", error.message, error.fix))
    return ok


def region_findings(session: Session) -> list[Finding]:
    """Every place a region hides, compared with the one the project is pinned to."""
    ctx = session.ctx
    pinned = ctx.state.data.get("region")
    if not pinned:
        return []
    findings: list[Finding] = []
    where: dict[str, str] = {}
    files = idfiles.read_identity_json(ctx.project)
    if files is not None:
        for role, pool in (("runtime", files.runtime), ("identity", files.identity)):
            match = DISCOVERY_REGION.search(pool.discovery_url)
            if match:
                where[f"the {role} pool in {idfiles.JSON_NAME}"] = match.group(1)
    try:
        data = agentcore_yaml.load(ctx.project)
    except Exception:
        data = None
    for name, entry in ((data or {}).get("agents") or {}).items():
        region = (entry.get("aws") or {}).get("region")
        if region:
            where[f"agent {name} in {agentcore_yaml.YAML_NAME}"] = str(region)
    for place, region in where.items():
        if region != pinned:
            findings.append(
                Finding(
                    "error",
                    "region",
                    f"{place} is in {region}, but the project is pinned to {pinned}: resources are split across "
                    "regions.",
                    f"Start over in one region: `agentcore-wizard cleanup`, then run again with --region {pinned}.",
                )
            )
    if not ctx.is_sandbox:
        environment = {
            "AWS_REGION": os.environ.get("AWS_REGION"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION"),
        }
        with contextlib.suppress(Exception):  # a broken profile is preflight's finding, not this one's
            environment["your profile"] = ctx.session().region_name
        for source, region in environment.items():
            if region and region != pinned:
                findings.append(
                    Finding(
                        "warning",
                        "region",
                        f"{source} says {region}, but this project is pinned to {pinned}. The wizard always uses "
                        f"{pinned}; the quickstart's `agentcore` commands would use {region}.",
                        f"Before using the toolkit here: export AWS_REGION={pinned} AWS_DEFAULT_REGION={pinned}.",
                    )
                )
    if not findings:
        findings.append(Finding("ok", "region", f"everything is in {pinned}"))
    return findings


def _stages(session: Session, verify: Verify, deep: bool) -> list[Finding]:
    findings: list[Finding] = []
    for stage in session.stages.run_order:
        if stage.key == "preflight" or session.status_of(stage) not in ("done", "drifted"):
            continue
        topic = session.stages.name(stage.key)
        outcome = verify(stage, deep)
        if outcome.ok:
            count = len(outcome.checks)
            findings.append(Finding("ok", topic, f"{count} {'check passes' if count == 1 else 'checks pass'}"))
            continue
        failed = [check for check in outcome.checks if not check.ok]
        if failed:
            details = "; ".join(f"{check.name} ({check.detail})" for check in failed)
            explained = (explain(CheckFailed(check.name, check.detail, check.code, check.fix)).fix for check in failed)
            known = next((fix for fix in explained if fix), "")
            fix = f"Run {topic} again (`agentcore-wizard run --through {stage.key}`) to repair it."
            findings.append(Finding("error", topic, f"drifted: {details}", f"{known} {fix}".strip(), stage.key))
        elif outcome.error is not None:
            findings.append(Finding("error", topic, outcome.error.message, outcome.error.fix, stage.key))
    return findings


def _recorded_errors(session: Session) -> list[Finding]:
    """What a stage failed with last time, with the fix from the known-error map when it has one."""
    findings = []
    for stage in session.stages:
        status = session.status_of(stage)
        if status not in ("failed", "needs_action"):
            continue
        error = session.error_of(stage) or {}
        message = str(error.get("message", ""))
        fix = explain(message).fix or str(error.get("fix", ""))
        level = "warning" if status == "needs_action" else "error"
        findings.append(Finding(level, session.stages.name(stage.key), f"last run: {message}", fix, stage.key))
    return findings


def _permissions(session: Session) -> list[Finding]:
    """IAM policy simulation for the caller, where IAM lets us ask; silence is not success."""
    ctx = session.ctx
    principal = str(ctx.state.resources("preflight").get("principal_arn") or "")
    source = _policy_source(principal)
    if not source:
        return []
    try:
        answer: dict[str, Any] = ctx.client("iam").simulate_principal_policy(
            PolicySourceArn=source, ActionNames=list(NEEDED_ACTIONS)
        )
    except Exception as exc:
        error = explain(exc)
        return [
            Finding(
                "warning",
                "permissions",
                f"Could not simulate your IAM permissions: {error.message}",
                "Not a problem by itself: the stages report any AccessDenied with its fix as they run.",
            )
        ]
    denied = [r["EvalActionName"] for r in answer.get("EvaluationResults", []) if r.get("EvalDecision") != "allowed"]
    if not denied:
        return [Finding("ok", "permissions", f"all {len(NEEDED_ACTIONS)} actions the stages need are allowed")]
    return [
        Finding(
            "error",
            "permissions",
            f"{source} is not allowed: {', '.join(denied)}",
            "Ask your administrator to allow these actions (the README lists them per stage).",
        )
    ]


def _policy_source(principal: str) -> str:
    """Simulation needs a user or role ARN; an assumed-role session maps to its role (without the path)."""
    match = re.match(r"^arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/", principal)
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"
    if ":iam::" in principal and (":user/" in principal or ":role/" in principal):
        return principal
    return ""


def render(findings: list[Finding]) -> str:
    marks = {"ok": "✓", "warning": "!", "error": "✗"}
    lines = []
    for finding in findings:
        lines.append(f"{marks.get(finding.level, '·')} {finding.topic}: {finding.message}")
        if finding.fix:
            lines.append(f"    fix: {finding.fix}")
    return "\n".join(lines)
