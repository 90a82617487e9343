"""The core session every front end drives: settings resolved once, stages that describe themselves, one
operation at a time, questions answered later, typed events, and one map of fixes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import RecordingPort, cli_env, client, open_session, reopen, run_cli, stop_folder_sandbox

from wizard import errors
from wizard.errors import Busy, ConfirmationRequired, UsageError, explain
from wizard.events import (
    AnswerChunk,
    AwsCall,
    ChooseRegion,
    Confirm,
    ConsentClosed,
    ConsentRequested,
    LogLine,
    OfferSandbox,
    OperationChanged,
    Progress,
    StatusChanged,
    Summary,
)
from wizard.session import NOBODY, Session
from wizard.settings import DEFAULT_MODEL, DEFAULT_PROVIDER, Options
from wizard.steps import STAGES, Registry
from wizard.steps.base import Stage

EU_MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


# --- settings: flag > what the project recorded > default -----------------------------------------


def test_a_value_is_the_default_until_recorded_and_then_the_projects(project: Path) -> None:
    session = open_session(Options(project=project))
    assert session.settings.provider_name == DEFAULT_PROVIDER
    assert session.settings.source("provider_name") == "default"
    session = reopen(session, provider_name="MyOwnProvider")
    assert session.settings.provider_name == "MyOwnProvider"
    assert session.settings.source("provider_name") == "--provider-name"
    session.settings.record("provider_name")
    # Later, without the flag: the project's value, not the default.
    session = reopen(session, provider_name=None)
    assert session.settings.provider_name == "MyOwnProvider"
    assert session.settings.source("provider_name") == "this project"
    # The same flag again is no conflict.
    session = reopen(session, provider_name="MyOwnProvider")
    assert session.settings.provider_name == "MyOwnProvider"


def test_a_differing_flag_is_refused_with_the_way_to_change_it(project: Path) -> None:
    session = open_session(Options(project=project, model_id=EU_MODEL))
    session.settings.record("model_id")
    session.close()
    with pytest.raises(UsageError) as refused:
        open_session(Options(project=project, model_id="us.other-model-v1:0"))
    error = refused.value
    assert "--model-id us.other-model-v1:0" in error.message and EU_MODEL in error.message
    assert "--reconfigure" in error.fix and "Leave --model-id out" in error.fix
    # Refusing changed nothing and let go of the folder: the next open works.
    again = open_session(Options(project=project))
    assert again.settings.model_id == EU_MODEL


def test_reconfigure_switches_and_sends_the_stages_that_use_it_back(wizard: Any) -> None:
    for key in ("preflight", "agent"):
        assert wizard.run_stage(key).ok
    recorded = wizard.state.data["settings"]
    assert recorded["model_id"] == DEFAULT_MODEL and recorded["scopes"] == ["openid"]
    switched = reopen(wizard, model_id=EU_MODEL, reconfigure=True)
    assert switched.settings.model_id == EU_MODEL
    assert switched.state.data["settings"]["model_id"] == EU_MODEL
    assert switched.status_of("agent") == "pending"
    assert "--reconfigure" in switched.error_of("agent")["message"]
    assert switched.status_of("preflight") == "done"  # does not use the model
    outcome = switched.run_through("agent")
    assert outcome.ok, outcome.error and outcome.error.message
    assert f"MODEL_ID = {EU_MODEL!r}" in (switched.project / "agent.py").read_text()


def test_a_name_the_wizard_created_something_under_cannot_change_in_place(project: Path) -> None:
    session = open_session(Options(project=project, provider_name="MyOwnProvider"))
    session.settings.record("provider_name")
    session.state.record("provider", "name", "MyOwnProvider")
    session.state.record("provider", "origin", "created")
    session.close()
    with pytest.raises(UsageError) as refused:
        open_session(Options(project=project, provider_name="Other", reconfigure=True))
    assert "credential provider MyOwnProvider" in refused.value.fix
    assert "agentcore-wizard cleanup" in refused.value.fix


def test_the_recorded_settings_are_in_the_status(wizard: Any) -> None:
    assert wizard.run_stage("agent").ok
    settings = wizard.summary()["settings"]
    assert settings["model_id"] == {"value": DEFAULT_MODEL, "from": "this project"}
    assert settings["session_id"] == {"value": None, "from": "default"}
    json.dumps(wizard.summary())


@pytest.mark.cli
def test_the_done_when_journey_keeps_its_settings(tmp_path: Path) -> None:
    """Stages 0-6 with --provider-name and --model-id, then status --verify, doctor and run without them:
    nothing drifted, no second provider, agent.py unchanged; a different --provider-name is refused."""
    folder = tmp_path / "settings"
    folder.mkdir()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(folder, *args, timeout=180)

    try:
        first = cli(
            "run", "--sandbox", "--yes", "--through", "workload", "--provider-name", "MyOwnProvider",
            "--model-id", EU_MODEL,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        agent_py = (folder / "agent.py").read_bytes()
        assert f"MODEL_ID = {EU_MODEL!r}".encode() in agent_py
        verify = cli("status", "--verify", "--json")
        assert verify.returncode == 0, verify.stderr[-2000:]
        statuses = {row["key"]: row["status"] for row in json.loads(verify.stdout)["stages"]}
        assert [statuses[key] for key in ("agent", "provider")] == ["done", "done"], statuses
        doctor = cli("doctor", "--json")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr[-2000:]
        assert all(finding["level"] == "ok" for finding in json.loads(doctor.stdout)), doctor.stdout
        again = cli("run", "--through", "workload")
        assert again.returncode == 0, again.stderr[-2000:]
        assert (folder / "agent.py").read_bytes() == agent_py
        endpoint = json.loads((folder / ".agentcore-wizard" / "sandbox.json").read_text())["endpoint"]
        control = client("bedrock-agentcore-control", endpoint)
        names = [p["name"] for p in control.list_oauth2_credential_providers(maxResults=20)["credentialProviders"]]
        assert names == ["MyOwnProvider"]
        for output in (verify, doctor, again):
            assert "CreateOauth2CredentialProvider" not in output.stderr
        other = cli("run", "--through", "workload", "--provider-name", "SomeoneElse")
        assert other.returncode == 2, other.stderr
        assert "MyOwnProvider" in other.stderr and "SomeoneElse" in other.stderr
        assert "cleanup" in other.stderr  # the wizard created MyOwnProvider: only a cleanup lets the name go
        assert (folder / "agent.py").read_bytes() == agent_py
    finally:
        stop_folder_sandbox(folder)


# --- stages describe themselves ------------------------------------------------------------------


def test_the_registry_derives_numbers_orders_gate_and_adoption() -> None:
    registry = Registry(STAGES)
    assert [stage.number for stage in registry.run_order] == list(range(9))
    assert registry.get("cleanup").number is None and not registry.get("cleanup").in_run
    teardown = [stage.key for stage in registry.teardown_order]
    # Every stage is torn down before everything it requires.
    for index, key in enumerate(teardown):
        for required in registry.requirements(key):
            if required.key in teardown:
                assert teardown.index(required.key) > index, (key, required.key)
    assert teardown[0] == "invoke" and teardown[-1] == "cognito"
    assert [stage.key for stage in registry.adoptable] == [
        "cognito",
        "agent",
        "configure",
        "provider",
        "workload",
        "deploy",
    ]
    assert {stage.key for stage in registry.requirements("deploy")} == {
        "preflight",
        "cognito",
        "agent",
        "configure",
        "provider",
        "workload",
    }
    assert registry.name("provider") == "stage 5 (Create credential provider)"
    assert registry.name("cleanup", capital=True) == "Cleanup"


def test_a_new_stage_is_one_class_and_one_line() -> None:
    class TeaStage(Stage):
        key = "tea"
        title = "Make tea"
        requires = ("agent",)

    stages = list(STAGES)
    stages.insert(stages.index(next(cls for cls in STAGES if cls.key == "configure")), TeaStage)
    registry = Registry(stages)
    assert registry.get("tea").number == 4 and registry.get("configure").number == 5
    assert registry.get("invoke").number == 9
    assert registry.name("configure") == "stage 5 (Configure agent with JWT auth)"


def test_a_stage_that_requires_a_later_one_is_refused() -> None:
    class Early(Stage):
        key = "early"
        requires = ("deploy",)

    with pytest.raises(ValueError, match="early requires 'deploy'"):
        Registry([Early, *STAGES])


# --- one operation at a time; questions answered later --------------------------------------------


class HoldingPort(RecordingPort):
    """Keeps each question's answer callback for the test to call later, from another thread."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[Any, Any]] = []
        self.asked = threading.Event()

    def ask(self, question: Any, answer: Any) -> None:
        self.questions.append(question)
        self.pending.append((question, answer))
        self.asked.set()


