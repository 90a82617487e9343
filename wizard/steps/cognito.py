"""Stage 1: the two Cognito user pools the quickstart's `setup-cognito` makes, done idempotently."""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from wizard import ownership
from wizard.errors import NeedsAction, WizardError, absent_as_none, error_code
from wizard.events import Choose
from wizard.files import identity as idfiles
from wizard.steps.base import Check, Detection, Stage, Teardown, owned, shown_region

if TYPE_CHECKING:
    from wizard.context import Context

PROJECT_TAG = ownership.PROJECT_TAG
DOMAIN_WAIT_SECONDS = 60.0
USER_MISSING = "UserNotFoundException"


@dataclass(frozen=True)
class PoolSpec:
    role: str  # "runtime" (inbound JWTs) or "identity" (outbound OAuth, user consent)
    pool_prefix: str
    domain_prefix: str
    client_prefix: str
    user_prefix: str

    def names(self, suffix: str) -> dict[str, str]:
        return {
            "pool": f"{self.pool_prefix}-{suffix}",
            "domain": f"{self.domain_prefix}-{suffix}",
            "client": f"{self.client_prefix}-{suffix}",
            "user": f"{self.user_prefix}{suffix}",
        }


RUNTIME = PoolSpec("runtime", "AgentCoreRuntimePool", "agentcore-runtime", "RuntimeClient", "testuser")
IDENTITY = PoolSpec("identity", "AgentCoreIdentityPool", "agentcore-identity", "IdentityClient", "externaluser")
SPECS = (RUNTIME, IDENTITY)
IDENTITY_SCOPES = ["openid", "profile", "email"]


def agentcore_callback_url(region: str) -> str:
    return f"https://bedrock-agentcore.{region}.amazonaws.com/identities/oauth2/callback"


