"""Stages 4-6 (configure, provider, workload) against the in-process sandbox, through the core session.

Every test has its own folder, its own Cognito pools and its own provider and workload names: the
in-process sandbox is shared by all tests of a worker, and the quickstart's default names would collide.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from wizard_helpers import answer_confirms, client, reopen

from wizard.files import agentcore_yaml
from wizard.files import identity as idf
from wizard.steps.cognito import agentcore_callback_url
from wizard.steps.configure import expected_authorizer

REGION = "us-east-1"
YAML_NAME = agentcore_yaml.YAML_NAME
CREATING_OR_CHANGING = (
    "CreateOauth2CredentialProvider",
    "UpdateOauth2CredentialProvider",
    "DeleteOauth2CredentialProvider",
    "CreateWorkloadIdentity",
    "UpdateWorkloadIdentity",
    "DeleteWorkloadIdentity",
    "UpdateUserPoolClient",
    "CreateUserPoolClient",
)


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def idp(sandbox_endpoint: str) -> Any:
    return client("cognito-idp", sandbox_endpoint)


@pytest.fixture
def control(sandbox_endpoint: str) -> Any:
    return client("bedrock-agentcore-control", sandbox_endpoint)


@pytest.fixture
def ready(wizard: Any) -> Any:
    """Stages 0, 1 and 3 done (what 4-6 need), with names no other test in this sandbox uses."""
    tag = uuid.uuid4().hex[:8]
    wizard = reopen(wizard, provider_name=f"Provider_{tag}", workload_name=f"workload-{tag}")
    for key in ("preflight", "cognito", "agent"):
        outcome = wizard.run_stage(key)
        assert outcome.ok, (key, outcome.error and outcome.error.message)
    return wizard


def run_ok(wizard: Any, key: str) -> None:
    outcome = wizard.run_stage(key)
    assert outcome.ok and outcome.status == "done", (key, outcome.error and outcome.error.message)


def files_of(wizard: Any) -> idf.IdentityFiles:
    files = idf.read_identity_json(wizard.options.project)
    assert files is not None
    return files


def yaml_text(wizard: Any) -> str:
    return (wizard.options.project / YAML_NAME).read_text(encoding="utf-8")


def yaml_data(wizard: Any) -> dict[str, Any]:
    data = yaml.safe_load(yaml_text(wizard))
    assert isinstance(data, dict)
    return data


def identity_client(idp: Any, files: idf.IdentityFiles) -> dict[str, Any]:
    answer = idp.describe_user_pool_client(UserPoolId=files.identity.pool_id, ClientId=files.identity.client_id)
    return dict(answer["UserPoolClient"])


def all_pages(call: Any, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        answer = call(**({"nextToken": token} if token else {}), maxResults=20)
        items += answer[key]
        token = answer.get("nextToken")
        if not token:
            return items


def provider_names(control: Any) -> list[str]:
    return sorted(p["name"] for p in all_pages(control.list_oauth2_credential_providers, "credentialProviders"))


def workload_names(control: Any) -> list[str]:
    return sorted(w["name"] for w in all_pages(control.list_workload_identities, "workloadIdentities"))


def aws_calls(events: list[Any]) -> list[str]:
    """ "service Operation" for every AWS call reported."""
    return [f"{event.service} {event.operation}" for event in events if event.kind == "aws"]


def reported(events: list[Any]) -> str:
    """Everything the events said, every field of every kind."""
    return "\n".join(json.dumps(event.to_json(), default=str) for event in events)


def secrets_of(files: idf.IdentityFiles) -> list[str]:
    found = [files.identity.client_secret or "", files.identity.password, files.runtime.password]
    assert all(found)
    return found


def full_update(idp: Any, client: dict[str, Any], **changes: Any) -> None:
    """An UpdateUserPoolClient that copies every setting (as a careful person would by hand)."""
    allowed = set(idp.meta.service_model.operation_model("UpdateUserPoolClient").input_shape.members)
    request = {key: value for key, value in client.items() if key in allowed}
    request.update(changes)
    idp.update_user_pool_client(**request)


# --- the happy path --------------------------------------------------------------------------------


def test_stages_4_to_6_write_the_toolkit_yaml_and_the_state(ready: Any, control: Any, idp: Any) -> None:
    wizard = ready
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    files = files_of(wizard)
    data = yaml_data(wizard)
    assert list(data) == ["default_agent", "agents"]
    assert data["default_agent"] == "identity_demo"
    agent = data["agents"]["identity_demo"]
    assert agent["authorizer_configuration"] == {
        "customJWTAuthorizer": {
            "discoveryUrl": files.runtime.discovery_url,
            "allowedClients": [files.runtime.client_id],
        }
    }
    assert agent["entrypoint"] == str(wizard.options.project / "agent.py")
    assert agent["deployment_type"] == "direct_code_deploy"
    assert agent["aws"]["network_configuration"]["network_mode"] == "PUBLIC"
    assert agent["aws"]["region"] == REGION and agent["aws"]["account"] == wizard.state.data["account"]
    assert agent["memory"]["mode"] == "NO_MEMORY"

    provider = control.get_oauth2_credential_provider(name=wizard.settings.provider_name)
    assert provider["credentialProviderVendor"] == "CustomOauth2"
    config = provider["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]
    assert config["clientId"] == files.identity.client_id
    assert config["oauthDiscovery"]["discoveryUrl"] == files.identity.discovery_url
    assert agent["identity"]["credential_providers"] == [
        {
            "name": wizard.settings.provider_name,
            "arn": provider["credentialProviderArn"],
            "type": "cognito",
            "callback_url": provider["callbackUrl"],
        }
    ]
    workload = control.get_workload_identity(name=wizard.settings.workload_name)
    assert workload["allowedResourceOauth2ReturnUrls"] == [wizard.ctx.return_url]
    assert agent["identity"]["workload"] == {
        "name": wizard.settings.workload_name,
        "arn": workload["workloadIdentityArn"],
        "return_urls": [wizard.ctx.return_url],
    }
    assert provider["callbackUrl"] in identity_client(idp, files)["CallbackURLs"]

    # The state file records the same, and every stage verifies.
    assert wizard.state.resources("configure")["agent_name"] == "identity_demo"
    recorded = wizard.state.resources("provider")
    assert recorded["name"] == wizard.settings.provider_name
    assert recorded["arn"] == provider["credentialProviderArn"]
    assert recorded["callback_url"] == provider["callbackUrl"]
    assert recorded["origin"] == "created"
    recorded = wizard.state.resources("workload")
    assert recorded["name"] == wizard.settings.workload_name
    assert recorded["arn"] == workload["workloadIdentityArn"]
    assert recorded["origin"] == "created"
    for key in ("configure", "provider", "workload"):
        outcome = wizard.verify_stage(key)
        assert outcome.ok and outcome.status == "done", (key, outcome.error and outcome.error.message)


def test_the_secret_really_reaches_the_provider(ready: Any, sandbox_endpoint: str) -> None:
    """The other side of "never on a command line": boto3 did get it, so the provider can use it."""
    wizard = ready
    run_ok(wizard, "configure")
    run_ok(wizard, "provider")
    arn = wizard.state.resources("provider")["client_secret_arn"]
    stored = client("secretsmanager", sandbox_endpoint).get_secret_value(SecretId=arn)["SecretString"]
    assert json.loads(stored) == {"clientSecret": files_of(wizard).identity.client_secret}


# --- 2. the callback URL, added without losing a setting -------------------------------------------


def test_provider_adds_its_callback_url_and_keeps_every_client_setting(ready: Any, idp: Any, control: Any) -> None:
    wizard = ready
    files = files_of(wizard)
    # Settings beyond the quickstart's, as someone might have made them: all must survive stage 5.
    full_update(
        idp,
        identity_client(idp, files),
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=2,
        IdTokenValidity=3,
        RefreshTokenValidity=7,
        TokenValidityUnits={"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"},
        LogoutURLs=["https://example.com/signed-out"],
        PreventUserExistenceErrors="ENABLED",
    )
    before = identity_client(idp, files)
    assert before["AccessTokenValidity"] == 2 and before["LogoutURLs"] == ["https://example.com/signed-out"]

    # What the wizard sends: the sandbox's Cognito (moto) merges an update, where real Cognito resets
    # every setting left out, so the request itself must carry them all.
    sent: list[dict[str, Any]] = []
    wizard.ctx.client("cognito-idp").meta.events.register(
        "provide-client-params.cognito-idp.UpdateUserPoolClient", lambda params, **_: sent.append(dict(params))
    )
    run_ok(wizard, "configure")
    run_ok(wizard, "provider")
    callback = control.get_oauth2_credential_provider(name=wizard.settings.provider_name)["callbackUrl"]
    assert callback and callback != agentcore_callback_url(REGION)

    after = identity_client(idp, files)
    assert after["CallbackURLs"] == [*before["CallbackURLs"], callback]
    assert agentcore_callback_url(REGION) in after["CallbackURLs"]
    unchanged = {k: v for k, v in before.items() if k not in ("CallbackURLs", "LastModifiedDate")}
    assert {k: after.get(k) for k in unchanged} == unchanged
    for key in (
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "AllowedOAuthFlowsUserPoolClient",
        "SupportedIdentityProviders",
        "ExplicitAuthFlows",
        "AccessTokenValidity",
        "IdTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
        "ClientName",
        "LogoutURLs",
    ):
        assert key in unchanged, key  # the comparison above really covered it

    assert len(sent) == 1, sent
    request = sent[0]
    assert request["CallbackURLs"] == [*before["CallbackURLs"], callback]
    updatable = set(idp.meta.service_model.operation_model("UpdateUserPoolClient").input_shape.members)
    for key, value in before.items():
        if key in updatable and key != "CallbackURLs":
            assert request.get(key) == value, f"UpdateUserPoolClient left out or changed {key}"


# --- 3. running again changes and creates nothing --------------------------------------------------


def test_running_4_to_6_again_changes_and_creates_nothing(ready: Any, idp: Any, control: Any) -> None:
    wizard = ready
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    files = files_of(wizard)
    text = yaml_text(wizard)
    providers, workloads = provider_names(control), workload_names(control)
    callbacks = identity_client(idp, files)["CallbackURLs"]
    resources = {key: wizard.state.resources(key) for key in ("configure", "provider", "workload")}
    assert wizard.settings.provider_name in providers and wizard.settings.workload_name in workloads

    asked: list[str] = []
    answer_confirms(wizard, False, asked)  # nothing should even need asking
    del wizard.events[:]
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    assert asked == []
    assert yaml_text(wizard) == text
    assert provider_names(control) == providers
    assert workload_names(control) == workloads
    after = identity_client(idp, files)["CallbackURLs"]
    assert after == callbacks
    assert len(after) == len(set(after))
    assert {key: wizard.state.resources(key) for key in ("configure", "provider", "workload")} == resources
    calls = aws_calls(wizard.events)
    assert calls  # it did look
    for call in calls:
        assert call.split()[-1] not in CREATING_OR_CHANGING, call


def _hand_edit(wizard: Any) -> dict[str, Any]:
    data = yaml_data(wizard)
    data["agents"]["other_agent"] = {
        "name": "other_agent",
        "entrypoint": "other.py",
        "my_own_key": {"nested": [1, "two", None]},
        "identity": {"credential_providers": [{"name": "TheirProvider", "arn": "arn:their"}], "workload": None},
    }
    data["agents"]["identity_demo"]["authorizer_configuration"] = {
        "customJWTAuthorizer": {
            "discoveryUrl": "https://example.com/.well-known/openid-configuration",
            "allowedClients": ["someone-else"],
        }
    }
    (wizard.options.project / YAML_NAME).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data


def test_configure_again_keeps_other_agents_and_the_identity_section(ready: Any) -> None:
    wizard = ready
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    identity = copy.deepcopy(yaml_data(wizard)["agents"]["identity_demo"]["identity"])
    assert identity["credential_providers"] and identity["workload"]
    edited = _hand_edit(wizard)

    # The wrong authorizer is drift; running configure again repairs it.
    drift = wizard.verify_stage("configure")
    assert not drift.ok and drift.status == "drifted"
    asked: list[str] = []
    answer_confirms(wizard, True, asked)
    run_ok(wizard, "configure")
    assert len(asked) == 1 and "someone-else" in asked[0]  # the diff was shown before writing

    data = yaml_data(wizard)
    assert data["default_agent"] == "identity_demo"
    assert data["agents"]["other_agent"] == edited["agents"]["other_agent"]
    agent = data["agents"]["identity_demo"]
    assert agent["identity"] == identity
    assert agent["authorizer_configuration"] == expected_authorizer(files_of(wizard))
    # Provider and workload still find themselves in the file.
    for key in ("provider", "workload"):
        outcome = wizard.verify_stage(key)
        assert outcome.ok, (key, outcome.error and outcome.error.message)


def test_configure_from_pending_keeps_a_hand_added_agent(ready: Any) -> None:
    """The other way to force it: the state says configure is pending again (e.g. a lost state file)."""
    wizard = ready
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    identity = copy.deepcopy(yaml_data(wizard)["agents"]["identity_demo"]["identity"])
    edited = _hand_edit(wizard)
    wizard.state.set_status("configure", "pending")
    assert wizard.detect_stage("configure").status == "pending"
    run_ok(wizard, "configure")  # headless: the diff is written (the question's default is yes)
    data = yaml_data(wizard)
    assert data["agents"]["other_agent"] == edited["agents"]["other_agent"]
    assert data["agents"]["identity_demo"]["identity"] == identity
    assert data["agents"]["identity_demo"]["authorizer_configuration"] == expected_authorizer(files_of(wizard))


def test_configure_declined_leaves_the_file_as_it_was(ready: Any) -> None:
    wizard = ready
    run_ok(wizard, "configure")
    _hand_edit(wizard)
    text = yaml_text(wizard)
    answer_confirms(wizard, False, [])
    outcome = wizard.run_stage("configure")
    assert not outcome.ok and outcome.status == "needs_action"
    assert yaml_text(wizard) == text


# --- 4. bad names: refused before any AWS call -----------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "option", "bad", "rule"),
    [
        ("configure", "agent_name", "qs-agent", "no '-'"),
        ("configure", "agent_name", "1agent", "Start with a letter"),
        ("provider", "provider_name", "bad name!", "letters, digits, '-' or '_'"),
        ("workload", "workload_name", "ab", "3-255"),
    ],
)
def test_bad_names_are_refused_before_any_aws_call(
    ready: Any, control: Any, stage: str, option: str, bad: str, rule: str
) -> None:
    wizard = ready
    if stage != "configure":
        run_ok(wizard, "configure")
    providers, workloads = provider_names(control), workload_names(control)
    text = yaml_text(wizard) if (wizard.options.project / YAML_NAME).exists() else None
    # The name given at open (the CLI checks names itself, so this is how a bad one reaches the stage). A name
    # the project already recorded changes only with --reconfigure, which sets the stages that use it back to
    # pending: those before the stage under test run again with it first (none of them checks the name).
    wizard = reopen(wizard, reconfigure=True, **{option: bad})
    for key in ("agent", "configure"):
        if wizard.stages.keys.index(key) < wizard.stages.keys.index(stage) and wizard.status_of(key) != "done":
            run_ok(wizard, key)
    del wizard.events[:]
    outcome = wizard.run_stage(stage)
    assert not outcome.ok and outcome.status != "done"
    message = f"{outcome.error.message} {outcome.error.fix}"
    assert repr(bad) in message and rule in message, message
    assert aws_calls(wizard.events) == []
    assert provider_names(control) == providers and workload_names(control) == workloads
    now = yaml_text(wizard) if (wizard.options.project / YAML_NAME).exists() else None
    assert now == text


# --- 5. a provider of that name with other settings ------------------------------------------------


def _foreign_provider(control: Any, wizard: Any) -> dict[str, Any]:
    files = files_of(wizard)
    return dict(
        control.create_oauth2_credential_provider(
            name=wizard.settings.provider_name,
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={
                "customOauth2ProviderConfig": {
                    "oauthDiscovery": {"discoveryUrl": files.identity.discovery_url},
                    "clientId": "someoneelsesclient0000000",
                    "clientSecret": "someone-elses-secret",
                }
            },
        )
    )


def test_provider_with_other_settings_is_never_changed_silently(ready: Any, control: Any, idp: Any) -> None:
    wizard = ready
    run_ok(wizard, "configure")
    foreign = _foreign_provider(control, wizard)
    updated_at = control.get_oauth2_credential_provider(name=foreign["name"])["lastUpdatedTime"]
    files = files_of(wizard)
    callbacks = identity_client(idp, files)["CallbackURLs"]
    text = yaml_text(wizard)

    detection = wizard.detect_stage("provider")
    assert detection.status == "needs_action", detection.evidence
    assert any("someoneelsesclient0000000" in line for line in detection.evidence), detection.evidence

    outcome = wizard.run_stage("provider")  # headless: the question's default is no
    assert not outcome.ok and outcome.status == "needs_action"
    assert "client id" in outcome.error.message and "someoneelsesclient0000000" in outcome.error.message
    assert "--provider-name" in outcome.error.fix
    assert wizard.status_of(wizard.stage("provider")) == "needs_action"
    now = control.get_oauth2_credential_provider(name=wizard.settings.provider_name)
    assert now["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == "someoneelsesclient0000000"
    assert now["lastUpdatedTime"] == updated_at
    assert now["credentialProviderArn"] == foreign["credentialProviderArn"]
    assert identity_client(idp, files)["CallbackURLs"] == callbacks
    assert foreign["callbackUrl"] not in callbacks
    assert yaml_text(wizard) == text


def test_provider_with_other_settings_is_updated_when_confirmed(
    ready: Any, control: Any, idp: Any, sandbox_endpoint: str
) -> None:
    wizard = ready
    run_ok(wizard, "configure")
    _foreign_provider(control, wizard)
    asked: list[str] = []
    answer_confirms(wizard, True, asked)
    run_ok(wizard, "provider")
    assert len(asked) == 1 and "someoneelsesclient0000000" in asked[0]
    files = files_of(wizard)
    for secret in secrets_of(files):
        assert secret not in asked[0]
    now = control.get_oauth2_credential_provider(name=wizard.settings.provider_name)
    config = now["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]
    assert config["clientId"] == files.identity.client_id
    assert config["oauthDiscovery"]["discoveryUrl"] == files.identity.discovery_url
    stored = client("secretsmanager", sandbox_endpoint).get_secret_value(SecretId=now["clientSecretArn"]["secretArn"])
    assert json.loads(stored["SecretString"]) == {"clientSecret": files.identity.client_secret}
    assert now["callbackUrl"] in identity_client(idp, files)["CallbackURLs"]
    assert wizard.status_of(wizard.stage("provider")) == "done"
    assert wizard.verify_stage("provider").ok


# --- 6. detect adopts what the agentcore CLI made by hand ------------------------------------------


def test_detect_adopts_what_the_toolkit_made(ready: Any, control: Any, idp: Any) -> None:
    wizard = ready
    project = wizard.options.project
    files = files_of(wizard)
    # What `agentcore configure`, `create-credential-provider` and `create-workload-identity` leave.
    provider = control.create_oauth2_credential_provider(
        name=wizard.settings.provider_name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": files.identity.discovery_url},
                "clientId": files.identity.client_id,
                "clientSecret": files.identity.client_secret,
            }
        },
    )
    client = identity_client(idp, files)
    full_update(idp, client, CallbackURLs=[*client["CallbackURLs"], provider["callbackUrl"]])
    workload = control.create_workload_identity(
        name=wizard.settings.workload_name, allowedResourceOauth2ReturnUrls=[wizard.ctx.return_url]
    )
    entry = agentcore_yaml.new_agent(
        "identity_demo", project, str(wizard.state.data["account"]), REGION, expected_authorizer(files)
    )
    data = {"default_agent": "identity_demo", "agents": {"identity_demo": entry}}
    data = agentcore_yaml.with_provider(
        data, "identity_demo", wizard.settings.provider_name, provider["credentialProviderArn"], provider["callbackUrl"]
    )
    data = agentcore_yaml.with_workload(
        data,
        "identity_demo",
        wizard.settings.workload_name,
        workload["workloadIdentityArn"],
        [wizard.ctx.return_url],
    )
    agentcore_yaml.save(project, data)
    text = yaml_text(wizard)
    providers, workloads = provider_names(control), workload_names(control)

    for key in ("configure", "provider", "workload"):
        assert wizard.status_of(wizard.stage(key)) == "pending"
        detection = wizard.detect_stage(key)
        assert detection.status == "done", (key, detection.evidence)
        assert wizard.status_of(wizard.stage(key)) == "done"
    assert wizard.state.resources("configure")["agent_name"] == "identity_demo"
    recorded = wizard.state.resources("provider")
    assert recorded["arn"] == provider["credentialProviderArn"]
    assert recorded["callback_url"] == provider["callbackUrl"]
    assert recorded.get("origin") == "adopted", recorded
    recorded = wizard.state.resources("workload")
    assert recorded["arn"] == workload["workloadIdentityArn"]
    assert recorded.get("origin") == "adopted", recorded
    # Looking changed nothing.
    assert yaml_text(wizard) == text
    assert provider_names(control) == providers and workload_names(control) == workloads


# --- 8. a workload identity that allows other return URLs ------------------------------------------


def test_workload_keeps_other_return_urls_and_adds_its_own(ready: Any, control: Any) -> None:
    wizard = ready
    run_ok(wizard, "configure")
    theirs = ["https://example.com/oauth2/return", "http://localhost:9999/cb"]
    created = control.create_workload_identity(
        name=wizard.settings.workload_name, allowedResourceOauth2ReturnUrls=theirs
    )
    workloads = workload_names(control)
    run_ok(wizard, "workload")
    now = control.get_workload_identity(name=wizard.settings.workload_name)
    assert now["workloadIdentityArn"] == created["workloadIdentityArn"]
    assert now["allowedResourceOauth2ReturnUrls"] == [*theirs, wizard.ctx.return_url]
    assert workload_names(control) == workloads
    recorded = wizard.state.resources("workload")
    assert recorded["arn"] == created["workloadIdentityArn"]
    assert recorded["origin"] == "adopted"
    listed = yaml_data(wizard)["agents"]["identity_demo"]["identity"]["workload"]
    assert listed == {
        "name": wizard.settings.workload_name,
        "arn": created["workloadIdentityArn"],
        "return_urls": [*theirs, wizard.ctx.return_url],
    }
    # And again: nothing more is added.
    run_ok(wizard, "workload")
    assert control.get_workload_identity(name=wizard.settings.workload_name)["allowedResourceOauth2ReturnUrls"] == [
        *theirs,
        wizard.ctx.return_url,
    ]


def test_a_return_url_the_toolkit_allowed_is_kept_without_a_flag(ready: Any, control: Any) -> None:
    """A folder the agentcore CLI set up (`create-workload-identity --return-urls …:8081…`), then the wizard
    without --return-url: it listens where the toolkit's workload identity already sends the browser, as it did
    when 8081 was every project's default, and adds no port of its own beside it."""
    from wizard.return_ports import TOOLKIT_RETURN_URL

    wizard = reopen(ready, return_url=None)
    run_ok(wizard, "configure")
    name = wizard.settings.workload_name
    created = control.create_workload_identity(name=name, allowedResourceOauth2ReturnUrls=[TOOLKIT_RETURN_URL])
    data = yaml_data(wizard)
    data = agentcore_yaml.with_workload(
        data, "identity_demo", name, created["workloadIdentityArn"], ["https://example.com/cb", TOOLKIT_RETURN_URL]
    )
    agentcore_yaml.save(wizard.options.project, data)
    run_ok(wizard, "workload")
    assert wizard.settings.return_url == TOOLKIT_RETURN_URL
    assert wizard.settings.source("return_url") == "this project"
    assert control.get_workload_identity(name=name)["allowedResourceOauth2ReturnUrls"] == [TOOLKIT_RETURN_URL]


