"""The facilitator's reset between workshop sessions: delete everything the room's participants made, and nothing
else, on the workshop's sandbox (or an account).

A resource is participant p's when it carries the tag `agentcore-wizard:participant` = p, or, where it carries no
participant tag (or its tags cannot be read), when its name is one the wizard derives from p:

- runtimes named `p_…` (a runtime's DEFAULT endpoint and its own workload identity go with it), and their log
  groups `/aws/bedrock-agentcore/runtimes/<id>-DEFAULT`;
- execution roles `AgentCoreWizard-p_…` (only roles named `AgentCoreWizard-…` are looked at: the wizard names
  every role it makes so);
- objects under `agentcore-wizard/p-` in the shared bucket `agentcore-wizard-<account>-<region>`, and the bucket
  itself once nothing else is in it;
- workload identities and credential providers named `p-…` (providers have no readable tags);
- Cognito pools whose name has `-p-` in it (their domains first).

A tag naming another participant wins over the name. Anything matching neither is never touched: a hand-made
`ExternalServiceProvider` stays. The order is the cleanup's: runtimes first (waited for until gone: the role, the
provider and the workload identity must outlive them), then what they used, the pools and the bucket last.
Deletions of one phase run at once in a thread pool; a failure is reported with its fix and the sweep carries on;
a final look lists what is left."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from wizard import names
from wizard.agent_logs import log_group
from wizard.errors import WizardError, absent_as_none, explain
from wizard.ownership import PARTICIPANT_TAG, agentcore_tags
from wizard.steps.base import deleted_or_gone
from wizard.steps.cognito import delete_domain
from wizard.steps.deploy import IAM_MISSING, READY_TIMEOUT, S3_MISSING, delete_role
from wizard.workshop.link import WorkshopLink, room_status

ROLE_PREFIX = "AgentCoreWizard-"
S3_ROOT = "agentcore-wizard/"
LOG_ROOT = log_group("").removesuffix("-DEFAULT")  # /aws/bedrock-agentcore/runtimes/
CONTROL = "bedrock-agentcore-control"
SERVICES = (CONTROL, "iam", "s3", "logs", "cognito-idp", "sts")
WORKERS = 8

# The order of deletion: what a phase deletes, the next one's things may need gone first.
PHASES: dict[str, int] = {
    "runtime": 1,
    "log group": 2,
    "execution role": 2,
    "s3 object": 2,
    "workload identity": 2,
    "credential provider": 2,
    "user pool": 3,
    "bucket": 3,
}


def check_participant(name: str) -> str:
    """The same rule as `--participant` (the names the participants joined with)."""
    return names.check_participant(name)


# --- where: the clients of one account (or sandbox) and region ----------------------------------------------


class Aws:
    """The clients the sweep uses, made once here (boto3 clients are safe to share between threads, not to
    make in several at once), retrying by themselves like the wizard's own (ctx.client)."""

    def __init__(self, session: Any, region: str, endpoint: str | None = None, workers: int = WORKERS) -> None:
        from botocore.config import Config

        self.region = region
        self.endpoint = endpoint
        config = Config(
            retries={"mode": "adaptive", "max_attempts": 8},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=workers + 4,
            user_agent_extra="agentcore-wizard",
        )
        self._clients = {
            service: session.client(service, region_name=region, endpoint_url=endpoint, config=config)
            for service in SERVICES
        }

    @classmethod
    def sandbox(cls, endpoint: str, region: str, workers: int = WORKERS) -> Aws:
        import boto3

        from wizard.context import SANDBOX_CREDENTIALS

        return cls(boto3.Session(**SANDBOX_CREDENTIALS), region, endpoint.rstrip("/"), workers)

    def client(self, service: str) -> Any:
        return self._clients[service]

    @property
    def where(self) -> str:
        return f"the sandbox at {self.endpoint}, {self.region}" if self.endpoint else f"AWS, {self.region}"


