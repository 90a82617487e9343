"""AgentCore Identity and Runtime, offline: the service's state and rules, one region at a time.

Handlers take a parsed call and return the output members; refusals are ServiceErrors in the
service's words. The HTTP side lives in server.py, the wire format in protocol.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import string
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wizard import quotas
from wizard.sandbox import cognito, model
from wizard.sandbox.agent_host import AgentHost
from wizard.sandbox.protocol import Call, ServiceError

ACCOUNT = cognito.ACCOUNT
SESSION_SECONDS = 600.0
PAGE_DEFAULT = 10
RUNTIME_NAME = r"[a-zA-Z][a-zA-Z0-9_]{0,47}"
MAX_TAGS = 50  # per resource, as the model's TagsMap and the service's tagging guide say
RESERVED_TAG_PREFIX = "aws:"
PROVIDER_CONFIG_KEYS = {
    "customOauth2ProviderConfig": "CustomOauth2",
    "googleOauth2ProviderConfig": "GoogleOauth2",
    "githubOauth2ProviderConfig": "GithubOauth2",
    "slackOauth2ProviderConfig": "SlackOauth2",
    "salesforceOauth2ProviderConfig": "SalesforceOauth2",
    "microsoftOauth2ProviderConfig": "MicrosoftOauth2",
    "atlassianOauth2ProviderConfig": "AtlassianOauth2",
    "linkedinOauth2ProviderConfig": "LinkedinOauth2",
    "includedOauth2ProviderConfig": "IncludedOauth2",
}


def _now() -> float:
    return time.time()


def _random_alnum(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


@dataclass
class Provider:
    name: str
    vendor: str
    config_key: str
    config: dict[str, Any]
    arn: str
    callback_url: str
    secret_arn: str
    secret_name: str
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiKeyProvider:
    name: str
    arn: str
    secret_arn: str
    secret_name: str
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Workload:
    name: str
    arn: str
    return_urls: list[str]
    created: float
    updated: float
    owner_runtime: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RuntimeVersion:
    request: dict[str, Any]
    created: float


@dataclass
class Runtime:
    id: str
    name: str
    arn: str
    version: int
    created: float
    updated: float
    ready_at: float
    request: dict[str, Any]  # the latest version's configuration
    workload_name: str
    tags: dict[str, str] = field(default_factory=dict)
    endpoint_tags: dict[str, str] = field(default_factory=dict)  # the DEFAULT endpoint's
    versions: dict[int, RuntimeVersion] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)  # runtime sessions invoked and not stopped


@dataclass
class WorkloadToken:
    workload: str
    subject: str  # whose tokens the vault keeps: a JWT's issuer+sub, or a user id
    artifact: tuple[str, str]  # ("userToken", jwt) or ("userId", id): what completes a session


@dataclass
class OAuthSession:
    uri: str
    workload: str
    subject: str
    artifact: tuple[str, str]
    provider: str
    scopes: tuple[str, ...]
    return_url: str
    expires_at: float
    state: str = "pending"  # pending -> signed_in -> consented | denied; consented -> completed


@dataclass
class RegionState:
    region: str
    providers: dict[str, Provider] = field(default_factory=dict)
    api_key_providers: dict[str, ApiKeyProvider] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    workload_tokens: dict[str, WorkloadToken] = field(default_factory=dict)
    sessions: dict[str, OAuthSession] = field(default_factory=dict)
    # (workload, user, provider) -> (access token, the scopes it was granted for)
    vault: dict[tuple[str, str, str], tuple[str, frozenset[str]]] = field(default_factory=dict)
    vault_modified: float = field(default_factory=_now)
    vault_tags: dict[str, str] = field(default_factory=dict)
    directory_tags: dict[str, str] = field(default_factory=dict)
    # (operation, clientToken) -> (the request without its token, the answer it got)
    idempotency: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)


class Sandbox:
    """All AgentCore state of one sandbox process."""

    def __init__(
        self, ready_delay: float = 2.0, agents: AgentHost | None = None, limits: Mapping[str, int] | None = None
    ) -> None:
        self.ready_delay = ready_delay
        # The account quotas it enforces, by Service Quotas code (the service's defaults unless told otherwise).
        self.limits = quotas.sandbox_limits() if limits is None else {**quotas.sandbox_limits(""), **limits}
        self.base_url = "http://127.0.0.1"
        self._regions: dict[str, RegionState] = {}
        self.lock = threading.RLock()
        # Runs each runtime's deployed code; none (tests of the state alone) or a stand-in answers instead.
        self.agents = agents

    def reset(self) -> None:
        with self.lock:
            self._regions.clear()
        if self.agents is not None:
            self.agents.stop_all()

    def runs_code(self) -> bool:
        return self.agents is not None and not self.agents.stand_in

    def region(self, name: str) -> RegionState:
        with self.lock:
            return self._regions.setdefault(name, RegionState(name))

    def find_session(self, uri: str) -> tuple[RegionState, OAuthSession] | None:
        with self.lock:
            for state in self._regions.values():
                if uri in state.sessions:
                    return state, state.sessions[uri]
        return None

    def handle(self, call: Call) -> dict[str, Any]:
        handler = HANDLERS[call.operation]
        with self.lock:
            state = self.region(call.region)
            member = call.idempotency_member
            token = call.params.get(member) if member else None
            if not token:
                return handler(self, state, call.params, call)
            # The same token and the same request answer what the first one got; the same token with another
            # request is refused. Only answered requests are remembered: a refused one may be sent again.
            key = (call.operation, str(token))
            request = copy.deepcopy({name: value for name, value in call.params.items() if name != member})
            seen = state.idempotency.get(key)
            if seen is not None:
                if seen[0] != request:
                    raise ServiceError(
                        "ValidationException",
                        f"The client token {token} was already used for a different {call.operation} request. "
                        "Use a new client token for a different request.",
                        400,
                        reason="IdempotentParameterMismatchException",
                    )
                return copy.deepcopy(seen[1])
            result = handler(self, state, call.params, call)
            state.idempotency[key] = (request, copy.deepcopy(result))
            return result


HANDLERS: dict[str, Callable[[Sandbox, RegionState, dict[str, Any], Call], dict[str, Any]]] = {}


def handler(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    def register(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        HANDLERS[name] = function
        return function

    return register


def implemented(service: str, operation: str) -> bool:
    return operation in HANDLERS


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    size = int(params.get("maxResults") or PAGE_DEFAULT)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(urllib.parse.unquote(str(token)).removeprefix("page-"))
        except ValueError:
            raise ServiceError("ValidationException", "Invalid nextToken.", 400) from None
    chunk = items[start : start + size]
    following = f"page-{start + size}" if start + size < len(items) else None
    return chunk, following


# --- account quotas -------------------------------------------------------------------------------

# What the service says when a create would pass a quota. The OAuth2 one is AgentCore's own words, as users quote
# them (aws/agentcore-cli#1673); the other two follow it, their exact text unconfirmed.
QUOTA_MESSAGES = {
    quotas.OAUTH2_PROVIDERS.code: "The number of agent identity Oauth2 credential providers in this account has "
    "reached its limit",
    quotas.API_KEY_PROVIDERS.code: "The number of agent identity API key credential providers in this account has "
    "reached its limit",
    quotas.AGENT_RUNTIMES.code: "The number of agent runtimes in this account has reached its limit",
}
QUOTAS_SERVICE_NAME = "Amazon Bedrock AgentCore"


def _within_quota(sandbox: Sandbox, quota: quotas.Quota, held: int) -> None:
    """Refuse a create that would pass the quota, in the service's words; no status given, so the model's for
    ServiceQuotaExceededException (402) is answered and boto3 raises that class."""
    if held >= sandbox.limits[quota.code]:
        raise ServiceError("ServiceQuotaExceededException", QUOTA_MESSAGES[quota.code])


def service_quota(sandbox: Sandbox, region: str, params: dict[str, Any], applied: bool) -> dict[str, Any] | None:
    """Service Quotas' GetServiceQuota (applied: the sandbox's limit) or GetAWSDefaultServiceQuota answer for one
    of the quotas the sandbox enforces; None for anything else (moto answers that)."""
    quota = quotas.BY_CODE.get(str(params.get("QuotaCode")))
    if params.get("ServiceCode") != quotas.SERVICE_CODE or quota is None:
        return None
    value = sandbox.limits[quota.code] if applied else quota.default
    return {
        "Quota": {
            "ServiceCode": quotas.SERVICE_CODE,
            "ServiceName": QUOTAS_SERVICE_NAME,
            "QuotaArn": f"arn:aws:servicequotas:{region}:{ACCOUNT}:{quotas.SERVICE_CODE}/{quota.code}",
            "QuotaCode": quota.code,
            "QuotaName": quota.name,
            "Value": float(value),
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


# --- credential providers -------------------------------------------------------------------------


def _provider_config(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    config_input = params.get("oauth2ProviderConfigInput") or {}
    present = [key for key in config_input if key in PROVIDER_CONFIG_KEYS]
    if len(present) != 1:
        raise ServiceError("ValidationException", "Exactly one OAuth2 provider configuration must be given.", 400)
    key = present[0]
    vendor = str(params.get("credentialProviderVendor"))
    if key != "includedOauth2ProviderConfig" and PROVIDER_CONFIG_KEYS[key] != vendor:
        raise ServiceError(
            "ValidationException",
            f"credentialProviderVendor {vendor} does not match the configuration {key}.",
            400,
        )
    config = dict(config_input[key])
    if key == "customOauth2ProviderConfig":
        discovery = (config.get("oauthDiscovery") or {}).get("discoveryUrl")
        if discovery and cognito.DISCOVERY.match(discovery) and cognito.pool_of_discovery_url(discovery) is None:
            raise ServiceError(
                "ValidationException", f"Unable to retrieve the OAuth2 discovery document from {discovery}.", 400
            )
    return key, config


def _secret_backend(region: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[ACCOUNT][region]


def _store_client_secret(region: str, name: str, client_secret: str) -> tuple[str, str]:
    secret_name = f"bedrock-agentcore-identity!default/oauth2/{name}"
    backend = _secret_backend(region)
    payload = json.dumps({"clientSecret": client_secret})
    try:
        answer = backend.create_secret(
            name=secret_name,
            secret_string=payload,
            secret_binary=None,
            description=f"Client secret of the AgentCore Identity credential provider {name}",
            tags=None,
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=True,
        )
    except Exception:
        backend.delete_secret(secret_name, None, True)
        answer = backend.create_secret(secret_name, payload, None, None, None, None, None, [], True)
    data = json.loads(answer) if isinstance(answer, str) else answer
    return str(data["ARN"]), secret_name


def _delete_client_secret(region: str, secret_name: str) -> None:
    with contextlib.suppress(Exception):  # already gone is fine
        _secret_backend(region).delete_secret(secret_name, None, True)


def _provider_out(provider: Provider, full: bool) -> dict[str, Any]:
    shown = {k: v for k, v in provider.config.items() if k != "clientSecret"}
    out: dict[str, Any] = {
        "name": provider.name,
        "credentialProviderArn": provider.arn,
        "credentialProviderVendor": provider.vendor,
        "clientSecretArn": {"secretArn": provider.secret_arn},
        "callbackUrl": provider.callback_url,
        "oauth2ProviderConfigOutput": {provider.config_key: shown},
        "status": "READY",
        "createdTime": provider.created,
        "lastUpdatedTime": provider.updated,
    }
    if not full:
        out.pop("createdTime")
        out.pop("lastUpdatedTime")
    return out


@handler("CreateOauth2CredentialProvider")
def create_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    name = params["name"]
    if name in state.providers:
        raise ServiceError("ConflictException", f"Credential provider with name {name} already exists", 409)
    _within_quota(sandbox, quotas.OAUTH2_PROVIDERS, len(state.providers))
    config_key, config = _provider_config(params)
    tags = _checked_tags(params.get("tags"))
    arn = f"arn:aws:bedrock-agentcore:{state.region}:{ACCOUNT}:token-vault/default/oauth2credentialprovider/{name}"
    secret_arn, secret_name = _store_client_secret(state.region, name, str(config.get("clientSecret", "")))
    provider = Provider(
        name=name,
        vendor=params["credentialProviderVendor"],
        config_key=config_key,
        config=config,
        arn=arn,
        callback_url=f"https://bedrock-agentcore.{state.region}.amazonaws.com/identities/oauth2/callback/{uuid.uuid4()}",
        secret_arn=secret_arn,
        secret_name=secret_name,
        created=_now(),
        updated=_now(),
        tags=tags,
    )
    state.providers[name] = provider
    return _provider_out(provider, full=False)


def _provider(state: RegionState, name: str) -> Provider:
    provider = state.providers.get(name)
    if provider is None:
        raise ServiceError("ResourceNotFoundException", f"Credential provider {name} not found", 404)
    return provider


@handler("GetOauth2CredentialProvider")
def get_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return _provider_out(_provider(state, params["name"]), full=True)


@handler("UpdateOauth2CredentialProvider")
def update_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    provider = _provider(state, params["name"])
    provider.config_key, config = _provider_config(params)
    provider.vendor = params["credentialProviderVendor"]
    provider.config = config
    provider.updated = _now()
    secret_arn, provider.secret_name = _store_client_secret(
        state.region, provider.name, str(config.get("clientSecret", ""))
    )
    provider.secret_arn = secret_arn
    return _provider_out(provider, full=True)


@handler("DeleteOauth2CredentialProvider")
def delete_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    provider = _provider(state, params["name"])
    del state.providers[provider.name]
    _delete_client_secret(state.region, provider.secret_name)
    for key in [key for key in state.vault if key[2] == provider.name]:
        del state.vault[key]
    return {}


@handler("ListOauth2CredentialProviders")
def list_providers(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    chunk, following = _page(sorted(state.providers.values(), key=lambda p: p.created), params)
    items = [
        {
            "name": p.name,
            "credentialProviderVendor": p.vendor,
            "credentialProviderArn": p.arn,
            "createdTime": p.created,
            "lastUpdatedTime": p.updated,
        }
        for p in chunk
    ]
    return {"credentialProviders": items, "nextToken": following}


# API key providers: the wizard makes none, but they have a quota of their own that a room can fill.


def _store_api_key(region: str, name: str, api_key: str) -> tuple[str, str]:
    secret_name = f"bedrock-agentcore-identity!default/apikey/{name}"
    backend = _secret_backend(region)
    payload = json.dumps({"api_key_value": api_key})
    try:
        answer = backend.create_secret(secret_name, payload, None, None, None, None, None, [], True)
    except Exception:  # as for OAuth2 providers: one left by an earlier provider of the same name is replaced
        backend.delete_secret(secret_name, None, True)
        answer = backend.create_secret(secret_name, payload, None, None, None, None, None, [], True)
    data = json.loads(answer) if isinstance(answer, str) else answer
    return str(data["ARN"]), secret_name


def _api_key_provider(state: RegionState, name: str) -> ApiKeyProvider:
    provider = state.api_key_providers.get(name)
    if provider is None:
        raise ServiceError("ResourceNotFoundException", f"Credential provider {name} not found", 404)
    return provider


def _api_key_out(provider: ApiKeyProvider, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": provider.name,
        "credentialProviderArn": provider.arn,
        "apiKeySecretArn": {"secretArn": provider.secret_arn},
    }
    if full:
        out["createdTime"] = provider.created
        out["lastUpdatedTime"] = provider.updated
    return out


@handler("CreateApiKeyCredentialProvider")
def create_api_key_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    name = params["name"]
    if name in state.api_key_providers:
        raise ServiceError("ConflictException", f"Credential provider with name {name} already exists", 409)
    _within_quota(sandbox, quotas.API_KEY_PROVIDERS, len(state.api_key_providers))
    if not params.get("apiKey"):
        # The service also takes a key kept in the caller's own secret (apiKeySecretConfig); the sandbox does not.
        raise ServiceError("ValidationException", "apiKey is required.", 400)
    tags = _checked_tags(params.get("tags"))
    secret_arn, secret_name = _store_api_key(state.region, name, str(params["apiKey"]))
    arn = f"arn:aws:bedrock-agentcore:{state.region}:{ACCOUNT}:token-vault/default/apikeycredentialprovider/{name}"
    provider = ApiKeyProvider(name, arn, secret_arn, secret_name, _now(), _now(), tags)
    state.api_key_providers[name] = provider
    return _api_key_out(provider, full=False)


@handler("GetApiKeyCredentialProvider")
def get_api_key_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return _api_key_out(_api_key_provider(state, params["name"]), full=True)


@handler("DeleteApiKeyCredentialProvider")
def delete_api_key_provider(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    provider = _api_key_provider(state, params["name"])
    del state.api_key_providers[provider.name]
    _delete_client_secret(state.region, provider.secret_name)
    return {}


@handler("ListApiKeyCredentialProviders")
def list_api_key_providers(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    chunk, following = _page(sorted(state.api_key_providers.values(), key=lambda p: p.created), params)
    items = [
        {"name": p.name, "credentialProviderArn": p.arn, "createdTime": p.created, "lastUpdatedTime": p.updated}
        for p in chunk
    ]
    return {"credentialProviders": items, "nextToken": following}


# --- workload identities --------------------------------------------------------------------------


def _workload_arn(region: str, name: str) -> str:
    return f"arn:aws:bedrock-agentcore:{region}:{ACCOUNT}:workload-identity-directory/default/workload-identity/{name}"


def _workload(state: RegionState, name: str) -> Workload:
    workload = state.workloads.get(name)
    if workload is None:
        raise ServiceError("ResourceNotFoundException", f"Workload identity {name} not found", 404)
    return workload


def _workload_out(workload: Workload, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": workload.name,
        "workloadIdentityArn": workload.arn,
        "allowedResourceOauth2ReturnUrls": list(workload.return_urls),
    }
    if full:
        out["createdTime"] = workload.created
        out["lastUpdatedTime"] = workload.updated
    return out


def _new_workload(
    state: RegionState,
    name: str,
    return_urls: list[str],
    owner: str | None = None,
    tags: dict[str, str] | None = None,
) -> Workload:
    if name in state.workloads:
        raise ServiceError("ConflictException", f"Workload identity with name {name} already exists", 409)
    workload = Workload(
        name, _workload_arn(state.region, name), list(return_urls), _now(), _now(), owner, dict(tags or {})
    )
    state.workloads[name] = workload
    return workload


@handler("CreateWorkloadIdentity")
def create_workload(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    tags = _checked_tags(params.get("tags"))
    workload = _new_workload(state, params["name"], params.get("allowedResourceOauth2ReturnUrls") or [], tags=tags)
    return _workload_out(workload, full=False)


@handler("GetWorkloadIdentity")
def get_workload(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return _workload_out(_workload(state, params["name"]))


@handler("UpdateWorkloadIdentity")
def update_workload(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    workload = _workload(state, params["name"])
    workload.return_urls = list(params.get("allowedResourceOauth2ReturnUrls") or [])
    workload.updated = _now()
    return _workload_out(workload)


@handler("DeleteWorkloadIdentity")
def delete_workload(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    workload = _workload(state, params["name"])
    if workload.owner_runtime and workload.owner_runtime in state.runtimes:
        raise ServiceError(
            "ValidationException",
            f"Workload identity {workload.name} is managed by agent runtime {workload.owner_runtime} "
            "and is deleted with it.",
            400,
        )
    del state.workloads[workload.name]
    return {}


@handler("ListWorkloadIdentities")
def list_workloads(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    chunk, following = _page(sorted(state.workloads.values(), key=lambda w: w.created), params)
    return {
        "workloadIdentities": [{"name": w.name, "workloadIdentityArn": w.arn} for w in chunk],
        "nextToken": following,
    }


@handler("GetTokenVault")
def get_token_vault(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    vault_id = params.get("tokenVaultId") or "default"
    if vault_id != "default":
        raise ServiceError("ResourceNotFoundException", f"Token vault {vault_id} not found", 404)
    return {
        "tokenVaultId": "default",
        "kmsConfiguration": {"keyType": "ServiceManagedKey"},
        "lastModifiedDate": state.vault_modified,
    }


# --- agent runtimes -------------------------------------------------------------------------------


def runtime_status(sandbox: Sandbox, runtime: Runtime) -> str:
    if _now() < runtime.ready_at:
        return "CREATING" if runtime.version == 1 else "UPDATING"
    return "READY"


def _runtime(state: RegionState, runtime_id: str) -> Runtime:
    runtime = state.runtimes.get(runtime_id)
    if runtime is None:
        raise ServiceError("ResourceNotFoundException", f"Could not find Agent Runtime with ID {runtime_id}", 404)
    return runtime


def runtime_by_arn(sandbox: Sandbox, arn: str) -> tuple[RegionState, Runtime]:
    parts = arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("runtime/"):
        raise ServiceError("ValidationException", f"Invalid agent runtime ARN {arn}", 400)
    state = sandbox.region(parts[3])
    return state, _runtime(state, parts[5].split("/", 1)[1])


def _check_runtime_name(name: str) -> None:
    import re

    if not re.fullmatch(RUNTIME_NAME, name):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'agentRuntimeName' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {RUNTIME_NAME}",
            400,
        )


def _runtime_request(params: dict[str, Any], name: str) -> dict[str, Any]:
    """A version's configuration: what was sent, less the id, the token and the tags (the runtime's)."""
    request = {key: value for key, value in params.items() if key not in ("agentRuntimeId", "clientToken", "tags")}
    request["agentRuntimeName"] = name
    request.setdefault("networkConfiguration", {"networkMode": "PUBLIC"})
    return request


@handler("CreateAgentRuntime")
def create_runtime(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    name = params["agentRuntimeName"]
    _check_runtime_name(name)
    tags = _checked_tags(params.get("tags"))
    if any(runtime.name == name for runtime in state.runtimes.values()):
        raise ServiceError("ConflictException", f"An agent runtime named {name} already exists", 409)
    _within_quota(sandbox, quotas.AGENT_RUNTIMES, len(state.runtimes))
    runtime_id = f"{name}-{_random_alnum(10)}"
    request = _runtime_request(params, name)
    workload = _new_workload(state, runtime_id, [], owner=runtime_id)
    created = _now()
    runtime = Runtime(
        id=runtime_id,
        name=name,
        arn=f"arn:aws:bedrock-agentcore:{state.region}:{ACCOUNT}:runtime/{runtime_id}",
        version=1,
        created=created,
        updated=created,
        ready_at=created + sandbox.ready_delay,
        request=request,
        workload_name=workload.name,
        tags=tags,
        versions={1: RuntimeVersion(copy.deepcopy(request), created)},
    )
    state.runtimes[runtime_id] = runtime
    if sandbox.agents is not None:
        sandbox.agents.deploy(runtime.id, runtime.version, state.region, copy.deepcopy(request))
    return {
        "agentRuntimeArn": runtime.arn,
        "workloadIdentityDetails": {"workloadIdentityArn": workload.arn},
        "agentRuntimeId": runtime.id,
        "agentRuntimeVersion": str(runtime.version),
        "createdAt": runtime.created,
        "status": "CREATING",
    }


def _version(runtime: Runtime, version: Any) -> tuple[int, RuntimeVersion]:
    """A runtime's version by number (the latest when not given)."""
    if version in (None, ""):
        return runtime.version, runtime.versions[runtime.version]
    number = int(version)
    found = runtime.versions.get(number)
    if found is None:
        raise ServiceError(
            "ResourceNotFoundException", f"Could not find version {number} of Agent Runtime {runtime.id}", 404
        )
    return number, found