# --- 7. the client secret stays in the identity files ----------------------------------------------


def test_client_secret_is_never_written_or_reported(ready: Any) -> None:
    wizard = ready
    project = wizard.options.project
    for key in ("configure", "provider", "workload"):
        run_ok(wizard, key)
    for key in ("configure", "provider", "workload"):
        wizard.verify_stage(key)
        wizard.detect_stage(key)
    secrets = secrets_of(files_of(wizard))
    said = reported(wizard.events)
    assert "CreateOauth2CredentialProvider" in said  # the events are the ones of this run
    described = "\n".join(
        f"{d.command}\n{[v for v in d.values if not v[2]]}"
        for d in (wizard.stage(k).describe(wizard.ctx) for k in ("configure", "provider", "workload"))
    )
    checked = []
    for path in project.rglob("*"):
        if path.is_file() and path.name not in idf.SECRET_FILES:
            checked.append(path.relative_to(project).as_posix())
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, path
    assert YAML_NAME in checked and ".agentcore-wizard/state.json" in checked
    for secret in secrets:
        assert secret not in said
        assert secret not in described


# --- 9. the YAML merge ---------------------------------------------------------------------------


AUTH = {
    "customJWTAuthorizer": {"discoveryUrl": "https://issuer/.well-known/openid-configuration", "allowedClients": ["c1"]}
}
OTHER_AUTH = {
    "customJWTAuthorizer": {"discoveryUrl": "https://other/.well-known/openid-configuration", "allowedClients": ["c2"]}
}


