"""Stage 0: who am I in AWS, which region, and can this folder and Python do the job."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from wizard import quotas
from wizard.errors import GENERIC_AWS_FIX, GENERIC_FIX, CheckFailed, WizardError, error_code, explain
from wizard.steps.base import Check, Detection, Stage, shown_region

if TYPE_CHECKING:
    from wizard.context import Context

MIN_PYTHON = (3, 10)
QUOTA_CHECK = "OAuth2 credential provider quota"
FEW_LEFT = 5  # fewer providers than this left in the account: said before anything is made
# How many people will run the quickstart in this account (a workshop room): each makes one provider.
ROOM_SIZE_ENV = "AGENTCORE_WIZARD_ROOM_SIZE"


class PreflightStage(Stage):
    key = "preflight"
    explanation = """\
Checks what every later stage relies on, **before** anything is created:

- **AWS credentials** resolve (STS `GetCallerIdentity`), so you see *which account and principal*
  the wizard will create resources in.
- **One region is pinned** for the whole project and passed explicitly to every AWS call. The
  quickstart's commands each pick a region their own way (and silently fall back to `us-west-2`),
  which is how resources end up split across regions. The wizard never guesses.
- **Python 3.10+** and a **writable project folder**.
"""

    def command(self, ctx: Context) -> str:
        profile = f" --profile {ctx.options.profile}" if ctx.options.profile else ""
        region = shown_region(ctx)
        region_arg = f" --region {region}" if region else ""
        return f"aws sts get-caller-identity{profile}{region_arg}\npython3 --version"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        data = ctx.state.data
        rows = [("Mode", "sandbox (nothing is created in AWS)" if ctx.is_sandbox else "AWS", False)]
        if data.get("region"):
            rows.append(("Region", f"{data['region']} ({data.get('region_source', '')})", False))
        if data.get("account"):
            rows.append(("Account", str(data["account"]), False))
        principal = self.resources(ctx).get("principal_arn")
        if principal:
            rows.append(("Principal", str(principal), False))
        if ctx.settings.participant:
            rows.append(("Participant", f"{ctx.settings.participant} (every name the wizard makes carries it)", False))
        if ctx.settings.options.workshop:
            # Its address only: the join code stays in the command that was given.
            where = ctx.settings.options.workshop.split("?", 1)[0].split("#", 1)[0]
            rows.append(("Workshop", f"{where} (your progress goes to its dashboard, never a secret)", False))
        return rows

    def detect(self, ctx: Context) -> Detection:
        if ctx.state.stage(self.key).get("status") == "done":
            return Detection("done", ["prerequisites were checked before"])
        return Detection("pending")

    def run(self, ctx: Context) -> list[Check]:
        region, source = ctx.settings.resolve_region()
        ctx.log(f"Region {region} (from {source}).")
        checks = self._checks(ctx, region)
        failed = [check for check in checks if not check.ok]
        if failed:
            first = failed[0]
            raise explain(CheckFailed(first.name, first.detail, first.code, first.fix))
        for check in checks:
            if check.name == QUOTA_CHECK:
                ctx.log(check.detail, "warning" if check.warning else "info")
        if ctx.state.data.get("region") != region:
            ctx.log(f"Pinned region {region} for this project.", "success")
        ctx.settings.record_region(region, source)
        return checks

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        region = ctx.state.data.get("region") or ctx.region
        return self._checks(ctx, region)

    def _checks(self, ctx: Context, region: str) -> list[Check]:
        room = room_size()  # bad input stops here, before any call
        with ThreadPoolExecutor(max_workers=3) as pool:
            identity = pool.submit(self._caller_identity, ctx)
            folder = pool.submit(_folder_writable, ctx)
            # In AWS only: an account shared by a room (or by earlier runs that left providers behind) can be full
            # before stage 5, and this says so at stage 0. A sandbox enforces the same quota, but starts empty.
            quota = None if ctx.is_sandbox else pool.submit(provider_quota, ctx, room)
            checks = [identity.result(), folder.result()]
            if quota is not None:
                checks.append(quota.result())
        checks.append(_python_version())
        checks.append(Check("region pinned", True, region))
        return checks

    def _caller_identity(self, ctx: Context) -> Check:
        try:
            answer = ctx.client("sts").get_caller_identity()
        except Exception as exc:  # every credential problem becomes a check that carries its fix
            error = explain(exc)
            code, fix = error.code, error.fix
            if fix in ("", GENERIC_AWS_FIX, GENERIC_FIX):
                code = "credentials_unusable"
                fix = explain(CheckFailed("AWS credentials", error.message, code)).fix
            return Check("AWS credentials", False, error.message, code=code, fix=fix)
        account, arn = answer["Account"], answer["Arn"]
        recorded = ctx.state.data.get("account")
        if recorded and recorded != account:
            return Check(
                "AWS credentials",
                False,
                f"credentials now point at account {account}, but this project was set up in {recorded}",
                code="account_changed",
            )
        if not recorded:
            ctx.state.update(account=account)
            self.record(ctx, "principal_arn", arn)
        return Check("AWS credentials", True, f"account {account} as {arn}")


def room_size() -> int | None:
    """The number of people the account is shared by, from ROOM_SIZE_ENV; None when it is not set."""
    value = os.environ.get(ROOM_SIZE_ENV, "").strip()
    if not value:
        return None
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise WizardError(
            f"{ROOM_SIZE_ENV}={value!r} is not a number of people.",
            fix=f"Unset it, or set it to how many will run the quickstart in this account, e.g. {ROOM_SIZE_ENV}=30",
            code="bad_room_size",
        )
    return size


def provider_quota(ctx: Context, room: int | None = None) -> Check:
    """How many OAuth2 credential providers the account holds against its quota. Advisory: a failure to count or
    to read the quota is a note, never a failed check (the wizard may not be allowed to list, and stage 5 explains
    a full account anyway)."""
    quota = quotas.OAUTH2_PROVIDERS
    try:
        control = ctx.client("bedrock-agentcore-control")  # resolves the credentials, once for the session
        if ctx.session().get_credentials() is None:
            # Nothing to sign with: the credentials check says so with its fix; no request is sent for this one.
            return Check(QUOTA_CHECK, True, "Did not count the OAuth2 credential providers (no credentials); skipped.")
        pages = control.get_paginator("list_oauth2_credential_providers")
        listed = pages.paginate(PaginationConfig={"PageSize": 20})  # the most a page may hold
        used = sum(len(page.get("credentialProviders") or []) for page in listed)
    except Exception as exc:  # AccessDenied, or anything else: skipped, and said so
        return Check(QUOTA_CHECK, True, f"Did not count the OAuth2 credential providers ({_reason(exc)}); skipped.")
    limit, source = _quota_limit(ctx, quota)
    left = max(limit - used, 0)
    said = f"{used} of {limit} OAuth2 credential providers in this account and region used ({source}), {left} left"
    full = (
        "Before anyone runs stage 5: delete the ones nobody uses (`agentcore-wizard cleanup` in the folders that "
        "made them; `aws bedrock-agentcore-control list-oauth2-credential-providers` lists them), or request a "
        f"higher quota in Service Quotas ({quota.code})."
    )
    if room is not None and left < room:
        return Check(QUOTA_CHECK, True, f"{said}: not enough for a room of {room}. {full}", warning=True)
    if left < FEW_LEFT:
        return Check(QUOTA_CHECK, True, f"{said}. {full}", warning=True)
    fits = f", enough for a room of {room}" if room is not None else ""
    return Check(QUOTA_CHECK, True, f"{said}{fits}.")


def _quota_limit(ctx: Context, quota: quotas.Quota) -> tuple[int, str]:
    """The quota's value and where it came from: the account's (applied), the service's default, or the documented
    default when Service Quotas cannot be read."""
    service = ctx.client("service-quotas")
    calls = (("applied quota", service.get_service_quota), ("default quota", service.get_aws_default_service_quota))
    for source, call in calls:
        try:
            return int(call(ServiceCode=quotas.SERVICE_CODE, QuotaCode=quota.code)["Quota"]["Value"]), source
        except Exception as exc:
            # No applied value is answered NoSuchResourceException: the default is asked next. Anything else
            # (AccessDenied above all) means Service Quotas cannot be read here.
            if error_code(exc) != "NoSuchResourceException":
                return quota.default, f"the default; Service Quotas not readable: {_reason(exc)}"
    return quota.default, "the default"


def _reason(exc: BaseException) -> str:
    return error_code(exc) or type(exc).__name__


def _python_version() -> Check:
    version = ".".join(str(part) for part in sys.version_info[:3])
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("Python 3.10+", ok, f"Python {version}", code="" if ok else "python_too_old")


def _folder_writable(ctx: Context) -> Check:
    probe = ctx.project / f".agentcore-wizard-probe-{os.getpid()}"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check("project folder writable", False, f"{ctx.project}: {exc.strerror}", code="folder_not_writable")
    return Check("project folder writable", True, str(ctx.project))