# --- what: the participants' resources ----------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: str  # a key of PHASES
    name: str  # what a person reads
    participant: str  # "" for the shared bucket
    ref: str  # what deleting it takes: a runtime id, a role name, an object key, a pool id, ...
    by: str = "name"  # why it is the participant's: "tag" or "name"
    domain: str = ""  # a pool's domain, deleted before it

    @property
    def what(self) -> str:
        whose = f" ({self.participant}'s, by {self.by})" if self.participant else ""
        return f"{self.kind} {self.name}{whose}"


@dataclass(frozen=True)
class Failure:
    what: str
    message: str
    fix: str


@dataclass
class Found:
    items: list[Item] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # left on purpose, with why
    failures: list[Failure] = field(default_factory=list)  # listings that failed


@dataclass
class Report:
    participants: list[str]
    where: str
    dry_run: bool
    planned: list[Item] = field(default_factory=list)
    deleted: list[Item] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    remaining: list[Item] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing failed and (unless a dry run) nothing of the participants is left."""
        return not self.failures and (self.dry_run or not self.remaining)


def _whose(tags: dict[str, str] | None, participants: Iterable[str], name: str, rule: str) -> tuple[str, str]:
    """(participant, "tag" | "name"), or ("", "") when it is none of theirs. A participant tag decides; else the
    name: `rule` with {p} for the participant, a prefix ("{p}_") or, between stars, a part ("*-{p}-*")."""
    tagged = (tags or {}).get(PARTICIPANT_TAG)
    if tagged:
        return (tagged, "tag") if tagged in participants else ("", "")
    for participant in participants:
        wanted = rule.strip("*").format(p=participant)
        if (wanted in name) if rule.startswith("*") else name.startswith(wanted):
            return participant, "name"
    return "", ""


def _listed(client: Any, operation: str, items: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a list call (botocore's paginator)."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(items) or []]


def _runtimes(aws: Aws, participants: list[str]) -> Found:
    """Runtimes, and the log groups of runtimes (of these, and of ones already gone)."""
    control, logs = aws.client(CONTROL), aws.client("logs")
    found = Found()
    runtimes = _listed(control, "list_agent_runtimes", "agentRuntimes")
    with ThreadPoolExecutor(4) as pool:
        tags = list(pool.map(lambda runtime: agentcore_tags(control, runtime["agentRuntimeArn"]), runtimes))
    groups: dict[str, tuple[str, str]] = {}
    others = {log_group(str(runtime["agentRuntimeId"])) for runtime in runtimes}  # less ours, below
    for runtime, tagged in zip(runtimes, tags, strict=True):
        name, runtime_id = str(runtime["agentRuntimeName"]), str(runtime["agentRuntimeId"])
        who, by = _whose(tagged, participants, name, "{p}_")
        if who:
            found.items.append(Item("runtime", runtime_id, who, runtime_id, by))
            groups[log_group(runtime_id)] = (who, by)
            others.discard(log_group(runtime_id))
    # Groups of runtimes already gone: one listing of the runtimes' groups, matched by name. A group named like
    # p's is theirs unless it is the group of a runtime that is not.
    for group in _listed(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=LOG_ROOT):
        name = str(group["logGroupName"])
        if not name.endswith("-DEFAULT") or name in groups or name in others:
            continue
        who, _by = _whose(None, participants, name, LOG_ROOT + "{p}_")
        if who:
            groups[name] = (who, "name")
    found.items.extend(Item("log group", name, who, name, by) for name, (who, by) in sorted(groups.items()))
    return found


def _roles(aws: Aws, participants: list[str]) -> Found:
    iam = aws.client("iam")
    names = [
        str(role["RoleName"])
        for page in iam.get_paginator("list_roles").paginate()
        for role in page.get("Roles") or []
        if str(role["RoleName"]).startswith(ROLE_PREFIX)
    ]

    def tags(name: str) -> dict[str, str] | None:
        answer = absent_as_none(lambda: iam.list_role_tags(RoleName=name), *IAM_MISSING)
        return None if answer is None else {tag["Key"]: tag["Value"] for tag in answer.get("Tags") or []}

    found = Found()
    with ThreadPoolExecutor(4) as pool:
        for name, tagged in zip(names, pool.map(tags, names), strict=True):
            who, by = _whose(tagged, participants, name, ROLE_PREFIX + "{p}_")
            if who:
                found.items.append(Item("execution role", name, who, name, by))
    return found


def shared_bucket(aws: Aws) -> str:
    account = aws.client("sts").get_caller_identity()["Account"]
    return f"agentcore-wizard-{account}-{aws.region}"


def _objects(aws: Aws, participants: list[str]) -> Found:
    """The participants' objects in the shared bucket, and the bucket when nothing else is in it."""
    s3 = aws.client("s3")
    bucket = shared_bucket(aws)
    found = Found()
    if absent_as_none(lambda: s3.head_bucket(Bucket=bucket), *S3_MISSING) is None:
        return found
    others = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents") or []:
            key = str(entry["Key"])
            who, by = _whose(None, participants, key, S3_ROOT + "{p}-")
            if who:
                found.items.append(Item("s3 object", f"s3://{bucket}/{key}", who, key, by))
            else:
                others += 1
    if others:
        found.kept.append(f"bucket {bucket}: it holds {others} object(s) that are not these participants'")
    else:
        found.items.append(Item("bucket", bucket, "", bucket))
    return found