def _base(tmp_path: Path) -> dict[str, Any]:
    return agentcore_yaml.merged_configure(None, "identity_demo", tmp_path, "123456789012", REGION, AUTH)


def test_merged_configure_on_nothing_is_a_toolkit_file(tmp_path: Path) -> None:
    data = _base(tmp_path)
    assert list(data) == ["default_agent", "agents"]
    assert data["default_agent"] == "identity_demo"
    assert list(data["agents"]) == ["identity_demo"]
    assert data["agents"]["identity_demo"] == agentcore_yaml.new_agent(
        "identity_demo", tmp_path, "123456789012", REGION, AUTH
    )
    # And it round-trips through the file unchanged.
    agentcore_yaml.save(tmp_path, data)
    assert agentcore_yaml.load(tmp_path) == data


def test_merged_configure_keeps_other_agents_identity_and_unknown_keys(tmp_path: Path) -> None:
    data = _base(tmp_path)
    data = agentcore_yaml.with_provider(data, "identity_demo", "P", "arn:p", "https://cb")
    data = agentcore_yaml.with_workload(data, "identity_demo", "W", "arn:w", ["http://localhost:8081/oauth2/callback"])
    data["agents"]["identity_demo"]["bedrock_agentcore"]["agent_arn"] = "arn:deployed"
    data["agents"]["identity_demo"]["memory"]["memory_id"] = "mem-1"
    data["agents"]["identity_demo"]["something_newer"] = {"x": 1}
    other = {"name": "other_agent", "entrypoint": "other.py", "anything": [1, {"b": None}]}
    data["agents"]["other_agent"] = copy.deepcopy(other)
    data["default_agent"] = "other_agent"
    snapshot = copy.deepcopy(data)

    merged = agentcore_yaml.merged_configure(data, "identity_demo", tmp_path, "123456789012", "eu-west-1", OTHER_AUTH)
    assert data == snapshot  # the input is not changed
    assert merged["default_agent"] == "identity_demo"
    assert merged["agents"]["other_agent"] == other
    agent = merged["agents"]["identity_demo"]
    assert agent["authorizer_configuration"] == OTHER_AUTH
    assert agent["aws"]["region"] == "eu-west-1"
    assert agent["identity"] == snapshot["agents"]["identity_demo"]["identity"]
    assert agent["bedrock_agentcore"]["agent_arn"] == "arn:deployed"
    assert agent["memory"]["memory_id"] == "mem-1" and agent["memory"]["mode"] == "NO_MEMORY"
    assert agent["something_newer"] == {"x": 1}
    # Configuring the same again is a no-op, to the byte.
    again = agentcore_yaml.merged_configure(merged, "identity_demo", tmp_path, "123456789012", "eu-west-1", OTHER_AUTH)
    assert agentcore_yaml.dump(again) == agentcore_yaml.dump(merged)


