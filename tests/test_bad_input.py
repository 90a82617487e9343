"""The bad-input matrix: every invalid name, region, URL, id, path or number is refused whole (exit 2) before
anything runs: the message names the option and its rule, no AWS call is made, nothing is written, and there is
never a traceback or a request's Authorization header in what is printed.

Most values go through `options_from(build_parser().parse_args(...))` in this process (what every command does
first); a representative dozen go through the real CLI in subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest
from wizard_helpers import run_cli

from wizard.cli import build_parser, options_from
from wizard.errors import UsageError

DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens there: a call that got through would fail, not succeed
A33 = "a" * 33

# (option, invalid value). Every value is passed as `--option=value`, so values starting with '-' stay values.
MATRIX: list[tuple[str, str]] = [
    # agent name: [a-zA-Z][a-zA-Z0-9_]{0,47}
    ("--agent-name", ""),
    ("--agent-name", "identity_demo\n"),
    ("--agent-name", "qs-agent"),
    ("--agent-name", "9lives"),
    ("--agent-name", "a" * 49),
    ("--agent-name", " identity_demo"),
    ("--agent-name", "identité"),
    # provider name: [a-zA-Z0-9-_]{1,128}
    ("--provider-name", ""),
    ("--provider-name", "ExternalServiceProvider\n"),
    ("--provider-name", "bad name!"),
    ("--provider-name", "p" * 129),
    ("--provider-name", "a/b"),
    # workload identity name: [A-Za-z0-9_.-]{3,255}
    ("--workload-name", ""),
    ("--workload-name", "ab"),
    ("--workload-name", "identity-demo-workload\n"),
    ("--workload-name", "w" * 256),
    ("--workload-name", "with space"),
    # region
    ("--region", ""),
    ("--region", "us-west-2\n"),
    ("--region", "Mars-1"),
    ("--region", "us-east-1 "),
    ("--region", "us_east_1"),
    ("--region", "useast1"),
    ("--region", "us-east-"),
    # scopes
    ("--scopes", ""),
    ("--scopes", ","),
    ("--scopes", "openid\n"),
    ("--scopes", "openid,\tprofile"),
    ("--scopes", "s" * 129),
    ("--scopes", 'open"id'),
    # model id
    ("--model-id", ""),
    ("--model-id", " "),
    ("--model-id", "us.anthropic.claude-sonnet-4-5-20250929-v1:0\n"),
    ("--model-id", "a b"),
    ("--model-id", "m" * 257),
    ("--model-id", "anthropic.*"),
    # return URL: http://localhost|127.0.0.1:PORT/path only
    ("--return-url", ""),
    ("--return-url", "http://localhost:8081/oauth2/callback\n"),
    ("--return-url", "http://localhost:8081/oauth2/callback?x=1"),
    ("--return-url", "http://localhost:8081/oauth2/callback#frag"),
    ("--return-url", "http://user@localhost:8081/oauth2/callback"),
    ("--return-url", "http://localhost:8081"),
    ("--return-url", "http://localhost:0/cb"),
    ("--return-url", "http://localhost:65536/cb"),
    ("--return-url", "https://localhost:8081/cb"),
    ("--return-url", "http://example.com:8081/cb"),
    ("--return-url", "http://localhost:8081/a b"),
    # runtime session id: 33-256 visible ASCII characters
    ("--session-id", ""),
    ("--session-id", "a" * 32),
    ("--session-id", "a" * 257),
    ("--session-id", A33 + "\n"),
    ("--session-id", A33 + " x"),
    ("--session-id", A33 + "é"),
    # execution role: an IAM role ARN, or a role name
    ("--execution-role", ""),
    ("--execution-role", "MyRole\n"),
    ("--execution-role", "my role"),
    ("--execution-role", "r" * 65),
    ("--execution-role", "arn:aws:iam::123:role/MyRole"),
    ("--execution-role", "arn:aws:iam::123456789012:user/Me"),
    ("--execution-role", "arn:aws:s3:::bucket"),
    # sandbox endpoint: an http(s) URL
    ("--sandbox-endpoint", ""),
    ("--sandbox-endpoint", "127.0.0.1:4566"),
    ("--sandbox-endpoint", "ftp://127.0.0.1:4566"),
    ("--sandbox-endpoint", "http://127.0.0.1:4566\n"),
    ("--sandbox-endpoint", "http://127.0.0.1:99999"),
    ("--sandbox-endpoint", "http://user:pw@127.0.0.1:4566"),
    ("--sandbox-endpoint", "http://127.0.0.1:4566/?q=1"),
    ("--sandbox-endpoint", "http://"),
    # wheelhouse: a folder holding wheels
    ("--wheelhouse", ""),
    ("--wheelhouse", "/nonexistent/wheels"),
    ("--wheelhouse", "{empty}"),
    ("--wheelhouse", "{file}"),
    # consent timeout: a positive, finite number of seconds
    ("--consent-timeout", "0"),
    ("--consent-timeout", "-5"),
    ("--consent-timeout", "nan"),
    ("--consent-timeout", "inf"),
    ("--consent-timeout", "1e300"),
    # project folder
    ("--dir", ""),
    ("--dir", "proj\n"),
    # profile
    ("--profile", ""),
    ("--profile", "default\n"),
]

# Options every command takes: checked the same way for status, cleanup and doctor.
COMMON = ("--dir", "--region", "--profile", "--sandbox-endpoint")


def _value(value: str, tmp_path: Path) -> str:
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir(exist_ok=True)
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    return value.format(empty=empty, file=file)


def _options(tmp_path: Path, *args: str):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return options_from(build_parser().parse_args([*args[:1], "--dir", str(project), *args[1:]]))


def _assert_refused(error: UsageError, flag: str) -> None:
    assert error.message.startswith(f"{flag}: "), error.message  # names the option
    assert error.fix, error.message  # and its rule
    assert "Authorization" not in error.message + error.fix


def test_the_matrix_is_big_enough() -> None:
    assert len(MATRIX) >= 50
    assert {flag for flag, _ in MATRIX} >= {
        "--agent-name",
        "--provider-name",
        "--workload-name",
        "--region",
        "--scopes",
        "--model-id",
        "--return-url",
        "--session-id",
        "--execution-role",
        "--sandbox-endpoint",
        "--wheelhouse",
        "--consent-timeout",
        "--dir",
    }


@pytest.mark.parametrize(("flag", "value"), MATRIX, ids=[f"{flag}={value!r}"[:60] for flag, value in MATRIX])
def test_invalid_value_is_refused_before_anything(tmp_path: Path, flag: str, value: str) -> None:
    value = _value(value, tmp_path)
    commands = ["run"] + (["status", "cleanup", "doctor"] if flag in COMMON else [])
    for command in commands:
        with pytest.raises(UsageError) as caught:
            _options(tmp_path, command, f"{flag}={value}")  # given last, a --dir wins over the test's own
        _assert_refused(caught.value, flag)
    # Nothing was written anywhere: checking the options touches no file.
    assert not (tmp_path / "project" / ".agentcore-wizard").exists()


VALID: list[tuple[str, str]] = [
    ("--agent-name", "identity_demo"),
    ("--agent-name", "a" * 48),
    ("--provider-name", "External-Service_Provider"),
    ("--workload-name", "identity-demo.workload_1"),
    ("--region", "us-east-1"),
    ("--region", "us-gov-west-1"),
    ("--region", "ap-southeast-2"),
    ("--scopes", "openid,profile email"),
    ("--scopes", "https://www.googleapis.com/auth/drive.readonly"),
    ("--model-id", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("--model-id", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"),
    ("--return-url", "http://localhost:8081/oauth2/callback"),
    ("--return-url", "http://127.0.0.1:65535/"),
    ("--return-url", "http://localhost:9000/a/b%20c"),
    ("--session-id", "agentcore-wizard-" + "0" * 32),
    ("--session-id", "x" * 256),
    ("--execution-role", "AgentCoreRuntimeRole"),
    ("--execution-role", "arn:aws:iam::123456789012:role/service-role/My+Role=,.@_-"),
    ("--execution-role", "arn:aws-cn:iam::123456789012:role/MyRole"),
    ("--sandbox-endpoint", "http://127.0.0.1:4566"),
    ("--sandbox-endpoint", "http://localhost:4566/"),
    ("--sandbox-endpoint", "https://sandbox.example.org/prefix"),
    ("--sandbox-endpoint", "http://[::1]:4566"),
    ("--consent-timeout", "0.5"),
    ("--consent-timeout", "600"),
    ("--profile", "my-sso_profile"),
]


@pytest.mark.parametrize(("flag", "value"), VALID, ids=[f"{flag}={value!r}"[:60] for flag, value in VALID])
def test_valid_values_are_taken_as_they_are(tmp_path: Path, flag: str, value: str) -> None:
    options = _options(tmp_path, "run", f"{flag}={value}")
    got = getattr(options, flag[2:].replace("-", "_"))
    expected = float(value) if flag == "--consent-timeout" else value
    if flag == "--scopes":
        expected = tuple(value.replace(" ", ",").split(","))
    assert got == expected


def test_a_wheelhouse_of_wheels_is_taken(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "x-1.0-py3-none-any.whl").write_bytes(b"")
    assert _options(tmp_path, "run", f"--wheelhouse={wheels}").wheelhouse == wheels.resolve()


# --- the real CLI: a representative dozen ----------------------------------------------------------

CLI_CASES: list[tuple[str, str, str]] = [
    ("run", "--agent-name", "identity_demo\n"),
    ("run", "--agent-name", ""),
    ("run", "--region", "us-west-2\n"),
    ("run", "--region", ""),
    ("run", "--provider-name", "ExternalServiceProvider\n"),
    ("run", "--workload-name", "ab"),
    ("run", "--return-url", "http://localhost:8081/cb?query#fragment"),
    ("run", "--session-id", "a" * 40 + "\n"),
    ("run", "--execution-role", "arn:aws:iam::123:role/x"),
    ("run", "--model-id", "a b"),
    ("run", "--consent-timeout", "nan"),
    ("status", "--region", "us-west-2\n"),
    ("cleanup", "--region", ""),
    ("doctor", "--sandbox-endpoint", "ftp://127.0.0.1:9"),
]


@pytest.mark.cli
@pytest.mark.parametrize(("command", "flag", "value"), CLI_CASES, ids=[f"{c} {f}={v!r}" for c, f, v in CLI_CASES])
def test_real_cli_refuses_with_exit_2(tmp_path: Path, command: str, flag: str, value: str) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    args = [command, "--dir", str(folder)]
    if command == "run":
        args += ["--yes"]
    if flag != "--sandbox-endpoint":
        args += ["--sandbox-endpoint", DEAD_ENDPOINT]
    result = run_cli(folder, *args, f"{flag}={value}", timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert result.stderr.startswith(f"error: {flag}: "), output
    assert "\n  fix: " in result.stderr, output
    assert "Traceback" not in output
    assert "Authorization" not in output
    assert "· AWS" not in output  # no AWS call was announced
    assert not (folder / ".agentcore-wizard").exists()  # no state file, no lock
    assert list(folder.iterdir()) == []
