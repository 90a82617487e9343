"""Stage 0: who am I in AWS, which region, and can this folder and Python do the job."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from wizard.errors import GENERIC_AWS_FIX, GENERIC_FIX, CheckFailed, explain
from wizard.steps.base import Check, Detection, Stage, shown_region

if TYPE_CHECKING:
    from wizard.context import Context

MIN_PYTHON = (3, 10)


class PreflightStage(Stage):
    key = "preflight"
    title = "Prerequisites"
    quickstart_step = "Prerequisites"
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
        if ctx.state.data.get("region") != region:
            ctx.log(f"Pinned region {region} for this project.", "success")
        ctx.settings.record_region(region, source)
        return checks

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        region = ctx.state.data.get("region") or ctx.region
        return self._checks(ctx, region)

    def _checks(self, ctx: Context, region: str) -> list[Check]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            identity = pool.submit(self._caller_identity, ctx)
            folder = pool.submit(_folder_writable, ctx)
            checks = [identity.result(), folder.result()]
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