def test_merged_configure_adds_a_second_agent_beside_the_first(tmp_path: Path) -> None:
    first = _base(tmp_path)
    both = agentcore_yaml.merged_configure(first, "second_agent", tmp_path, "123456789012", REGION, OTHER_AUTH)
    assert list(both["agents"]) == ["identity_demo", "second_agent"]
    assert both["agents"]["identity_demo"] == first["agents"]["identity_demo"]
    assert both["default_agent"] == "second_agent"


def test_with_provider_never_duplicates(tmp_path: Path) -> None:
    data = _base(tmp_path)
    once = agentcore_yaml.with_provider(data, "identity_demo", "P", "arn:p", "https://cb/1")
    twice = agentcore_yaml.with_provider(once, "identity_demo", "P", "arn:p", "https://cb/1")
    assert twice == once
    providers = twice["agents"]["identity_demo"]["identity"]["credential_providers"]
    assert providers == [{"name": "P", "arn": "arn:p", "type": "cognito", "callback_url": "https://cb/1"}]
    assert data["agents"]["identity_demo"]["identity"]["credential_providers"] == []  # input untouched
    # A changed provider of the same name replaces its entry; another name is added beside it.
    changed = agentcore_yaml.with_provider(twice, "identity_demo", "P", "arn:p2", "https://cb/2")
    assert [p["arn"] for p in changed["agents"]["identity_demo"]["identity"]["credential_providers"]] == ["arn:p2"]
    two = agentcore_yaml.with_provider(changed, "identity_demo", "Q", "arn:q", "https://cb/q")
    assert [p["name"] for p in two["agents"]["identity_demo"]["identity"]["credential_providers"]] == ["P", "Q"]