def _waiting_to_overwrite(project: Path) -> tuple[Session, HoldingPort, threading.Thread, list[Any]]:
    """Stage 3 running in a thread of its own, waiting for the answer to "overwrite your edited agent.py?"."""
    port = HoldingPort()
    session = open_session(Options(project=project), port)
    assert session.run_stage("agent").ok
    path = session.project / "agent.py"
    path.write_text(path.read_text() + "\n# mine\n")
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(session.run_stage("agent")))
    worker.start()
    assert port.asked.wait(30), "the overwrite question never came"
    return session, port, worker, outcome


def test_a_second_operation_while_one_runs_is_busy_and_the_answer_comes_later(project: Path) -> None:
    session, port, worker, outcome = _waiting_to_overwrite(project)
    question, answer = port.pending[-1]
    assert isinstance(question, Confirm) and "agent.py" in question.text and question.stage == "agent"
    assert session.busy and "stage 3" in session.busy
    with pytest.raises(Busy) as busy:
        session.verify_stage("agent")
    assert "stage 3" in busy.value.message
    answer(True)  # from this thread, while the stage waits in the other
    worker.join(30)
    assert outcome and outcome[0].ok
    assert "# mine" not in (project / "agent.py").read_text()
    assert session.busy is None
    kinds = [event.what for event in port.events if isinstance(event, OperationChanged)]
    assert kinds[-2:] == [kinds[-2], None] and kinds[-2]