def _version_status(sandbox: Sandbox, runtime: Runtime, number: int) -> str:
    return runtime_status(sandbox, runtime) if number == runtime.version else "READY"


def _runtime_out(sandbox: Sandbox, state: RegionState, runtime: Runtime, version: Any = None) -> dict[str, Any]:
    number, chosen = _version(runtime, version)
    request = chosen.request
    out: dict[str, Any] = {
        "agentRuntimeArn": runtime.arn,
        "agentRuntimeName": runtime.name,
        "agentRuntimeId": runtime.id,
        "agentRuntimeVersion": str(number),
        "createdAt": runtime.created,
        "lastUpdatedAt": chosen.created,
        "roleArn": request.get("roleArn"),
        "networkConfiguration": request.get("networkConfiguration"),
        "status": _version_status(sandbox, runtime, number),
        "lifecycleConfiguration": request.get("lifecycleConfiguration")
        or {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800},
        "workloadIdentityDetails": {"workloadIdentityArn": _workload_arn(state.region, runtime.workload_name)},
        "agentRuntimeArtifact": request.get("agentRuntimeArtifact"),
        "protocolConfiguration": request.get("protocolConfiguration"),
        "environmentVariables": request.get("environmentVariables"),
        "authorizerConfiguration": request.get("authorizerConfiguration"),
        "requestHeaderConfiguration": request.get("requestHeaderConfiguration"),
        "description": request.get("description"),
    }
    return {key: value for key, value in out.items() if value is not None}


