"""wizard/files: passwords, the toolkit-compatible identity files, shell exports and the agent code."""

from __future__ import annotations

import ast
import json
import os
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from wizard_helpers import reopen

from wizard.files import agent_code
from wizard.files import identity as idf
from wizard.files.shell import exports
from wizard.steps.agent import inspect_agent, inspect_requirements

# Cognito's default password policy: these count as symbols.
COGNITO_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")
# Characters that break `export $(grep -v '^#' f | xargs)` (or the shells people load it in).
UNSAFE = set("'\"\\ \t\n\r$&()*?#;<>|`!~[]{}")

SAMPLES = 2000


def _files(password: str = "Aa1-pass_word.X", secret: str | None = "s3cr3t-value") -> idf.IdentityFiles:
    return idf.IdentityFiles(
        runtime=idf.PoolRecord(
            pool_id="us-east-1_RUNTIME",
            client_id="runtimeclient",
            discovery_url=idf.discovery_url("us-east-1", "us-east-1_RUNTIME"),
            domain_prefix="agentcore-runtime-abc",
            username="testuserabc",
            password=password,
        ),
        identity=idf.PoolRecord(
            pool_id="us-east-1_IDENTITY",
            client_id="identityclient",
            discovery_url=idf.discovery_url("us-east-1", "us-east-1_IDENTITY"),
            domain_prefix="agentcore-identity-abc",
            username="externaluserabc",
            password=password[::-1],
            client_secret=secret,
        ),
    )


# --- passwords ------------------------------------------------------------------------------------


def test_generated_passwords_meet_cognito_default_policy() -> None:
    for _ in range(SAMPLES):
        password = idf.generate_password()
        assert len(password) == 16
        assert any(c in string.ascii_uppercase for c in password), password
        assert any(c in string.ascii_lowercase for c in password), password
        assert any(c in string.digits for c in password), password
        assert any(c in COGNITO_SYMBOLS for c in password), password
        assert all(c.isascii() and c.isprintable() for c in password), password


def test_generated_passwords_are_loader_safe() -> None:
    seen = set()
    for _ in range(SAMPLES):
        password = idf.generate_password()
        assert not (set(password) & UNSAFE), password
        seen.add(password)
    assert len(seen) == SAMPLES  # and they are actually random


def test_password_symbols_constant_is_safe_and_cognito_symbols() -> None:
    assert set(idf.PASSWORD_SYMBOLS) <= COGNITO_SYMBOLS
    assert not (set(idf.PASSWORD_SYMBOLS) & UNSAFE)


def test_generated_passwords_survive_the_quickstart_loader(tmp_path: Path) -> None:
    """Really run `export $(grep -v '^#' f | xargs)` on generated files."""
    for _ in range(20):
        files = _files(password=idf.generate_password(), secret=idf.generate_password())
        idf.write_identity_files(tmp_path, files)
        # Files named like glob patterns would expose unquoted `*`/`?` in the values.
        script = f"export $(grep -v '^#' {idf.ENV_NAME} | xargs)\n" + "".join(
            f'printf "%s\\0" "${key}"\n' for key in idf.ENV_KEYS
        )
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, check=True, env={"PATH": os.environ["PATH"]}
        )
        values = result.stdout.decode().split("\0")[:-1]
        assert dict(zip(idf.ENV_KEYS, values, strict=True)) == files.env_values()


# --- file formats ---------------------------------------------------------------------------------


def test_render_json_keys_and_order_match_the_toolkit() -> None:
    files = _files()
    data = json.loads(idf.render_json(files))
    assert list(data) == ["runtime", "identity", "flow_type"]
    assert list(data["runtime"]) == ["pool_id", "client_id", "discovery_url", "domain_prefix", "username", "password"]
    assert list(data["identity"]) == [
        "pool_id",
        "client_id",
        "client_secret",
        "discovery_url",
        "domain_prefix",
        "username",
        "password",
    ]
    assert data["flow_type"] == "user"
    assert data["runtime"]["password"] == files.runtime.password
    assert data["identity"]["client_secret"] == "s3cr3t-value"
    assert data["identity"]["discovery_url"] == (
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_IDENTITY/.well-known/openid-configuration"
    )