def test_cancel_while_a_question_waits_stops_the_stage(project: Path) -> None:
    session, _port, worker, outcome = _waiting_to_overwrite(project)
    session.cancel()
    worker.join(30)
    assert outcome and not outcome[0].ok and outcome[0].status == "failed"
    assert "Stopped at your request" in outcome[0].error.message
    assert "# mine" in (project / "agent.py").read_text()  # nothing was overwritten
    # The stop ended with the operation: the next one runs.
    assert session.verify_stage("agent").checks


def test_a_region_question_then_the_sandbox_offer_and_no_aws_call(project: Path, monkeypatch: Any) -> None:
    """AWS mode with no region and no credentials: the session asks for a region, then offers the sandbox;
    declined, the stage fails with the way forward, and no request was sent anywhere."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    port = RecordingPort()
    answers = {ChooseRegion: "eu-west-1", OfferSandbox: False}
    port.decide = lambda question: answers[type(question)]
    session = open_session(Options(project=project), port)
    outcome = session.run_stage("preflight")
    assert [type(question) for question in port.questions] == [ChooseRegion, OfferSandbox]
    assert not outcome.ok and outcome.error.code == "NoCredentialsError"
    assert "--sandbox" in outcome.error.fix
    assert not [event for event in port.events if isinstance(event, AwsCall) and event.operation != "GetCallerIdentity"]
    assert not (project / ".agentcore-wizard" / "sandbox.json").exists()


def test_the_account_is_confirmed_before_anything_is_created_in_aws(project: Path) -> None:
    session = open_session(Options(project=project))
    session.state.update(mode="aws", region="eu-west-1", account="123456789012")
    session.state.set_status("preflight", "done")
    outcome = session.run_stage("cognito")
    assert not outcome.ok and isinstance(outcome.error, ConfirmationRequired)
    assert "AWS account 123456789012, region eu-west-1" in outcome.error.message
    assert "--yes" in outcome.error.fix and "--sandbox" in outcome.error.fix
    assert session.status_of("cognito") == "pending"
    assert not [event for event in session.events if isinstance(event, AwsCall)]


def test_unanswerable_yes_is_refused_but_defaults_are_taken(project: Path) -> None:
    session = Session(Options(project=project))
    assert session._ask(Confirm("agent", text="Overwrite?", default=False)) is False
    assert session._ask(Confirm("agent", text="Write?", default=True)) is True
    with pytest.raises(ConfirmationRequired):
        session._ask(Confirm("cleanup", text="Delete?", needs_yes=True))
    assert session._ask(ChooseRegion("preflight", text="Which?")) is None
    assert NOBODY is not None


# --- typed events ----------------------------------------------------------------------------------


def test_every_event_kind_turns_into_one_json_object() -> None:
    events = [
        LogLine("cognito", "Created pool", "success"),
        AwsCall("cognito", "cognito-idp", "CreateUserPool"),
        Progress("deploy", 0.5, "packaging"),
        Progress("deploy", None, "waiting"),
        StatusChanged("agent", "done"),
        OperationChanged("", "running stage 3"),
        AnswerChunk("invoke", "first", "hello", False),
        ConsentRequested("invoke", "https://x/authorize", "externaluser1", True, "http://localhost:1/cb"),
        ConsentClosed("invoke", "approved"),
        Confirm("configure", text="Write?", detail="+ a line", default=True),
        Summary("", {"stages": []}),
    ]
    kinds = set()
    for event in events:
        line = json.dumps(event.to_json())
        decoded = json.loads(line)
        assert decoded["kind"] == event.kind and "\n" not in line
        kinds.add(event.kind)
    assert len(kinds) == len({type(event) for event in events})  # one kind per class
    assert json.loads(json.dumps(AwsCall("x", "s3", "PutObject").to_json()))["operation"] == "PutObject"


@pytest.mark.cli
def test_run_json_prints_one_object_a_line_and_ends_with_the_summary(tmp_path: Path, sandbox_endpoint: str) -> None:
    folder = tmp_path / "json"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "wizard", "run", "--sandbox-endpoint", sandbox_endpoint, "--yes", "--json"]
        + ["--through", "agent"],
        cwd=folder,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(isinstance(line, dict) and "kind" in line for line in lines)
    kinds = {line["kind"] for line in lines}
    assert {"log", "aws", "status", "operation", "progress"} <= kinds, kinds
    assert lines[-1]["kind"] == "summary"
    assert [row["status"] for row in lines[-1]["stages"][:4]] == ["done"] * 4
    created = [line for line in lines if line["kind"] == "aws" and line["operation"] == "CreateUserPool"]
    assert len(created) == 2 and {line["stage"] for line in created} == {"cognito"}
    # The human-readable run still goes to stderr.
    assert "[1] Create Cognito pools" in result.stderr


# --- one map of fixes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "needle"),
    [
        (errors.RuntimeRefused(401, '{"message": "bad token"}'), "bearer token"),
        (errors.RuntimeRefused(403, '{"message": "Authorization method mismatch"}'), "stage 4 (Configure"),
        (errors.RuntimeRefused(424, "{}"), "stage 7 (Deploy agent)"),
        (errors.CheckFailed("project folder writable", "/x: denied", "folder_not_writable"), "--dir"),
        (errors.CheckFailed("Python 3.10+", "Python 3.9.1", "python_too_old"), "Python 3.10"),
        (errors.AgentAnswered("Failed to authenticate: Workload access token has not been set"), "invoke_async"),
        (errors.AgentAnswered("I cannot help"), "stage 3 (Create agent code)"),
    ],
)
def test_explain_gives_every_failure_its_fix(failure: Exception, needle: str) -> None:
    assert needle in explain(failure).fix


def test_a_service_error_of_complete_resource_token_auth_gets_its_fix() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "ValidationException", "Message": "odd"}}, "CompleteResourceTokenAuth")
    assert "fresh session" in explain(error).fix
    expired = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Invalid or expired session."}},
        "CompleteResourceTokenAuth",
    )
    assert "expired or was completed with another token" in explain(expired).fix


def test_fixes_name_stages_as_the_registry_numbers_them() -> None:
    assert errors.render_stage_refs("Run {deploy}; {Cognito} first; {nosuch} stays") == (
        "Run stage 7 (Deploy agent); Stage 1 (Create Cognito pools) first; {nosuch} stays"
    )
    assert explain("nothing known about this").fix == ""


def test_options_are_frozen(project: Path) -> None:
    options = Options(project=project)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.provider_name = "x"  # type: ignore[misc]


def test_a_role_given_by_name_is_the_role_recorded_by_arn(project: Path) -> None:
    """Earlier versions recorded the role a person brought as its ARN; passing its bare name again is no change."""
    arn = "arn:aws:iam::123456789012:role/MyRole"
    session = open_session(Options(project=project, execution_role=arn))
    session.settings.record("execution_role")
    session = reopen(session, execution_role="MyRole")
    assert session.settings.conflicts() == []
    assert session.state.data["settings"]["execution_role"] == arn
    session.close()
    with pytest.raises(UsageError, match="OtherRole"):
        open_session(Options(project=project, execution_role="OtherRole"))


# --- what the review of the session found ---------------------------------------------------------


def test_reconfigure_reports_the_stages_it_sends_back(wizard: Any) -> None:
    assert wizard.run_stage("agent").ok
    switched = reopen(wizard, model_id=EU_MODEL, reconfigure=True)
    changed = [event for event in switched.events if isinstance(event, StatusChanged) and event.stage == "agent"]
    assert changed[-1].status == "pending" and changed[-1].error["code"] == "reconfigured"
    on_disk = json.loads(switched.state.path.read_text())
    assert on_disk["settings"]["model_id"] == EU_MODEL and on_disk["stages"]["agent"]["status"] == "pending"


def test_a_stop_while_the_account_question_waits_is_an_outcome(project: Path) -> None:
    port = HoldingPort()
    session = open_session(Options(project=project), port)
    session.state.update(mode="aws", region="eu-west-1", account="123456789012")
    session.state.set_status("preflight", "done")
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(session.run_stage("cognito")))
    worker.start()
    assert port.asked.wait(30)
    assert isinstance(port.questions[-1], Confirm) and "AWS account 123456789012" in port.questions[-1].text
    session.cancel()
    worker.join(30)
    assert outcome and not outcome[0].ok and "nothing was created" in outcome[0].error.message
    assert session.status_of("cognito") == "pending" and session.busy is None


def test_a_stop_asked_while_idle_does_not_stop_the_next_operation(project: Path) -> None:
    session = open_session(Options(project=project))
    session.cancel()
    assert session.run_stage("agent").ok


def test_a_confirmation_at_a_terminal_is_asked_on_stderr_so_stdout_stays_json(monkeypatch: Any) -> None:
    import io

    from wizard.headless import HeadlessPort

    out, err = io.StringIO(), io.StringIO()
    port = HeadlessPort(json_lines=True, interactive=True, out=out, err=err)
    monkeypatch.setattr("builtins.input", lambda *args: "y")
    answers: list[Any] = []
    port.ask(Confirm("cognito", text="Create quickstart resources?", needs_yes=True), answers.append)
    assert answers == [True]
    assert [json.loads(line)["kind"] for line in out.getvalue().splitlines()] == ["question"]
    assert "Create quickstart resources? [y/N]" in err.getvalue()


def test_a_400_that_is_not_about_the_session_id_gets_the_general_fix() -> None:
    other = explain(errors.RuntimeRefused(400, '{"message": "Request body is not valid JSON"}'))
    assert "session id" not in other.fix
    short = explain(errors.RuntimeRefused(400, '{"message": "runtimeSessionId is too short"}'))
    assert "33 to 256" in short.fix


@pytest.mark.cli
def test_cleanup_that_cannot_work_exits_1_with_its_fix(tmp_path: Path, wheelhouse: Path) -> None:
    """No state, identity files naming pools, no region anywhere: not a "no" from the person, a failure."""
    folder = tmp_path / "noregion"
    folder.mkdir()
    (folder / ".agentcore_identity_cognito_user.json").write_text(
        json.dumps(
            {
                "runtime": {"pool_id": "us-east-1_x", "client_id": "c", "username": "u", "password": "p"},
                "identity": {"pool_id": "us-east-1_y", "client_id": "d", "username": "v", "password": "q"},
            }
        )
    )
    result = run_cli(folder, "cleanup", "--yes")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "region" in result.stderr.lower() and "fix:" in result.stderr
    assert "Traceback" not in result.stderr