def test_with_provider_repeat_keeps_the_list_as_it_is(tmp_path: Path) -> None:
    """Re-recording an unchanged provider must not move it: the file would change on every rerun."""
    data = agentcore_yaml.with_provider(_base(tmp_path), "identity_demo", "P", "arn:p", "https://cb/1")
    data = agentcore_yaml.with_provider(data, "identity_demo", "Q", "arn:q", "https://cb/q")
    again = agentcore_yaml.with_provider(data, "identity_demo", "P", "arn:p", "https://cb/1")
    assert again == data
    assert agentcore_yaml.dump(again) == agentcore_yaml.dump(data)


def test_with_provider_removes_toolkit_duplicates(tmp_path: Path) -> None:
    data = _base(tmp_path)
    entry = {"name": "P", "arn": "arn:p", "type": "cognito", "callback_url": "https://cb/1"}
    data["agents"]["identity_demo"]["identity"]["credential_providers"] = [dict(entry), dict(entry)]
    fixed = agentcore_yaml.with_provider(data, "identity_demo", "P", "arn:p", "https://cb/1")
    assert fixed["agents"]["identity_demo"]["identity"]["credential_providers"] == [entry]


def test_with_workload_sets_and_replaces(tmp_path: Path) -> None:
    data = agentcore_yaml.with_provider(_base(tmp_path), "identity_demo", "P", "arn:p", "https://cb/1")
    data["agents"]["other_agent"] = {"name": "other_agent", "identity": {"workload": {"name": "theirs"}}}
    first = agentcore_yaml.with_workload(data, "identity_demo", "W", "arn:w", ["http://a", "http://b"])
    identity = first["agents"]["identity_demo"]["identity"]
    assert identity["workload"] == {"name": "W", "arn": "arn:w", "return_urls": ["http://a", "http://b"]}
    assert identity["credential_providers"] == data["agents"]["identity_demo"]["identity"]["credential_providers"]
    assert first["agents"]["other_agent"] == data["agents"]["other_agent"]
    assert agentcore_yaml.with_workload(first, "identity_demo", "W", "arn:w", ["http://a", "http://b"]) == first
    replaced = agentcore_yaml.with_workload(first, "identity_demo", "W2", "arn:w2", ["http://c"])
    assert replaced["agents"]["identity_demo"]["identity"]["workload"]["name"] == "W2"
    assert data["agents"]["identity_demo"]["identity"]["workload"] is None  # input untouched


