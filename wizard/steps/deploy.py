"""Stage 7: direct code deploy (zip on S3), execution role, runtime READY, return URL on its workload identity."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

from wizard import ownership
from wizard.agent_logs import log_group
from wizard.errors import Declined, NeedsAction, WizardError, absent_as_none, error_code
from wizard.files import agentcore_yaml
from wizard.files import identity as idfiles
from wizard.files.execution_role import POLICY_NAME, RoleInputs, inline_policy, trust_policy
from wizard.files.package import Target, build_dependencies, build_zip, sources_digest, user_cache
from wizard.state import wizard_dir
from wizard.steps.base import Check, Detection, Stage, Teardown, cli_maker, deleted_or_gone, owned, stage_ref
from wizard.steps.configure import agent_name, identity_files

if TYPE_CHECKING:
    from wizard.context import Context

READY_TIMEOUT = 900.0
SANDBOX_AGENT_TIMEOUT = 900.0  # a first environment from PyPI on a slow link
ROLE_RETRY_SECONDS = 90.0
# Where wizards before the OAuth2CallbackUrl header kept the return URL; a runtime deployed then still has it.
RETURN_URL_ENV = "AGENTCORE_OAUTH2_RETURN_URL"
S3_MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
IAM_MISSING = ("NoSuchEntity", "NoSuchEntityException")


def runtime_python(entry: dict[str, Any]) -> tuple[str, str]:
    """("PYTHON_3_12", "3.12") from the YAML's runtime_type."""
    runtime = str(entry.get("runtime_type") or agentcore_yaml.python_runtime())
    return runtime, runtime.removeprefix("PYTHON_").replace("_", ".")