@handler("GetAgentRuntime")
def get_runtime(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    return _runtime_out(sandbox, state, runtime, params.get("agentRuntimeVersion"))


@handler("UpdateAgentRuntime")
def update_runtime(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    # An update replaces the whole configuration (description included) and makes a new version.
    request = _runtime_request(params, runtime.name)
    runtime.request = request
    runtime.version += 1
    runtime.updated = _now()
    runtime.ready_at = runtime.updated + sandbox.ready_delay
    runtime.versions[runtime.version] = RuntimeVersion(copy.deepcopy(request), runtime.updated)
    if sandbox.agents is not None:
        sandbox.agents.deploy(runtime.id, runtime.version, state.region, copy.deepcopy(request))
    return {
        "agentRuntimeArn": runtime.arn,
        "workloadIdentityDetails": {"workloadIdentityArn": _workload_arn(state.region, runtime.workload_name)},
        "agentRuntimeId": runtime.id,
        "agentRuntimeVersion": str(runtime.version),
        "createdAt": runtime.created,
        "lastUpdatedAt": runtime.updated,
        "status": "UPDATING",
    }


@handler("DeleteAgentRuntime")
def delete_runtime(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    if params.get("agentRuntimeVersion"):
        # Only that version goes; the one the runtime serves cannot.
        number, _ = _version(runtime, params["agentRuntimeVersion"])
        if number == runtime.version:
            raise ServiceError(
                "ValidationException",
                f"Version {number} is the latest version of Agent Runtime {runtime.id}; "
                "delete the runtime to delete it.",
                400,
            )
        del runtime.versions[number]
        return {"status": "DELETING", "agentRuntimeId": runtime.id, "agentRuntimeVersion": str(number)}
    del state.runtimes[runtime.id]  # its tags, versions and sessions go with it
    state.workloads.pop(runtime.workload_name, None)
    if sandbox.agents is not None:
        sandbox.agents.remove(runtime.id)
    return {"status": "DELETING", "agentRuntimeId": runtime.id, "agentRuntimeVersion": str(runtime.version)}


def _runtime_summary(sandbox: Sandbox, runtime: Runtime, number: int, version: RuntimeVersion) -> dict[str, Any]:
    return {
        "agentRuntimeArn": runtime.arn,
        "agentRuntimeId": runtime.id,
        "agentRuntimeVersion": str(number),
        "agentRuntimeName": runtime.name,
        # Required in the summary shape although optional on create: "" when none was given.
        "description": version.request.get("description") or "",
        "lastUpdatedAt": version.created,
        "status": _version_status(sandbox, runtime, number),
    }


@handler("ListAgentRuntimes")
def list_runtimes(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    chunk, following = _page(sorted(state.runtimes.values(), key=lambda r: r.created), params)
    items = [_runtime_summary(sandbox, r, r.version, r.versions[r.version]) for r in chunk]
    return {"agentRuntimes": items, "nextToken": following}


@handler("ListAgentRuntimeVersions")
def list_runtime_versions(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    numbers = sorted(runtime.versions, reverse=True)  # the latest first
    chunk, following = _page(numbers, params)
    items = [_runtime_summary(sandbox, runtime, number, runtime.versions[number]) for number in chunk]
    return {"agentRuntimes": items, "nextToken": following}


def _endpoint_out(sandbox: Sandbox, runtime: Runtime) -> dict[str, Any]:
    status = runtime_status(sandbox, runtime)
    return {
        "name": "DEFAULT",
        "id": f"{runtime.id}-DEFAULT",
        "agentRuntimeEndpointArn": f"{runtime.arn}/runtime-endpoint/DEFAULT",
        "agentRuntimeArn": runtime.arn,
        "status": status,
        "liveVersion": str(runtime.version if status == "READY" else max(runtime.version - 1, 1)),
        "targetVersion": str(runtime.version),
        "createdAt": runtime.created,
        "lastUpdatedAt": runtime.updated,
        "description": "DEFAULT endpoint, created with the runtime",
    }


@handler("GetAgentRuntimeEndpoint")
def get_runtime_endpoint(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    if params["endpointName"] != "DEFAULT":
        raise ServiceError(
            "ResourceNotFoundException",
            f"Could not find endpoint {params['endpointName']} for Agent Runtime {runtime.id}",
            404,
        )
    return _endpoint_out(sandbox, runtime)


@handler("ListAgentRuntimeEndpoints")
def list_runtime_endpoints(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    runtime = _runtime(state, params["agentRuntimeId"])
    endpoint = _endpoint_out(sandbox, runtime)
    summary = {
        key: endpoint[key]
        for key in (
            "name",
            "liveVersion",
            "targetVersion",
            "agentRuntimeEndpointArn",
            "agentRuntimeArn",
            "status",
            "id",
            "description",
            "createdAt",
            "lastUpdatedAt",
        )
    }
    return {"runtimeEndpoints": [summary]}


# --- runtime sessions -----------------------------------------------------------------------------


def note_session(runtime: Runtime, session_id: str) -> None:
    """A session the runtime served: StopRuntimeSession can stop it (a later invocation starts it again)."""
    runtime.sessions.add(session_id)


@handler("StopRuntimeSession")
def stop_runtime_session(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    state, runtime = runtime_by_arn(sandbox, params["agentRuntimeArn"])
    qualifier = params.get("qualifier") or "DEFAULT"
    if qualifier != "DEFAULT":
        raise ServiceError(
            "ResourceNotFoundException", f"Could not find endpoint {qualifier} for Agent Runtime {runtime.id}", 404
        )
    session_id = params["runtimeSessionId"]
    if session_id not in runtime.sessions:
        raise ServiceError("ResourceNotFoundException", f"Session {session_id} not found or already terminated", 404)
    runtime.sessions.discard(session_id)
    return {"runtimeSessionId": session_id, "statusCode": 200}


# --- tags -----------------------------------------------------------------------------------------


def _refuse_reserved(keys: Any) -> None:
    reserved = sorted(str(key) for key in keys if str(key).lower().startswith(RESERVED_TAG_PREFIX))
    if reserved:
        raise ServiceError(
            "ValidationException",
            f"Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for AWS use: {', '.join(reserved)}",
            400,
            reason="FieldValidationFailed",
        )


def _checked_tags(tags: Any) -> dict[str, str]:
    """The tags of a create or TagResource (the model checked their count, lengths and patterns)."""
    checked = {str(key): str(value) for key, value in (tags or {}).items()}
    _refuse_reserved(checked)
    return checked


def _resource_tags(state: RegionState, path: list[str]) -> dict[str, str] | None:
    """The live tag map of the resource an ARN's resource part names, None when there is none.

    A provider's ARN never gets here today: the model's TaggableResourcesArn pattern (`[a-z-]+` resource types)
    does not match `oauth2credentialprovider`, so validation refuses it first. Its create-time tags are kept.
    """
    if path[:1] == ["runtime"] and len(path) in (2, 4):
        runtime = state.runtimes.get(path[1])
        if runtime is None:
            return None
        if len(path) == 2:
            return runtime.tags
        return runtime.endpoint_tags if path[2:] == ["runtime-endpoint", "DEFAULT"] else None
    if path[:2] == ["token-vault", "default"]:
        if len(path) == 2:
            return state.vault_tags
        provider = state.providers.get(path[3]) if len(path) == 4 and path[2] == "oauth2credentialprovider" else None
        return provider.tags if provider else None
    if path[:2] == ["workload-identity-directory", "default"]:
        if len(path) == 2:
            return state.directory_tags
        workload = state.workloads.get(path[3]) if len(path) == 4 and path[2] == "workload-identity" else None
        return workload.tags if workload else None
    return None


def _tags_of(sandbox: Sandbox, arn: str) -> dict[str, str]:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[:3] == ["arn", "aws", "bedrock-agentcore"] and parts[4] == ACCOUNT:
        found = _resource_tags(sandbox.region(parts[3]), parts[5].split("/"))
        if found is not None:
            return found
    raise ServiceError("ResourceNotFoundException", f"Resource not found: {arn}", 404)


@handler("ListTagsForResource")
def list_tags(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"tags": dict(_tags_of(sandbox, params["resourceArn"]))}


@handler("TagResource")
def tag_resource(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    tags = _tags_of(sandbox, params["resourceArn"])
    added = _checked_tags(params["tags"])
    count = len({**tags, **added})
    if count > MAX_TAGS:
        # No status given: the model's for this error (402) is answered.
        raise ServiceError(
            "ServiceQuotaExceededException",
            f"A resource can have at most {MAX_TAGS} tags; this request would give it {count}.",
        )
    tags.update(added)  # a key it already has takes the new value
    return {}


@handler("UntagResource")
def untag_resource(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    tags = _tags_of(sandbox, params["resourceArn"])
    keys = params.get("tagKeys") or []
    _refuse_reserved(keys)
    for key in keys:
        tags.pop(key, None)  # a key it does not have is no error
    return {}


# --- identity data plane --------------------------------------------------------------------------


def _issue_workload_token(state: RegionState, workload: str, subject: str, artifact: tuple[str, str]) -> dict[str, Any]:
    _workload(state, workload)
    token = "wat-" + secrets.token_urlsafe(48)
    state.workload_tokens[token] = WorkloadToken(workload, subject, artifact)
    return {"workloadAccessToken": token}


@handler("GetWorkloadAccessToken")
def get_workload_token(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    name = params["workloadName"]
    return _issue_workload_token(state, name, f"workload:{name}", ("workload", name))


@handler("GetWorkloadAccessTokenForUserId")
def get_workload_token_for_user(
    sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call
) -> dict[str, Any]:
    user_id = params["userId"]
    return _issue_workload_token(state, params["workloadName"], f"user:{user_id}", ("userId", user_id))


@handler("GetWorkloadAccessTokenForJWT")
def get_workload_token_for_jwt(
    sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call
) -> dict[str, Any]:
    token = params["userToken"]
    try:
        claims = cognito.verify_token(token)
    except ValueError as exc:
        raise ServiceError("ValidationException", f"Invalid user token: {exc}", 400) from None
    subject = f"jwt:{claims.get('iss')}#{claims.get('sub')}"
    return _issue_workload_token(state, params["workloadName"], subject, ("userToken", token))


def _workload_token(state: RegionState, token: str) -> WorkloadToken:
    found = state.workload_tokens.get(token)
    if found is None:
        raise ServiceError("AccessDeniedException", "The workload access token is invalid or has expired.", 403)
    return found


@handler("GetResourceOauth2Token")
def get_resource_token(
    sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call | None
) -> dict[str, Any]:
    wat = _workload_token(state, params["workloadIdentityToken"])
    provider = _provider(state, params["resourceCredentialProviderName"])
    scopes = tuple(params.get("scopes") or ())
    if params["oauth2Flow"] != "USER_FEDERATION":
        raise ServiceError(
            "ValidationException", f"The sandbox models the USER_FEDERATION flow only, not {params['oauth2Flow']}.", 400
        )
    workload = _workload(state, wat.workload)
    return_url = params.get("resourceOauth2ReturnUrl")
    if not return_url:
        raise ServiceError(
            "ValidationException", "You must provide a ResourceOauth2ReturnUrl to proceed with this flow", 400
        )
    if not workload.return_urls:
        raise ServiceError(
            "ValidationException",
            "You must register and use at least one ResourceOauth2ReturnUrl on your workload identity",
            400,
        )
    if return_url not in workload.return_urls:
        raise ServiceError(
            "ValidationException",
            f"The ResourceOauth2ReturnUrl {return_url} is not allowed for workload identity {workload.name}",
            400,
        )
    vault_key = (workload.name, wat.subject, provider.name)
    stored = state.vault.get(vault_key)
    # A token serves any request within the scopes the user consented to; more scopes need a new consent.
    if not params.get("forceAuthentication") and stored and set(scopes) <= stored[1]:
        return {"accessToken": stored[0]}
    session_uri = params.get("sessionUri")
    if session_uri:
        session = state.sessions.get(session_uri)
        if session is None or session.expires_at < _now() or session.subject != wat.subject:
            raise ServiceError("ValidationException", "Invalid or expired session.", 400)
        if session.state == "completed":
            return {"accessToken": state.vault[vault_key][0]}
        if session.state == "denied":
            return {"sessionUri": session.uri, "sessionStatus": "FAILED"}
    else:
        session = OAuthSession(
            uri=f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(24)}",
            workload=workload.name,
            subject=wat.subject,
            artifact=wat.artifact,
            provider=provider.name,
            scopes=scopes,
            return_url=return_url,
            expires_at=_now() + SESSION_SECONDS,
        )
        state.sessions[session.uri] = session
    query = urllib.parse.urlencode({"request_uri": session.uri})
    return {
        "authorizationUrl": f"{sandbox.base_url}/identities/oauth2/authorize?{query}",
        "sessionUri": session.uri,
        "sessionStatus": "IN_PROGRESS",
    }


@handler("CompleteResourceTokenAuth")
def complete_resource_token_auth(
    sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call
) -> dict[str, Any]:
    session = state.sessions.get(params["sessionUri"])
    identifier = params.get("userIdentifier") or {}
    given = [(key, value) for key, value in identifier.items() if value]
    if (
        session is None
        or session.expires_at < _now()
        or session.state not in ("consented", "completed")
        or given != [session.artifact]
    ):
        raise ServiceError("ValidationException", "Invalid or expired session.", 400)
    session.state = "completed"
    token = "sandbox-access-" + secrets.token_urlsafe(64)
    state.vault[(session.workload, session.subject, session.provider)] = (token, frozenset(session.scopes))
    state.vault_modified = _now()
    return {}


# --- the stand-in agent ---------------------------------------------------------------------------

RETURN_URL_ENV = "AGENTCORE_OAUTH2_RETURN_URL"
PROVIDER_ENV = "AGENTCORE_PROVIDER_NAME"
SCOPES_ENV = "AGENTCORE_SCOPES"
AUTH_METHOD_MISMATCH = (
    "Authorization method mismatch. The agent is configured for a different authorization method "
    "than what was used in your request. Check the agent's authorization configuration and try again."
)
NO_WORKLOAD_TOKEN = (
    "Workload access token has not been set. If invoking agent runtime via SIGV4 inbound auth, please specify "
    "the X-Amzn-Bedrock-AgentCore-Runtime-User-Id header and retry."
)


CALLBACK_HEADER = "oauth2callbackurl"
CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"


def check_ready(sandbox: Sandbox, runtime: Runtime) -> None:
    status = runtime_status(sandbox, runtime)
    if status != "READY":
        raise ServiceError(
            "RetryableConflictException", f"Agent runtime {runtime.id} is {status}; retry when READY.", 409
        )


def agent_headers(
    state: RegionState,
    runtime: Runtime,
    incoming: dict[str, str],
    session_id: str,
    subject: str | None,
    artifact: tuple[str, str] | None,
) -> dict[str, str]:
    """The headers the managed runtime gives the agent (the SDK reads them in bedrock_agentcore/runtime):
    the session and a request id, the workload access token minted for the caller, the caller's
    OAuth2CallbackUrl and custom headers, and Authorization only when the runtime allowlists it."""
    incoming = {key.lower(): value for key, value in incoming.items()}
    headers = {
        "Content-Type": incoming.get("content-type") or "application/json",
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session_id,
        "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id": str(uuid.uuid4()),
    }
    if incoming.get("accept"):
        headers["Accept"] = incoming["accept"]
    if subject is not None and artifact is not None:
        token = _issue_workload_token(state, runtime.workload_name, subject, artifact)["workloadAccessToken"]
        headers["WorkloadAccessToken"] = token
    if incoming.get(CALLBACK_HEADER):
        headers["OAuth2CallbackUrl"] = incoming[CALLBACK_HEADER]
    for key, value in incoming.items():
        if key.startswith(CUSTOM_HEADER_PREFIX):
            headers[key] = value
    allowed = (runtime.request.get("requestHeaderConfiguration") or {}).get("requestHeaderAllowlist") or []
    if "authorization" in {str(name).lower() for name in allowed} and incoming.get("authorization"):
        headers["Authorization"] = incoming["authorization"]
    return headers


def stand_in_agent(
    sandbox: Sandbox,
    state: RegionState,
    runtime: Runtime,
    subject: str | None,
    artifact: tuple[str, str] | None,
    callback_url: str | None = None,
) -> str:
    """What the quickstart's agent answers to "Call the external service", without running any code: only
    behind the explicit switch (AGENTCORE_WIZARD_SANDBOX_AGENT=stand-in), for tests of the front door."""
    check_ready(sandbox, runtime)
    if subject is None or artifact is None:
        return f"❌ Failed to authenticate: {NO_WORKLOAD_TOKEN}"
    env = runtime.request.get("environmentVariables") or {}
    wat = _issue_workload_token(state, runtime.workload_name, subject, artifact)["workloadAccessToken"]
    params = {
        "workloadIdentityToken": wat,
        "resourceCredentialProviderName": env.get(PROVIDER_ENV, "ExternalServiceProvider"),
        "scopes": [scope for scope in env.get(SCOPES_ENV, "openid").replace(",", " ").split() if scope],
        "oauth2Flow": "USER_FEDERATION",
        # As the SDK does: the OAuth2CallbackUrl header when the code names no callback URL.
        "resourceOauth2ReturnUrl": env.get(RETURN_URL_ENV) or callback_url,
    }
    try:
        answer = get_resource_token(sandbox, state, params, None)
    except ServiceError as error:
        failure = f"An error occurred ({error.code}) when calling the GetResourceOauth2Token operation"
        return f"❌ Failed to authenticate: {failure}: {error.message}"
    if "accessToken" in answer:
        return (
            "✅ Authenticated to external service\n"
            f"Token length: {len(answer['accessToken'])} characters\n"
            "Status: Active and cached for this session"
        )
    return (
        "🔐 Authorization Required\n\n"
        "Please open this URL in your browser to authorize:\n"
        f"{answer['authorizationUrl']}\n\n"
        "After authorizing, call this tool again with the same session ID."
    )


def render_answer(text: str, accept: str) -> tuple[str, bytes]:
    if "text/event-stream" in (accept or ""):
        # One event per line, as a streaming agent yields its answer piece by piece.
        events = [f"data: {json.dumps({'response': line})}\n\n" for line in text.splitlines(keepends=True)]
        return "text/event-stream", "".join(events).encode()
    return "application/json", json.dumps({"response": text}).encode()


@handler("InvokeAgentRuntime")
def invoke_runtime_sigv4(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    """InvokeAgentRuntime signed with SigV4 (bearer-token calls never reach this handler)."""
    state, runtime = runtime_by_arn(sandbox, params["agentRuntimeArn"])
    if (runtime.request.get("authorizerConfiguration") or {}).get("customJWTAuthorizer"):
        raise ServiceError("AccessDeniedException", AUTH_METHOD_MISMATCH, 403)
    session_id = params.get("runtimeSessionId") or str(uuid.uuid4())
    user_id = params.get("runtimeUserId")
    subject = f"user:{user_id}" if user_id else None
    artifact = ("userId", user_id) if user_id else None
    headers = {key.lower(): value for key, value in call.headers.items()}
    if not sandbox.runs_code():
        text = stand_in_agent(sandbox, state, runtime, subject, artifact, headers.get(CALLBACK_HEADER))
        content_type, body = render_answer(text, params.get("accept") or "")
        note_session(runtime, session_id)
        return {"response": body, "contentType": content_type, "runtimeSessionId": session_id, "statusCode": 200}
    check_ready(sandbox, runtime)
    forwarded = agent_headers(state, runtime, headers, session_id, subject, artifact)
    note_session(runtime, session_id)
    assert sandbox.agents is not None
    agents, runtime_id, payload = sandbox.agents, runtime.id, params.get("payload") or b""
    # The agent calls back into this sandbox (its token, the model): it must run without the state's lock.
    sandbox.lock.release()
    try:
        content_type, body = agents.invoke_whole(runtime_id, forwarded, payload)
    finally:
        sandbox.lock.acquire()
    return {"response": body, "contentType": content_type, "runtimeSessionId": session_id, "statusCode": 200}


def authorize_bearer(runtime: Runtime, token: str) -> dict[str, Any]:
    """The runtime's customJWTAuthorizer applied to a bearer token, with the service's refusals."""
    authorizer = (runtime.request.get("authorizerConfiguration") or {}).get("customJWTAuthorizer")
    if not authorizer:
        raise ServiceError("AccessDeniedException", AUTH_METHOD_MISMATCH, 403)
    pool = cognito.pool_of_discovery_url(str(authorizer.get("discoveryUrl", "")))
    if pool is None:
        raise ServiceError("UnauthorizedException", "Unable to retrieve the authorizer's discovery document.", 401)
    try:
        claims = cognito.verify_token(token)
    except ValueError as exc:
        raise ServiceError("UnauthorizedException", f"Invalid bearer token: {exc}", 401) from None
    issuer = f"https://cognito-idp.{pool[0]}.amazonaws.com/{pool[1]}"
    if claims.get("iss") != issuer:
        raise ServiceError("UnauthorizedException", "Invalid bearer token: issuer does not match the authorizer.", 401)
    allowed_clients = authorizer.get("allowedClients") or []
    if allowed_clients and claims.get("client_id") not in allowed_clients:
        raise ServiceError("AccessDeniedException", "Invalid bearer token: client_id is not allowed.", 403)
    allowed_audience = authorizer.get("allowedAudience") or []
    if allowed_audience and claims.get("aud") not in allowed_audience:
        raise ServiceError("AccessDeniedException", "Invalid bearer token: audience is not allowed.", 403)
    return claims


def provider_pool(provider: Provider) -> tuple[str, str] | None:
    """The sandbox Cognito pool behind a CustomOauth2 provider, if it is one."""
    discovery = (provider.config.get("oauthDiscovery") or {}).get("discoveryUrl", "")
    return cognito.pool_of_discovery_url(str(discovery))


# --- the stand-in model (Bedrock Converse), for agents that run in the sandbox ------------------------


@handler("Converse")
def converse(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return model.converse(params)


@handler("ConverseStream")
def converse_stream(sandbox: Sandbox, state: RegionState, params: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"stream": model.converse_stream_body(params)}