class CognitoStage(Stage):
    key = "cognito"
    requires = ("preflight",)
    adoptable = True
    creates_in_aws = True
    writes = (*idfiles.SECRET_FILES, ".gitignore")
    explanation = """\
Creates the two Amazon Cognito user pools the quickstart needs, exactly as
`agentcore identity setup-cognito` does, but with boto3 and safely:

- **Runtime pool** (inbound auth): its app client has *no secret* and allows
  `USER_PASSWORD_AUTH`; its access tokens are the bearer tokens your agent accepts.
- **Identity pool** (outbound auth): its app client *has a secret* and the OAuth `code` flow with
  `openid profile email`; it becomes the OAuth credential provider your agent uses on the user's behalf.
- A **domain** and a **test user** with a generated permanent password in each pool.

Why the wizard does it differently from the toolkit:

- Every id is recorded the moment it exists, and names carry this project's id, so a crash
  half-way is finished on the next run instead of leaving orphaned pools.
- `.agentcore_identity_cognito_user.json` and `.agentcore_identity_user.env` are created **0600
  from the first byte** (the toolkit leaves the JSON world-readable) and added to `.gitignore`.
- Passwords avoid characters that break `export $(… | xargs)`.
"""

    def command(self, ctx: Context) -> str:
        region = shown_region(ctx) or "<region>"
        return f"agentcore identity setup-cognito --region {region}"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        files = idfiles.read_identity_json(ctx.project)
        if files is None:
            return []
        r, i = files.runtime, files.identity
        return [
            ("Runtime pool", r.pool_id, False),
            ("Runtime client", r.client_id, False),
            ("Runtime test user", r.username, False),
            ("Runtime password", r.password, True),
            ("Identity pool", i.pool_id, False),
            ("Identity client", i.client_id, False),
            ("Identity client secret", i.client_secret or "", True),
            ("Identity test user", i.username, False),
            ("Identity password", i.password, True),
        ]

    # --- detect -----------------------------------------------------------------------------------

    def detect(self, ctx: Context) -> Detection:
        recorded = self.resources(ctx)
        if all(f"{spec.role}_pool_id" in recorded for spec in SPECS):
            failed = [c for c in self.verify(ctx) if not c.ok]
            if not failed:
                return Detection("done", ["both pools, clients, domains, users and files check out"])
            return self.not_done(ctx, failed)
        files = idfiles.read_identity_json(ctx.project)
        if files is not None:
            return self._adopt(ctx, files)
        return Detection("pending")

    def _names_recorded_pools(self, ctx: Context, files: idfiles.IdentityFiles) -> bool:
        recorded = self.resources(ctx)
        return all(
            recorded.get(f"{spec.role}_pool_id") == record.pool_id
            for spec, record in ((RUNTIME, files.runtime), (IDENTITY, files.identity))
        )

    def _take_over(self, ctx: Context, files: idfiles.IdentityFiles) -> bool:
        """Found identity files: adopt them if they check out; otherwise repair in place or start fresh, as the
        person chooses (headless: --repair or --start-fresh), or stop. True when the stage is done with them."""
        failed = [check for check in self._verify_against(ctx, files) if not check.ok and not _kept_locally(check)]
        if not failed:
            self._adopt(ctx, files, checked=True)
            return True
        repairs = _repairs(failed)
        wrong = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        choices: list[tuple[str, str]] = []
        if repairs is not None:
            choices.append(("repair", "Repair in place: " + "; ".join(repairs)))
        choices.append(("fresh", "Start fresh: new pools and files (the old files are kept as backups)"))
        choices.append(("stop", "Stop here and look first"))
        options = ctx.options
        if options.start_fresh:
            choice = "fresh"
        elif options.repair and repairs is not None:
            choice = "repair"
        else:
            answer = ctx.ask(
                Choose(
                    self.key,
                    text=f"{idfiles.JSON_NAME} names pools that do not check out against AWS. What now?",
                    detail=wrong,
                    choices=tuple(choices),
                    default="stop",
                )
            )
            choice = str(answer or "stop")
        if choice == "repair" and repairs is not None:
            self._repair(ctx, files, failed)
            return True
        if choice == "fresh":
            self._start_fresh(ctx, files)
            return False
        flags = "--repair (" + "; ".join(repairs) + ") or --start-fresh" if repairs is not None else "--start-fresh"
        raise NeedsAction(
            f"{idfiles.JSON_NAME} names pools that do not check out against AWS: {wrong}.",
            fix=f"Choose in the terminal UI, or run again with {flags}. Nothing was changed.",
        )

    def _repair(self, ctx: Context, files: idfiles.IdentityFiles, failed: list[Check]) -> None:
        """Mend in place what can be mended: a missing domain, app client or test user is made again in the same
        pool, a password that no longer signs in is set to the one in the files; the files are backed up first."""
        cognito = ctx.client("cognito-idp")
        creator = ctx.creator("cognito-idp")
        backups = idfiles.back_up_identity_files(ctx.project)
        ctx.log("Backed up " + ", ".join(path.name for path in backups) + ".")
        broken = {check.name for check in failed}
        for spec, record in ((RUNTIME, files.runtime), (IDENTITY, files.identity)):
            role = spec.role
            if f"{role} domain" in broken:
                prefix = record.domain_prefix or f"{spec.domain_prefix}-{uuid.uuid4().hex[:8]}"
                taken = (cognito.describe_user_pool_domain(Domain=prefix).get("DomainDescription") or {}).get(
                    "UserPoolId"
                )
                if taken:
                    prefix = f"{spec.domain_prefix}-{uuid.uuid4().hex[:8]}"
                creator.create_user_pool_domain(Domain=prefix, UserPoolId=record.pool_id)
                record.domain_prefix = prefix
                ctx.log(f"{role}: made the missing domain {prefix} again.", "success")
            if f"{role} app client" in broken:
                name = f"{spec.client_prefix}-{uuid.uuid4().hex[:8]}"
                record.client_id = self._create_client(ctx, creator, spec, record.pool_id, name)
                ctx.log(f"{role}: made a new app client {record.client_id} in the same pool.", "success")
            if f"{role} test user" in broken or (role == "runtime" and "runtime test user can sign in" in broken):
                get_user = partial(cognito.admin_get_user, UserPoolId=record.pool_id, Username=record.username)
                exists = absent_as_none(get_user, USER_MISSING)
                if exists is None:
                    creator.admin_create_user(
                        UserPoolId=record.pool_id, Username=record.username, MessageAction="SUPPRESS"
                    )
                cognito.admin_set_user_password(
                    UserPoolId=record.pool_id, Username=record.username, Password=record.password, Permanent=True
                )
                ctx.log(f"{role}: set {record.username}'s password to the one in the files.", "success")
        identity = cognito.describe_user_pool_client(
            UserPoolId=files.identity.pool_id, ClientId=files.identity.client_id
        )["UserPoolClient"]
        files.identity.client_secret = identity.get("ClientSecret") or files.identity.client_secret
        idfiles.write_identity_files(ctx.project, files)
        ctx.log(f"Rewrote {idfiles.JSON_NAME} and {idfiles.ENV_NAME} with what AWS holds (0600).", "success")
        self._adopt(ctx, files)

    def _start_fresh(self, ctx: Context, files: idfiles.IdentityFiles) -> None:
        """New pools and files; the old files are kept as backups, and whatever they name that still exists is
        listed as left behind (it is not the wizard's to delete)."""
        backups = idfiles.back_up_identity_files(ctx.project)
        cognito = ctx.client("cognito-idp")
        left = [
            f"{spec.role} pool {record.pool_id}"
            for spec, record in ((RUNTIME, files.runtime), (IDENTITY, files.identity))
            if not _pool_gone(cognito, record.pool_id)
        ]
        ctx.log("Starting fresh. Kept the old files as " + ", ".join(path.name for path in backups) + ".", "warning")
        if left:
            ctx.log(
                "Left in AWS, as they were (not the wizard's to delete): " + ", ".join(left) + ". Delete them yourself "
                "when nobody needs them: `aws cognito-idp delete-user-pool --user-pool-id ID`.",
                "warning",
            )
        for suffix in ("pool_id", "client_id", "domain", "username", "origin", "pool_name"):
            for spec in SPECS:
                ctx.state.forget(self.key, f"{spec.role}_{suffix}")
        for name in idfiles.SECRET_FILES:
            (ctx.project / name).unlink(missing_ok=True)

    def _adopt(self, ctx: Context, files: idfiles.IdentityFiles, checked: bool = False) -> Detection:
        """Identity files made by the toolkit or by hand: check them against AWS (unless just checked), then take
        them over."""
        evidence = []
        if checked:  # only how the files are kept is left to look at; AWS matched a moment ago
            failed = [c for c in self._check_files(ctx, files) if not c.ok]
        else:
            failed = [c for c in self._verify_against(ctx, files) if not c.ok]
        # How the files are kept (mode, .gitignore) is mended here; what AWS holds is not, and the files stay
        # untouched until the person chooses.
        local = [c for c in failed if _kept_locally(c)]
        mismatched = [c for c in failed if c not in local]
        if mismatched:
            wrong = [f"{c.name}: {c.detail}" for c in mismatched]
            return Detection("needs_action", [f"Found {idfiles.JSON_NAME}, but it does not match AWS:", *wrong])
        if local and (ctx.state.read_only or ctx.cleaning_up):
            # Status and a dry run change nothing; cleanup leaves what is not the wizard's as it is.
            evidence.append("the next run makes the identity files 0600 and git-ignores them")
        elif local:
            # The toolkit writes the JSON world-readable: rewrite both whole, 0600 from the first byte.
            idfiles.write_identity_files(ctx.project, files)
            evidence.append("rewrote the identity files 0600 and git-ignored them")
        cognito = ctx.client("cognito-idp")
        names = []
        for spec, record in ((RUNTIME, files.runtime), (IDENTITY, files.identity)):
            pool = cognito.describe_user_pool(UserPoolId=record.pool_id)["UserPool"]
            names.append(str(pool.get("Name") or ""))
            tags = pool.get("UserPoolTags") or {}
            project_id = tags.get(PROJECT_TAG)
            # Our own pools, found again after the state file was lost: still ours to clean up.
            ours = bool(project_id) and ctx.state.data.get("project_id") in (None, project_id)
            if ours and not ctx.state.data.get("project_id"):
                ctx.state.update(project_id=project_id)
            role = spec.role
            self.record_many(
                ctx,
                **{
                    f"{role}_pool_id": record.pool_id,
                    f"{role}_client_id": record.client_id,
                    f"{role}_domain": record.domain_prefix,
                    f"{role}_username": record.username,
                    f"{role}_origin": ownership.CREATED if ours else ownership.ADOPTED,
                },
            )
        origins = {self.resources(ctx).get(f"{spec.role}_origin") for spec in SPECS}
        # The agentcore CLI names its pools AgentCoreRuntimePool-… and AgentCoreIdentityPool-….
        by_cli = all(TOOLKIT_POOL_NAME.fullmatch(name) for name in names)
        maker = "by the agentcore CLI (its pool names)" if by_cli else "by hand (not the agentcore CLI's pool names)"
        whose = owned(ownership.CREATED if origins == {ownership.CREATED} else ownership.ADOPTED, maker)
        verb = "Found" if ctx.state.read_only else "Adopted"
        evidence.insert(0, f"{verb} the pools named in {idfiles.JSON_NAME}; they check out against AWS ({whose}).")
        return Detection("done", evidence)

    # --- run --------------------------------------------------------------------------------------

    def run(self, ctx: Context) -> None:  # verified independently by the engine
        files = idfiles.read_identity_json(ctx.project)
        # Identity files this project did not write (the agentcore CLI's, by hand, or its state was lost) are
        # never replaced silently.
        if files is not None and not self._names_recorded_pools(ctx, files) and self._take_over(ctx, files):
            return
        suffix = ownership.name_suffix(ctx)
        ctx.log(f"Creating (or finding) both pools in {ctx.region} with suffix {suffix}.")
        ctx.progress(0.05, "pools")
        # The two pools do not depend on each other: build them side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {spec.role: pool.submit(self._ensure_pool, ctx, spec, suffix) for spec in SPECS}
            built = {role: future.result() for role, future in futures.items()}
        ctx.checkpoint()
        ctx.progress(0.8, "passwords")
        files = self._with_passwords(ctx, built["runtime"], built["identity"])
        ctx.checkpoint()
        idfiles.write_identity_files(ctx.project, files)
        ctx.log(f"Wrote {idfiles.JSON_NAME} and {idfiles.ENV_NAME} (0600, git-ignored).", "success")
        ctx.progress(1.0, "done")

    def _ensure_pool(self, ctx: Context, spec: PoolSpec, suffix: str) -> idfiles.PoolRecord:
        cognito = ctx.client("cognito-idp")
        names = spec.names(suffix)
        role = spec.role
        pool_id = self._ensure_user_pool(ctx, spec, names["pool"])
        ctx.checkpoint()
        domain = self._ensure_domain(ctx, spec, pool_id, names["domain"])
        ctx.checkpoint()
        client_id = self._ensure_client(ctx, spec, pool_id, names["client"])
        ctx.checkpoint()
        username = names["user"]

        def existing_user() -> Any:
            return absent_as_none(lambda: cognito.admin_get_user(UserPoolId=pool_id, Username=username), USER_MISSING)

        if existing_user():
            ctx.log(f"{role}: test user {username} already exists.")
        else:
            # SUPPRESS: the user has no e-mail, and an invitation would only confuse.
            creator = ctx.creator("cognito-idp")
            ownership.create_once(
                ctx,
                f"the {role} test user {username}",
                lambda: creator.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS"),
                existing_user,
            )
            ctx.log(f"{role}: created test user {username}.")
        self.record(ctx, f"{role}_username", username)
        return idfiles.PoolRecord(
            pool_id=pool_id,
            client_id=client_id,
            discovery_url=idfiles.discovery_url(ctx.region, pool_id),
            domain_prefix=domain,
            username=username,
            password="",
        )

    def _ensure_user_pool(self, ctx: Context, spec: PoolSpec, name: str) -> str:
        cognito = ctx.client("cognito-idp")
        key = f"{spec.role}_pool_id"
        recorded = self.resources(ctx).get(key)
        if recorded:
            if absent_as_none(lambda: cognito.describe_user_pool(UserPoolId=recorded)) is not None:
                ctx.log(f"{spec.role}: pool {recorded} already exists.")
                return str(recorded)
            ctx.log(f"{spec.role}: recorded pool {recorded} is gone; making a new one.", "warning")
            for suffix in ("pool_id", "client_id", "domain", "username"):
                ctx.state.forget(self.key, f"{spec.role}_{suffix}")
        # Only a run that recorded its intent to create this pool can have left it behind; looking otherwise
        # would list every pool of the account (slow where there are many, as in a shared workshop account).
        if self.resources(ctx).get(f"{spec.role}_pool_name") == name:
            found = self._find_pool_by_name(ctx, name)
            if found:
                ctx.log(f"{spec.role}: adopting pool {found} ({name}) left by an interrupted run.")
                self.record_many(ctx, **{key: found, f"{spec.role}_origin": ownership.CREATED})
                return found
        self.record(ctx, f"{spec.role}_pool_name", name)  # the intent, before the pool exists
        creator = ctx.creator("cognito-idp")
        pool_id = ownership.create_once(
            ctx,
            f"the {spec.role} user pool {name}",
            lambda: str(
                creator.create_user_pool(
                    PoolName=name,
                    AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
                    UserPoolTags=ownership.project_tags(ctx),
                )["UserPool"]["Id"]
            ),
            lambda: self._find_pool_by_name(ctx, name),
        )
        self.record_many(ctx, **{key: pool_id, f"{spec.role}_origin": ownership.CREATED})
        ctx.log(f"{spec.role}: created pool {pool_id} ({name}).", "success")
        return pool_id

    def _find_pool_by_name(self, ctx: Context, name: str) -> str | None:
        """A pool with this project's name and tag: only ours, never a look-alike."""
        cognito = ctx.client("cognito-idp")
        paginator = cognito.get_paginator("list_user_pools")
        candidates = [
            pool["Id"]
            for page in paginator.paginate(MaxResults=60)
            for pool in page["UserPools"]
            if pool["Name"] == name
        ]
        for pool_id in candidates:
            tags = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("UserPoolTags") or {}
            if tags.get(PROJECT_TAG) == ownership.project_id(ctx):
                return str(pool_id)
        return None

    def _ensure_domain(self, ctx: Context, spec: PoolSpec, pool_id: str, wanted: str) -> str:
        cognito = ctx.client("cognito-idp")
        key = f"{spec.role}_domain"
        domain = str(self.resources(ctx).get(key) or wanted)
        description = cognito.describe_user_pool_domain(Domain=domain).get("DomainDescription") or {}
        owner = description.get("UserPoolId")
        if owner == pool_id:
            self.record(ctx, key, domain)
            return domain
        if owner:
            # Domain prefixes are global across all AWS accounts: pick another.
            domain = f"{wanted}-{uuid.uuid4().hex[:6]}"
            ctx.log(f"{spec.role}: domain {wanted} is taken elsewhere; using {domain}.", "warning")
        # Record the name first: if we die during the call, the next run checks this name.
        self.record(ctx, key, domain)
        creator = ctx.creator("cognito-idp")

        def domain_is_ours() -> bool | None:
            found = cognito.describe_user_pool_domain(Domain=domain).get("DomainDescription") or {}
            return True if found.get("UserPoolId") == pool_id else None

        ownership.create_once(
            ctx,
            f"the {spec.role} domain {domain}",
            lambda: bool(creator.create_user_pool_domain(Domain=domain, UserPoolId=pool_id) or True),
            domain_is_ours,
        )
        ctx.log(f"{spec.role}: created domain {domain}.", "success")
        self._wait_for_domain(ctx, spec, domain)
        return domain

    def _wait_for_domain(self, ctx: Context, spec: PoolSpec, domain: str) -> None:
        cognito = ctx.client("cognito-idp")
        started = time.monotonic()
        while True:
            status = (cognito.describe_user_pool_domain(Domain=domain).get("DomainDescription") or {}).get("Status")
            if status == "ACTIVE":
                return
            waited = time.monotonic() - started
            if waited > DOMAIN_WAIT_SECONDS:
                ctx.log(
                    f"{spec.role}: domain {domain} is still {status}; it is only needed at consent.",
                    "warning",
                )
                return
            ctx.progress(None, f"{spec.role}: waiting for domain {domain} ({waited:.0f}s)")
            ctx.checkpoint()
            time.sleep(2)

    def _ensure_client(self, ctx: Context, spec: PoolSpec, pool_id: str, name: str) -> str:
        cognito = ctx.client("cognito-idp")
        key = f"{spec.role}_client_id"
        recorded = self.resources(ctx).get(key)
        if recorded and absent_as_none(
            lambda: cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=recorded)
        ):
            return str(recorded)

        def by_name() -> str | None:
            for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
                for client in page["UserPoolClients"]:
                    if client["ClientName"] == name:
                        return str(client["ClientId"])
            return None

        found = by_name()
        if found:
            self.record(ctx, key, found)
            return found
        creator = ctx.creator("cognito-idp")
        client_id = ownership.create_once(
            ctx,
            f"the {spec.role} app client {name}",
            lambda: self._create_client(ctx, creator, spec, pool_id, name),
            by_name,
        )
        self.record(ctx, key, client_id)
        ctx.log(f"{spec.role}: created app client {client_id}.", "success")
        return client_id

    def _create_client(self, ctx: Context, creator: Any, spec: PoolSpec, pool_id: str, name: str) -> str:
        if spec is RUNTIME:
            answer = creator.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=name,
                GenerateSecret=False,
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            )
        else:
            answer = creator.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=name,
                GenerateSecret=True,
                CallbackURLs=[agentcore_callback_url(ctx.region)],
                AllowedOAuthFlows=["code"],
                AllowedOAuthScopes=IDENTITY_SCOPES,
                AllowedOAuthFlowsUserPoolClient=True,
                SupportedIdentityProviders=["COGNITO"],
            )
        return str(answer["UserPoolClient"]["ClientId"])

    def _with_passwords(
        self, ctx: Context, runtime: idfiles.PoolRecord, identity: idfiles.PoolRecord
    ) -> idfiles.IdentityFiles:
        """Keep passwords the files already hold for these very users; set new ones otherwise."""
        cognito = ctx.client("cognito-idp")
        existing = idfiles.read_identity_json(ctx.project)
        for spec, record in ((RUNTIME, runtime), (IDENTITY, identity)):
            old = getattr(existing, spec.role, None) if existing else None
            keep = (
                old is not None
                and old.pool_id == record.pool_id
                and old.username == record.username
                and bool(old.password)
            )
            if keep and spec is RUNTIME and old is not None:
                keep = self._password_works(ctx, record.client_id, record.username, old.password)
            if keep and old is not None:
                record.password = old.password
                continue
            record.password = idfiles.generate_password()
            cognito.admin_set_user_password(
                UserPoolId=record.pool_id, Username=record.username, Password=record.password, Permanent=True
            )
            ctx.log(f"{spec.role}: set a permanent password for {record.username}.")
        secret = cognito.describe_user_pool_client(UserPoolId=identity.pool_id, ClientId=identity.client_id)
        identity.client_secret = secret["UserPoolClient"].get("ClientSecret")
        if not identity.client_secret:
            raise WizardError(
                f"The identity app client {identity.client_id} has no secret.",
                fix="Delete that app client in the Cognito console and run this stage again.",
            )
        return idfiles.IdentityFiles(runtime=runtime, identity=identity)

    def _password_works(self, ctx: Context, client_id: str, username: str, password: str) -> bool:
        try:
            answer = ctx.client("cognito-idp").initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except Exception as exc:
            if error_code(exc) in (
                "NotAuthorizedException",
                "UserNotFoundException",
                "PasswordResetRequiredException",
            ):
                return False
            raise
        return "AuthenticationResult" in answer

    # --- verify -----------------------------------------------------------------------------------

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        files = idfiles.read_identity_json(ctx.project)
        checks: list[Check] = []
        if files is None:
            checks.append(Check("identity files", False, f"{idfiles.JSON_NAME} is missing or unreadable"))
            return checks
        recorded = self.resources(ctx)
        for spec, record in ((RUNTIME, files.runtime), (IDENTITY, files.identity)):
            if recorded.get(f"{spec.role}_pool_id") not in (None, record.pool_id):
                checks.append(
                    Check(
                        f"{spec.role} pool in files",
                        False,
                        f"{idfiles.JSON_NAME} names {record.pool_id}, the wizard recorded "
                        f"{recorded.get(f'{spec.role}_pool_id')}",
                    )
                )
        return checks + self._verify_against(ctx, files)

    def _verify_against(self, ctx: Context, files: idfiles.IdentityFiles) -> list[Check]:
        with ThreadPoolExecutor(max_workers=4) as pool:
            runtime = pool.submit(self._check_pool, ctx, RUNTIME, files.runtime)
            identity = pool.submit(self._check_pool, ctx, IDENTITY, files.identity)
            login = pool.submit(self._check_login, ctx, files.runtime)
            local = pool.submit(self._check_files, ctx, files)
            return runtime.result() + identity.result() + [login.result()] + local.result()

    def _check_pool(self, ctx: Context, spec: PoolSpec, record: idfiles.PoolRecord) -> list[Check]:
        cognito = ctx.client("cognito-idp")
        role = spec.role
        if absent_as_none(lambda: cognito.describe_user_pool(UserPoolId=record.pool_id)) is None:
            return [Check(f"{role} pool exists", False, f"{record.pool_id} does not exist")]
        checks = [Check(f"{role} pool exists", True, record.pool_id)]
        description = (
            (cognito.describe_user_pool_domain(Domain=record.domain_prefix).get("DomainDescription") or {})
            if record.domain_prefix
            else {}
        )
        if description.get("UserPoolId") == record.pool_id:
            checks.append(Check(f"{role} domain", True, f"{record.domain_prefix} ({description.get('Status')})"))
        else:
            checks.append(Check(f"{role} domain", False, f"{record.domain_prefix or '(none)'} is not on this pool"))
        client = absent_as_none(
            lambda: cognito.describe_user_pool_client(UserPoolId=record.pool_id, ClientId=record.client_id)
        )
        if client is None:
            checks.append(Check(f"{role} app client", False, f"{record.client_id} does not exist"))
        else:
            checks.append(self._check_client(spec, client["UserPoolClient"], record))
        user = absent_as_none(
            lambda: cognito.admin_get_user(UserPoolId=record.pool_id, Username=record.username), USER_MISSING
        )
        if user is None:
            checks.append(Check(f"{role} test user", False, f"{record.username} does not exist"))
        else:
            status = user.get("UserStatus")
            checks.append(Check(f"{role} test user", status == "CONFIRMED", f"{record.username} is {status}"))
        return checks

    def _check_client(self, spec: PoolSpec, client: dict[str, Any], record: idfiles.PoolRecord) -> Check:
        name = f"{spec.role} app client"
        if spec is RUNTIME:
            if client.get("ClientSecret"):
                return Check(name, False, "has a secret; USER_PASSWORD_AUTH would then need SECRET_HASH")
            if "ALLOW_USER_PASSWORD_AUTH" not in (client.get("ExplicitAuthFlows") or []):
                return Check(name, False, "does not allow USER_PASSWORD_AUTH")
            return Check(name, True, f"{record.client_id}: no secret, USER_PASSWORD_AUTH")
        problems = []
        if not client.get("ClientSecret"):
            problems.append("has no secret")
        if "code" not in (client.get("AllowedOAuthFlows") or []):
            problems.append("lacks the code flow")
        if "openid" not in (client.get("AllowedOAuthScopes") or []):
            problems.append("lacks the openid scope")
        if record.client_secret and client.get("ClientSecret") and record.client_secret != client["ClientSecret"]:
            problems.append(f"its secret differs from the one in {idfiles.JSON_NAME}")
        if problems:
            return Check(name, False, "; ".join(problems))
        return Check(name, True, f"{record.client_id}: secret, code flow, openid")

    def _check_login(self, ctx: Context, runtime: idfiles.PoolRecord) -> Check:
        try:
            works = self._password_works(ctx, runtime.client_id, runtime.username, runtime.password)
        except Exception as exc:
            return Check("runtime test user can sign in", False, f"{type(exc).__name__}")
        return Check(
            "runtime test user can sign in",
            works,
            "USER_PASSWORD_AUTH returned tokens" if works else "the password in the files is rejected",
        )

    def _check_files(self, ctx: Context, files: idfiles.IdentityFiles) -> list[Check]:
        checks = []
        for name in idfiles.SECRET_FILES:
            mode = idfiles.file_mode(ctx.project / name)
            ok = mode is not None and mode & 0o077 == 0
            detail = "missing" if mode is None else f"mode {mode:o}"
            checks.append(Check(f"{name} private", ok, detail))
        env = idfiles.read_env_file(ctx.project) if (ctx.project / idfiles.ENV_NAME).exists() else {}
        expected = files.env_values()
        mismatched = [key for key in idfiles.ENV_KEYS if env.get(key) != expected[key]]
        checks.append(
            Check(
                f"{idfiles.ENV_NAME} matches",
                not mismatched,
                "all 11 variables agree with the JSON" if not mismatched else "differs: " + ", ".join(mismatched),
            )
        )
        ignored = (ctx.project / ".gitignore").read_text().splitlines() if (ctx.project / ".gitignore").exists() else []
        missing = [name for name in idfiles.SECRET_FILES if name not in {line.strip() for line in ignored}]
        checks.append(Check("secret files git-ignored", not missing, ", ".join(missing) or ".gitignore lists both"))
        return checks

    # --- undo -------------------------------------------------------------------------------------

    def _claim_left_behind(self, ctx: Context) -> None:
        """A pool whose create answered but whose id was never recorded (a kill in between): find it by the
        intended name and this project's tag, so that cleanup deletes it too."""
        recorded = self.resources(ctx)
        for spec in SPECS:
            name = recorded.get(f"{spec.role}_pool_name")
            if name and not recorded.get(f"{spec.role}_pool_id"):
                found = self._find_pool_by_name(ctx, str(name))
                if found:
                    self.record_many(ctx, **{f"{spec.role}_pool_id": found, f"{spec.role}_origin": ownership.CREATED})
                else:
                    ctx.state.forget(self.key, f"{spec.role}_pool_name")

    def undo(self, ctx: Context) -> None:
        """Delete the domains and pools this wizard created (never adopted ones), then the files."""
        cognito = ctx.client("cognito-idp")
        self._claim_left_behind(ctx)
        recorded = self.resources(ctx)
        for spec in SPECS:
            role = spec.role
            pool_id = recorded.get(f"{role}_pool_id")
            if not pool_id or recorded.get(f"{role}_origin") != "created":
                continue
            domain = recorded.get(f"{role}_domain")
            if domain:
                delete_domain(cognito, str(domain), str(pool_id))
                ctx.state.forget(self.key, f"{role}_domain")
            try:
                cognito.delete_user_pool(UserPoolId=pool_id)
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
            if not _pool_gone(cognito, str(pool_id)):
                raise WizardError(
                    f"The {role} pool {pool_id} is still there after deleting it.",
                    fix="Run cleanup again in a minute; the identity files stay until the pools are gone.",
                )
            ctx.log(f"{role}: deleted pool {pool_id}.", "success")
            for suffix in ("pool_id", "client_id", "username", "origin", "pool_name"):
                ctx.state.forget(self.key, f"{role}_{suffix}")
        # The files are the only record of the pools: they go last, and only once no pool they name remains
        # that the wizard made, and none they name is someone else's.
        remaining = self.resources(ctx)
        if any(remaining.get(f"{spec.role}_pool_id") for spec in SPECS):
            ctx.log("Kept the identity files: they name pools the wizard did not create.", "warning")
            return
        present = [ctx.project / name for name in idfiles.SECRET_FILES if (ctx.project / name).exists()]
        for path in present:
            path.unlink(missing_ok=True)
        if present:
            ctx.log("Deleted the identity files (passwords and client secret).", "success")
        for stale in list(remaining):
            ctx.state.forget(self.key, stale)

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        cognito = ctx.client("cognito-idp")
        self._claim_left_behind(ctx)
        recorded = self.resources(ctx)
        plan: list[Teardown] = []
        theirs = False
        for spec in SPECS:
            pool_id = recorded.get(f"{spec.role}_pool_id")
            if not pool_id:
                continue
            domain = recorded.get(f"{spec.role}_domain")
            what = f"{spec.role} user pool {pool_id}" + (f" and its domain {domain}" if domain else "")
            if recorded.get(f"{spec.role}_origin") != "created":
                theirs = True
                plan.append(Teardown(self.key, what, False, "the wizard found it, it did not create it"))
                continue
            plan.append(
                Teardown(
                    self.key,
                    what,
                    True,
                    gone=partial(_pool_gone, cognito, str(pool_id)),
                )
            )
        present = [name for name in idfiles.SECRET_FILES if (ctx.project / name).exists()]
        if present:
            files = " and ".join(present)
            if theirs:
                plan.append(Teardown(self.key, files, False, "they name a pool the wizard did not create"))
            else:
                plan.append(
                    Teardown(
                        self.key,
                        f"{files}, last, once the pools are gone",
                        True,
                        gone=lambda: not any((ctx.project / name).exists() for name in present),
                    )
                )
        return plan


