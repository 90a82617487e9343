"""Stage 8 against the in-process sandbox: bearer token, one session, consent over HTTP, completion, re-invoke."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import (
    BEFORE_DEPLOY,
    cli_env,
    client,
    free_port,
    headless_chromium,
    make_unique,
    open_session,
    reopen,
    run_cli,
    stop_folder_sandbox,
)

from wizard import consent, inbound_token
from wizard.errors import ConsentLapsed, UsageError, WaitingOnUser
from wizard.events import AwsCall, ConsentClosed, ConsentRequested
from wizard.files import identity as idf


def aws_calls(wizard: Any) -> list[str]:
    return [event.message for event in wizard.events if event.kind == "aws"]


def answers(wizard: Any) -> str:
    return "".join(event.text for event in wizard.events if event.kind == "answer")


def invocations(wizard: Any) -> int:
    """InvokeAgentRuntime calls the session announced (each is announced just before it is sent)."""
    return sum(1 for event in wizard.events if isinstance(event, AwsCall) and event.operation == "InvokeAgentRuntime")


def recorded_session_id(wizard: Any) -> str | None:
    """The runtime session id as the project recorded it (and as the settings read it)."""
    recorded = (wizard.state.data.get("settings") or {}).get("session_id")
    assert wizard.settings.session_id == recorded
    return recorded


def identity_user(wizard: Any) -> idf.PoolRecord:
    files = idf.read_identity_json(wizard.options.project)
    assert files is not None
    return files.identity


def consent_url(wizard: Any, timeout: float = 30.0) -> str:
    """The authorization URL the stage announced, once it is waiting for the browser."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in list(wizard.events):
            if event.kind == "consent_requested" and event.url:
                return str(event.url)
        time.sleep(0.05)
    raise AssertionError("the stage never asked for consent")


def run_in_thread(wizard: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("outcome", wizard.run_stage("invoke")), daemon=True)
    thread.start()
    return thread, result


def test_auto_consent_completes_the_loop_in_one_session(deployed: Any) -> None:
    deployed = reopen(deployed, auto_consent=True)
    outcome = deployed.run_stage("invoke")
    assert outcome.ok, outcome.error and outcome.error.message
    session_id = recorded_session_id(deployed)
    assert session_id is not None and len(session_id) >= 33
    calls = [call for call in aws_calls(deployed) if "InvokeAgentRuntime" in call]
    assert len(calls) == 2 and all(session_id in call for call in calls), calls
    assert "first call" in calls[0] and "second call" in calls[1]
    assert "bedrock-agentcore CompleteResourceTokenAuth" in aws_calls(deployed)
    text = answers(deployed)
    assert text.index("Authorization Required") < text.index("Authenticated to external service"), text
    assert "Authenticated to external service" in deployed.state.resources("invoke")["answer"]
    assert any(check.name.startswith("session completed") and check.ok for check in outcome.checks)
    # Nothing the agent or Cognito handed over is kept: only the session id and the answer.
    recorded = json.dumps(deployed.state.resources("invoke"))
    assert "eyJ" not in recorded
    assert "eyJ" not in json.dumps(deployed.state.data)


def test_consent_in_a_browser_reaches_the_listener(deployed: Any) -> None:
    """What a person does: open the link, sign in, approve; the browser lands on the wizard's listener."""
    thread, result = run_in_thread(deployed)
    url = consent_url(deployed)
    user = identity_user(deployed)
    location = consent.sandbox_consent(url, user.username, user.password)
    assert location.startswith(deployed.ctx.return_url + "?")
    assert consent.follow_to_listener(location)
    thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message
    # The listener is gone with the stage: a later run can listen there again.
    again = consent.ReturnListener(deployed.ctx.return_url, deployed.ctx.consent_inbox, sessions=None)
    again.start()
    again.stop()


