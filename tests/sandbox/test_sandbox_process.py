"""`sandbox serve` as a process: announces its endpoint, answers health, keeps state until stopped, then is gone."""

from __future__ import annotations

import socket
import urllib.parse

import pytest
from botocore.exceptions import ClientError
from sandbox_support import ADMIN, FIRST_LINE, client, error_code, http, start_sandbox, unique


def test_serve_announces_keeps_state_and_stops() -> None:
    box = start_sandbox()
    try:
        assert FIRST_LINE.match(box.first_line), box.first_line
        health = http("GET", box.endpoint + ADMIN + "/health")
        assert health.status == 200, (health.status, health.text[:300])
        body = health.json()
        assert body["kind"] == "agentcore-wizard-sandbox"
        assert body["pid"] == box.proc.pid

        name = unique("wi-persist-")
        client("bedrock-agentcore-control", box.endpoint).create_workload_identity(
            name=name, allowedResourceOauth2ReturnUrls=["http://localhost:8081/oauth2/callback"]
        )
        client("sts", box.endpoint).get_caller_identity()  # some other traffic in between
        later = client("bedrock-agentcore-control", box.endpoint).get_workload_identity(name=name)
        assert later["name"] == name
        assert later["allowedResourceOauth2ReturnUrls"] == ["http://localhost:8081/oauth2/callback"]
    finally:
        box.stop()

    assert box.proc.returncode is not None
    port = urllib.parse.urlsplit(box.endpoint).port
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    except OSError:
        refused = True
    assert refused, f"something still answers on {box.endpoint} after SIGTERM"


def test_second_sandbox_is_independent_and_resets(endpoint: str) -> None:
    """A second server shares nothing with the session's one; /moto-api/reset empties it, AgentCore included."""
    name = unique("wi-mine-")
    client("bedrock-agentcore-control", endpoint).create_workload_identity(name=name)
    box = start_sandbox()
    try:
        assert box.endpoint != endpoint
        control = client("bedrock-agentcore-control", box.endpoint)
        cognito = client("cognito-idp", box.endpoint)
        names = [w["name"] for w in control.list_workload_identities(maxResults=20).get("workloadIdentities", [])]
        assert name not in names

        mine = unique("wi-reset-")
        control.create_workload_identity(name=mine)
        provider = unique("reset-")
        control.create_oauth2_credential_provider(
            name=provider,
            credentialProviderVendor="GoogleOauth2",
            oauth2ProviderConfigInput={"googleOauth2ProviderConfig": {"clientId": "id", "clientSecret": "s"}},
        )
        pool_id = cognito.create_user_pool(PoolName=unique("reset-"))["UserPool"]["Id"]

        reset = http("POST", box.endpoint + "/moto-api/reset")
        assert 200 <= reset.status < 300, (reset.status, reset.text[:300])

        for call, kwargs in (
            (control.get_workload_identity, {"name": mine}),
            (control.get_oauth2_credential_provider, {"name": provider}),
            (cognito.describe_user_pool, {"UserPoolId": pool_id}),
        ):
            with pytest.raises(ClientError) as info:
                call(**kwargs)
            assert error_code(info.value) == "ResourceNotFoundException", (call, info.value)
        # and it still works afterwards
        control.create_workload_identity(name=mine)
    finally:
        box.stop()
    # The session's sandbox was not touched.
    assert client("bedrock-agentcore-control", endpoint).get_workload_identity(name=name)["name"] == name