def test_render_env_layout_matches_the_toolkit() -> None:
    files = _files()
    lines = idf.render_env(files).splitlines()
    assert lines[0] == "# AgentCore Identity Environment Variables"
    assert lines[1] == f"# To load: export $(grep -v '^#' {idf.ENV_NAME} | xargs)"
    assignments = [line for line in lines if line and not line.startswith("#")]
    assert [line.split("=", 1)[0] for line in assignments] == [
        "RUNTIME_POOL_ID",
        "RUNTIME_CLIENT_ID",
        "RUNTIME_DISCOVERY_URL",
        "RUNTIME_USERNAME",
        "RUNTIME_PASSWORD",
        "IDENTITY_POOL_ID",
        "IDENTITY_CLIENT_ID",
        "IDENTITY_CLIENT_SECRET",
        "IDENTITY_DISCOVERY_URL",
        "IDENTITY_USERNAME",
        "IDENTITY_PASSWORD",
    ]
    expected = files.env_values()
    for line in assignments:
        key, value = line.split("=", 1)
        assert value == expected[key]
    # Every non-assignment line is a comment or blank, so `grep -v '^#'` leaves only assignments.
    assert all(line == "" or line.startswith("#") or "=" in line for line in lines)


def test_write_identity_files_private_even_with_umask_zero(project: Path) -> None:
    old = os.umask(0)
    try:
        idf.write_identity_files(project, _files())
    finally:
        os.umask(old)
    for name in idf.SECRET_FILES:
        assert (project / name).stat().st_mode & 0o777 == 0o600, name
    assert idf.file_mode(project / idf.JSON_NAME) == 0o600
    assert idf.file_mode(project / "nope") is None
    leftovers = [p.name for p in project.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_write_identity_files_overwrites_world_readable_file_as_private(project: Path) -> None:
    (project / idf.JSON_NAME).write_text("{}")
    os.chmod(project / idf.JSON_NAME, 0o644)
    idf.write_identity_files(project, _files())
    assert idf.file_mode(project / idf.JSON_NAME) == 0o600
    assert idf.read_identity_json(project) == _files()


def test_gitignore_entries_added_once_and_existing_content_kept(project: Path) -> None:
    original = "node_modules/\n# my comment\n*.pyc"  # no trailing newline on purpose
    (project / ".gitignore").write_text(original)
    for _ in range(3):
        idf.write_identity_files(project, _files())
    text = (project / ".gitignore").read_text()
    assert text.startswith(original + "\n")
    lines = [line.strip() for line in text.splitlines()]
    for entry in (idf.JSON_NAME, idf.ENV_NAME, ".agentcore-wizard/"):
        assert lines.count(entry) == 1, (entry, text)
    assert lines.count("node_modules/") == 1
    assert lines.count("*.pyc") == 1


def test_gitignore_created_when_missing_and_respects_slashless_dir_entry(project: Path) -> None:
    idf.write_identity_files(project, _files())
    lines = (project / ".gitignore").read_text().splitlines()
    assert idf.JSON_NAME in lines and idf.ENV_NAME in lines and ".agentcore-wizard/" in lines

    other = project / "other"
    other.mkdir()
    (other / ".gitignore").write_text(".agentcore-wizard\n")
    added = idf.ensure_gitignored(other, [idf.JSON_NAME, ".agentcore-wizard/"])
    assert added == [idf.JSON_NAME]
    assert idf.ensure_gitignored(other, [idf.JSON_NAME, ".agentcore-wizard/"]) == []


def test_read_env_file_round_trips_symbols(project: Path) -> None:
    password = "Ab1" + idf.PASSWORD_SYMBOLS + "zZ9"
    files = _files(password=password, secret="sec=ret:with@symbols%-_+.,")
    idf.write_identity_files(project, files)
    values = idf.read_env_file(project)
    assert values == files.env_values()
    assert list(values) == list(idf.ENV_KEYS)


def test_read_identity_json_round_trip_and_garbage(project: Path) -> None:
    assert idf.read_identity_json(project) is None
    files = _files()
    idf.write_identity_files(project, files)
    assert idf.read_identity_json(project) == files
    (project / idf.JSON_NAME).write_text('{"runtime": {"pool_id": "x"}}')
    assert idf.read_identity_json(project) is None
    (project / idf.JSON_NAME).write_text("not json")
    assert idf.read_identity_json(project) is None


def test_mask_hides_everything() -> None:
    assert idf.mask("") == ""
    masked = idf.mask("supersecret")
    assert "supersecret" not in masked and set(masked) == {"•"}


# --- shell exports --------------------------------------------------------------------------------

TRICKY = {
    "QUOTE": 'it\'s a "test"',
    "SPACE": "two  words ",
    "DOLLAR": "$HOME and ${PATH} $(echo no)",
    "BACKSLASH": "back\\slash\\\\ \\n",
    "GLOB": "* ? [a]",
    "MIXED": "a'b\\'c$d*e`f`!g",
    "EMPTY": "",
}


def _roundtrip(argv: list[str], script: str, cwd: Path) -> list[str]:
    # Files in cwd so that an unquoted glob would expand and change the value.
    (cwd / "a").write_text("")
    (cwd / "zzz").write_text("")
    result = subprocess.run(argv + [script], cwd=cwd, capture_output=True, check=True, timeout=60)
    return result.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_posix_exports_round_trip(tmp_path: Path, shell: str) -> None:
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    text = exports(TRICKY, shell)
    assert text.count("export ") == len(TRICKY)
    script = text + "".join(f'printf "%s\\0" "${key}"\n' for key in TRICKY)
    assert _roundtrip([binary, "-c"], script, tmp_path) == list(TRICKY.values())


def test_zsh_exports_round_trip(tmp_path: Path) -> None:
    binary = shutil.which("zsh")
    if binary is None:
        pytest.skip("zsh is not installed")
    script = exports(TRICKY, "zsh") + "".join(f'printf "%s\\0" "${key}"\n' for key in TRICKY)
    assert _roundtrip([binary, "-f", "-c"], script, tmp_path) == list(TRICKY.values())


def test_fish_exports_round_trip(tmp_path: Path) -> None:
    binary = shutil.which("fish")
    if binary is None:
        pytest.skip("fish is not installed")
    text = exports(TRICKY, "fish")
    assert text.count("set -gx ") == len(TRICKY)
    script = text + "".join(f'printf "%s\\0" "${key}"\n' for key in TRICKY)
    assert _roundtrip([binary, "--no-config", "-c"], script, tmp_path) == list(TRICKY.values())


def test_powershell_exports_round_trip(tmp_path: Path) -> None:
    binary = shutil.which("pwsh")
    if binary is None:
        pytest.skip("pwsh is not installed")
    text = exports(TRICKY, "powershell")
    script = text + "".join(f"[Console]::Out.Write($env:{key} + [char]0)\n" for key in TRICKY)
    assert _roundtrip([binary, "-NoProfile", "-NonInteractive", "-Command"], script, tmp_path) == list(TRICKY.values())


def test_export_text_shapes() -> None:
    values = {"A": "x'y"}
    assert exports(values, "bash") == "export A='x'\"'\"'y'\n"
    assert exports(values, "FISH") == "set -gx A 'x\\'y'\n"
    assert exports(values, "pwsh") == "$env:A = 'x''y'\n"
    assert exports({"B": "a\\b"}, "fish") == "set -gx B 'a\\\\b'\n"


_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def _powershell_single_quoted(text: str) -> tuple[str, str]:
    """PowerShell's tokenizer rule for a '…' literal: any of its five single-quote characters ends
    it, unless another one follows, which then stands for itself. Returns (value, rest)."""
    assert text[0] in _PS_SINGLE_QUOTES
    value, i = [], 1
    while i < len(text):
        char = text[i]
        if char in _PS_SINGLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in _PS_SINGLE_QUOTES:
                value.append(text[i + 1])
                i += 2
                continue
            return "".join(value), text[i + 1 :]
        value.append(char)
        i += 1
    raise AssertionError("unterminated string")


def test_powershell_quoting_round_trips_ascii_quotes() -> None:
    line = exports({"A": "it's ''x''"}, "powershell")
    prefix = "$env:A = "
    assert line.startswith(prefix)
    assert _powershell_single_quoted(line[len(prefix) :]) == ("it's ''x''", "\n")


# BUG: wizard/files/shell.py _single_quote_powershell() doubles only the ASCII "'", but PowerShell
# also ends a single-quoted string at U+2018, U+2019, U+201A and U+201B (‘ ’ ‚ ‛), so a value with a
# typographic apostrophe breaks out of the quotes, although exports() promises to be "safe for any
# character". Fix: double every one of those five characters (as PowerShell's own
# CodeGeneration.EscapeSingleQuotedStringContent does), e.g. re.sub("(['\u2018-\u201b])", r"\1\1", v).
@pytest.mark.parametrize("quote", ["\u2018", "\u2019", "\u201a", "\u201b"])
def test_powershell_quoting_survives_typographic_apostrophes(quote: str) -> None:
    value = f"don{quote}t $(stop)"
    line = exports({"A": value}, "powershell")
    prefix = "$env:A = "
    assert _powershell_single_quoted(line[len(prefix) :]) == (value, "\n")


def test_unknown_shell_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shell"):
        exports({"A": "b"}, "tcsh")


# --- agent code -----------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.py"
    path.write_text(text)
    return path


def _by_name(checks) -> dict:
    return {check.name: check for check in checks}


def test_render_agent_parses_and_passes_inspection(tmp_path: Path) -> None:
    text = agent_code.render_agent("ExternalServiceProvider", ["openid"], "us.anthropic.model-v1:0")
    tree = ast.parse(text)
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, (ast.Constant, ast.List))
    }
    assert constants["MODEL_ID"] == "us.anthropic.model-v1:0"
    assert constants["PROVIDER_NAME"] == "ExternalServiceProvider"
    assert constants["SCOPES"] == ["openid"]
    # No callback_url in the code: the SDK takes the return URL from the OAuth2CallbackUrl header of each call.
    assert "callback_url=" not in text and "OAuth2CallbackUrl" in text
    checks = inspect_agent(_write(tmp_path, text), "ExternalServiceProvider")
    assert checks and all(check.ok for check in checks), checks
    assert set(_by_name(checks)) == {"agent.py parses", "entrypoint", "requires_access_token"}


