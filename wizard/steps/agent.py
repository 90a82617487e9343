"""Stage 3: write agent.py and requirements.txt, and never clobber the user's edits."""

from __future__ import annotations

import ast
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.errors import NeedsAction, WizardError
from wizard.files.agent_code import AGENT_FILE, REQUIREMENTS, REQUIREMENTS_FILE, render_agent, sha256
from wizard.state import atomic_write
from wizard.steps.base import Check, Detection, Stage, Teardown

if TYPE_CHECKING:
    from wizard.context import Context

REQUIRED_PACKAGES = ("bedrock-agentcore", "strands-agents")
# The distribution name at the start of a PEP 508 line ("name[extra]>=1", "name @ url").
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class AgentStage(Stage):
    key = "agent"
    adoptable = True
    needs_aws = False
    uses = ("provider_name", "scopes", "model_id")
    writes = (AGENT_FILE, REQUIREMENTS_FILE)
    explanation = """\
Writes **`agent.py`** and **`requirements.txt`**: a Strands agent inside a `BedrockAgentCoreApp`
with one tool, `check_external_service`, that asks AgentCore Identity for an OAuth token on the
user's behalf (`@requires_access_token`, `USER_FEDERATION`). The first call returns an
authorization URL for the user; after consent, the next call in the same session gets the token.

It behaves like the quickstart's agent, with one fix: the authorization URL is handed back **the
moment it arrives**, instead of racing a 0.5 s sleep while the SDK polls for up to ten minutes.

The OAuth **return URL** (where the browser goes after consent) is not in the code: the wizard sends
it with every call in the `OAuth2CallbackUrl` header, the runtime passes it to the agent, and the SDK
uses it when `requires_access_token` names no `callback_url`. So the quickstart's own `agent.py`
works unchanged too; put yours here before this stage and the wizard keeps it. In the sandbox your
code really runs (the real SDK and Strands, a stand-in model), so a rehearsal tests it.

If you edit these files, the wizard keeps your version (it remembers what it wrote) and only
checks that the entrypoint and the `requires_access_token` use are still there.
"""

    def command(self, ctx: Context) -> str:
        return "pip install bedrock-agentcore strands-agents boto3\n$EDITOR agent.py requirements.txt"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        settings = ctx.settings
        return [
            ("Provider name", settings.provider_name, False),
            ("Scopes", " ".join(settings.scopes), False),
            ("Model id", settings.model_id, False),
        ]

    def _targets(self, ctx: Context) -> dict[str, str]:
        settings = ctx.settings
        return {
            AGENT_FILE: render_agent(settings.provider_name, settings.scopes, settings.model_id),
            REQUIREMENTS_FILE: REQUIREMENTS,
        }

    def detect(self, ctx: Context) -> Detection:
        present = [name for name in (AGENT_FILE, REQUIREMENTS_FILE) if (ctx.project / name).exists()]
        if not present:
            return Detection("pending")
        failed = [check for check in self.verify(ctx) if not check.ok]
        if not failed:
            return Detection("done", ["agent.py and requirements.txt exist and check out"])
        return self.not_done(ctx, failed)

    def run(self, ctx: Context) -> list[Check]:
        recorded = self.resources(ctx).get("written_sha256", {})
        kept: list[str] = []
        for name, content in self._targets(ctx).items():
            path = ctx.project / name
            wanted = sha256(content)
            if path.exists():
                current = sha256(path.read_bytes())
                if current == wanted:
                    ctx.log(f"{name} is already up to date.")
                    self._remember(ctx, name, wanted)
                    continue
                if current != recorded.get(name):
                    question = f"{name} has changes the wizard did not make. Overwrite them?"
                    if not ctx.confirm(question, False, "Overwrite", "Keep mine"):
                        ctx.log(f"Kept your {name}.", "warning")
                        kept.append(name)
                        continue
            atomic_write(path, content, mode=0o644)
            self._remember(ctx, name, wanted)
            ctx.log(f"Wrote {name}.", "success")
        checks = self.verify(ctx)
        failed = [check for check in checks if not check.ok]
        if failed:
            # Kept edits that no longer check out wait on the person; anything else is a fault.
            error = NeedsAction if kept else WizardError
            raise error(
                "; ".join(f"{c.name}: {c.detail}" for c in failed),
                fix=f"Fix {', '.join(kept) or AGENT_FILE} by hand, or move it aside and run this stage "
                "again for a fresh copy.",
            )
        return checks

    def _remember(self, ctx: Context, name: str, digest: str) -> None:
        hashes = dict(self.resources(ctx).get("written_sha256", {}))
        hashes[name] = digest
        self.record(ctx, "written_sha256", hashes)

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        return [
            *inspect_agent(ctx.project / AGENT_FILE, ctx.settings.provider_name),
            inspect_requirements(ctx.project / REQUIREMENTS_FILE),
            *self._current(ctx),
        ]

    def _current(self, ctx: Context) -> list[Check]:
        """A file still as the wizard wrote it must be what it would write now: written for other settings
        (another model or scopes) it no longer says what the project says. Your edits are yours to keep."""
        written = self.resources(ctx).get("written_sha256") or {}
        stale = []
        for name, content in self._targets(ctx).items():
            path = ctx.project / name
            if path.exists() and written.get(name) == sha256(path.read_bytes()) != sha256(content):
                stale.append(name)
        if not stale:
            return []
        return [Check("written for these settings", False, f"{', '.join(stale)} was written for other settings")]

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        plan = []
        for name, digest in (self.resources(ctx).get("written_sha256") or {}).items():
            path = ctx.project / name
            if not path.exists():
                continue
            if sha256(path.read_bytes()) == digest:
                plan.append(Teardown(self.key, name, True, gone=partial(_missing, path)))
            else:
                plan.append(Teardown(self.key, name, False, "you edited it"))
        return plan

    def undo(self, ctx: Context) -> None:
        """Remove only files still exactly as the wizard wrote them."""
        recorded = self.resources(ctx).get("written_sha256", {})
        for name, digest in recorded.items():
            path = ctx.project / name
            if path.exists() and sha256(path.read_bytes()) == digest:
                path.unlink()
                ctx.log(f"Deleted {name}.", "success")
        ctx.state.forget(self.key, "written_sha256")