def test_with_workload_and_provider_repair_a_missing_identity_section(tmp_path: Path) -> None:
    data = _base(tmp_path)
    del data["agents"]["identity_demo"]["identity"]
    with_w = agentcore_yaml.with_workload(data, "identity_demo", "W", "arn:w", [])
    assert with_w["agents"]["identity_demo"]["identity"] == {
        "credential_providers": [],
        "workload": {"name": "W", "arn": "arn:w", "return_urls": []},
    }
    data["agents"]["identity_demo"]["identity"] = {"credential_providers": None}
    with_p = agentcore_yaml.with_provider(data, "identity_demo", "P", "arn:p", "https://cb")
    assert with_p["agents"]["identity_demo"]["identity"]["credential_providers"][0]["name"] == "P"


def test_load_refuses_a_file_of_another_shape(tmp_path: Path) -> None:
    from wizard.errors import WizardError

    (tmp_path / YAML_NAME).write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(WizardError, match="shape"):
        agentcore_yaml.load(tmp_path)
    (tmp_path / YAML_NAME).write_text("agents: [unclosed\n", encoding="utf-8")
    with pytest.raises(WizardError, match="not valid YAML"):
        agentcore_yaml.load(tmp_path)


def test_configure_refuses_to_clobber_a_broken_yaml(ready: Any) -> None:
    wizard = ready
    path = wizard.options.project / YAML_NAME
    path.write_text("agents: [unclosed\n", encoding="utf-8")
    outcome = wizard.run_stage("configure")
    assert not outcome.ok
    assert "not valid YAML" in outcome.error.message
    assert path.read_text(encoding="utf-8") == "agents: [unclosed\n"


def test_engine_requires_configure_before_provider_and_workload(ready: Any, control: Any) -> None:
    wizard = ready
    providers, workloads = provider_names(control), workload_names(control)
    for key in ("provider", "workload"):
        outcome = wizard.run_stage(key)
        assert not outcome.ok and "stage 4" in outcome.error.message, key
    assert provider_names(control) == providers and workload_names(control) == workloads
