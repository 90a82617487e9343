"""Identity control plane: OAuth2 credential providers, workload identities, token vault (plain boto3)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    ACCOUNT,
    REGION,
    IdentityPool,
    client,
    create_custom_provider,
    error_code,
    error_message,
    make_identity_pool,
    unique,
)

PROVIDER_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:token-vault/default/oauth2credentialprovider/"
WORKLOAD_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:workload-identity-directory/default/workload-identity/"
CALLBACK = re.compile(
    rf"^https://bedrock-agentcore\.{REGION}\.amazonaws\.com/identities/oauth2/callback/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
SECRET_PREFIX = "bedrock-agentcore-identity!default/oauth2/"


@pytest.fixture(scope="module")
def identity_pool(cognito: Any) -> IdentityPool:
    return make_identity_pool(cognito)


def _secret_gone(secrets: Any, secret_arn: str) -> None:
    with pytest.raises(ClientError) as info:
        secrets.get_secret_value(SecretId=secret_arn)
    # Gone, or at least scheduled for deletion (then AWS refuses reads with InvalidRequestException).
    assert error_code(info.value) in ("ResourceNotFoundException", "InvalidRequestException"), info.value


def _stored_secret(secrets: Any, secret_arn: str) -> dict[str, Any]:
    return json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])


# ------------------------------------------------------------------------------------ credential providers


def test_custom_oauth2_provider_lifecycle(control: Any, secrets: Any, identity_pool: IdentityPool) -> None:
    name = unique("CustomProvider-")
    created = create_custom_provider(control, name, identity_pool)

    assert created["name"] == name
    assert created["credentialProviderArn"] == PROVIDER_ARN + name
    assert CALLBACK.match(created["callbackUrl"]), created["callbackUrl"]
    secret_arn = created["clientSecretArn"]["secretArn"]
    assert secrets.describe_secret(SecretId=secret_arn)["Name"] == SECRET_PREFIX + name
    assert _stored_secret(secrets, secret_arn) == {"clientSecret": identity_pool.client_secret}

    got = control.get_oauth2_credential_provider(name=name)
    assert got["name"] == name
    assert got["credentialProviderVendor"] == "CustomOauth2"
    assert got["credentialProviderArn"] == created["credentialProviderArn"]
    assert got["callbackUrl"] == created["callbackUrl"]
    assert got["clientSecretArn"]["secretArn"] == secret_arn
    assert got["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == identity_pool.client_id
    assert "createdTime" in got and "lastUpdatedTime" in got

    listed = _all_providers(control)
    assert name in listed
    assert listed[name]["credentialProviderVendor"] == "CustomOauth2"
    assert listed[name]["credentialProviderArn"] == created["credentialProviderArn"]

    updated = control.update_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": identity_pool.discovery_url},
                "clientId": "rotated-client-id",
                "clientSecret": "rotated-client-secret",
            }
        },
    )
    assert updated["credentialProviderArn"] == created["credentialProviderArn"]
    assert updated["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == "rotated-client-id"
    regot = control.get_oauth2_credential_provider(name=name)
    assert regot["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == "rotated-client-id"
    assert _stored_secret(secrets, regot["clientSecretArn"]["secretArn"]) == {"clientSecret": "rotated-client-secret"}

    control.delete_oauth2_credential_provider(name=name)
    with pytest.raises(ClientError) as info:
        control.get_oauth2_credential_provider(name=name)
    assert error_code(info.value) == "ResourceNotFoundException"
    assert name not in _all_providers(control)
    _secret_gone(secrets, secret_arn)


def test_google_oauth2_provider(control: Any, secrets: Any) -> None:
    name = unique("google-")
    created = control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="GoogleOauth2",
        oauth2ProviderConfigInput={
            "googleOauth2ProviderConfig": {"clientId": "google-client-id", "clientSecret": "google-secret"}
        },
    )
    assert created["credentialProviderArn"] == PROVIDER_ARN + name
    assert CALLBACK.match(created["callbackUrl"]), created["callbackUrl"]
    secret_arn = created["clientSecretArn"]["secretArn"]
    assert secrets.describe_secret(SecretId=secret_arn)["Name"] == SECRET_PREFIX + name
    assert _stored_secret(secrets, secret_arn) == {"clientSecret": "google-secret"}

    got = control.get_oauth2_credential_provider(name=name)
    assert got["credentialProviderVendor"] == "GoogleOauth2"
    assert got["oauth2ProviderConfigOutput"]["googleOauth2ProviderConfig"]["clientId"] == "google-client-id"

    control.delete_oauth2_credential_provider(name=name)
    _secret_gone(secrets, secret_arn)


def test_duplicate_provider_is_a_conflict(control: Any, identity_pool: IdentityPool) -> None:
    name = unique("dup-")
    create_custom_provider(control, name, identity_pool)
    with pytest.raises(ClientError) as info:
        create_custom_provider(control, name, identity_pool)
    assert error_code(info.value) == "ConflictException", info.value


@pytest.mark.parametrize("call", ["get", "delete"])
def test_unknown_provider_is_not_found(control: Any, call: str) -> None:
    name = unique("missing-")
    with pytest.raises(ClientError) as info:
        getattr(control, f"{call}_oauth2_credential_provider")(name=name)
    assert error_code(info.value) == "ResourceNotFoundException", info.value


def test_bad_provider_name_is_a_validation_error(control: Any, identity_pool: IdentityPool) -> None:
    with pytest.raises(ClientError) as info:
        create_custom_provider(control, "bad name!", identity_pool)
    assert error_code(info.value) == "ValidationException", info.value
    message = error_message(info.value)
    assert message.startswith(
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    ), message
    assert "[a-zA-Z0-9\\-_]+" in message, message


def test_provider_name_too_long_is_a_validation_error(control: Any, identity_pool: IdentityPool) -> None:
    with pytest.raises(ClientError) as info:
        create_custom_provider(control, "p" * 129, identity_pool)
    assert error_code(info.value) == "ValidationException", info.value
    assert "Member must have length less than or equal to 128" in error_message(info.value)


def pages_of(list_call: Any, key: str, size: int) -> list[list[dict[str, Any]]]:
    """Every page a List call gives, following nextToken; it must stop."""
    pages: list[list[dict[str, Any]]] = []
    kwargs: dict[str, Any] = {"maxResults": size}
    for _ in range(500):
        page = list_call(**kwargs)
        pages.append(page[key])
        if not page.get("nextToken"):
            return pages
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError("paging never ended")


def _all_providers(control: Any) -> dict[str, dict[str, Any]]:
    pages = pages_of(control.list_oauth2_credential_providers, "credentialProviders", 20)
    return {item["name"]: item for page in pages for item in page}


def test_provider_list_pages(control: Any) -> None:
    prefix = unique("page-")
    names = {f"{prefix}-{i}" for i in range(5)}
    for name in names:
        control.create_oauth2_credential_provider(
            name=name,
            credentialProviderVendor="GoogleOauth2",
            oauth2ProviderConfigInput={"googleOauth2ProviderConfig": {"clientId": "id", "clientSecret": "s"}},
        )
    pages = pages_of(control.list_oauth2_credential_providers, "credentialProviders", 2)
    assert all(len(page) <= 2 for page in pages), pages
    seen = [item["name"] for page in pages for item in page]
    assert names <= set(seen), names - set(seen)
    assert len(seen) == len(set(seen)), "a provider came back on two pages"
    assert len(pages) >= 3


# ------------------------------------------------------------------------------------- workload identities


def test_workload_identity_lifecycle(control: Any) -> None:
    name = unique("wi-")
    urls = ["http://localhost:8081/oauth2/callback", "https://app.example.com/return"]
    created = control.create_workload_identity(name=name, allowedResourceOauth2ReturnUrls=urls)
    assert created["name"] == name
    assert created["workloadIdentityArn"] == WORKLOAD_ARN + name
    assert created["allowedResourceOauth2ReturnUrls"] == urls

    got = control.get_workload_identity(name=name)
    assert got["workloadIdentityArn"] == WORKLOAD_ARN + name
    assert got["allowedResourceOauth2ReturnUrls"] == urls
    assert "createdTime" in got and "lastUpdatedTime" in got

    updated = control.update_workload_identity(name=name, allowedResourceOauth2ReturnUrls=["https://other.example/cb"])
    assert updated["allowedResourceOauth2ReturnUrls"] == ["https://other.example/cb"]
    assert "createdTime" in updated and "lastUpdatedTime" in updated
    assert control.get_workload_identity(name=name)["allowedResourceOauth2ReturnUrls"] == ["https://other.example/cb"]
    assert updated["lastUpdatedTime"] >= got["createdTime"]

    control.delete_workload_identity(name=name)
    with pytest.raises(ClientError) as info:
        control.get_workload_identity(name=name)
    assert error_code(info.value) == "ResourceNotFoundException"


def test_workload_identity_without_return_urls(control: Any) -> None:
    name = unique("wi-bare-")
    control.create_workload_identity(name=name)
    got = control.get_workload_identity(name=name)
    assert got["name"] == name
    assert got.get("allowedResourceOauth2ReturnUrls", []) == []


def test_duplicate_workload_identity_is_a_conflict(control: Any) -> None:
    name = unique("wi-dup-")
    control.create_workload_identity(name=name)
    with pytest.raises(ClientError) as info:
        control.create_workload_identity(name=name)
    assert error_code(info.value) == "ConflictException", info.value


@pytest.mark.parametrize("call", ["get", "delete", "update"])
def test_unknown_workload_identity_is_not_found(control: Any, call: str) -> None:
    with pytest.raises(ClientError) as info:
        getattr(control, f"{call}_workload_identity")(name=unique("wi-missing-"))
    assert error_code(info.value) == "ResourceNotFoundException", info.value


def test_bad_workload_identity_name_is_a_validation_error(control: Any) -> None:
    with pytest.raises(ClientError) as info:
        control.create_workload_identity(name="bad name!")
    assert error_code(info.value) == "ValidationException", info.value
    message = error_message(info.value)
    assert message.startswith(
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    ), message
    assert "[A-Za-z0-9_.-]+" in message, message


def test_workload_identity_list_pages(control: Any) -> None:
    prefix = unique("wi-page-")
    names = {f"{prefix}-{i}" for i in range(5)}
    for name in names:
        control.create_workload_identity(name=name)
    pages = pages_of(control.list_workload_identities, "workloadIdentities", 2)
    assert all(len(page) <= 2 for page in pages), pages
    seen = [item["name"] for page in pages for item in page]
    assert names <= set(seen), names - set(seen)
    assert len(seen) == len(set(seen)), "a workload identity came back on two pages"
    assert len(pages) >= 3


@pytest.mark.parametrize("call", ["list_oauth2_credential_providers", "list_workload_identities"])
def test_max_results_above_20_is_a_validation_error(control: Any, call: str) -> None:
    with pytest.raises(ClientError) as info:
        getattr(control, call)(maxResults=21)
    assert error_code(info.value) == "ValidationException", info.value


def test_region_comes_from_the_credential_scope(endpoint: str) -> None:
    west = client("bedrock-agentcore-control", endpoint, region="us-west-2")
    name = unique("wi-west-")
    created = west.create_workload_identity(name=name)
    assert created["workloadIdentityArn"] == (
        f"arn:aws:bedrock-agentcore:us-west-2:{ACCOUNT}:workload-identity-directory/default/workload-identity/{name}"
    )
    provider = unique("west-")
    made = west.create_oauth2_credential_provider(
        name=provider,
        credentialProviderVendor="GoogleOauth2",
        oauth2ProviderConfigInput={"googleOauth2ProviderConfig": {"clientId": "id", "clientSecret": "s"}},
    )
    assert made["credentialProviderArn"].startswith(f"arn:aws:bedrock-agentcore:us-west-2:{ACCOUNT}:token-vault/")
    assert made["callbackUrl"].startswith("https://bedrock-agentcore.us-west-2.amazonaws.com/")


# --------------------------------------------------------------------------------------------- token vault


def test_token_vault(control: Any) -> None:
    vault = control.get_token_vault()
    assert vault["tokenVaultId"]
    assert vault["kmsConfiguration"]["keyType"] in ("ServiceManagedKey", "CustomerManagedKey")