def _missing(path: Path) -> bool:
    return not path.exists()


def inspect_agent(path: Path, provider_name: str) -> list[Check]:
    """Parse agent.py (never run it) and find the entrypoint and the token decorator."""
    if not path.exists():
        return [Check("agent.py exists", False, f"{path.name} is missing")]
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return [Check("agent.py parses", False, f"line {exc.lineno}: {exc.msg}")]
    entrypoints: list[str] = []
    token_users: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Attribute) and decorator.attr == "entrypoint":
                entrypoints.append(node.name)
            if isinstance(decorator, ast.Call) and _callee_name(decorator.func) == "requires_access_token":
                token_users.append((node.name, _provider_argument(tree, decorator)))
    checks = [
        Check("agent.py parses", True, path.name),
        Check(
            "entrypoint",
            bool(entrypoints),
            f"@app.entrypoint on {', '.join(entrypoints)}" if entrypoints else "no @app.entrypoint function",
        ),
    ]
    if not token_users:
        checks.append(Check("requires_access_token", False, "no function uses @requires_access_token"))
        return checks
    function, provider = token_users[0]
    if provider is not None and provider != provider_name:
        checks.append(
            Check(
                "requires_access_token",
                False,
                f"{function} asks for provider {provider!r}, not {provider_name!r}",
            )
        )
    else:
        checks.append(Check("requires_access_token", True, f"{function} uses provider {provider or '(computed)'}"))
    return checks


def _callee_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _provider_argument(tree: ast.Module, call: ast.Call) -> str | None:
    """The provider name as a string when it is written literally or as a module constant."""
    for keyword in call.keywords:
        if keyword.arg != "provider_name":
            continue
        value = keyword.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
        if isinstance(value, ast.Name):
            for node in tree.body:
                if (
                    isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == value.id for t in node.targets)
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                ):
                    return node.value.value
    return None


def inspect_requirements(path: Path) -> Check:
    if not path.exists():
        return Check("requirements.txt", False, "missing")
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _REQUIREMENT_NAME.match(line.split("#", 1)[0])
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    missing = [package for package in REQUIRED_PACKAGES if package not in names]
    if missing:
        return Check("requirements.txt", False, "missing " + ", ".join(missing))
    return Check("requirements.txt", True, "lists " + ", ".join(REQUIRED_PACKAGES))
