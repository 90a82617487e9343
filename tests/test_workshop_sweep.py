"""`workshop sweep`: the facilitator's reset deletes what the named participants made (by tag and by the names the
wizard derives from a participant) and nothing else. Resources are made directly with boto3, by the naming
contract; each test sweeps a region of its own (the sandbox is shared by the session), and participant names are
unique, since IAM is global."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from wizard.agent_logs import log_group
from wizard.ownership import PROJECT_TAG
from wizard.workshop import sweep as sw

PARTICIPANT_TAG = sw.PARTICIPANT_TAG
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)
_regions = iter(["us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "ap-southeast-2", "ca-central-1", "sa-east-1"])


@pytest.fixture
def region() -> str:
    return next(_regions)


def participant() -> str:
    return f"p{uuid.uuid4().hex[:6]}"


class Account:
    """boto3 clients of one region of the sandbox."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint, self.region = endpoint, region
        self.clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = _client(service, self.endpoint, self.region)
        return self.clients[service]

    @property
    def bucket(self) -> str:
        return f"agentcore-wizard-123456789012-{self.region}"

    def ensure_bucket(self) -> None:
        s3 = self("s3")
        try:
            s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        except Exception as exc:
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise

    # What is there, by name, for the checks: every page (a region the whole suite shares holds many).
    def runtimes(self) -> set[str]:
        listed = _every(self("bedrock-agentcore-control").list_agent_runtimes, "agentRuntimes", maxResults=100)
        return {r["agentRuntimeName"] for r in listed}

    def providers(self) -> set[str]:
        listed = _every(
            self("bedrock-agentcore-control").list_oauth2_credential_providers, "credentialProviders", maxResults=20
        )
        return {p["name"] for p in listed}

    def workloads(self) -> set[str]:
        listed = _every(self("bedrock-agentcore-control").list_workload_identities, "workloadIdentities", maxResults=20)
        return {w["name"] for w in listed}

    def pools(self) -> set[str]:
        listed = _every(self("cognito-idp").list_user_pools, "UserPools", token="NextToken", MaxResults=60)
        return {p["Name"] for p in listed}

    def roles(self) -> set[str]:
        return {r["RoleName"] for page in self("iam").get_paginator("list_roles").paginate() for r in page["Roles"]}

    def groups(self) -> set[str]:
        pages = self("logs").get_paginator("describe_log_groups").paginate()
        return {g["logGroupName"] for page in pages for g in page["logGroups"]}

    def objects(self) -> set[str] | None:
        try:
            listing = self("s3").list_objects_v2(Bucket=self.bucket)
        except Exception as exc:
            if "NoSuchBucket" in str(exc):
                return None
            raise
        return {o["Key"] for o in listing.get("Contents") or []}

    def everything(self) -> dict[str, Any]:
        return {
            "runtimes": self.runtimes(),
            "providers": self.providers(),
            "workloads": self.workloads(),
            "pools": self.pools(),
            "roles": self.roles(),
            "groups": self.groups(),
            "objects": self.objects(),
        }


def _every(call: Any, key: str, token: str = "nextToken", **arguments: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**arguments)
        items.extend(page.get(key) or [])
        if not page.get(token):
            return items
        arguments[token] = page[token]


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="sandbox", aws_secret_access_key="sandbox"
    )