class DeployStage(Stage):
    key = "deploy"
    requires = ("provider", "workload")
    adoptable = True  # a runtime the toolkit deployed, or one whose record was lost, is found from the YAML
    creates_in_aws = True
    uses = ("agent_name", "provider_name", "model_id", "return_url", "execution_role")
    writes = (agentcore_yaml.YAML_NAME,)
    explanation = """\
Deploys the agent by **direct code deploy**: a zip of `agent.py` and its dependencies (installed for
the runtime's linux/arm64) uploaded to an S3 bucket the wizard owns, then an **AgentCore Runtime**
with the JWT authorizer from `.bedrock_agentcore.yaml`. No container and no CodeBuild.

- The zip never holds the identity files, `.env*`, the wizard's state, `.git` or virtual environments,
  and the build stops if any packed file contains one of this project's secrets. (The toolkit ships the
  secret files inside the zip.)
- The **execution role** gets a least-privilege policy, shown before it is created: logs, tracing, the
  chosen model, workload access tokens, `GetResourceOauth2Token` on this provider and the runtime's own
  workload identity, and the provider's secret. A role you bring (`--execution-role`) is used as it is.
- The wizard waits until the runtime and its DEFAULT endpoint are READY and shows any `failureReason`
  verbatim; then it allows its return URL on the runtime's own workload identity, which is the one
  the deployed agent really uses.
- An unchanged agent is not redeployed; the dependency layer is rebuilt only when requirements change.
"""

    def command(self, ctx: Context) -> str:
        return "agentcore deploy"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        recorded = self.resources(ctx)
        rows = [("Agent", agent_name(ctx), False)]
        for label, key in (
            ("Runtime ARN", "runtime_arn"),
            ("Execution role", "role_arn"),
            ("Code", "s3_uri"),
            ("Runtime workload identity", "runtime_workload"),
        ):
            if recorded.get(key):
                rows.append((label, str(recorded[key]), False))
        return rows

    # --- detect / verify --------------------------------------------------------------------------

    def detect(self, ctx: Context) -> Detection:
        if not self.resources(ctx).get("runtime_id"):
            self._rebuild_from_yaml(ctx)
        recorded = self.resources(ctx)
        if not recorded.get("runtime_id"):
            return Detection("pending")
        failed = [check for check in self.verify(ctx) if not check.ok]
        origin = owned(recorded.get("runtime_origin") or ownership.CREATED, cli_maker(ctx))
        if failed:
            # Whose the runtime is matters most when it is not finished: the next run takes it over, not anew.
            unfinished = self.not_done(ctx, failed)
            return Detection(unfinished.status, [f"runtime {recorded['runtime_id']} ({origin})", *unfinished.evidence])
        return Detection("done", [f"the runtime is READY with this project's authorizer ({origin})"])

    def outdated(self, ctx: Context) -> str | None:
        deployed = self.resources(ctx).get("deployed_sources")
        if deployed and deployed != sources_digest(ctx.project):
            return "the agent's code changed since it was deployed"
        return None

    def _rebuild_from_yaml(self, ctx: Context) -> None:
        """No record of a deploy (the agentcore CLI deployed, or the state file was lost): what the YAML names,
        checked against AWS, with whose each part is: the runtime, its role, the bucket and the code's key."""
        try:
            data = agentcore_yaml.load(ctx.project)
        except WizardError:
            return
        entry = (data or {"agents": {}})["agents"].get(agent_name(ctx))
        if not isinstance(entry, dict) or self._existing_runtime(ctx, agent_name(ctx), entry, announce=False) is None:
            return
        aws = entry.get("aws") or {}
        role_arn = str(aws.get("execution_role") or "")
        if role_arn and not self.resources(ctx).get("role_arn"):
            iam = ctx.client("iam")
            role_name = role_arn.rsplit("/", 1)[-1]
            role = absent_as_none(lambda: iam.get_role(RoleName=role_name), *IAM_MISSING)
            if role is not None:
                mine = ownership.iam_tag(role["Role"]) == ownership.project_id(ctx)
                origin = ownership.CREATED if mine else ownership.ADOPTED
                self.record_many(ctx, role_name=role_name, role_arn=role["Role"]["Arn"], role_origin=origin)
        s3_path = str(aws.get("s3_path") or "")
        # Only the wizard's bucket: the toolkit's (bedrock-agentcore-codebuild-sources-…) is its own to clean.
        if s3_path.startswith("s3://agentcore-wizard-") and not self.resources(ctx).get("bucket"):
            bucket, _, prefix = s3_path.removeprefix("s3://").partition("/")
            key = f"{prefix.strip('/')}/{agent_name(ctx)}/deployment.zip".lstrip("/")
            self.record_many(ctx, bucket=bucket, s3_keys=[key], s3_uri=f"s3://{bucket}/{key}")

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        recorded = self.resources(ctx)
        runtime_id = recorded.get("runtime_id")
        if not runtime_id:
            return [Check("runtime deployed", False, "nothing deployed yet")]
        control = ctx.client("bedrock-agentcore-control")
        runtime = absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=runtime_id))
        if runtime is None:
            return [Check("runtime exists", False, f"{runtime_id} was deleted")]
        data = agentcore_yaml.load(ctx.project) or {"agents": {}}
        entry = data["agents"].get(agent_name(ctx)) or {}
        checks = [
            Check("runtime READY", runtime.get("status") == "READY", str(runtime.get("status"))),
            Check(
                "authorizer matches the YAML",
                runtime.get("authorizerConfiguration") == entry.get("authorizer_configuration"),
                "customJWTAuthorizer as in .bedrock_agentcore.yaml",
            ),
            Check(
                "YAML records the runtime",
                (entry.get("bedrock_agentcore") or {}).get("agent_arn") == runtime["agentRuntimeArn"],
                runtime["agentRuntimeArn"],
            ),
        ]
        changed = self.outdated(ctx)
        if recorded.get("deployed_sources"):  # what this folder deployed (the agentcore CLI's deploy has no record)
            detail = f"{changed} (agent.py, requirements.txt or another packed file): deploy again"
            checks.append(
                Check("deployed code is this folder's", changed is None, detail if changed else "as deployed")
            )
        endpoint = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT")
        checks.append(Check("DEFAULT endpoint READY", endpoint.get("status") == "READY", str(endpoint.get("status"))))
        workload = str((runtime.get("workloadIdentityDetails") or {}).get("workloadIdentityArn", "")).split("/")[-1]
        urls = control.get_workload_identity(name=workload).get("allowedResourceOauth2ReturnUrls") or []
        checks.append(Check("return URL on the runtime's workload identity", ctx.return_url in urls, workload))
        if recorded.get("role_origin") == "created":
            policy = ctx.client("iam").get_role_policy(RoleName=recorded["role_name"], PolicyName=POLICY_NAME)
            document = json.dumps(policy["PolicyDocument"])
            checks.append(
                Check("execution role grants the Identity actions", "GetResourceOauth2Token" in document, POLICY_NAME)
            )
        return checks

    # --- run --------------------------------------------------------------------------------------

    def run(self, ctx: Context) -> None:
        name = agent_name(ctx)
        data = agentcore_yaml.load(ctx.project)
        if not data or name not in data["agents"]:
            raise WizardError(
                f"{agentcore_yaml.YAML_NAME} has no agent {name}.", fix=f"Run {stage_ref('configure')} first."
            )
        entry = data["agents"][name]
        files = identity_files(ctx)
        provider = ctx.state.resources("provider")
        if not provider.get("arn") or not provider.get("client_secret_arn"):
            raise WizardError("The credential provider is not recorded.", fix=f"Run {stage_ref('provider')} first.")
        account = str(ctx.state.data.get("account"))
        region = ctx.region

        ctx.settings.record("return_url")  # before AWS holds it: later runs listen where the browser returns
        ctx.progress(0.05, "packaging")
        s3_uri, s3_key = self._package_and_upload(ctx, entry, files, name, account, region)
        ctx.checkpoint()
        ctx.progress(0.35, "execution role")
        role_arn = self._execution_role(ctx, name, account, region, provider)
        ctx.checkpoint()
        ctx.progress(0.5, "runtime")
        # Before AWS holds them: later runs carry on with the same values, and cannot switch them silently.
        ctx.settings.record(*self.uses)
        runtime = self._create_or_update(ctx, name, entry, role_arn, s3_key)
        ctx.checkpoint()
        self._wait_ready(ctx, runtime["agentRuntimeId"])
        if ctx.is_sandbox and ctx.endpoint:
            self._wait_for_sandbox_agent(ctx, ctx.endpoint, str(runtime["agentRuntimeId"]))
        ctx.progress(0.9, "return URL")
        self._allow_return_url(ctx, runtime)
        self._write_yaml(ctx, name, runtime, role_arn, s3_uri)
        ctx.progress(1.0, "done")

    def _package_and_upload(
        self, ctx: Context, entry: dict[str, Any], files: idfiles.IdentityFiles, name: str, account: str, region: str
    ) -> tuple[str, str]:
        _, python_version = runtime_python(entry)
        wheelhouse = ctx.options.wheelhouse
        target = Target(
            python_version, find_links=(str(wheelhouse),) if wheelhouse else (), no_index=wheelhouse is not None
        )
        cache = wizard_dir(ctx.project) / "build"
        layers = user_cache()
        ctx.log(f"Installing the dependencies for linux/arm64, Python {python_version} (cached in {layers}) …")
        ctx.progress(0.05, "installing the agent's dependencies for linux/arm64")
        deps, rebuilt = build_dependencies(layers, ctx.project / "requirements.txt", target, log=PipProgress(ctx))
        ctx.log("Built the dependency layer." if rebuilt else "Dependencies unchanged: reusing the cached layer.")
        secrets = [files.runtime.password, files.identity.password, files.identity.client_secret or ""]
        package = build_zip(ctx.project, cache / "agent.zip", deps, secrets)
        ctx.log(
            f"Packed {', '.join(package.source_files)} with the dependencies ({package.path.stat().st_size} bytes)."
        )
        bucket = self._bucket(ctx, account, region)
        # Under this project's prefix (two folders with the same agent never share, and delete, one object), at
        # the key the toolkit's own deploy would use for that prefix: `<prefix>/<agent>/deployment.zip`.
        key = f"{s3_prefix(ctx)}/{name}/deployment.zip"
        s3 = ctx.client("s3")
        head = absent_as_none(lambda: s3.head_object(Bucket=bucket, Key=key), *S3_MISSING)
        if head is not None and (head.get("Metadata") or {}).get("sha256") == package.sha256:
            ctx.log(f"s3://{bucket}/{key} is already there (same content).")
        else:
            keys = list(self.resources(ctx).get("s3_keys") or [])
            if key not in keys:
                self.record(ctx, "s3_keys", [*keys, key])  # before it exists: cleanup looks for it either way
            s3.put_object(Bucket=bucket, Key=key, Body=package.path.read_bytes(), Metadata={"sha256": package.sha256})
            ctx.log(f"Uploaded s3://{bucket}/{key}.", "success")
        self.record_many(
            ctx,
            s3_uri=f"s3://{bucket}/{key}",
            package_sha256=package.sha256,
            package_sources=sources_digest(ctx.project),
        )
        return f"s3://{bucket}/{key}", key

    def _bucket(self, ctx: Context, account: str, region: str) -> str:
        bucket = f"agentcore-wizard-{account}-{region}"
        s3 = ctx.client("s3")

        def exists() -> bool | None:
            head = absent_as_none(lambda: s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account), *S3_MISSING)
            return True if head is not None else None

        if exists() is None:
            configuration = (
                {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            self.record_many(ctx, bucket=bucket, bucket_origin=ownership.CREATING)  # the intent
            creator = ctx.creator("s3")

            def create() -> bool:
                try:
                    creator.create_bucket(Bucket=bucket, **configuration)
                except Exception as exc:
                    # "Already yours" means another of your projects made it a moment ago: it exists, not ours.
                    if error_code(exc) != "BucketAlreadyOwnedByYou":
                        raise
                    ctx.state.forget(self.key, "bucket_origin")
                    return True
                self.record(ctx, "bucket_origin", ownership.CREATED)
                return True

            ownership.create_once(ctx, f"the bucket {bucket}", create, exists)
            if self.resources(ctx).get("bucket_origin") == ownership.CREATING:
                self.record(ctx, "bucket_origin", ownership.CREATED)  # found after a lost answer: ours
            ctx.log(f"Created the wizard's bucket {bucket}.", "success")
        self.record(ctx, "bucket", bucket)
        return bucket

    def _execution_role(self, ctx: Context, name: str, account: str, region: str, provider: dict[str, Any]) -> str:
        if ctx.settings.execution_role:
            role = ctx.settings.execution_role
            arn = role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"
            self.record(ctx, "role_arn", arn)
            self.record(ctx, "role_origin", "yours")
            ctx.log("Using your execution role as it is (its trust policy is not changed; cleanup keeps it).")
            return arn
        recorded = self.resources(ctx)
        if recorded.get("role_origin") == ownership.ADOPTED and recorded.get("role_arn"):
            # The role the runtime was deployed with before the wizard (the agentcore CLI's): used as it is,
            # like one you bring, and never changed or deleted.
            ctx.log(f"Using the runtime's execution role {recorded.get('role_name')} as it is (cleanup keeps it).")
            return str(recorded["role_arn"])
        inputs = RoleInputs(
            account=account,
            region=region,
            agent_name=name,
            provider_arn=str(provider["arn"]),
            provider_secret_arn=str(provider["client_secret_arn"]),
            model_id=ctx.settings.model_id,
        )
        policy = json.dumps(inline_policy(inputs), indent=2)
        iam = ctx.client("iam")
        # The agent's name carries the participant in a workshop.
        own_name = f"AgentCoreWizard-{name}-{ownership.project_id(ctx)[:8]}"[:64]
        role_name = str(recorded.get("role_name") or own_name)

        def existing_role() -> dict[str, Any] | None:
            found = absent_as_none(lambda: iam.get_role(RoleName=role_name), *IAM_MISSING)
            return dict(found["Role"]) if found else None

        existing = existing_role()
        if existing is not None:
            arn = str(existing["Arn"])
            if self.resources(ctx).get("role_origin") != ownership.CREATED:
                # Named after this project (and tagged so): an earlier run made it before it could record that.
                tag = ownership.iam_tag(existing)
                mine = tag == ownership.project_id(ctx) or (tag == "" and role_name == own_name)
                self.record(ctx, "role_origin", ownership.CREATED if mine else ownership.ADOPTED)
        else:
            question = f"Create the execution role {role_name} with this policy?"
            if not ctx.confirm(question, True, "Create the role", "Not now", detail=policy):
                raise Declined(
                    "No execution role was created.",
                    fix="Run the stage again, or pass --reconfigure --execution-role ROLE to use one of yours.",
                )
            self.record_many(ctx, role_name=role_name, role_origin=ownership.CREATING)  # the intent
            creator = ctx.creator("iam")
            made = ownership.create_once(
                ctx,
                f"the execution role {role_name}",
                lambda: dict(
                    creator.create_role(
                        RoleName=role_name,
                        AssumeRolePolicyDocument=json.dumps(trust_policy(inputs)),
                        Description="Execution role of an AgentCore runtime deployed by agentcore-wizard",
                        Tags=ownership.iam_tags(ctx),
                    )["Role"]
                ),
                existing_role,
            )
            arn = str(made["Arn"])
            self.record_many(ctx, role_origin=ownership.CREATED, role_arn=arn)
            ctx.log(f"Created the execution role {role_name}.", "success")
        self.record(ctx, "role_name", role_name)
        self.record(ctx, "role_arn", arn)
        iam.put_role_policy(RoleName=role_name, PolicyName=POLICY_NAME, PolicyDocument=policy)
        return str(arn)

    def _runtime_request(self, ctx: Context, entry: dict[str, Any], role_arn: str, key: str) -> dict[str, Any]:
        runtime_type, _ = runtime_python(entry)
        bucket = self.resources(ctx)["bucket"]
        return {
            "agentRuntimeArtifact": {
                "codeConfiguration": {
                    "code": {"s3": {"bucket": bucket, "prefix": key}},
                    "runtime": runtime_type,
                    "entryPoint": ["agent.py"],
                }
            },
            "roleArn": role_arn,
            "networkConfiguration": {"networkMode": "PUBLIC"},
            "protocolConfiguration": {"serverProtocol": "HTTP"},
            "authorizerConfiguration": entry["authorizer_configuration"],
            # The return URL is not here: it travels with each call (the OAuth2CallbackUrl header).
            "environmentVariables": {"AGENTCORE_PROVIDER_NAME": ctx.settings.provider_name},
        }

    def _create_or_update(
        self, ctx: Context, name: str, entry: dict[str, Any], role_arn: str, key: str
    ) -> dict[str, Any]:
        control = ctx.client("bedrock-agentcore-control")
        request = self._runtime_request(ctx, entry, role_arn, key)
        current = self._existing_runtime(ctx, name, entry)
        if current is not None:
            runtime_id = str(current["agentRuntimeId"])
            recorded = self.resources(ctx)
            # The code, the authorizer, the role and the environment (the return URL) all decide what runs.
            unchanged = recorded.get("deployed_sha256") == recorded.get("package_sha256") and all(
                current.get(field) == request[field]
                for field in ("authorizerConfiguration", "roleArn", "environmentVariables")
            )
            if unchanged and recorded.get("deployed_sha256"):
                ctx.log("The agent is unchanged since the last deploy; nothing to update.")
                return dict(current)
            answer = self._with_role_retry(
                ctx, lambda: control.update_agent_runtime(agentRuntimeId=runtime_id, **request)
            )
            self.record_many(
                ctx, deployed_sha256=recorded.get("package_sha256"), deployed_sources=recorded.get("package_sources")
            )
            ctx.log(f"Updated runtime {runtime_id} to this project's agent.", "success")
            return {**dict(current), **dict(answer)}
        # The intent first, with the client token that makes sending the create again harmless.
        token = str(self.resources(ctx).get("client_token") or uuid.uuid4())
        self.record_many(ctx, runtime_name=name, client_token=token, runtime_origin=ownership.CREATING)
        creator = ctx.creator("bedrock-agentcore-control")

        def create() -> dict[str, Any]:
            try:
                return dict(
                    creator.create_agent_runtime(
                        agentRuntimeName=name, clientToken=token, tags=ownership.project_tags(ctx), **request
                    )
                )
            except Exception as exc:
                if error_code(exc) != "ConflictException":
                    raise
                raise self._not_ours(ctx, name) from exc

        answer = self._with_role_retry(
            ctx,
            lambda: ownership.create_once(ctx, f"the runtime {name}", create, lambda: self._runtime_named(ctx, name)),
        )
        self.record_many(
            ctx,
            runtime_id=answer["agentRuntimeId"],
            runtime_arn=answer["agentRuntimeArn"],
            runtime_origin=ownership.CREATED,
            deployed_sha256=self.resources(ctx).get("package_sha256"),
            deployed_sources=self.resources(ctx).get("package_sources"),
        )
        ctx.log(f"Created runtime {answer['agentRuntimeId']}.", "success")
        return dict(answer)

    def _existing_runtime(
        self, ctx: Context, name: str, entry: dict[str, Any], announce: bool = True
    ) -> dict[str, Any] | None:
        """The runtime this project deploys to, if there is one: the recorded one; else the one the YAML names
        (the agentcore CLI deployed it from this folder); else the one an interrupted create made. Whatever is
        found is recorded with its origin; a recorded runtime deleted out of band is forgotten."""
        control = ctx.client("bedrock-agentcore-control")
        recorded = self.resources(ctx)
        runtime_id = recorded.get("runtime_id")
        if runtime_id:
            current = absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=runtime_id))
            if current is not None:
                return dict(current)
            ctx.log(f"The recorded runtime {runtime_id} was deleted; deploying it again.", "warning")
            # Its client token goes too: sent again, it would answer with the deleted runtime.
            for stale in (
                "runtime_id", "runtime_arn", "runtime_workload", "deployed_sha256", "deployed_sources",
                "runtime_origin", "client_token",
            ):  # fmt: skip
                ctx.state.forget(self.key, stale)
        named = (entry.get("bedrock_agentcore") or {}).get("agent_id")
        if named and named != runtime_id:
            current = absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=named))
            if current is not None:
                origin = ownership.settle(ctx, None, ownership.agentcore_tag(ctx, str(current["agentRuntimeArn"])))
                if announce:
                    whose = owned(origin, cli_maker(ctx))
                    ctx.log(
                        f"{agentcore_yaml.YAML_NAME} names runtime {named} ({whose}): deploying to it.",
                        "warning" if origin != ownership.CREATED else "info",
                    )
                self.record_many(ctx, runtime_id=named, runtime_arn=current["agentRuntimeArn"], runtime_origin=origin)
                return dict(current)
        if recorded.get("runtime_origin") == ownership.CREATING and recorded.get("runtime_name") == name:
            found = self._runtime_named(ctx, name)
            if found is not None:
                ctx.log(f"Found runtime {found['agentRuntimeId']}, made by an interrupted run.", "warning")
                self.record_many(
                    ctx,
                    runtime_id=found["agentRuntimeId"],
                    runtime_arn=found["agentRuntimeArn"],
                    runtime_origin=ownership.CREATED,
                )
                return dict(control.get_agent_runtime(agentRuntimeId=found["agentRuntimeId"]))
        return None

    def _runtime_named(self, ctx: Context, name: str) -> dict[str, Any] | None:
        """This project's runtime of that name (its tag, or the intent recorded before creating it), else None."""
        control = ctx.client("bedrock-agentcore-control")
        token = None
        while True:
            page = control.list_agent_runtimes(**({"nextToken": token} if token else {}), maxResults=100)
            for runtime in page.get("agentRuntimes") or []:
                if runtime.get("agentRuntimeName") == name:
                    tag = ownership.agentcore_tag(ctx, str(runtime["agentRuntimeArn"]))
                    intent = self.resources(ctx).get("runtime_origin")
                    return dict(runtime) if ownership.settle(ctx, intent, tag) == ownership.CREATED else None
            token = page.get("nextToken")
            if not token:
                return None

    def _not_ours(self, ctx: Context, name: str) -> WizardError:
        """A runtime of this name exists and is not this project's: say whose it may be and what to do."""
        control = ctx.client("bedrock-agentcore-control")
        found = None
        token = None
        while found is None:
            page = control.list_agent_runtimes(**({"nextToken": token} if token else {}), maxResults=100)
            found = next((r for r in page.get("agentRuntimes") or [] if r.get("agentRuntimeName") == name), None)
            token = page.get("nextToken")
            if not token:
                break
        ctx.state.forget(self.key, "runtime_origin")  # the create was refused: nothing of ours is in the making
        which = f" ({found['agentRuntimeId']})" if found else ""
        return NeedsAction(
            f"A runtime named {name}{which} already exists in this account and region, and it is not this project's: "
            f"neither the wizard's tag nor {agentcore_yaml.YAML_NAME} says it is.",
            fix="Give this agent its own name: run again with --reconfigure --agent-name NAME (in a workshop, "
            "everyone starts with identity_demo). If it is yours after all (deployed from this folder with the "
            f"agentcore CLI), put its id in {agentcore_yaml.YAML_NAME} under bedrock_agentcore.agent_id and run again.",
        )

    def _with_role_retry(self, ctx: Context, call: Any) -> Any:
        """A new role takes a while to reach AgentCore: 'Role validation failed' is retried, visibly."""
        started = time.monotonic()
        while True:
            try:
                return call()
            except Exception as exc:
                message = str(exc)
                waited = time.monotonic() - started
                if (
                    error_code(exc) != "ValidationException"
                    or "role" not in message.lower()
                    or waited > ROLE_RETRY_SECONDS
                ):
                    raise
                ctx.progress(None, f"waiting for the new role to reach AgentCore ({waited:.0f}s)")
                ctx.checkpoint()
                time.sleep(5)

    def _wait_ready(self, ctx: Context, runtime_id: str) -> None:
        control = ctx.client("bedrock-agentcore-control")
        started = time.monotonic()
        while True:
            runtime = control.get_agent_runtime(agentRuntimeId=runtime_id)
            endpoint = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT")
            states = (runtime.get("status"), endpoint.get("status"))
            waited = time.monotonic() - started
            if states == ("READY", "READY"):
                ctx.log(f"Runtime and DEFAULT endpoint are READY after {waited:.0f}s.", "success")
                return
            failed = [item for item in (runtime, endpoint) if str(item.get("status", "")).endswith("FAILED")]
            if failed:
                raise WizardError(
                    f"The runtime failed: {failed[0].get('failureReason') or failed[0].get('status')}",
                    fix="Fix what the message names (often the role or the code), then run the stage again.",
                )
            if waited > READY_TIMEOUT:
                raise WizardError(
                    f"The runtime is still {states[0]} (endpoint {states[1]}) after {READY_TIMEOUT:.0f}s.",
                    fix="Run the stage again to keep waiting; nothing is created twice.",
                )
            ctx.progress(None, f"runtime {states[0]}, endpoint {states[1]} ({waited:.0f}s)")
            ctx.checkpoint()
            # Often READY within seconds (the sandbox, small updates): look often at first, then settle down.
            time.sleep(0.25 if waited < 5 else 1.0 if waited < 30 else 3.0)

    def _wait_for_sandbox_agent(self, ctx: Context, endpoint: str, runtime_id: str) -> None:
        """The sandbox runs the deployed code: show it building the agent's environment and starting it, so
        the first call is not the one that waits (and a failure is named here, not only at the first call)."""
        started = time.monotonic()
        shown = ""
        last_second = -1
        while True:
            status = sandbox_agent_status(endpoint, runtime_id)
            phase = str((status or {}).get("phase", ""))
            if status is None or phase in ("stand-in", "stopped"):
                return  # a sandbox that does not run code (the stand-in switch, or an older sandbox)
            waited = time.monotonic() - started
            if phase == "running":
                ctx.log(
                    f"The sandbox runs your agent ({status.get('detail')}): dependencies "
                    f"{'built in' if status.get('buildSeconds', 0) > 1 else 'ready after'} "
                    f"{status.get('buildSeconds', 0):.1f}s, started in {status.get('startSeconds', 0):.1f}s.",
                    "success",
                )
                return
            if phase == "failed":
                ctx.log(
                    f"The sandbox cannot run your agent: {status.get('detail')} Its output is in the log group "
                    f"{status.get('logGroup')}; the first call will answer the runtime's error.",
                    "warning",
                )
                return
            if waited > SANDBOX_AGENT_TIMEOUT:
                ctx.log(
                    f"The sandbox is still {phase} after {SANDBOX_AGENT_TIMEOUT:.0f}s ({status.get('detail')}); "
                    "the first call waits for it or answers the runtime's error.",
                    "warning",
                )
                return
            if phase != shown:
                ctx.log(f"Sandbox: {phase} …")
                shown = phase
            if int(waited) != last_second:  # once a second is enough for a line that only counts up
                last_second = int(waited)
                ctx.progress(None, f"{last_second}s · sandbox: {phase}")  # seconds first: the end may be cut
            ctx.checkpoint()
            time.sleep(0.2)

    def _allow_return_url(self, ctx: Context, runtime: dict[str, Any]) -> None:
        control = ctx.client("bedrock-agentcore-control")
        details = runtime.get("workloadIdentityDetails") or control.get_agent_runtime(
            agentRuntimeId=runtime["agentRuntimeId"]
        ).get("workloadIdentityDetails")
        workload = str((details or {}).get("workloadIdentityArn", "")).split("/")[-1]
        if not workload:
            raise WizardError("The runtime reported no workload identity.", fix="Run the stage again.")
        self.record(ctx, "runtime_workload", workload)
        urls = list(control.get_workload_identity(name=workload).get("allowedResourceOauth2ReturnUrls") or [])
        if ctx.return_url not in urls:
            control.update_workload_identity(name=workload, allowedResourceOauth2ReturnUrls=[*urls, ctx.return_url])
            ctx.log(f"Allowed the return URL on the runtime's own workload identity {workload}.", "success")

    def _write_yaml(self, ctx: Context, name: str, runtime: dict[str, Any], role_arn: str, s3_uri: str) -> None:
        data = agentcore_yaml.load(ctx.project)
        assert data is not None
        bucket = s3_uri.removeprefix("s3://").split("/", 1)[0]
        updated = agentcore_yaml.with_deployment(
            data,
            name,
            str(runtime["agentRuntimeId"]),
            str(runtime["agentRuntimeArn"]),
            role_arn,
            f"s3://{bucket}/{s3_prefix(ctx)}",
        )
        if updated != data:
            agentcore_yaml.save(ctx.project, updated)
            ctx.log(f"Recorded the runtime in {agentcore_yaml.YAML_NAME} (bedrock_agentcore).")

    # --- cleanup ----------------------------------------------------------------------------------

    @staticmethod
    def _code_kept(recorded: dict[str, Any]) -> bool:
        return bool(recorded.get("runtime_id")) and recorded.get("runtime_origin") == ownership.ADOPTED

    def _settle_intents(self, ctx: Context) -> None:
        """Creates a kill interrupted (the intent recorded, the answer lost): what they made is this project's,
        so cleanup deletes it too; what they never made is forgotten."""
        recorded = self.resources(ctx)
        if recorded.get("runtime_origin") == ownership.CREATING and not recorded.get("runtime_id"):
            found = self._runtime_named(ctx, str(recorded.get("runtime_name") or ""))
            if found is not None:
                self.record_many(
                    ctx,
                    runtime_id=found["agentRuntimeId"],
                    runtime_arn=found["agentRuntimeArn"],
                    runtime_origin=ownership.CREATED,
                )
            else:
                for stale in ("runtime_origin", "runtime_name", "client_token"):
                    ctx.state.forget(self.key, stale)
        if recorded.get("role_origin") == ownership.CREATING and recorded.get("role_name"):
            iam = ctx.client("iam")
            role = absent_as_none(lambda: iam.get_role(RoleName=recorded["role_name"]), *IAM_MISSING)
            if role is not None:
                self.record_many(ctx, role_origin=ownership.CREATED, role_arn=role["Role"]["Arn"])
            else:
                for stale in ("role_name", "role_origin"):
                    ctx.state.forget(self.key, stale)
        if recorded.get("bucket_origin") == ownership.CREATING and recorded.get("bucket"):
            s3 = ctx.client("s3")
            exists = absent_as_none(lambda: s3.head_bucket(Bucket=recorded["bucket"]), *S3_MISSING) is not None
            self.record(ctx, "bucket_origin", ownership.CREATED if exists else "")

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        self._settle_intents(ctx)
        recorded = self.resources(ctx)
        plan: list[Teardown] = []
        runtime_id = recorded.get("runtime_id")
        if runtime_id and recorded.get("runtime_origin") == ownership.ADOPTED:
            plan.append(
                Teardown(
                    self.key,
                    f"AgentCore runtime {runtime_id}",
                    False,
                    "it was deployed before the wizard (the agentcore CLI's "
                    f"`agentcore destroy --agent {agent_name(ctx)}` deletes it)",
                )
            )
        elif runtime_id:
            control = ctx.client("bedrock-agentcore-control")
            plan.append(
                Teardown(
                    self.key,
                    f"AgentCore runtime {runtime_id} (its DEFAULT endpoint and workload identity go with it)",
                    True,
                    gone=lambda: absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=runtime_id)) is None,
                )
            )
            group = log_group(str(runtime_id))
            logs = ctx.client("logs")
            plan.append(
                Teardown(
                    self.key,
                    f"its log group {group}, if the runtime wrote one",
                    True,
                    gone=lambda: not logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups"),
                )
            )
        role_name = recorded.get("role_name") or str(recorded.get("role_arn", "")).rsplit("/", 1)[-1]
        if role_name and recorded.get("role_origin") == "created":
            iam = ctx.client("iam")
            plan.append(
                Teardown(
                    self.key,
                    f"execution role {role_name} (inline policies first)",
                    True,
                    gone=lambda: absent_as_none(lambda: iam.get_role(RoleName=role_name), *IAM_MISSING) is None,
                )
            )
        elif role_name:
            plan.append(Teardown(self.key, f"execution role {role_name}", False, "you brought it (--execution-role)"))
        bucket = recorded.get("bucket")
        if bucket and self._code_kept(recorded):
            plan.append(Teardown(self.key, f"the code in s3://{bucket}", False, "the runtime it keeps runs it"))
        elif bucket:
            s3 = ctx.client("s3")
            for key in recorded.get("s3_keys") or []:
                plan.append(
                    Teardown(
                        self.key,
                        f"s3://{bucket}/{key}",
                        True,
                        gone=partial(_s3_gone, s3, bucket, key),
                    )
                )
            if bucket.startswith("agentcore-wizard-"):
                # Shared by the account's wizard projects, whichever made it: it goes once nothing is in it.
                plan.append(Teardown(self.key, f"the wizard's bucket {bucket}, if nothing else is in it", True))
            else:
                plan.append(Teardown(self.key, f"bucket {bucket}", False, "it is not the wizard's"))
        build = wizard_dir(ctx.project) / "build"
        if build.exists():
            plan.append(
                Teardown(self.key, "the build cache .agentcore-wizard/build", True, gone=lambda: not build.exists())
            )
        return plan

    def undo(self, ctx: Context) -> None:
        self._settle_intents(ctx)
        recorded = self.resources(ctx)
        runtime_id = recorded.get("runtime_id")
        if runtime_id and recorded.get("runtime_origin") == ownership.ADOPTED:
            ctx.log(
                f"Kept runtime {runtime_id}: it was deployed before the wizard "
                f"(`agentcore destroy --agent {agent_name(ctx)}` deletes it)."
            )
            for stale in (
                "runtime_id",
                "runtime_arn",
                "runtime_workload",
                "deployed_sha256",
                "deployed_sources",
                "runtime_origin",
            ):
                ctx.state.forget(self.key, stale)
        elif runtime_id:
            control = ctx.client("bedrock-agentcore-control")
            found = absent_as_none(lambda: control.delete_agent_runtime(agentRuntimeId=runtime_id)) is not None
            self._wait_gone(ctx, str(runtime_id))
            ctx.log(*deleted_or_gone(f"runtime {runtime_id}", found))
            logs = ctx.client("logs")
            group = log_group(str(runtime_id))
            if absent_as_none(lambda: logs.delete_log_group(logGroupName=group)) is not None:
                ctx.log(f"Deleted log group {group}.", "success")
            self._forget_in_yaml(ctx, str(recorded.get("runtime_arn") or ""))
            for stale in (
                "runtime_id", "runtime_arn", "runtime_workload", "deployed_key", "deployed_sha256",
                "deployed_sources", "runtime_origin", "runtime_name", "client_token",
            ):  # fmt: skip
                ctx.state.forget(self.key, stale)
        ctx.checkpoint()
        role_name = recorded.get("role_name")
        if role_name and recorded.get("role_origin") == "created":
            found = delete_role(ctx.client("iam"), str(role_name))
            ctx.log(*deleted_or_gone(f"execution role {role_name}", found))
        for stale in ("role_name", "role_arn", "role_origin"):
            ctx.state.forget(self.key, stale)
        ctx.checkpoint()
        bucket = recorded.get("bucket")
        if bucket and self._code_kept(recorded):
            ctx.log(f"Kept the code in s3://{bucket}: the runtime cleanup keeps runs it.")
            for stale in ("bucket", "bucket_origin", "s3_keys", "s3_uri", "package_sha256"):
                ctx.state.forget(self.key, stale)
        elif bucket:
            s3 = ctx.client("s3")
            for key in list(recorded.get("s3_keys") or []):
                found = absent_as_none(partial(s3.delete_object, Bucket=bucket, Key=key), *S3_MISSING) is not None
                ctx.log(*deleted_or_gone(f"s3://{bucket}/{key}", found))
                remaining = [k for k in self.resources(ctx).get("s3_keys") or [] if k != key]
                self.record(ctx, "s3_keys", remaining)
            if str(bucket).startswith("agentcore-wizard-"):
                listing = absent_as_none(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1), *S3_MISSING)
                if listing is not None and listing.get("KeyCount", 0):
                    ctx.log(f"Kept bucket {bucket}: it holds objects the wizard did not put there.", "warning")
                elif listing is not None:
                    absent_as_none(lambda: s3.delete_bucket(Bucket=bucket), *S3_MISSING)
                    ctx.log(f"Deleted bucket {bucket}.", "success")
            for stale in ("bucket", "bucket_origin", "s3_keys", "s3_uri", "package_sha256"):
                ctx.state.forget(self.key, stale)
        build = wizard_dir(ctx.project) / "build"
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)

    def _forget_in_yaml(self, ctx: Context, runtime_arn: str) -> None:
        """The YAML must not name a deleted runtime (the toolkit would try to invoke it)."""
        try:
            data = agentcore_yaml.load(ctx.project)
        except WizardError:
            return
        if not data:
            return
        changed = False
        for entry in data["agents"].values():
            deployed = entry.get("bedrock_agentcore")
            if isinstance(deployed, dict) and runtime_arn and deployed.get("agent_arn") == runtime_arn:
                deployed["agent_id"] = deployed["agent_arn"] = deployed["agent_session_id"] = None
                changed = True
        if changed:
            agentcore_yaml.save(ctx.project, data)

    def _wait_gone(self, ctx: Context, runtime_id: str) -> None:
        """DeleteAgentRuntime returns at once; the role and the provider must outlive the runtime."""
        control = ctx.client("bedrock-agentcore-control")
        started = time.monotonic()
        while absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=runtime_id)) is not None:
            waited = time.monotonic() - started
            if waited > READY_TIMEOUT:
                raise WizardError(
                    f"Runtime {runtime_id} is still being deleted after {int(waited)} s.",
                    fix="Run cleanup again later: it carries on where it stopped.",
                )
            ctx.progress(0.1, f"waiting for runtime {runtime_id} to go ({int(waited)}s)")
            ctx.checkpoint()
            time.sleep(1.0 if waited < 20 else 5.0)


