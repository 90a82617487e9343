"""Tags like the service: kept from the creates, listed, added and removed by ARN, gone with the resource."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    ACCOUNT,
    REGION,
    client,
    code_runtime_args,
    create_custom_provider,
    error_code,
    error_message,
    make_code_bucket,
    make_identity_pool,
    make_role,
    unique,
)

TAGS = {"agentcore-wizard:project": "p-1234", "Owner": "workshop team", "empty": ""}


@pytest.fixture(scope="module")
def role_arn(iam: Any) -> str:
    return make_role(iam)


@pytest.fixture(scope="module")
def code_bucket(s3: Any) -> str:
    return make_code_bucket(s3)


@pytest.fixture(scope="module")
def unchecked(endpoint: str) -> Any:
    """A client that sends what botocore would refuse: the sandbox itself must refuse it."""
    return client("bedrock-agentcore-control", endpoint, parameter_validation=False)


def tags_of(control: Any, arn: str) -> dict[str, str]:
    return control.list_tags_for_resource(resourceArn=arn)["tags"]


def test_provider_keeps_its_tags_but_its_arn_is_not_taggable(control: Any, cognito: Any) -> None:
    """The model's TaggableResourcesArn pattern has no digits in resource types: `oauth2credentialprovider`
    does not match it, so the tagging calls refuse a provider's ARN although its create takes tags."""
    name = unique("TaggedProvider-")
    pool = make_identity_pool(cognito)
    created = control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": pool.discovery_url},
                "clientId": pool.client_id,
                "clientSecret": pool.client_secret,
            }
        },
        tags=TAGS,
    )
    arn = created["credentialProviderArn"]
    for call in (
        lambda: control.list_tags_for_resource(resourceArn=arn),
        lambda: control.tag_resource(resourceArn=arn, tags={"a": "b"}),
        lambda: control.untag_resource(resourceArn=arn, tagKeys=["Owner"]),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info.value) == "ValidationException", info.value
        assert "resourceArn" in error_message(info.value), error_message(info.value)

    with pytest.raises(ClientError) as info:
        control.create_oauth2_credential_provider(
            name=unique("BadTags-"),
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={
                "customOauth2ProviderConfig": {
                    "oauthDiscovery": {"discoveryUrl": pool.discovery_url},
                    "clientId": pool.client_id,
                    "clientSecret": pool.client_secret,
                }
            },
            tags={"aws:owner": "x"},
        )
    assert error_code(info.value) == "ValidationException", info.value
    control.delete_oauth2_credential_provider(name=name)
    assert create_custom_provider(control, name, pool)["name"] == name


def test_workload_identity_tags_round_trip(control: Any) -> None:
    name = unique("tagged-wi-")
    arn = control.create_workload_identity(name=name, tags={"stage": "4"})["workloadIdentityArn"]
    assert tags_of(control, arn) == {"stage": "4"}

    control.tag_resource(resourceArn=arn, tags={"stage": "5", "Team": "identity"})  # overwrite one, add one
    assert tags_of(control, arn) == {"stage": "5", "Team": "identity"}

    control.untag_resource(resourceArn=arn, tagKeys=["stage", "never-there"])  # a missing key is no error
    assert tags_of(control, arn) == {"Team": "identity"}

    control.delete_workload_identity(name=name)
    with pytest.raises(ClientError) as info:
        control.tag_resource(resourceArn=arn, tags={"a": "b"})
    assert error_code(info.value) == "ResourceNotFoundException", info.value


def test_runtime_tags_and_its_own_resources(control: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(**code_runtime_args(unique("tagged_"), role_arn, code_bucket, tags=TAGS))
    runtime_arn = created["agentRuntimeArn"]
    workload_arn = created["workloadIdentityDetails"]["workloadIdentityArn"]
    endpoint_arn = control.get_agent_runtime_endpoint(agentRuntimeId=created["agentRuntimeId"], endpointName="DEFAULT")[
        "agentRuntimeEndpointArn"
    ]

    assert tags_of(control, runtime_arn) == TAGS
    # The runtime's service-owned workload identity and its DEFAULT endpoint are resources of their own.
    assert tags_of(control, workload_arn) == {}
    assert tags_of(control, endpoint_arn) == {}
    control.tag_resource(resourceArn=endpoint_arn, tags={"endpoint": "default"})
    assert tags_of(control, endpoint_arn) == {"endpoint": "default"}
    assert tags_of(control, runtime_arn) == TAGS

    # Several keys at once: botocore sends them as repeated query parameters.
    control.untag_resource(resourceArn=runtime_arn, tagKeys=["Owner", "empty"])
    assert tags_of(control, runtime_arn) == {"agentcore-wizard:project": "p-1234"}

    # An update is a new version of the configuration, not of the tags.
    control.update_agent_runtime(
        agentRuntimeId=created["agentRuntimeId"],
        **{
            key: value
            for key, value in code_runtime_args("x", role_arn, code_bucket).items()
            if key != "agentRuntimeName"
        },
    )
    assert tags_of(control, runtime_arn) == {"agentcore-wizard:project": "p-1234"}

    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])
    for arn in (runtime_arn, workload_arn, endpoint_arn):
        with pytest.raises(ClientError) as info:
            control.list_tags_for_resource(resourceArn=arn)
        assert error_code(info.value) == "ResourceNotFoundException", (arn, info.value)


