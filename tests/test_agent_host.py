"""The pieces of the sandbox running an agent that need no process: what of a package is the user's code, how
the agent's log records read, and which link in an answer is a consent link."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from wizard.agent_logs import readable
from wizard.invocation import authorization_url
from wizard.sandbox.agent_host import unpack_user_code


def _package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_only_the_users_own_files_are_unpacked(tmp_path: Path) -> None:
    """The linux/arm64 dependencies in the package stay out (the sandbox builds its own); the user's code stays."""
    record = "strands/__init__.py,sha256=x,1\nstrands/agent.py,,\nstrands_agents-1.0.dist-info/METADATA,,\n"
    package = _package(
        {
            "strands/__init__.py": "arm64 = True",
            "strands/agent.py": "",
            "strands_agents-1.0.dist-info/METADATA": "Name: strands-agents",
            "strands_agents-1.0.dist-info/RECORD": record,
            "pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so": "ELF",
            "pydantic_core-2.0.dist-info/RECORD": "pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so,,\n",
            "bin/uvicorn": "#!/usr/bin/python",
            "agent.py": "print('mine')",
            "requirements.txt": "strands-agents\n",
            "helpers/tools.py": "X = 1",
            "../escape.py": "no",
        }
    )
    kept = unpack_user_code(package, tmp_path / "code")
    assert sorted(kept) == ["agent.py", "helpers/tools.py", "requirements.txt"]
    assert (tmp_path / "code" / "agent.py").read_text() == "print('mine')"
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "code" / "strands").exists()


def test_the_sdks_json_log_records_read_as_lines_with_their_traceback() -> None:
    record = {
        "level": "ERROR",
        "message": "Invocation failed (0.002s)",
        "errorType": "RuntimeError",
        "stackTrace": [
            "Traceback (most recent call last):\n",
            '  File "agent.py", line 3, in invoke\n',
            "RuntimeError: no\n",
        ],
    }
    assert readable(json.dumps(record)) == [
        "ERROR Invocation failed (0.002s)",
        "Traceback (most recent call last):",
        '  File "agent.py", line 3, in invoke',
        "RuntimeError: no",
    ]
    assert readable("plain\nlines") == ["plain", "lines"]
    assert readable("{not json}") == ["{not json}"]


def test_a_documentation_link_in_a_failure_is_no_consent_link() -> None:
    failure = (
        "❌ Failed to authenticate: Workload access token has not been set. If invoking agent runtime via SIGV4 "
        "inbound auth, please specify the X-Amzn-Bedrock-AgentCore-Runtime-User-Id header and retry. For details, "
        "see - https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/runtime-oauth.html"
    )
    assert authorization_url(failure) is None
    consent = "Please open this URL: https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/authorize?request_uri=urn%3Ax"
    assert authorization_url(consent) == consent.split(": ", 1)[1]
    assert authorization_url("Open https://accounts.example.com/o/oauth2/v2/consent?x=1 to go on") is not None


def test_the_code_digest_follows_the_code_not_a_log_file_beside_it(tmp_path: Path) -> None:
    """`run … > run.log` in the project folder: the log grows during the run, and must not read as changed code
    (found running two journeys at once with their output in their folders)."""
    from wizard.files.package import sources_digest

    (tmp_path / "agent.py").write_text("print(1)\n")
    (tmp_path / "requirements.txt").write_text("strands-agents\n")
    before = sources_digest(tmp_path)
    (tmp_path / "run.log").write_text("lots of output\n")
    (tmp_path / "err.txt").write_text("more\n")
    assert sources_digest(tmp_path) == before
    (tmp_path / "requirements.txt").write_text("strands-agents\nboto3\n")
    assert sources_digest(tmp_path) != before
