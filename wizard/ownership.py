"""Whose a resource is. The wizard tags what it creates with this project's id (where the service takes tags) and
records its intent (the exact name) just before each create; on a later run, a resource with that name is this
project's own when its tag says so, or, where tags cannot be read, when the intent was recorded. Anything else is
someone else's (the agentcore CLI's, made by hand, another project's): found, kept, never deleted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from wizard.errors import WizardError, error_code

if TYPE_CHECKING:
    from wizard.context import Context

T = TypeVar("T")
PROJECT_TAG = "agentcore-wizard:project"
# A workshop participant's resources also carry their name, so a facilitator's sweep finds the room's by tag.
PARTICIPANT_TAG = "agentcore-wizard:participant"
# Origins recorded with a resource: "creating" (the intent, just before the create), "created" (this project
# made it: cleanup deletes it), "adopted" (it was there: cleanup keeps it).
CREATING, CREATED, ADOPTED = "creating", "created", "adopted"


# Set in the state when a session found work in the folder but no record of it (a lost or damaged state file).
LOST_RECORD = "record_lost_at"


def record_was_lost(ctx: Context) -> bool:
    """Whether this project's record was rebuilt from the folder and AWS: then the absence of an intent says
    nothing about who made a resource (the intent was lost with the file)."""
    return bool(ctx.state.data.get(LOST_RECORD))


def project_id(ctx: Context) -> str:
    """This folder's project id, made the first time something needs it (names, tags), then kept."""
    existing = ctx.state.data.get("project_id")
    if existing:
        return str(existing)
    made = uuid.uuid4().hex
    ctx.state.update(project_id=made)
    return made


def name_suffix(ctx: Context) -> str:
    """What makes this project's own names unique (pools, domains, users, the role, the code's S3 prefix): the
    project id's first 8 characters, after the participant's name in a workshop."""
    participant = ctx.settings.participant
    short = project_id(ctx)[:8]
    return f"{participant}-{short}" if participant else short


def project_tags(ctx: Context) -> dict[str, str]:
    """The tags of an AgentCore create (and a Cognito pool's): {key: value}."""
    tags = {PROJECT_TAG: project_id(ctx)}
    if ctx.settings.participant:
        tags[PARTICIPANT_TAG] = ctx.settings.participant
    return tags


def iam_tags(ctx: Context) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in project_tags(ctx).items()]


# The answers of ListTagsForResource that mean "these tags cannot be read" (not allowed, or not supported).
TAGS_UNREADABLE = (
    "AccessDeniedException",
    "ResourceNotFoundException",
    "UnknownOperationException",
    "ValidationException",
)


def agentcore_tags(control: Any, arn: str) -> dict[str, str] | None:
    """An AgentCore resource's tags: None when they cannot be read (not allowed, or not supported)."""
    try:
        answer = control.list_tags_for_resource(resourceArn=arn)
    except Exception as exc:
        # Tagging works only on some AgentCore resources (the API's own note: runtimes, not credential
        # providers): a refusal means the tags cannot be read, and the recorded intent decides.
        if error_code(exc) in TAGS_UNREADABLE:
            return None
        raise
    return {str(key): str(value) for key, value in (answer.get("tags") or {}).items()}


def agentcore_tag(ctx: Context, arn: str) -> str | None:
    """The project id an AgentCore resource is tagged with: "" when it carries none, None when its tags cannot
    be read."""
    tags = agentcore_tags(ctx.client("bedrock-agentcore-control"), arn)
    return None if tags is None else tags.get(PROJECT_TAG, "")


def iam_tag(role: dict[str, Any]) -> str:
    return next((str(tag["Value"]) for tag in role.get("Tags") or [] if tag.get("Key") == PROJECT_TAG), "")


def settle(ctx: Context, recorded_origin: str | None, tag: str | None) -> str:
    """Created by this project, or found? The tag decides when it can be read; the recorded intent otherwise."""
    mine = project_id(ctx)
    if tag:
        return CREATED if tag == mine else ADOPTED
    if tag is None and recorded_origin in (CREATING, CREATED):
        return CREATED
    if tag == "" and recorded_origin == CREATED:
        return CREATED  # made before the wizard tagged what it creates
    return ADOPTED


def taken_in_room(ctx: Context, what: str, origin: str) -> WizardError | None:
    """In a workshop, a name that exists and is not this project's belongs to another participant (or an earlier
    room): never adopt or update it, whatever it holds. None when this project may use it."""
    participant = ctx.settings.participant
    if not participant or origin == CREATED:
        return None
    return WizardError(
        f"{what} already exists and is not this project's: someone else in the room uses the participant name "
        f"{participant!r}, or an earlier session left it behind.",
        fix="Pick a name of your own: start again in a new folder with --dir and another --participant. If it is "
        "an earlier session's, the facilitator's `agentcore-wizard workshop sweep` removes it.",
        code="participant_name_taken",
    )


# --- creates that are safe to retry ---------------------------------------------------------------

# The answer never arrived, though the request may have been carried out: look before creating again.
ANSWER_LOST = ("ReadTimeoutError", "ConnectionClosedError", "ConnectTimeoutError", "EndpointConnectionError")
SERVER_FAULTS = (
    "InternalServerException",
    "InternalFailure",
    "InternalErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "ServiceException",
)
THROTTLED = ("Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown", "RequestLimitExceeded")
CREATE_ATTEMPTS = 4
LOOK_FOR_SECONDS = 60.0  # how long a create the service may still be carrying out is looked for


def create_once(ctx: Context, what: str, create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Create something exactly once. The client used for `create` must not retry by itself (ctx.creator): a
    request whose answer was lost (a timeout, a dropped connection) or that failed inside the service may still
    have been carried out, so `find` looks for it (by the intended name or client token) before any new attempt;
    a throttled request was not carried out and is simply sent again after a pause."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return create()
        except Exception as exc:
            name, code = type(exc).__name__, error_code(exc)
            last = attempt == CREATE_ATTEMPTS
            if code in THROTTLED and not last:
                ctx.progress(None, f"throttled creating {what}; trying again")
                ctx.checkpoint()
                time.sleep(min(8.0, 0.5 * 2**attempt))
                continue
            if name not in ANSWER_LOST and code not in SERVER_FAULTS:
                raise
            ctx.log(f"The answer to creating {what} was lost ({code or name}); looking for it first.", "warning")
            found = _look_for(ctx, what, find, patient=name in ("ReadTimeoutError", "ConnectionClosedError"))
            if found is not None:
                ctx.log(f"Found {what}: the first attempt had made it.", "success")
                return found
            if last:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _look_for(ctx: Context, what: str, find: Callable[[], T | None], patient: bool) -> T | None:
    """A timed-out request may still be finishing in the service: look for a while before giving up on it."""
    started = time.monotonic()
    while True:
        found = find()
        waited = time.monotonic() - started
        if found is not None or not patient or waited > LOOK_FOR_SECONDS:
            return found
        ctx.progress(None, f"looking for {what} the lost request may still make ({waited:.0f}s)")
        ctx.checkpoint()
        time.sleep(2.0)