TOOLKIT_POOL_NAME = re.compile(r"AgentCore(?:Runtime|Identity)Pool-[A-Za-z0-9]+")


def _kept_locally(check: Check) -> bool:
    """A check on how the files are kept (their mode, .gitignore): the wizard mends these without asking."""
    return check.name.endswith(" private") or check.name == "secret files git-ignored"


def _repairs(failed: list[Check]) -> list[str] | None:
    """What repairing in place would do for these failed checks, or None when something cannot be mended in place
    (a pool is gone, a client has the wrong settings)."""
    done: list[str] = []
    for check in failed:
        name = check.name
        if name.endswith(" pool exists") or name.endswith(" pool in files"):
            return None
        if name.endswith(" domain"):
            done.append(f"make the {name} again")
        elif name.endswith(" app client"):
            if "does not exist" not in check.detail:
                return None
            done.append(f"make a new {name} in the same pool")
        elif name.endswith(" test user") or name == "runtime test user can sign in":
            done.append(f"set the {name.split(' test user')[0]} test user's password to the one in the files")
        else:
            done.append("rewrite the files from what AWS holds")
    return list(dict.fromkeys(done))


def delete_domain(cognito: Any, domain: str, pool_id: str) -> None:
    """A pool's domain (a pool with one cannot be deleted); one already gone, or no longer on that pool, is done."""
    try:
        cognito.delete_user_pool_domain(Domain=domain, UserPoolId=pool_id)
    except Exception as exc:
        if error_code(exc) not in ("ResourceNotFoundException", "InvalidParameterException"):
            raise


def _pool_gone(cognito: Any, pool_id: str) -> bool:
    return absent_as_none(lambda: cognito.describe_user_pool(UserPoolId=pool_id)) is None