def test_render_agent_with_awkward_values_still_parses(tmp_path: Path) -> None:
    provider = 'It\'s "odd" {provider}'
    text = agent_code.render_agent(provider, ["openid", "profile", "a'b"], "model {x}")
    tree = ast.parse(text)
    assert tree is not None
    assert all(c.ok for c in inspect_agent(_write(tmp_path, text), provider))


def test_inspect_agent_rejects_other_provider(tmp_path: Path) -> None:
    path = _write(tmp_path, agent_code.render_agent("OtherProvider", ["openid"], "m"))
    check = _by_name(inspect_agent(path, "ExternalServiceProvider"))["requires_access_token"]
    assert not check.ok
    assert "OtherProvider" in check.detail


def test_inspect_agent_rejects_missing_entrypoint(tmp_path: Path) -> None:
    text = agent_code.render_agent("P", ["openid"], "m").replace("@app.entrypoint\n", "")
    checks = _by_name(inspect_agent(_write(tmp_path, text), "P"))
    assert not checks["entrypoint"].ok
    assert checks["requires_access_token"].ok


def test_inspect_agent_rejects_missing_requires_access_token(tmp_path: Path) -> None:
    text = (
        "from bedrock_agentcore.runtime import BedrockAgentCoreApp\n"
        "app = BedrockAgentCoreApp()\n\n"
        "@app.entrypoint\n"
        "def invoke(payload):\n"
        "    return {}\n"
    )
    checks = _by_name(inspect_agent(_write(tmp_path, text), "P"))
    assert checks["entrypoint"].ok
    assert not checks["requires_access_token"].ok