def delete_role(iam: Any, role_name: str) -> bool:
    """An IAM role with its inline policies (deleted first) and managed ones (detached first); False when it was
    already gone."""
    names = (absent_as_none(lambda: iam.list_role_policies(RoleName=role_name), *IAM_MISSING) or {}).get(
        "PolicyNames", []
    )
    for policy in names:
        absent_as_none(partial(iam.delete_role_policy, RoleName=role_name, PolicyName=policy), *IAM_MISSING)
    attached = (absent_as_none(lambda: iam.list_attached_role_policies(RoleName=role_name), *IAM_MISSING) or {}).get(
        "AttachedPolicies", []
    )
    for policy in attached:
        arn = policy["PolicyArn"]
        absent_as_none(partial(iam.detach_role_policy, RoleName=role_name, PolicyArn=arn), *IAM_MISSING)
    return absent_as_none(lambda: iam.delete_role(RoleName=role_name), *IAM_MISSING) is not None


def _s3_gone(s3: Any, bucket: str, key: str) -> bool:
    return absent_as_none(lambda: s3.head_object(Bucket=bucket, Key=key), *S3_MISSING) is None


def s3_prefix(ctx: Context) -> str:
    """This project's prefix in the wizard's bucket; `aws.s3_path` names it, as the toolkit expects a prefix."""
    return f"agentcore-wizard/{ownership.name_suffix(ctx)}"


