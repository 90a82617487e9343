"""The core never imports the UI, and the CLI entry points import AWS libraries only when used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("textual", "boto3", "botocore", "moto")


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
        "wizard.engine",
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


@pytest.mark.parametrize("module", ["wizard.cli", "wizard.engine", "wizard.steps", "wizard.sandbox.manager"])
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
        from wizard.context import Context, Options
        from wizard.state import StateFile
        from pathlib import Path
        ctx = Context(Options(project=Path("."), sandbox_endpoint="http://127.0.0.1:9"), StateFile(Path(".")))
        ctx.session()
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
