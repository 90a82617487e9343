"""The core never imports the UI, and the CLI entry points import AWS libraries only when used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("textual", "boto3", "botocore", "moto")
# What the core must never load, at import time or while any headless command runs.
FRONT_END = ("screens", "textual", "rich")


def _probe(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loaded_expr() -> str:
    return f"{{name: any(m == name or m.startswith(name + '.') for m in sys.modules) for name in {HEAVY!r}}}"


def test_importing_every_core_module_never_imports_textual() -> None:
    answer = _probe(
        f"""
        import importlib, json, pkgutil, sys
        import wizard
        names = []
        for info in pkgutil.walk_packages(wizard.__path__, "wizard."):
            if info.name == "wizard.__main__":
                continue  # running it would start the CLI
            importlib.import_module(info.name)
            names.append(info.name)
        print(json.dumps({{"modules": names, "loaded": {_loaded_expr()}}}))
        """
    )
    modules = set(answer["modules"])
    # The walk really covered the core (so this test can notice a textual import anywhere in it).
    assert {
        "wizard.cli",
        "wizard.session",
        "wizard.settings",
        "wizard.events",
        "wizard.headless",
        "wizard.state",
        "wizard.context",
        "wizard.errors",
        "wizard.steps.cognito",
        "wizard.steps.agent",
        "wizard.files.identity",
        "wizard.files.shell",
        "wizard.sandbox.manager",
        "wizard.sandbox.server",
    } <= modules
    assert answer["loaded"]["textual"] is False
    # Nothing heavy at import time anywhere in the core: AWS libraries and moto load lazily.
    assert answer["loaded"] == {name: False for name in HEAVY}


@pytest.mark.parametrize("module", ["wizard.cli", "wizard.session", "wizard.steps", "wizard.sandbox.manager"])
def test_entry_points_import_aws_libraries_lazily(module: str) -> None:
    answer = _probe(
        f"""
        import importlib, json, sys
        importlib.import_module({module!r})
        print(json.dumps({_loaded_expr()}))
        """
    )
    assert answer == {name: False for name in HEAVY}


def test_the_probe_does_notice_an_import() -> None:
    """Guards the probe itself: after using a client, boto3 is reported as loaded."""
    answer = _probe(
        f"""
        import json, sys
        from pathlib import Path
        from wizard.session import Session
        from wizard.settings import Options
        Session(Options(project=Path("."), sandbox_endpoint="http://127.0.0.1:9")).ctx.session()
        print(json.dumps({_loaded_expr()}))
        """
    )
    assert answer["boto3"] is True and answer["botocore"] is True
    assert answer["textual"] is False and answer["moto"] is False


def test_cli_help_runs_without_textual_or_aws() -> None:
    answer = _probe(
        f"""
        import contextlib, io, json, sys
        from wizard.cli import dispatch
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                dispatch(["--help"])
            except SystemExit:
                pass
        print(json.dumps({_loaded_expr()}))
        """
    )
    assert answer == {name: False for name in HEAVY}


def _front_end_expr() -> str:
    return f"{{name: any(m == name or m.startswith(name + '.') for m in sys.modules) for name in {FRONT_END!r}}}"


def test_no_core_source_imports_the_front_end() -> None:
    """The static rule (import-linter in CI) as a test too: no module under wizard/ names screens or textual."""
    import ast
    from pathlib import Path

    core = Path(__file__).resolve().parents[1] / "wizard"
    offenders = []
    for path in core.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in FRONT_END]
    assert offenders == []


def test_a_headless_session_never_loads_the_front_end(tmp_path: Path) -> None:
    """At run time: a whole headless command (status on a folder, through the real CLI) loads no screens."""
    answer = _probe(
        f"""
        import contextlib, io, json, sys
        from wizard.cli import dispatch
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            dispatch(["status", "--json", "--dir", {str(tmp_path)!r}])
            dispatch(["run", "--through", "agent", "--dir", {str(tmp_path)!r}])
        print(json.dumps({_front_end_expr()}))
        """
    )
    assert answer == {name: False for name in FRONT_END}


def test_the_terminal_ui_is_found_through_its_entry_point() -> None:
    """`agentcore-wizard` without a command starts the front end the package registers; the core names none."""
    from importlib.metadata import entry_points

    from wizard.cli import FRONT_ENDS

    found = {entry.name: entry.value for entry in entry_points(group=FRONT_ENDS)}
    assert found.get("tui") == "screens.app:run_tui"