def _named(kind: str, operation: str, key: str) -> Callable[[Aws, list[str]], Found]:
    """Workload identities and credential providers: no tags can be read on them, so their names decide."""

    def find(aws: Aws, participants: list[str]) -> Found:
        found = Found()
        for listed in _listed(aws.client(CONTROL), operation, key):
            name = str(listed["name"])
            who, by = _whose(None, participants, name, "{p}-")
            if who:
                found.items.append(Item(kind, name, who, name, by))
        return found

    return find


_workloads = _named("workload identity", "list_workload_identities", "workloadIdentities")
_providers = _named("credential provider", "list_oauth2_credential_providers", "credentialProviders")


def _pools(aws: Aws, participants: list[str]) -> Found:
    cognito = aws.client("cognito-idp")
    pools = _listed(cognito, "list_user_pools", "UserPools", MaxResults=60)

    def described(pool: dict[str, Any]) -> dict[str, Any] | None:
        answer = absent_as_none(lambda: cognito.describe_user_pool(UserPoolId=pool["Id"]))
        return None if answer is None else dict(answer["UserPool"])

    found = Found()
    with ThreadPoolExecutor(4) as executor:
        for pool in executor.map(described, pools):
            if pool is None:
                continue
            name = str(pool.get("Name") or "")
            who, by = _whose(pool.get("UserPoolTags"), participants, name, "*-{p}-*")
            if who:
                shown = f"{name} ({pool['Id']})"
                found.items.append(Item("user pool", shown, who, str(pool["Id"]), by, str(pool.get("Domain") or "")))
    return found


FINDERS: dict[str, Callable[[Aws, list[str]], Found]] = {
    "runtimes and their log groups": _runtimes,
    "execution roles": _roles,
    "the shared bucket's objects": _objects,
    "workload identities": _workloads,
    "credential providers": _providers,
    "Cognito user pools": _pools,
}


def find(aws: Aws, participants: list[str], pool: ThreadPoolExecutor) -> Found:
    """Everything of these participants, in the order of deletion. A listing that fails is a failure: what it
    would have found cannot be said to be gone."""
    found = Found()
    futures = {pool.submit(finder, aws, participants): what for what, finder in FINDERS.items()}
    for future in futures:  # in FINDERS' order, so the result does not depend on timing
        try:
            part = future.result()
        except Exception as exc:
            error = explain(exc)
            found.failures.append(Failure(f"listing {futures[future]}", error.message, error.fix))
            continue
        found.items.extend(part.items)
        found.kept.extend(part.kept)
    found.items.sort(key=lambda item: PHASES[item.kind])  # stable: within a phase, the listing's order
    return found