def make_participant(aws: Account, p: str, tagged: bool = True) -> dict[str, str]:
    """What `run --participant p` makes through deploy, by the naming contract. Untagged: found by name only."""
    id8 = uuid.uuid4().hex[:8]
    tags = {PROJECT_TAG: uuid.uuid4().hex, PARTICIPANT_TAG: p} if tagged else {}
    cognito, control = aws("cognito-idp"), aws("bedrock-agentcore-control")
    pools = {}
    for role in ("Runtime", "Identity"):
        pool = cognito.create_user_pool(PoolName=f"AgentCore{role}Pool-{p}-{id8}", UserPoolTags=tags)["UserPool"]
        cognito.create_user_pool_domain(Domain=f"agentcore-{role.lower()}-{p}-{id8}", UserPoolId=pool["Id"])
        pools[role] = pool["Id"]
    discovery = f"https://cognito-idp.{aws.region}.amazonaws.com/{pools['Identity']}/.well-known/openid-configuration"
    provider = f"{p}-ExternalServiceProvider"
    control.create_oauth2_credential_provider(
        name=provider,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": discovery},
                "clientId": "client0000000000000000000",
                "clientSecret": "secret",
            }
        },
        **({"tags": tags} if tags else {}),
    )
    workload = f"{p}-identity-demo-workload"
    control.create_workload_identity(name=workload, **({"tags": tags} if tags else {}))
    aws.ensure_bucket()
    key = f"agentcore-wizard/{p}-{id8}/deployment_package.zip"
    aws("s3").put_object(Bucket=aws.bucket, Key=key, Body=b"zip")
    role_name = f"AgentCoreWizard-{p}_identity_demo-{id8}"
    iam = aws("iam")
    role_arn = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="inline", PolicyDocument=POLICY)
    runtime_id = make_runtime(aws, f"{p}_identity_demo", role_arn, key, tags)
    return {"runtime": runtime_id, "role": role_name, "provider": provider, "workload": workload, "key": key}


def make_runtime(aws: Account, name: str, role_arn: str, key: str, tags: dict[str, str]) -> str:
    answer = aws("bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName=name,
        agentRuntimeArtifact={
            "codeConfiguration": {
                "code": {"s3": {"bucket": aws.bucket, "prefix": key}},
                "runtime": "PYTHON_3_12",
                "entryPoint": ["agent.py"],
            }
        },
        roleArn=role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
        **({"tags": tags} if tags else {}),
    )
    runtime_id = str(answer["agentRuntimeId"])
    aws("logs").create_log_group(logGroupName=log_group(runtime_id))
    return runtime_id