def test_directory_and_token_vault_are_taggable(control: Any) -> None:
    for resource in ("workload-identity-directory/default", "token-vault/default"):
        arn = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:{resource}"
        key = unique("k")
        control.tag_resource(resourceArn=arn, tags={key: "v"})
        assert tags_of(control, arn)[key] == "v"
        control.untag_resource(resourceArn=arn, tagKeys=[key])
        assert key not in tags_of(control, arn)


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/nothere-abcdefghij",
        f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:workload-identity-directory/default/workload-identity/none",
        f"arn:aws:bedrock-agentcore:{REGION}:999999999999:token-vault/default",
        f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:gateway/unknown-kind",
    ],
)
def test_unknown_arns_are_not_found(control: Any, arn: str) -> None:
    for call in (
        lambda: control.list_tags_for_resource(resourceArn=arn),
        lambda: control.tag_resource(resourceArn=arn, tags={"a": "b"}),
        lambda: control.untag_resource(resourceArn=arn, tagKeys=["a"]),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info.value) == "ResourceNotFoundException", info.value


def test_an_arn_that_is_no_arn_is_a_validation_error(control: Any) -> None:
    with pytest.raises(ClientError) as info:
        control.list_tags_for_resource(resourceArn="not-an-arn-of-agentcore-at-all")
    assert error_code(info.value) == "ValidationException", info.value
    assert "resourceArn" in error_message(info.value)


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({"bad#key": "v"}, "Map keys must satisfy constraint"),
        ({"k" * 129: "v"}, "Member must have length less than or equal to 128"),
        ({"": "v"}, "Member must have length greater than or equal to 1"),
        ({"key": "v" * 257}, "Member must have length less than or equal to 256"),
        ({"key": "bad!value"}, "Map value must satisfy constraint"),
        ({f"k{i}": "v" for i in range(51)}, "Member must have length less than or equal to 50"),
        ({"aws:reserved": "v"}, "reserved"),
        ({"AWS:Reserved": "v"}, "reserved"),
    ],
)
def test_bad_tags_are_refused_on_create(unchecked: Any, control: Any, tags: dict[str, str], fragment: str) -> None:
    name = unique("badtags-")
    with pytest.raises(ClientError) as info:
        unchecked.create_workload_identity(name=name, tags=tags)
    assert error_code(info.value) == "ValidationException", info.value
    assert fragment in error_message(info.value), error_message(info.value)
    if fragment != "reserved":
        assert "at 'tags'" in error_message(info.value), error_message(info.value)
    # Nothing was made.
    with pytest.raises(ClientError) as missing:
        control.get_workload_identity(name=name)
    assert error_code(missing.value) == "ResourceNotFoundException"


def test_tag_resource_validates_and_limits_the_total(control: Any) -> None:
    arn = control.create_workload_identity(name=unique("limit-wi-"), tags={f"k{i}": "v" for i in range(45)})[
        "workloadIdentityArn"
    ]
    with pytest.raises(ClientError) as info:
        control.tag_resource(resourceArn=arn, tags={"bad#key": "v"})
    assert error_code(info.value) == "ValidationException", info.value

    with pytest.raises(ClientError) as info:
        control.tag_resource(resourceArn=arn, tags={f"n{i}": "v" for i in range(6)})  # 51 in all
    assert error_code(info.value) == "ServiceQuotaExceededException", info.value
    assert len(tags_of(control, arn)) == 45, "a refused TagResource changed the tags"

    control.tag_resource(resourceArn=arn, tags={f"k{i}": "new" for i in range(45)} | {f"n{i}": "v" for i in range(5)})
    assert len(tags_of(control, arn)) == 50

    with pytest.raises(ClientError) as info:
        control.untag_resource(resourceArn=arn, tagKeys=["aws:cloudformation:stack-name"])
    assert error_code(info.value) == "ValidationException", info.value