def sign_in(browser: Any, username: str, password: str) -> str:
    """Type into the sandbox's sign-in form and send it; the page's text after."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return str(browser.find_element(By.TAG_NAME, "body").text)


def approve(browser: Any, return_url: str) -> str:
    """Press Approve once it is there; wait until the browser has landed on the return URL; the page's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[value=approve]"))
    browser.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(return_url))
    return str(browser.find_element(By.TAG_NAME, "body").text)


def test_consent_in_headless_chromium_signs_in_approves_and_lands_on_the_wizard(deployed: Any) -> None:
    """A real browser, as a person uses it: the link the stage shows, the sign-in form, Approve; the browser is
    sent to the wizard's listener, which says what happens next, and the stage finishes with the agent's answer."""
    browser = headless_chromium()
    try:
        thread, result = run_in_thread(deployed)
        user = identity_user(deployed)
        browser.get(consent_url(deployed))
        sign_in(browser, user.username, user.password)
        landed = approve(browser, deployed.ctx.return_url)
        assert "Approved" in landed and "Go back to the terminal" in landed
        assert user.password not in browser.page_source
    finally:
        browser.quit()
    thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message
    assert "Authenticated to external service" in deployed.state.resources("invoke")["answer"]


def test_a_wrong_password_in_the_browser_is_said_there_and_the_stage_keeps_waiting(deployed: Any) -> None:
    browser = headless_chromium()
    try:
        thread, result = run_in_thread(deployed)
        user = identity_user(deployed)
        browser.get(consent_url(deployed))
        assert "Incorrect username or password." in sign_in(browser, user.username, user.password + "-wrong")
        assert thread.is_alive()  # still waiting for the approval: a typo costs nothing
        sign_in(browser, user.username, user.password)
        approve(browser, deployed.ctx.return_url)
    finally:
        browser.quit()
    thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message


def test_pasted_url_completes_when_the_port_is_taken(deployed: Any) -> None:
    """Browser on another machine, or the port in use: the URL the browser ended on is pasted instead."""
    port = int(deployed.ctx.return_url.split(":")[2].split("/")[0])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        thread, result = run_in_thread(deployed)
        url = consent_url(deployed)
        user = identity_user(deployed)
        location = consent.sandbox_consent(url, user.username, user.password)
        deployed.deliver_redirect("this is not a URL")  # a wrong paste is explained and waited past
        deployed.deliver_redirect(location)
        thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message
    logs = [event.message for event in deployed.events if event.kind == "log"]
    assert any("Cannot listen on 127.0.0.1" in line for line in logs), logs
    assert any("not the URL your browser ended on" in line for line in logs), logs


