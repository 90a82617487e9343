"""Stage 2: load the identity variables safely and check that what they point at answers."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from wizard.errors import WizardError, error_code
from wizard.files import identity as idfiles
from wizard.files.shell import exports
from wizard.steps.base import Check, Detection, Stage, stage_ref

if TYPE_CHECKING:
    from wizard.context import Context

QUICKSTART_LOAD = f"export $(grep -v '^#' {idfiles.ENV_NAME} | xargs)"
DISCOVERY_PATTERN = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[\w-]+)/\.well-known/openid-configuration$"
)


class EnvStage(Stage):
    key = "env"
    requires = ("cognito",)
    explanation = f"""\
Reads `{idfiles.ENV_NAME}` with python-dotenv (never through a shell), checks that all **11
variables** are there, and that both **discovery URLs answer** and name the issuer they should
(`https://cognito-idp.<region>.amazonaws.com/<pool id>`), in the project's pinned region.

The quickstart loads the file with `{QUICKSTART_LOAD}`. That splits values on spaces,
expands `*` and `?` against your files, and mangles quotes and backslashes; it only works because
the generated values avoid those characters. The exports below are quoted correctly for each
shell and work with any value: copy the ones for your shell (or run `agentcore-wizard env --shell
bash`). Secrets stay masked here until you reveal them.
"""

    def command(self, ctx: Context) -> str:
        return f"{QUICKSTART_LOAD}\necho $RUNTIME_POOL_ID\necho $IDENTITY_CLIENT_ID"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        if not (ctx.project / idfiles.ENV_NAME).exists():
            return []
        env = idfiles.read_env_file(ctx.project)
        return [(key, env.get(key, ""), key in idfiles.SECRET_KEYS) for key in idfiles.ENV_KEYS]

    def shell_exports(self, ctx: Context, shell: str) -> str:
        env = self._load(ctx)
        return exports({key: env[key] for key in idfiles.ENV_KEYS}, shell)

    def detect(self, ctx: Context) -> Detection:
        if not (ctx.project / idfiles.ENV_NAME).exists():
            return Detection("pending", [f"{idfiles.ENV_NAME} does not exist yet ({stage_ref('cognito')} writes it)"])
        failed = [check for check in self.verify(ctx) if not check.ok]
        if failed:
            return self.not_done(ctx, failed)
        return Detection("done", ["all 11 variables present, both discovery URLs answer"])

    def run(self, ctx: Context) -> list[Check]:
        checks = self.verify(ctx)
        for check in checks:
            ctx.log(f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}", "info" if check.ok else "error")
        failed = [check for check in checks if not check.ok]
        if failed:
            raise WizardError(
                f"{len(failed)} {'check' if len(failed) == 1 else 'checks'} failed: "
                + "; ".join(f"{c.name} ({c.detail})" for c in failed),
                fix=f"Run {stage_ref('cognito')} again to rewrite the identity files, then this stage.",
            )
        self.record(ctx, "variables", list(idfiles.ENV_KEYS))
        return checks

    def _load(self, ctx: Context) -> dict[str, str]:
        if not (ctx.project / idfiles.ENV_NAME).exists():
            raise WizardError(
                f"{idfiles.ENV_NAME} does not exist in {ctx.project}.",
                fix=f"Run {stage_ref('cognito')} first; it writes the file.",
            )
        return idfiles.read_env_file(ctx.project)

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        env = self._load(ctx)
        missing = [key for key in idfiles.ENV_KEYS if not env.get(key)]
        checks = [
            Check(
                "11 variables present",
                not missing,
                "all present" if not missing else "missing or empty: " + ", ".join(missing),
            )
        ]
        mode = idfiles.file_mode(ctx.project / idfiles.ENV_NAME)
        checks.append(Check("env file private", mode is not None and mode & 0o077 == 0, f"mode {mode or 0:o}"))
        region = ctx.region
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(self._check_discovery, ctx, prefix, env, region) for prefix in ("RUNTIME", "IDENTITY")
            ] + [pool.submit(self._check_pool_exists, ctx, prefix, env) for prefix in ("RUNTIME", "IDENTITY")]
            checks += [future.result() for future in futures]
        return checks

    def _check_discovery(self, ctx: Context, prefix: str, env: dict[str, str], region: str) -> Check:
        name = f"{prefix}_DISCOVERY_URL answers"
        url = env.get(f"{prefix}_DISCOVERY_URL", "")
        pool_id = env.get(f"{prefix}_POOL_ID", "")
        match = DISCOVERY_PATTERN.match(url)
        if not match:
            return Check(name, False, f"{url!r} is not a Cognito discovery URL")
        if match["region"] != region:
            return Check(name, False, f"points at region {match['region']}, the project is pinned to {region}")
        if match["pool"] != pool_id:
            return Check(name, False, f"names pool {match['pool']}, but {prefix}_POOL_ID is {pool_id}")
        status, document = ctx.get_json(url)
        if status != 200 or not isinstance(document, dict):
            return Check(name, False, f"HTTP {status}")
        expected = idfiles.issuer_for(region, pool_id)
        issuer = document.get("issuer")
        if issuer != expected:
            return Check(name, False, f"issuer is {issuer!r}, expected {expected!r}")
        return Check(name, True, f"issuer {issuer}")

    def _check_pool_exists(self, ctx: Context, prefix: str, env: dict[str, str]) -> Check:
        # A discovery document alone proves little: some servers answer for any pool id.
        name = f"{prefix}_POOL_ID exists"
        pool_id = env.get(f"{prefix}_POOL_ID", "")
        if not pool_id:
            return Check(name, False, "empty")
        try:
            ctx.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)
        except Exception as exc:
            return Check(name, False, f"{pool_id}: {error_code(exc) or type(exc).__name__}")
        return Check(name, True, pool_id)