# --- deleting -----------------------------------------------------------------------------------------------


class _Kept(Exception):
    """Not deleted, rightly (the bucket got something else in it meanwhile)."""


def _delete_runtime(aws: Aws, item: Item) -> bool:
    control = aws.client(CONTROL)
    found = absent_as_none(lambda: control.delete_agent_runtime(agentRuntimeId=item.ref)) is not None
    started, pause = time.monotonic(), 0.1
    while absent_as_none(lambda: control.get_agent_runtime(agentRuntimeId=item.ref)) is not None:
        waited = time.monotonic() - started
        if waited > READY_TIMEOUT:
            raise WizardError(
                f"Runtime {item.ref} is still being deleted after {int(waited)} s.",
                fix="Run the sweep again later: it carries on with what is left.",
            )
        time.sleep(pause)
        pause = min(5.0, pause * 2)
    return found


def _delete_log_group(aws: Aws, item: Item) -> bool:
    logs = aws.client("logs")
    return absent_as_none(lambda: logs.delete_log_group(logGroupName=item.ref)) is not None


def _delete_role(aws: Aws, item: Item) -> bool:
    return delete_role(aws.client("iam"), item.ref)


def _delete_object(aws: Aws, item: Item) -> bool:
    s3 = aws.client("s3")
    bucket = item.name.removeprefix("s3://").split("/", 1)[0]
    return absent_as_none(lambda: s3.delete_object(Bucket=bucket, Key=item.ref), *S3_MISSING) is not None


def _delete_workload(aws: Aws, item: Item) -> bool:
    control = aws.client(CONTROL)
    return absent_as_none(lambda: control.delete_workload_identity(name=item.ref)) is not None


def _delete_provider(aws: Aws, item: Item) -> bool:
    control = aws.client(CONTROL)
    return absent_as_none(lambda: control.delete_oauth2_credential_provider(name=item.ref)) is not None


def _delete_pool(aws: Aws, item: Item) -> bool:
    cognito = aws.client("cognito-idp")
    if item.domain:
        delete_domain(cognito, item.domain, item.ref)
    return absent_as_none(lambda: cognito.delete_user_pool(UserPoolId=item.ref)) is not None


def _delete_bucket(aws: Aws, item: Item) -> bool:
    s3 = aws.client("s3")
    listing = absent_as_none(lambda: s3.list_objects_v2(Bucket=item.ref, MaxKeys=1), *S3_MISSING)
    if listing is None:
        return False
    if listing.get("KeyCount", 0):
        raise _Kept(f"bucket {item.ref}: it still holds objects")
    return absent_as_none(lambda: s3.delete_bucket(Bucket=item.ref), *S3_MISSING) is not None


DELETERS: dict[str, Callable[[Aws, Item], bool]] = {
    "runtime": _delete_runtime,
    "log group": _delete_log_group,
    "execution role": _delete_role,
    "s3 object": _delete_object,
    "workload identity": _delete_workload,
    "credential provider": _delete_provider,
    "user pool": _delete_pool,
    "bucket": _delete_bucket,
}


# --- the sweep ----------------------------------------------------------------------------------------------


def sweep(
    aws: Aws,
    participants: Iterable[str],
    dry_run: bool = False,
    out: Callable[[str], None] = print,
    workers: int = WORKERS,
) -> Report:
    """Delete (or, dry, list) everything of these participants; `out` gets every line of progress."""
    who = list(dict.fromkeys(check_participant(name) for name in participants))
    if not who:
        raise WizardError("No participant to sweep.", fix="Pass --workshop URL, or --participant NAME (repeated).")
    started = time.monotonic()
    report = Report(who, aws.where, dry_run)
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            out(line)

    say(f"{'Dry run: listing' if dry_run else 'Sweeping'} what {', '.join(who)} made in {aws.where}.")
    with ThreadPoolExecutor(workers) as pool:
        found = find(aws, who, pool)
        report.planned, report.failures = list(found.items), list(found.failures)
        for failure in found.failures:
            say(f"FAILED {failure.what}: {failure.message}")
            if failure.fix:
                say(f"  fix: {failure.fix}")
        if dry_run:
            _print_plan(say, found)
            report.kept, report.remaining = list(found.kept), list(found.items)
            report.seconds = time.monotonic() - started
            return report
        kept = _delete_all(pool, aws, found.items, report, say)
        say("Checking what is left …")
        final = find(aws, who, pool)
    report.failures.extend(final.failures)
    report.remaining = final.items
    report.kept = kept + final.kept
    report.seconds = time.monotonic() - started
    for line in _summary(report):
        say(line)
    return report