def test_inspect_agent_rejects_syntax_error(tmp_path: Path) -> None:
    text = agent_code.render_agent("P", ["openid"], "m") + "\ndef broken(:\n"
    checks = inspect_agent(_write(tmp_path, text), "P")
    assert len(checks) == 1
    assert checks[0].name == "agent.py parses" and not checks[0].ok
    assert "line" in checks[0].detail


def test_inspect_agent_missing_file(tmp_path: Path) -> None:
    checks = inspect_agent(tmp_path / "agent.py", "P")
    assert [c.ok for c in checks] == [False]


def test_inspect_agent_accepts_literal_and_computed_provider(tmp_path: Path) -> None:
    literal = (
        "@requires_access_token(provider_name='P', scopes=[])\n"
        "async def f(*, access_token): ...\n"
        "@app.entrypoint\n"
        "def invoke(payload): ...\n"
    )
    assert all(c.ok for c in inspect_agent(_write(tmp_path, literal), "P"))
    assert not all(c.ok for c in inspect_agent(_write(tmp_path, literal), "Q"))
    computed = literal.replace("provider_name='P'", "provider_name=os.environ['PROVIDER']")
    assert all(c.ok for c in inspect_agent(_write(tmp_path, computed), "Q"))


def test_inspect_requirements(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(agent_code.REQUIREMENTS)
    assert inspect_requirements(path).ok

    path.write_text("# pinned\nBedrock_AgentCore[extra]==1.2 ; python_version >= '3.10'\nstrands-agents~=1.0  # x\n")
    assert inspect_requirements(path).ok

    path.write_text("bedrock-agentcore>=1.0\nboto3\n")
    check = inspect_requirements(path)
    assert not check.ok and "strands-agents" in check.detail

    path.write_text("# strands-agents\n# bedrock-agentcore\n")
    assert not inspect_requirements(path).ok

    assert not inspect_requirements(tmp_path / "missing.txt").ok


# Regression: inspect_requirements() used to take the whole line of a PEP 508 direct reference
# ("name @ git+https://…") as the package name and report a valid requirements.txt as incomplete.
def test_inspect_requirements_accepts_direct_references(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "bedrock-agentcore @ git+https://github.com/aws/bedrock-agentcore-sdk-python\nstrands-agents>=1.0\n"
    )
    assert inspect_requirements(path).ok


def test_agent_sha256_accepts_text_and_bytes() -> None:
    assert agent_code.sha256("abc") == agent_code.sha256(b"abc")
    assert agent_code.sha256("abc") != agent_code.sha256("abd")


# --- agent verify: written for these settings -------------------------------------------------------


def _agent_checks(outcome) -> dict:
    return {check.name: check for check in outcome.checks}


def test_agent_verify_fails_when_the_wizards_file_was_written_for_other_settings(wizard, project: Path) -> None:
    assert wizard.run_stage("agent").ok
    written = (project / agent_code.AGENT_FILE).read_bytes()
    verified = wizard.verify_stage("agent")
    assert verified.ok and _agent_checks(verified).get("written for these settings") is None

    # agent.py is still exactly as the wizard wrote it, and it still parses and names the provider, but the
    # project now says another model: it no longer says what the project says.
    wizard = reopen(wizard, model_id="eu.anthropic.some-other-model-v1:0", reconfigure=True)
    assert (project / agent_code.AGENT_FILE).read_bytes() == written
    outcome = wizard.verify_stage("agent")
    assert not outcome.ok and outcome.status == "pending"  # --reconfigure set it back to pending
    checks = _agent_checks(outcome)
    stale = checks["written for these settings"]
    assert not stale.ok and agent_code.AGENT_FILE in stale.detail
    assert agent_code.REQUIREMENTS_FILE not in stale.detail  # requirements.txt is the same for every model
    assert all(check.ok for name, check in checks.items() if name != "written for these settings"), checks
    assert "written for these settings" in outcome.error.message
    assert wizard.detect_stage("agent").status != "done"
    assert (project / agent_code.AGENT_FILE).read_bytes() == written  # verifying changed nothing

    # Running the stage writes it for these settings, and then it verifies.
    assert wizard.run_stage("agent").ok
    assert "'eu.anthropic.some-other-model-v1:0'" in (project / agent_code.AGENT_FILE).read_text()
    assert wizard.verify_stage("agent").ok


def test_agent_verify_keeps_accepting_a_user_edit_made_for_other_settings(wizard, project: Path) -> None:
    assert wizard.run_stage("agent").ok
    path = project / agent_code.AGENT_FILE
    edited = path.read_text() + "\n# my own change\n"
    path.write_text(edited)
    # The file is the person's now: another model in the settings does not make it stale.
    wizard = reopen(wizard, model_id="eu.anthropic.some-other-model-v1:0", reconfigure=True)
    outcome = wizard.verify_stage("agent")
    assert outcome.ok, outcome.error and outcome.error.message
    assert "written for these settings" not in _agent_checks(outcome)
    assert path.read_text() == edited