class PipProgress:
    """pip's output as progress that moves (packages resolved, then installed, with the time so far), and only
    its summary and its errors in the activity log."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.started = time.monotonic()
        self.resolved = 0

    def __call__(self, line: str) -> None:
        text = line.strip()
        elapsed = f"{time.monotonic() - self.started:.0f}s"
        if text.startswith("Collecting "):
            self.resolved += 1
            self.ctx.progress(None, f"linux/arm64 dependencies: {self.resolved} packages resolved ({elapsed})")
        elif text.startswith("Installing collected packages:"):
            count = len(text.split(":", 1)[1].split(","))
            self.ctx.progress(None, f"linux/arm64 dependencies: installing {count} packages ({elapsed})")
        elif text.startswith(("Successfully installed", "ERROR", "WARNING: Retrying")):
            self.ctx.log(text[:500], "error" if text.startswith("ERROR") else "info")
        elif text.startswith("pip "):
            self.ctx.log(text[:500])  # the command itself, as the wizard runs it


def sandbox_agent_status(endpoint: str, runtime_id: str) -> dict[str, Any] | None:
    """How far the sandbox is with running a runtime's code (its admin route, loopback only); None if it
    does not say."""
    import json
    import urllib.error
    import urllib.request

    url = f"{endpoint.rstrip('/')}/__agentcore_wizard_sandbox__/runtimes/{runtime_id}/agent"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (the sandbox on 127.0.0.1)
            value = json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return value if isinstance(value, dict) else None