def _delete_all(
    pool: ThreadPoolExecutor, aws: Aws, items: list[Item], report: Report, say: Callable[[str], None]
) -> list[str]:
    total, done = len(items), 0
    width = len(str(total))
    kept: list[str] = []
    blocked: set[str] = set()  # participants whose runtime is still there: what it uses stays this time
    for phase in sorted(set(PHASES.values())):
        batch = []
        for item in (item for item in items if PHASES[item.kind] == phase):
            if item.participant in blocked:
                done += 1
                kept.append(f"{item.what}: kept while a runtime of {item.participant} remains")
                say(f"[{done:>{width}}/{total}] kept {item.what}: a runtime of {item.participant} remains")
            else:
                batch.append(item)
        futures = {pool.submit(DELETERS[item.kind], aws, item): item for item in batch}
        for future in as_completed(futures):
            item = futures[future]
            done += 1
            count = f"[{done:>{width}}/{total}]"
            try:
                line, _level = deleted_or_gone(item.what, future.result())
            except _Kept as reason:
                kept.append(str(reason))
                say(f"{count} kept {reason}")
                continue
            except Exception as exc:
                error = explain(exc)
                report.failures.append(Failure(item.what, error.message, error.fix))
                if item.kind == "runtime":
                    blocked.add(item.participant)
                say(f"{count} FAILED to delete {item.what}: {error.message}")
                if error.fix:
                    say(f"{' ' * len(count)}  fix: {error.fix}")
                continue
            report.deleted.append(item)
            say(f"{count} {line}")
    return kept


def _print_plan(say: Callable[[str], None], found: Found) -> None:
    if found.items:
        say("Would delete, in this order:")
        for item in found.items:
            say(f"  - {item.what}")
    else:
        say("Nothing of theirs is there.")
    for line in found.kept:
        say(f"Would keep {line}.")


def _summary(report: Report) -> list[str]:
    lines = [f"Kept {line}." for line in report.kept]
    failed = f"; {len(report.failures)} failed" if report.failures else ""
    lines.append(f"Deleted {len(report.deleted)} of {len(report.planned)} in {report.seconds:.1f} s{failed}.")
    if report.remaining:
        lines.append(f"Still there ({len(report.remaining)}):")
        lines.extend(f"  - {item.what}" for item in report.remaining)
        lines.append("  fix: see the failures above, then run the sweep again (it carries on with what is left).")
    else:
        lines.append(f"Nothing of {', '.join(report.participants)} is left.")
    return lines


# --- the workshop's participants ----------------------------------------------------------------------------


def workshop_participants(link: WorkshopLink) -> list[str]:
    """The names of the workshop's participants, from its status (what its dashboard shows)."""
    origin = link.base
    try:
        data = room_status(link)
    except WizardError as error:
        if error.code != "workshop_unreachable":
            raise
        raise WizardError(  # said to the facilitator, who runs the sweep: not "ask the facilitator"
            error.message,
            fix="Check that `workshop serve` is running at that URL, or name the participants with --participant "
            "NAME and the sandbox with --sandbox-endpoint URL.",
            code=error.code,
        ) from None
    people = data.get("participants") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise WizardError(
            f"The workshop at {origin} answered without a list of participants.",
            fix="Name them with --participant NAME (repeated).",
        )
    return [check_participant(str(person.get("name") if isinstance(person, dict) else person)) for person in people]