def make_foreign(aws: Account) -> dict[str, Any]:
    """What the sweep must never touch: single-user defaults made by hand, and a participant whose name starts
    like a swept one's."""
    control = aws("bedrock-agentcore-control")
    cognito = aws("cognito-idp")
    pool = cognito.create_user_pool(PoolName=f"AgentCoreRuntimePool-{uuid.uuid4().hex[:8]}")["UserPool"]
    discovery = f"https://cognito-idp.{aws.region}.amazonaws.com/{pool['Id']}/.well-known/openid-configuration"
    control.create_oauth2_credential_provider(
        name="ExternalServiceProvider",
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": discovery},
                "clientId": "client0000000000000000000",
                "clientSecret": "secret",
            }
        },
    )
    control.create_workload_identity(name="identity-demo-workload")
    suffix = uuid.uuid4().hex[:8]
    role = aws("iam").create_role(
        RoleName=f"AgentCoreWizard-identity_demo-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]
    aws.ensure_bucket()
    runtime = make_runtime(aws, f"identity_demo_{suffix}", role["Arn"], "agentcore-wizard/x", {})
    return {"pool": pool["Name"], "role": role["RoleName"], "runtime": runtime}


def sweep(aws: Account, *who: str, dry_run: bool = False) -> tuple[sw.Report, list[str]]:
    lines: list[str] = []
    report = sw.sweep(sw.Aws.sandbox(aws.endpoint, aws.region), who, dry_run=dry_run, out=lines.append)
    return report, lines


def theirs(aws: Account, *who: str) -> list[str]:
    """Every name in the region that mentions one of these participants."""
    found = []
    for kind, names in aws.everything().items():
        for name in names or ():
            if any(f"{p}_" in name or f"{p}-" in name for p in who):
                found.append(f"{kind}: {name}")
    return found


@pytest.fixture
def aws(sandbox_endpoint: str, region: str) -> Account:
    return Account(sandbox_endpoint, region)


def test_sweep_deletes_the_participants_things_and_nothing_else(aws: Account) -> None:
    p1, p2 = participant(), participant()
    near = f"{p1}9"  # starts like p1's names: p19_… is not p1_…
    make_participant(aws, p1)
    make_participant(aws, p2, tagged=False)  # found by name alone
    make_participant(aws, near)
    # Made by hand for p1 under no name of the contract, but tagged as p1's: it goes too.
    tagged_only = make_runtime(
        aws, f"handmade_{uuid.uuid4().hex[:6]}", "arn:aws:iam::123456789012:role/x", "k", {PARTICIPANT_TAG: p1}
    )
    # Named like p1's, but tagged as another participant's: the tag wins, it stays.
    other_tag = make_runtime(aws, f"{p1}_borrowed", "arn:aws:iam::123456789012:role/x", "k", {PARTICIPANT_TAG: "zz"})
    foreign = make_foreign(aws)
    before = aws.everything()

    report, lines = sweep(aws, p1, p2)

    assert report.ok, lines
    assert not report.remaining and not report.failures
    assert sorted(theirs(aws, p1, p2)) == [
        f"groups: {log_group(other_tag)}",
        f"runtimes: {p1}_borrowed",
        f"workloads: {other_tag}",
    ]
    assert not [name for name in aws.runtimes() if name.startswith("handmade_")]
    assert log_group(tagged_only) not in aws.groups()
    after = aws.everything()
    assert "ExternalServiceProvider" in after["providers"] and "identity-demo-workload" in after["workloads"]
    assert foreign["pool"] in after["pools"] and foreign["role"] in after["roles"]
    assert log_group(foreign["runtime"]) in after["groups"]
    assert f"{near}-ExternalServiceProvider" in after["providers"] and f"{near}_identity_demo" in after["runtimes"]
    assert {key for key in before["objects"] if key.startswith(f"agentcore-wizard/{near}-")} <= after["objects"]
    # Its runtimes' own workload identities went with them.
    assert [name for name in after["workloads"] if name.startswith((f"{p1}_", f"{p2}_"))] == [other_tag]
    # Progress counts every deletion, and the shared bucket stays: near's code is in it.
    assert any(line.startswith(f"[{len(report.planned)}/{len(report.planned)}]") for line in lines)
    assert any(line.startswith(f"Kept bucket {aws.bucket}") for line in lines), lines
    by = {item.participant: item.by for item in report.deleted if item.kind == "runtime"}
    assert by == {p1: "tag", p2: "name"}

    again, lines = sweep(aws, p1, p2)
    assert again.ok and not again.planned and not again.deleted, lines
    assert lines[-1] == f"Nothing of {p1}, {p2} is left."


def test_the_shared_bucket_goes_when_nothing_else_is_in_it(aws: Account) -> None:
    p1, p2 = participant(), participant()
    make_participant(aws, p1)
    make_participant(aws, p2)
    report, lines = sweep(aws, p1, p2)
    assert report.ok, lines
    assert aws.objects() is None  # the bucket is gone
    assert [item.name for item in report.deleted if item.kind == "bucket"] == [aws.bucket]
    assert theirs(aws, p1, p2) == []


def test_a_dry_run_deletes_nothing(aws: Account) -> None:
    p1 = participant()
    made = make_participant(aws, p1)
    before = aws.everything()
    report, lines = sweep(aws, p1, dry_run=True)
    assert report.ok and not report.deleted
    assert aws.everything() == before
    assert "Would delete, in this order:" in lines
    listed = "\n".join(lines)
    for name in (made["runtime"], made["role"], made["provider"], made["workload"], made["key"], aws.bucket):
        assert name in listed
    # The order is the cleanup's: the runtime first, the pools and the bucket last.
    kinds = [item.kind for item in report.planned]
    assert kinds[0] == "runtime" and kinds[-1] in ("user pool", "bucket")
    sweep(aws, p1)
    assert theirs(aws, p1) == []


def test_a_failure_is_reported_with_its_fix_and_the_sweep_carries_on(
    aws: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    p1 = participant()
    made = make_participant(aws, p1)

    def refuse(aws: Any, item: sw.Item) -> bool:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DeleteRole")

    monkeypatch.setitem(sw.DELETERS, "execution role", refuse)
    report, lines = sweep(aws, p1)
    assert not report.ok
    assert [failure.what for failure in report.failures] == [f"execution role {made['role']} ({p1}'s, by tag)"]
    assert [item.name for item in report.remaining] == [made["role"]]
    text = "\n".join(lines)
    assert "FAILED to delete execution role" in text and "fix:" in text and "Still there (1):" in text
    assert theirs(aws, p1) == [f"roles: {made['role']}"]  # everything else went

    monkeypatch.undo()
    report, lines = sweep(aws, p1)
    assert report.ok and theirs(aws, p1) == [], lines


def test_names_that_are_not_participants_are_refused() -> None:
    assert sw.check_participant("P1") == "p1"  # as --participant takes it
    for bad in ("p-1", "1p", ""):
        with pytest.raises(sw.WizardError):
            sw.check_participant(bad)


# --- the command: --workshop URL is the sandbox and the list of participants ---------------------------------


@pytest.fixture
def workshop(region: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """A stand-in for `workshop serve`: a sandbox that also answers /workshop/api/status (with the join code)."""
    from wizard.sandbox.server import endpoint_of, make_sandbox_server

    names: list[str] = []
    asked: list[str] = []
    server = make_sandbox_server("127.0.0.1", 0, ready_delay=0.2)
    sandbox_app = server.app

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/workshop/api/status":
            return sandbox_app(environ, start_response)
        asked.append(environ.get("QUERY_STRING", ""))
        body = json.dumps({"participants": [{"name": name, "stages": []} for name in names]}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{endpoint_of(server)}/workshop/?code=join4242", names, asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_command_sweeps_the_workshops_participants(
    workshop: tuple[str, list[str], list[str]], region: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from wizard.cli import dispatch

    url, names, asked = workshop
    endpoint = url.split("/workshop/")[0]
    aws = Account(endpoint, region)
    p1, p2, p3 = participant(), participant(), participant()
    names.extend([p1, p2])
    for p in (p1, p2, p3):
        make_participant(aws, p)

    args = ["workshop", "sweep", "--workshop", url, "--region", region]
    assert dispatch([*args, "--dry-run"]) == 0
    assert asked == ["code=join4242"]
    assert f"{p1}_identity_demo" in aws.runtimes()
    # A participant named on the command line is swept besides the workshop's.
    assert dispatch([*args, "--participant", p3]) == 0, capsys.readouterr()
    assert theirs(aws, p1, p2, p3) == []
    assert aws.objects() is None
    out = capsys.readouterr().out
    assert f"Nothing of {p1}, {p2}, {p3} is left." in out
    assert dispatch(args) == 0  # again: a no-op


def test_the_command_refuses_without_participants(capsys: pytest.CaptureFixture[str]) -> None:
    from wizard.cli import dispatch

    assert dispatch(["workshop", "sweep", "--sandbox-endpoint", "http://127.0.0.1:9"]) == 2
    assert dispatch(["workshop", "sweep", "--participant", "Bad-Name", "--sandbox-endpoint", "http://127.0.0.1:9"]) == 2
    # A real account is never swept without --yes.
    assert dispatch(["workshop", "sweep", "--participant", "p1", "--region", "us-east-1"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_a_real_journey_of_a_participant_is_swept(sandbox_endpoint: str, tmp_path: Any) -> None:
    """`run --yes --through workload --participant p`, then `workshop sweep`."""
    from wizard_helpers import free_port, run_cli

    p = participant()
    folder = tmp_path / "journey"
    folder.mkdir()
    ran = run_cli(
        folder,
        *("run", "--yes", "--through", "workload", "--participant", p, "--sandbox-endpoint", sandbox_endpoint),
        *("--return-url", f"http://localhost:{free_port()}/oauth2/callback"),
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    aws = Account(sandbox_endpoint, "us-east-1")
    assert theirs(aws, p), "the journey made nothing named after its participant"
    swept = run_cli(folder, "workshop", "sweep", "--participant", p, "--sandbox-endpoint", sandbox_endpoint)
    assert swept.returncode == 0, swept.stdout[-3000:] + swept.stderr[-3000:]
    assert theirs(aws, p) == []


def test_a_workshop_that_does_not_answer_is_said_with_what_the_facilitator_can_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    from wizard.cli import dispatch

    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert dispatch(["workshop", "sweep", "--workshop", f"http://127.0.0.1:{port}/workshop/?code=join4242"]) == 1
    said = capsys.readouterr().err
    assert "does not answer" in said and "`workshop serve` is running" in said and "--participant NAME" in said
    assert "ask the facilitator" not in said
