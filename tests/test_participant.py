"""Workshop participants: one name that every resource name carries, so a room shares one sandbox or account.

The sandbox of a test worker is shared by all its tests, so each test here uses participant names of its own."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import client, open_session, reopen

from wizard import names
from wizard.errors import UsageError
from wizard.ownership import PARTICIPANT_TAG, PROJECT_TAG

REGION = "us-east-1"


def _participant() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def _open(options: Any, folder: Path, participant: str | None, **more: Any) -> Any:
    folder.mkdir(exist_ok=True)
    return open_session(dataclasses.replace(options, project=folder, participant=participant, **more))


def _through(session: Any, last: str) -> None:
    for key in ("preflight", "cognito", "env", "agent", "configure", "provider", "workload"):
        outcome = session.run_stage(key)
        assert outcome.ok, (key, outcome.error and outcome.error.message)
        if key == last:
            return


# --- the name itself -------------------------------------------------------------------------------


@pytest.mark.parametrize("given, kept", [("alice", "alice"), ("Alice", "alice"), ("p07", "p07")])
def test_a_participant_name_is_letters_and_digits_lowercased(given: str, kept: str) -> None:
    assert names.check_participant(given) == kept


@pytest.mark.parametrize("bad", ["", "7up", "al ice", "al-ice", "al_ice", "alice\n", "a" * 21, "ałice"])
def test_a_bad_participant_name_is_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(UsageError) as raised:
        names.check_participant(bad)
    assert "letters and digits" in raised.value.fix


def test_the_longest_participant_still_fits_every_name_it_goes_into() -> None:
    longest = "a" * 20
    derived = names.participant_names(longest)
    assert names.check_agent_name(derived["agent_name"])
    assert names.check_provider_name(derived["provider_name"])
    assert names.check_workload_name(derived["workload_name"])
    # Cognito domain prefixes: at most 63 characters (the longer of the two prefixes, the participant, the id).
    assert len(f"agentcore-identity-{longest}-12345678") <= 63
    # The wizard's role: at most 64.
    assert len(f"AgentCoreWizard-{derived['agent_name']}-12345678") <= 64


def test_the_cli_checks_participant_before_anything(tmp_path: Path) -> None:
    from wizard.cli import build_parser, options_from

    args = build_parser().parse_args(["run", "--dir", str(tmp_path), "--participant", "Bob"])
    assert options_from(args).participant == "bob"
    bad = build_parser().parse_args(["status", "--dir", str(tmp_path), "--participant", "bob smith"])
    with pytest.raises(UsageError) as raised:
        options_from(bad)
    assert raised.value.message.startswith("--participant:")


# --- names, recording and refusals -------------------------------------------------------------------


def test_names_derive_from_the_participant_and_a_flag_still_wins(options: Any, tmp_path: Path) -> None:
    session = _open(options, tmp_path / "a", "alice", provider_name="MyProvider")
    settings = session.settings
    assert (settings.agent_name, settings.workload_name) == ("alice_identity_demo", "alice-identity-demo-workload")
    assert settings.provider_name == "MyProvider"
    assert settings.recorded()["participant"] == "alice"  # recorded on first use


def test_without_a_participant_the_single_user_defaults_stay(options: Any, tmp_path: Path) -> None:
    settings = _open(options, tmp_path / "solo", None).settings
    assert (settings.agent_name, settings.provider_name, settings.workload_name) == (
        "identity_demo",
        "ExternalServiceProvider",
        "identity-demo-workload",
    )
    assert "participant" not in settings.recorded()


def test_the_recorded_participant_carries_on_without_the_flag_and_a_change_is_refused(
    options: Any, tmp_path: Path
) -> None:
    session = _open(options, tmp_path / "a", "alice")
    session = reopen(session, participant=None)
    assert session.settings.agent_name == "alice_identity_demo"
    session.close()
    with pytest.raises(UsageError) as raised:
        _open(options, tmp_path / "a", "bob")
    assert "--participant bob was asked for, but this project uses alice" in raised.value.message


def test_a_participant_is_refused_on_a_project_that_chose_names_without_one(options: Any, tmp_path: Path) -> None:
    session = _open(options, tmp_path / "solo", None, agent_name=f"agent_{uuid.uuid4().hex[:8]}")
    session.settings.record("agent_name")
    session.close()
    with pytest.raises(UsageError) as raised:
        _open(options, tmp_path / "solo", "alice")
    assert "set up without --participant" in raised.value.message
    assert "--dir" in raised.value.fix


# --- a room on one sandbox -----------------------------------------------------------------------------


def test_two_participants_share_one_sandbox_with_names_of_their_own(
    options: Any, tmp_path: Path, sandbox_endpoint: str
) -> None:
    first, second = _participant(), _participant()
    sessions = {p: _open(options, tmp_path / p, p) for p in (first, second)}
    for session in sessions.values():
        _through(session, "workload")
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    idp = client("cognito-idp", sandbox_endpoint)
    for participant, session in sessions.items():
        provider = control.get_oauth2_credential_provider(name=f"{participant}-ExternalServiceProvider")
        assert provider["name"] == session.settings.provider_name
        workload = control.get_workload_identity(name=f"{participant}-identity-demo-workload")
        tags = control.list_tags_for_resource(resourceArn=workload["workloadIdentityArn"])["tags"]
        assert tags[PARTICIPANT_TAG] == participant
        assert tags[PROJECT_TAG] == session.state.data["project_id"]
        cognito = session.state.stage("cognito")["resources"]
        for role in ("runtime", "identity"):
            assert f"-{participant}-" in cognito[f"{role}_pool_name"]
            assert f"-{participant}-" in cognito[f"{role}_domain"]
            pool = idp.describe_user_pool(UserPoolId=cognito[f"{role}_pool_id"])["UserPool"]
            assert pool["UserPoolTags"][PARTICIPANT_TAG] == participant


def test_a_second_folder_with_a_taken_participant_name_stops_and_changes_nothing(
    options: Any, tmp_path: Path, sandbox_endpoint: str
) -> None:
    participant = _participant()
    owner = _open(options, tmp_path / "owner", participant)
    _through(owner, "workload")
    control = client("bedrock-agentcore-control", sandbox_endpoint)
    workload = f"{participant}-identity-demo-workload"
    before_workload = control.get_workload_identity(name=workload)
    before_provider = control.get_oauth2_credential_provider(name=f"{participant}-ExternalServiceProvider")

    other = _open(options, tmp_path / "other", participant)
    _through(other, "configure")
    outcome = other.run_stage("provider")
    assert not outcome.ok and outcome.error is not None
    assert outcome.error.code == "participant_name_taken"
    assert "not this project's" in outcome.error.message and "--participant" in outcome.error.fix
    # The owner's provider is untouched (no update to the other project's identity pool client).
    after = control.get_oauth2_credential_provider(name=f"{participant}-ExternalServiceProvider")
    assert after["oauth2ProviderConfigOutput"] == before_provider["oauth2ProviderConfigOutput"]
    # Its workload identity is refused too, at once, and keeps only the owner's return URLs.
    refused = other.run_stage("workload")
    assert refused.error is not None and refused.error.code == "participant_name_taken", refused.error
    after_workload = control.get_workload_identity(name=workload)
    assert after_workload["allowedResourceOauth2ReturnUrls"] == before_workload["allowedResourceOauth2ReturnUrls"]
    assert not other.state.stage("provider").get("resources", {}).get("origin")


def test_stage_0_shows_the_participant_and_the_workshop_without_its_join_code(options: Any, tmp_path: Path) -> None:
    session = _open(options, tmp_path / "shown", "alice")
    session.options = dataclasses.replace(session.options, workshop="http://127.0.0.1:9/workshop/?code=secretcode1")
    session.settings.options = session.options
    rows = {label: value for label, value, _secret in session.stages.get("preflight").values(session.ctx)}
    assert rows["Participant"].startswith("alice")
    assert rows["Workshop"].startswith("http://127.0.0.1:9/workshop/ ") and "secretcode1" not in rows["Workshop"]