def landing_on(location: str, port: int) -> tuple[int, str]:
    """A browser that lands on `port` with the query of `location` (what happened when two wizards shared one)."""
    parts = urllib.parse.urlsplit(location)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def port_of(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


def test_a_stale_approval_is_refused_and_the_stage_waits_for_its_own(deployed: Any) -> None:
    """An older link of this project approved late (a second tab, the browser's history): it no longer fails the
    stage or completes the wrong session; the listener refuses it and the stage goes on waiting for its own."""
    timed_out = reopen(deployed, consent_timeout=0.5)
    assert timed_out.run_stage("invoke").status == "needs_action"
    old_link = consent_url(timed_out)
    user = identity_user(timed_out)
    stale = consent.sandbox_consent(old_link, user.username, user.password)
    deployed = reopen(timed_out, consent_timeout=None)
    deployed.events.clear()
    thread, result = run_in_thread(deployed)
    link = consent_url(deployed)
    assert consent.session_of_link(link) != consent.session_of_link(old_link)
    status, page = landing_on(stale, port_of(deployed.ctx.return_url))
    assert status == 409 and "another agentcore-wizard session" in page
    deployed.deliver_redirect(stale)  # pasted as well: explained and waited past
    assert thread.is_alive()
    assert consent.follow_to_listener(consent.sandbox_consent(link, user.username, user.password))
    thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message
    logs = [event.message for event in deployed.events if event.kind == "log"]
    assert any("for another session, not the one this link started" in line for line in logs), logs


def test_the_consent_request_says_which_project_holds_the_port(
    deployed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is taken by another wizard's project: the consent box (the event) names it, and the paste works."""
    from wizard import return_ports

    monkeypatch.setenv(return_ports.REGISTRY_ENV, str(tmp_path / "claims"))
    other = tmp_path / "other-project"
    other.mkdir()
    port = port_of(deployed.ctx.return_url)
    assert return_ports.claim(other, ports=[port]) == port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        thread, result = run_in_thread(deployed)
        url = consent_url(deployed)
        requested = next(event for event in deployed.events if isinstance(event, ConsentRequested))
        assert requested.listening is False
        assert requested.not_listening_because == (
            f"port {port} is claimed by another agentcore-wizard project, {other.resolve()}"
        )
        user = identity_user(deployed)
        deployed.deliver_redirect(consent.sandbox_consent(url, user.username, user.password))
        thread.join(60)
    outcome = result["outcome"]
    assert outcome.ok, outcome.error and outcome.error.message


def test_denied_consent_fails_with_a_way_forward(deployed: Any) -> None:
    thread, result = run_in_thread(deployed)
    url = consent_url(deployed)
    user = identity_user(deployed)
    location = consent.sandbox_consent(url, user.username, user.password, approve=False)
    assert consent.follow_to_listener(location)
    thread.join(60)
    outcome = result["outcome"]
    assert not outcome.ok and outcome.status == "failed"
    assert "denied" in outcome.error.message and "Approve" in outcome.error.fix
    assert "bedrock-agentcore CompleteResourceTokenAuth" not in aws_calls(deployed)


def test_no_approval_in_time_waits_on_the_user(deployed: Any) -> None:
    deployed = reopen(deployed, consent_timeout=0.5)
    outcome = deployed.run_stage("invoke")
    assert not outcome.ok
    assert outcome.status == "needs_action"
    assert isinstance(outcome.error, WaitingOnUser) and not isinstance(outcome.error, ConsentLapsed)
    assert deployed.status_of(deployed.stage("invoke")) == "needs_action"
    closed = [event for event in deployed.events if isinstance(event, ConsentClosed)]
    assert [event.outcome for event in closed] == ["timed_out"]
    # The session stays for the next attempt, which asks again in it.
    session_id = recorded_session_id(deployed)
    assert session_id is not None
    deployed = reopen(deployed, consent_timeout=None, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    assert recorded_session_id(deployed) == session_id


def test_a_lapsed_link_drops_the_session_for_a_fresh_one(deployed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consent, "CONSENT_SECONDS", 0.5)
    outcome = deployed.run_stage("invoke")
    assert outcome.status == "needs_action" and isinstance(outcome.error, ConsentLapsed)
    assert "fresh session" in outcome.error.fix
    assert "session_id" not in (deployed.state.data.get("settings") or {})
    assert deployed.settings.session_id is None


def test_tampered_token_fails_clearly_and_status_shows_it(deployed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fetch = inbound_token.fetch

    def tampered(*args: Any, **kwargs: Any) -> inbound_token.BearerToken:
        token = real_fetch(*args, **kwargs)
        head, payload, signature = token.value.split(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        return inbound_token.BearerToken(f"{head}.{payload}.{flipped}", token.client_id, token.expires_at)

    monkeypatch.setattr(inbound_token, "fetch", tampered)
    outcome = deployed.run_stage("invoke")
    assert not outcome.ok and outcome.status == "failed"
    assert "401" in outcome.error.message and "bearer token" in outcome.error.fix
    row = next(row for row in deployed.rows() if row["key"] == "invoke")
    assert row["status"] == "failed" and "401" in row["error"]["message"]


def test_expired_token_fails_clearly(deployed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token signed like the sandbox's Cognito's, but expired (the wizard renews; a clock skew does not)."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey
    from moto.utilities.utils import load_resource

    key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    real_fetch = inbound_token.fetch

    def expired(*args: Any, **kwargs: Any) -> inbound_token.BearerToken:
        token = real_fetch(*args, **kwargs)
        claims = inbound_token.claims_of(token.value)
        claims.update(exp=int(time.time()) - 600, iat=int(time.time()) - 4200)
        value = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        # Claimed fresh to the wizard, so it is sent; the runtime must refuse it.
        return inbound_token.BearerToken(value, token.client_id, time.time() + 3600)

    monkeypatch.setattr(inbound_token, "fetch", expired)
    outcome = deployed.run_stage("invoke")
    assert not outcome.ok and outcome.status == "failed"
    assert "401" in outcome.error.message and "expired" in outcome.error.message.lower()


def test_short_session_id_is_refused_before_anything_is_sent(deployed: Any) -> None:
    deployed = reopen(deployed, session_id="too-short")
    before = len(aws_calls(deployed))
    outcome = deployed.run_stage("invoke")
    assert not outcome.ok and "33" in outcome.error.message
    assert aws_calls(deployed)[before:] == []
    assert "session_id" not in (deployed.state.data.get("settings") or {})


def test_a_given_session_id_is_used_for_both_calls(deployed: Any) -> None:
    given = "workshop-session-" + "x" * 20
    deployed = reopen(deployed, session_id=given, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    calls = [call for call in aws_calls(deployed) if "InvokeAgentRuntime" in call]
    assert len(calls) == 2 and all(given in call for call in calls)
    assert recorded_session_id(deployed) == given


def test_another_session_id_is_refused_unless_reconfigured(deployed: Any) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    recorded = recorded_session_id(deployed)
    other = "another-session-" + "y" * 20
    with pytest.raises(UsageError) as caught:
        reopen(deployed, session_id=other)
    assert "--session-id" in caught.value.message and recorded in caught.value.message
    assert "--reconfigure" in caught.value.fix
    deployed = reopen(deployed, session_id=other, reconfigure=True)
    assert recorded_session_id(deployed) == other
    assert deployed.status_of("invoke") == "pending" and deployed.status_of("deploy") == "done"
    mark = len(deployed.events)
    assert deployed.run_stage("invoke").ok
    calls = [event.message for event in deployed.events[mark:] if isinstance(event, AwsCall)]
    invoked = [call for call in calls if "InvokeAgentRuntime" in call]
    assert invoked and all(other in call for call in invoked), invoked


def test_verify_asks_the_agent_again_and_consent_is_remembered(deployed: Any) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    before = len(aws_calls(deployed))
    outcome = deployed.verify_stage("invoke", deep=True)
    assert outcome.ok, outcome.checks
    assert any("InvokeAgentRuntime" in call for call in aws_calls(deployed)[before:])
    # Running again: the vault holds the user's token, so the first call already answers with it.
    deployed = reopen(deployed, auto_consent=False)
    deployed.state.set_status("invoke", "pending")
    again = deployed.run_stage("invoke")
    assert again.ok
    assert "bedrock-agentcore CompleteResourceTokenAuth" not in aws_calls(deployed)[before:]


def test_a_cheap_verify_does_not_invoke_the_agent(deployed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    from wizard.steps import invoke as invoke_stage

    sent: list[str] = []
    real_invoke = invoke_stage.invoke

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.append(str(args[0]))
        return real_invoke(*args, **kwargs)

    monkeypatch.setattr(invoke_stage, "invoke", counted)
    before = invocations(deployed)
    outcome = deployed.verify_stage("invoke")
    assert outcome.ok, outcome.checks
    assert invocations(deployed) == before and sent == []
    assert {check.name for check in outcome.checks} == {
        "session id recorded",
        "runtime READY",
        "authenticated answer recorded",
    }
    # The deep one does ask the agent, once, through the same path.
    assert deployed.verify_stage("invoke", deep=True).ok
    assert invocations(deployed) == before + 1 and len(sent) == 1


def test_verify_reports_a_deleted_runtime(deployed: Any, sandbox_endpoint: str) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    runtime_id = deployed.state.resources("deploy")["runtime_id"]
    client("bedrock-agentcore-control", sandbox_endpoint).delete_agent_runtime(agentRuntimeId=runtime_id)
    outcome = deployed.verify_stage("invoke", deep=True)
    assert not outcome.ok
    assert deployed.status_of(deployed.stage("invoke")) in ("done", "drifted")


def test_auto_consent_is_refused_against_aws(wizard: Any) -> None:
    wizard = reopen(wizard, sandbox_endpoint=None, auto_consent=True)
    stage = wizard.stage("invoke")
    with pytest.raises(UsageError):
        stage.run(wizard.ctx)


def test_invoke_waits_for_deploy(wizard: Any) -> None:
    outcome = wizard.run_stage("invoke")
    assert not outcome.ok and "stage 0" in outcome.error.message


def test_the_command_keeps_one_session_id(deployed: Any) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    session_id = recorded_session_id(deployed)
    assert session_id
    command = deployed.stage("invoke").describe(deployed.ctx).command
    assert command.count(session_id) == 2
    assert "uuidgen" not in command
    assert "https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore" in command


def test_consent_events_carry_what_the_screen_needs(deployed: Any) -> None:
    deployed = reopen(deployed, auto_consent=True)
    assert deployed.run_stage("invoke").ok
    consent_events = [event for event in deployed.events if event.kind in ("consent_requested", "consent_closed")]
    assert [event.kind for event in consent_events] == ["consent_requested", "consent_closed"]
    requested, closed = consent_events
    assert isinstance(requested, ConsentRequested) and isinstance(closed, ConsentClosed)
    assert requested.stage == closed.stage == "invoke"
    logs = [event.message for event in deployed.events if event.kind == "log"]
    assert "/identities/oauth2/authorize?request_uri=" in requested.url and requested.url in logs
    assert requested.listening is True and requested.not_listening_because == ""
    assert requested.username == identity_user(deployed).username
    assert requested.return_url == deployed.ctx.return_url
    assert requested.approving_itself is True  # --auto-consent signs in itself; the front end opens nothing
    assert closed.outcome == "approved"
    # The event names who signs in, never the password.
    for event in consent_events:
        assert identity_user(deployed).password not in json.dumps(event.to_json())


@pytest.mark.cli
def test_full_journey_headless(tmp_path: Path, wheelhouse: Path) -> None:
    """The issue's done-when: `run --sandbox --yes --auto-consent` in an empty folder does 0-8."""
    import subprocess
    import sys

    env = cli_env()
    folder = tmp_path / "journey"
    folder.mkdir()
    return_url = f"http://localhost:{free_port()}/oauth2/callback"
    run = [sys.executable, "-m", "wizard", "run", "--sandbox", "--yes", "--auto-consent"]
    run += ["--wheelhouse", str(wheelhouse), "--return-url", return_url]
    try:
        # With --json: every event as one JSON line on stdout, as it happens; the readable lines on stderr.
        result = subprocess.run([*run, "--json"], cwd=folder, env=env, capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert lines and all(isinstance(line, dict) and isinstance(line.get("kind"), str) for line in lines)
        kinds = {line["kind"] for line in lines}
        expected = {"log", "aws", "progress", "status", "answer", "consent_requested", "consent_closed", "operation"}
        assert expected <= kinds, kinds
        assert lines[-1]["kind"] == "summary" and [line["kind"] for line in lines].count("summary") == 1
        assert lines[-1]["project"] == str(folder.resolve()) and len(lines[-1]["stages"]) == 10
        output = result.stdout + result.stderr
        first, second = output.split("the agent's answer (first call)")[1].split("the agent's answer (second call)")
        assert "/identities/oauth2/authorize?request_uri=" in first
        assert "Authenticated to external service" in second
        status = run_cli(folder, "status", "--json", timeout=60)
        summary = json.loads(status.stdout)
        stages = {row["key"]: row for row in summary["stages"]}
        assert all(row["status"] == "done" for row in summary["stages"] if row["number"] is not None), stages
        assert summary["settings"]["session_id"]["from"] == "this project"
        session_id = summary["settings"]["session_id"]["value"]
        assert len(session_id) >= 33 and session_id in output
        # The run's last line is what `status --json` says (the values; `run` got --return-url as a flag).
        # (status also says what it found, looking read-only: the rest is the same.)
        assert lines[-1]["stages"] == [{k: v for k, v in row.items() if k != "found"} for row in summary["stages"]]
        assert all(row["found"]["status"] == "done" for row in summary["stages"] if row["number"] is not None)
        values = {name: item["value"] for name, item in summary["settings"].items()}
        assert {name: item["value"] for name, item in lines[-1]["settings"].items()} == values
        # No password, client secret or token anywhere but the two identity files.
        files = idf.read_identity_json(folder)
        assert files is not None
        secrets = [files.runtime.password, files.identity.password, files.identity.client_secret or ""]
        for secret in filter(None, secrets):
            assert secret not in output
        assert "eyJ" not in output
        for path in folder.rglob("*"):
            if not path.is_file() or path.name in idf.SECRET_FILES:
                continue
            data = path.read_bytes()
            for secret in filter(None, secrets):
                assert secret.encode() not in data, path
            assert b"eyJ" not in data or path.suffix in (".whl", ".zip"), path
        # Unchanged: a second run does nothing and still exits 0.
        again = subprocess.run(run, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "InvokeAgentRuntime" not in again.stderr
        # Checking costs nothing: neither `status --verify` nor `doctor` asks the agent (that runs its model).
        for command in (["status", "--verify"], ["doctor"]):
            checked = run_cli(folder, *command)
            assert checked.returncode == 0, (command, checked.stdout[-2000:], checked.stderr[-2000:])
            assert "GetAgentRuntime" in checked.stderr, (command, checked.stderr[-2000:])  # it did check AWS
            assert "InvokeAgentRuntime" not in checked.stdout + checked.stderr, command
        # And back to a clean account: cleanup removes it all; a second cleanup has nothing to do.
        cleanup = [sys.executable, "-m", "wizard", "cleanup", "--yes", "--json"]
        gone = subprocess.run(cleanup, cwd=folder, env=env, capture_output=True, text=True, timeout=240)
        assert gone.returncode == 0, gone.stderr[-3000:]
        cleanup_lines = [json.loads(line) for line in gone.stdout.splitlines()]
        assert cleanup_lines[-1]["kind"] == "summary"
        after = {row["key"]: row["status"] for row in cleanup_lines[-1]["stages"]}
        assert after.pop("cleanup") == "done" and set(after.values()) == {"pending"}, after
        assert not any((folder / name).exists() for name in idf.SECRET_FILES)
        assert not (folder / "agent.py").exists() and not (folder / ".bedrock_agentcore.yaml").exists()
        twice = subprocess.run(cleanup, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert twice.returncode == 0, twice.stderr[-2000:]
        assert "Nothing the wizard made is left" in twice.stderr
        assert " Delete" not in twice.stderr
    finally:
        stop_folder_sandbox(folder)


@pytest.mark.cli
def test_headless_exits_3_while_waiting(tmp_path: Path, wheelhouse: Path) -> None:
    import subprocess
    import sys

    env = cli_env()
    folder = tmp_path / "waiting"
    folder.mkdir()
    run = [sys.executable, "-m", "wizard", "run", "--sandbox", "--yes", "--no-browser", "--consent-timeout", "1"]
    run += ["--wheelhouse", str(wheelhouse), "--return-url", f"http://localhost:{free_port()}/oauth2/callback"]
    try:
        result = subprocess.run(run, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        assert result.returncode == 3, result.stderr[-2000:]
        assert "/identities/oauth2/authorize?request_uri=" in result.stderr
        assert re.search(r"8\s+invoke\s+needs_action", result.stderr), result.stderr[-1500:]
    finally:
        stop_folder_sandbox(folder)


@pytest.mark.cli
def test_cli_refuses_bad_stage_8_options(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = cli_env()
    cases = [
        (["run", "--sandbox", "--session-id", "short"], "33"),
        (["run", "--sandbox", "--return-url", "https://example.com/cb"], "--return-url"),
        (["run", "--sandbox", "--consent-timeout", "0"], "--consent-timeout"),
        (["run", "--auto-consent", "--yes"], "--auto-consent"),
    ]
    for args, needle in cases:
        result = subprocess.run(
            [sys.executable, "-m", "wizard", *args, "--dir", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)
    assert not (tmp_path / ".agentcore-wizard" / "sandbox.json").exists()


# --- two wizards at once on one machine -------------------------------------------------------------------


@pytest.fixture
def two_deployed(tmp_path: Path, sandbox_endpoint: str, wheelhouse: Path) -> list[Any]:
    """Two projects deployed on one sandbox, neither given --return-url: each gets the port the wizard chose."""
    from wizard.settings import Options

    wizards = []
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        folder.mkdir()
        options = Options(project=folder, sandbox_endpoint=sandbox_endpoint, region="us-east-1", no_browser=True)
        wizard = make_unique(open_session(options), wheelhouse)
        for key in (*BEFORE_DEPLOY, "deploy"):
            outcome = wizard.run_stage(key)
            assert outcome.ok, (name, key, outcome.error and outcome.error.message)
        wizards.append(wizard)
    return wizards


def test_two_wizards_wait_for_consent_at_once_and_each_completes_its_own(
    two_deployed: list[Any], sandbox_endpoint: str
) -> None:
    from wizard import return_ports

    alpha, beta = two_deployed
    urls = [wizard.ctx.return_url for wizard in two_deployed]
    assert urls[0] != urls[1]
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    for wizard, url in zip(two_deployed, urls, strict=True):
        assert port_of(url) in return_ports.PORTS  # not the toolkit's 8081, which every project shared
        assert wizard.state.data["settings"]["return_url"] == url  # pinned for the project
        assert return_ports.claimed_by(port_of(url)) == str(wizard.options.project.resolve())
        allowed = control.get_workload_identity(name=wizard.settings.workload_name)
        assert url in allowed["allowedResourceOauth2ReturnUrls"]
    runs = [run_in_thread(wizard) for wizard in two_deployed]
    links = [consent_url(wizard) for wizard in two_deployed]  # both are waiting now, each on its own port
    sessions = [consent.session_of_link(link) for link in links]
    assert None not in sessions and sessions[0] != sessions[1]
    users = [identity_user(wizard) for wizard in two_deployed]
    locations = [
        consent.sandbox_consent(link, user.username, user.password) for link, user in zip(links, users, strict=True)
    ]
    assert [location.split("?")[0] for location in locations] == urls
    # Beta's browser on alpha's port (what a shared port did): refused, nothing completed, alpha waits on.
    status, page = landing_on(locations[1], port_of(urls[0]))
    assert status == 409 and f"port {port_of(urls[0])}" in page
    assert all(thread.is_alive() for thread, _ in runs)
    # Each browser where its own link sends it: both complete, each with its own session.
    for location in reversed(locations):
        assert consent.follow_to_listener(location)
    for (thread, result), wizard in zip(runs, two_deployed, strict=True):
        thread.join(60)
        outcome = result["outcome"]
        assert outcome.ok, outcome.error and outcome.error.message
        assert "Authenticated to external service" in wizard.state.resources("invoke")["answer"]
        closed = [event.outcome for event in wizard.events if isinstance(event, ConsentClosed)]
        assert closed == ["approved"]
    assert recorded_session_id(alpha) != recorded_session_id(beta)
