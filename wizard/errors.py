"""Errors the wizard shows: what went wrong and what to do about it, and the one map from failure to fix."""

from __future__ import annotations

import copy
import errno
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class WizardError(Exception):
    """An error with a message for people and a way forward."""

    def __init__(self, message: str, fix: str = "", code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code

    def as_dict(self) -> dict[str, str]:
        out = {"message": self.message, "fix": self.fix}
        if self.code:
            out["code"] = self.code
        return out


class UsageError(WizardError):
    """Bad input on the command line or in a form: exit code 2."""


class NeedsAction(WizardError):
    """The stage waits on a decision of the person's (a change declined, a question unanswered), not a fault."""


class RegionMissing(NeedsAction):
    """No region from flag, state or profile: the TUI asks, headless runs stop."""


class ConfirmationRequired(NeedsAction, UsageError):
    """Headless, off a terminal, without --yes: the wizard may not assume a yes to creating or deleting."""


class Declined(NeedsAction):
    """The person said no to a change (keep the file, do not delete): nothing happened, on purpose."""


class WaitingOnUser(NeedsAction):
    """Stage 8 stopped waiting for the person's approval in the browser: resumable later (exit code 3)."""


class ConsentLapsed(WaitingOnUser):
    """The authorization link lapsed unused: the next run starts a fresh session."""


class Busy(WizardError):
    """Another operation of this session is still running: one at a time."""


class Cancelled(Exception):
    """The user asked to stop; raised at the next safe point between AWS calls."""


# --- failures from outside the wizard, before they are explained ---------------------------------


class RuntimeRefused(Exception):
    """The runtime endpoint answered an invocation with an HTTP error status."""

    def __init__(self, status: int, body: str, error_type: str = "") -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.error_type = error_type


class CheckFailed(Exception):
    """One of the wizard's own checks did not hold: its name, what it found, a code when one is known, and the
    fix when explaining an underlying error already found it."""

    def __init__(self, name: str, detail: str, code: str = "", fix: str = "") -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail
        self.code = code
        self.fix = fix


class AgentAnswered(Exception):
    """The agent answered, but with neither a consent link nor the user's token."""

    def __init__(self, text: str) -> None:
        super().__init__(text[:200])
        self.text = text


class AuthUrlInLogs(Exception):
    """The agent wrote the authorization URL to its logs and kept the call open, instead of answering with it."""

    def __init__(self, url: str, log_group: str, waited: float) -> None:
        super().__init__(
            f"The agent wrote the authorization URL to its logs ({log_group}) instead of answering with it, and "
            f"had not answered {waited:.0f}s later: the user never sees the link, and the SDK waits up to ten "
            f"minutes for a consent that cannot come. The link it wrote: {url}"
        )
        self.url = url
        self.log_group = log_group


# --- the one map from failure to cause and fix ---------------------------------------------------


@dataclass(frozen=True)
class Known:
    """One known failure. It matches by a phrase in the message (checked first), by a code (AWS error codes,
    exception class names, the wizard's own codes such as http_401), or by the AWS operation that failed; one with
    both codes and operations matches only that code from those operations (one error, a fix per call).
    `message` replaces what an SDK exception said when that is unhelpful ({failure} is what it said). Fixes name stages
    by key in braces ({deploy}, or {Deploy} at the start of a sentence) and render as "stage 7 (Deploy agent)"."""

    fix: str
    phrases: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    message: str = ""


# The quickstart's troubleshooting section and what users report (reference/user-pain-points.md).
KNOWN: tuple[Known, ...] = (
    # What AWS or the agent says, by phrase.
    Known(
        "The runtime did not hand the agent a workload access token: it was invoked with SigV4 and no user id, "
        "or the token was fetched outside the request's context (on a thread of its own or an executor, which "
        "start with an empty context). Invoke with the bearer token (this stage does); in agent.py keep "
        "`await agent.invoke_async(...)` and fetch the token in the tool itself (asyncio tasks keep the "
        "context), then run {deploy} again.",
        phrases=("Workload access token has not been set",),
    ),
    Known(
        "on_auth_url in agent.py prints or logs the URL, so the call only returns when the SDK gives up. Hand the "
        "URL back instead: raise an exception that carries it from on_auth_url and return its text from the tool, "
        "as the wizard's agent.py does (move your agent.py aside and run {agent} to see it), then run {deploy} "
        "and this stage again.",
        codes=("AuthUrlInLogs",),
    ),
    Known(
        "The agent asked for the token with no return URL. The wizard sends its return URL in the "
        "OAuth2CallbackUrl header and the SDK uses it when requires_access_token names no callback_url; "
        "so agent.py passes an empty callback_url, or calls GetResourceOauth2Token itself without "
        "resourceOauth2ReturnUrl. Leave callback_url out (or pass the return URL), then run {deploy} again.",
        phrases=("must provide a ResourceOauth2ReturnUrl",),
    ),
    Known(
        "The runtime's workload identity allows no return URL. Run {deploy} again: it registers the wizard's.",
        phrases=("register and use at least one ResourceOauth2ReturnUrl",),
    ),
    Known(
        "The return URL the agent passed is not on the runtime's workload identity. Run {deploy} again.",
        phrases=("is not allowed for workload identity",),
    ),
    Known(
        "The consent session expired or was completed with another token. Run the stage again for a fresh "
        "session and link.",
        phrases=("Invalid or expired session",),
    ),
    Known(
        "The execution role may not call GetResourceOauth2Token or read the provider's secret. Run {deploy} "
        "again (the wizard's role grants both); a role you brought needs the same permissions.",
        phrases=("(AccessDeniedException) when calling the GetResourceOauth2Token",),
    ),
    Known(
        "The credential provider the agent names does not exist in this region. Run {provider} again, and "
        "check the provider name in agent.py.",
        phrases=("(ResourceNotFoundException) when calling the GetResourceOauth2Token",),
    ),
    Known(
        "The runtime was deployed with another authorizer than the call uses (or none). The wizard always invokes "
        "with the bearer token and never falls back to SigV4; run {configure} and {deploy} again so the runtime "
        "has the JWT authorizer.",
        phrases=("Authorization method mismatch",),
    ),
    Known(
        "The app client has a client secret, so every sign-in must send SECRET_HASH. The wizard does; with the "
        "toolkit, set RUNTIME_CLIENT_SECRET (or use the wizard's {invoke}).",
        phrases=("Unable to verify secret hash",),
    ),
    Known(
        "AgentCore cannot assume the execution role yet (new roles take a few seconds to spread), or its trust "
        "policy does not allow bedrock-agentcore.amazonaws.com. Run {deploy} again; the wizard retries for 90 s.",
        phrases=("Role validation failed",),
    ),
    Known(
        "Nobody approved in the browser within ten minutes. Run {invoke} again for a fresh link.",
        phrases=("Polling timed out",),
    ),
    Known(
        "Use a session id of 33 to 256 characters (leave --session-id out and the wizard makes one).",
        phrases=("runtimeSessionId",),
    ),
    Known(
        "A value that went into a request header is not allowed there (a newline or another control character "
        "in a region, profile setting or name?). Check --region, AWS_REGION, the region in your profile and the one "
        "this project pinned (`agentcore-wizard status` shows it), then run the stage again.",
        phrases=("Invalid header value", "Invalid header name"),
        message="A request could not be sent: {failure}",
    ),
    # AWS error codes.
    Known(
        "Your AWS session has expired. Sign in again (for SSO: `aws sso login --profile <profile>`), "
        "then run the stage again.",
        codes=("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"),
    ),
    Known(
        "These AWS credentials are not valid. Check `aws configure list` and the profile you chose, "
        "or use --sandbox to try the wizard without an AWS account.",
        codes=("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"),
    ),
    Known(
        "Your AWS identity is not allowed to do this. The README lists the permissions the wizard needs.",
        codes=("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"),
    ),
    Known(
        "AWS is throttling requests. The wizard already retried with back-off; wait a minute and run "
        "the stage again. Nothing already created is lost.",
        codes=("Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"),
    ),
    Known(
        "AWS had an internal error (or the service was unavailable); the wizard already retried. Wait a minute "
        "and run the stage again. Nothing already created is lost.",
        codes=(
            "InternalServerException",
            "InternalFailure",
            "InternalServerError",
            "InternalError",
            "InternalErrorException",
            "ServiceUnavailable",
            "ServiceUnavailableException",
        ),
    ),
    # A quota of the account used up: in a workshop sharing one account, what earlier runs left behind counts.
    Known(
        "This account and region already hold as many OAuth2 credential providers as AgentCore Identity allows "
        "(50 unless raised; Service Quotas code L-431051DC): every project's counts, every attendee's in a shared "
        "account, and those earlier runs left behind. Delete the ones nobody uses: `agentcore-wizard cleanup` in "
        "the folders that made them, or list them with `aws bedrock-agentcore-control "
        "list-oauth2-credential-providers --region <region>` and delete each with `aws bedrock-agentcore-control "
        "delete-oauth2-credential-provider --name <name>`. Or request a higher quota in the Service Quotas console "
        "(Amazon Bedrock AgentCore, L-431051DC). Then run {provider} again; nothing already made is lost.",
        codes=("ServiceQuotaExceededException",),
        operations=("CreateOauth2CredentialProvider",),
    ),
    Known(
        "This account and region already hold as many agent runtimes as AgentCore allows (1,000 unless raised): "
        "every project's counts. Delete the ones nobody uses: `agentcore-wizard cleanup` in the folders that made "
        "them, or list them with `aws bedrock-agentcore-control list-agent-runtimes --region <region>` and delete "
        "each with `aws bedrock-agentcore-control delete-agent-runtime --agent-runtime-id <id>`. Or request a "
        "higher quota in the Service Quotas console (Amazon Bedrock AgentCore). Then run {deploy} again; nothing "
        "already made is lost.",
        codes=("ServiceQuotaExceededException",),
        operations=("CreateAgentRuntime",),
    ),
    Known(
        "An AgentCore quota of this account and region is used up (the message says which). Delete what nobody "
        "uses (`agentcore-wizard cleanup` in the folders that made it), or request a higher quota in the Service "
        "Quotas console (Amazon Bedrock AgentCore), then run the stage again; nothing already made is lost.",
        codes=("ServiceQuotaExceededException",),
    ),
    Known(
        "Cognito rejected the username or password. If you edited the identity files by hand, run "
        "{cognito} again: it resets the test users' passwords and rewrites the files.",
        codes=("NotAuthorizedException",),
    ),
    Known(
        "The generated password did not meet the pool's password policy. Run the stage again to generate a new one.",
        codes=("InvalidPasswordException",),
    ),
    Known(
        "Something with this name already exists in this account and region, made by another project or person "
        "(in a workshop sharing one account or sandbox, everyone starts with the same names). Give yours its own "
        "with --reconfigure and --agent-name, --provider-name or --workload-name, then run again.",
        codes=("ConflictException",),
    ),
    Known(
        "Something the wizard recorded no longer exists in AWS. Run `agentcore-wizard status --verify` "
        "to see what drifted, then run the stage again to recreate it.",
        codes=("ResourceNotFoundException", "NoSuchEntity"),
    ),
    # Exceptions of the AWS SDK itself (no service answered).
    Known(
        "Run `aws configure` (or `aws sso login --profile <profile>` and pass --profile), "
        "or start with --sandbox to use the offline sandbox without an AWS account.",
        codes=("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"),
        message="No AWS credentials were found.",
    ),
    Known("Check the profile name with `aws configure list-profiles`.", codes=("ProfileNotFound",)),
    Known(
        "Run `aws sso login --profile <profile>` and try again.",
        codes=("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"),
        message="Your AWS SSO session has expired or was never started.",
    ),
    Known(
        "Check your network connection (and, in sandbox mode, that the sandbox is running: "
        "`agentcore-wizard status --sandbox` restarts it).",
        codes=("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"),
        message="Could not reach the service: {failure}",
    ),
    # The runtime endpoint's HTTP answers to an invocation.
    Known(
        "The bearer token is missing, expired, tampered with, or from another pool. Run the stage again "
        "(the wizard fetches a fresh token); if it persists, check that the runtime pool's discovery URL "
        "in .bedrock_agentcore.yaml is the pool in the identity files.",
        codes=("http_401",),
    ),
    Known(
        "The token is valid but not allowed: allowedClients in .bedrock_agentcore.yaml must hold "
        "RUNTIME_CLIENT_ID from the identity files. Run {configure} and {deploy} again to fix the authorizer.",
        codes=("http_403",),
    ),
    Known(
        "The agent's code failed (it did not start or crashed). Read its logs with the `aws logs tail` "
        "command on this screen, fix agent.py or requirements.txt, then run {deploy} again.",
        codes=("http_424",),
    ),
    Known("The runtime is gone. Run {deploy} again.", codes=("http_404",)),
    Known(
        "The runtime is busy or not READY yet; the wizard retried. Wait a moment and run the stage again.",
        codes=("http_409", "http_429", "http_503"),
    ),
    # The wizard's own checks.
    Known(
        "Configure credentials (`aws configure` or `aws sso login`), or use --sandbox.",
        codes=("credentials_unusable",),
    ),
    Known(
        "Use the credentials of the account this project was set up in, or start a new project in another "
        "folder with --dir.",
        codes=("account_changed",),
    ),
    Known("Choose a folder you can write to with --dir.", codes=("folder_not_writable",)),
    Known("Install Python 3.10 or newer and reinstall the wizard with it.", codes=("python_too_old",)),
    Known(
        "Read the answer above. If the model did not call the tool, run the stage again; if agent.py was "
        "edited, compare it with the wizard's version ({agent}).",
        codes=("agent",),
    ),
    # By the operation, when nothing more specific matched.
    Known("Run the stage again for a fresh session and link.", operations=("CompleteResourceTokenAuth",)),
)

GENERIC_AWS_FIX = "Read the message above; after fixing the cause, run the stage again."
GENERIC_FIX = "Run the stage again; if it keeps failing, report this message."
_STAGE_REF = re.compile(r"\{(\w+)\}")


def render_stage_refs(text: str) -> str:
    """'{deploy}' -> 'stage 7 (Deploy agent)'; '{Deploy}' starts a sentence. Unknown keys stay as they are."""

    def name(match: re.Match[str]) -> str:
        from wizard.steps import REGISTRY  # the registry imports this module: looked up when a fix is shown

        key = match.group(1)
        if key.lower() not in REGISTRY.keys:
            return match.group(0)
        return REGISTRY.name(key.lower(), capital=key[0].isupper())

    return _STAGE_REF.sub(name, text)


def _lookup(message: str, code: str, operation: str = "") -> Known | None:
    lowered = message.lower()
    for known in KNOWN:
        if any(phrase.lower() in lowered for phrase in known.phrases):
            return known
    for known in KNOWN:
        if code and code in known.codes and (not known.operations or operation in known.operations):
            return known
    for known in KNOWN:
        if operation and operation in known.operations and not known.codes:
            return known
    return None


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or "" for anything else."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def absent_as_none(call: Callable[[], T], *codes: str) -> T | None:
    """The call's answer, or None when AWS says the thing does not exist (any other error is raised)."""
    try:
        return call()
    except Exception as exc:
        if error_code(exc) in (codes or ("ResourceNotFoundException",)):
            return None
        raise


def _runtime_message(body: str) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return body.strip()[:500]
    if isinstance(value, dict):
        return str(value.get("message") or value.get("Message") or body)[:500]
    return body.strip()[:500]


# --- files the wizard could not write ----------------------------------------------------------

_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)
_IN_THE_WAY = (errno.ENOTDIR, errno.EISDIR, errno.EEXIST)


def file_error(exc: OSError, path: Path | str | None = None) -> WizardError:
    """An OSError on one of the project's files as a message with its fix: a full disk, a folder that is not
    writable, a file where a folder should be (or the reverse)."""
    where = str(path or exc.filename or "a file of the project")
    said = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        return WizardError(
            f"Cannot write {where}: {said}.",
            fix="The disk is full: free some space (or choose a folder on another disk with --dir), then run again; "
            "what was already made is recorded and kept.",
            code="disk_full",
        )
    if exc.errno in _NOT_ALLOWED:
        return WizardError(
            f"Cannot write {where}: {said}.",
            fix="Check that the folder is writable by you (`ls -ld` it), or choose another with --dir, then run again.",
            code="folder_not_writable",
        )
    if exc.errno in _IN_THE_WAY:
        return WizardError(
            f"Cannot use {where}: {said}.",
            fix=f"Something is in the way: a file where the wizard keeps a folder, or the reverse. Move {where} "
            "aside (do not delete what you may need), then run again.",
            code="path_in_the_way",
        )
    return WizardError(f"Cannot use {where}: {said}.", fix=GENERIC_FIX, code="file_error")


# --- what must never be shown --------------------------------------------------------------------

# A request's Authorization header: botocore's errors can quote it (an invalid header value, a debug dump).
_SIGV4 = re.compile(r"AWS4-(?:HMAC|ECDSA-P256)-SHA256\b.*?Signature=[0-9a-fA-F]*", re.DOTALL)
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE)  # a token, not "bearer token"
_AUTH_HEADER = re.compile(r"""(['"]?\bAuthorization['"]?\s*[:=]\s*)(['"]?)[^'"\r\n,}]+""", re.IGNORECASE)
_SIGV4_PARTS = re.compile(r"\b(Credential|Signature)=[^\s,'\"]+")
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """The text without any credential a request carried (SigV4 signatures, bearer tokens)."""
    if not text:
        return text
    text = _SIGV4.sub(f"AWS4-HMAC-SHA256 {REDACTED}", text)
    text = _SIGV4_PARTS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _scrubbed(error: WizardError) -> WizardError:
    message, fix = scrub(error.message), scrub(error.fix)
    if (message, fix) == (error.message, error.fix):
        return error
    clean = copy.copy(error)  # the same kind of error (NeedsAction, UsageError …), with the credential gone
    clean.message, clean.fix = message, fix
    clean.args = (message,)
    return clean


def explain(failure: BaseException | str) -> WizardError:
    """The only way a failure gets its fix: any exception from a stage, or a message seen elsewhere (a check's
    detail, an error recorded earlier), turned into a WizardError with the best known fix. A message that
    matches nothing known gets an empty fix; an exception gets a generic one. No request's Authorization
    header survives in what it says."""
    return _scrubbed(_explain(failure))


def _explain(failure: BaseException | str) -> WizardError:
    if isinstance(failure, str):
        known = _lookup(failure, "")
        return WizardError(failure, fix=render_stage_refs(known.fix) if known else "")
    if isinstance(failure, WizardError):
        return failure
    if isinstance(failure, CheckFailed):
        if failure.fix:
            return WizardError(str(failure), fix=failure.fix, code=failure.code)
        return _known_or(str(failure), failure.code, "", "", phrase_text=failure.detail)
    if isinstance(failure, RuntimeRefused):
        message = _runtime_message(failure.body)
        kind = failure.error_type.split(":")[0]
        said = f"The runtime answered {failure.status}{f' {kind}' if kind else ''}: {message}"
        code = f"http_{failure.status}"
        return _known_or(said, code, "", GENERIC_AWS_FIX)
    if isinstance(failure, AgentAnswered):
        text = failure.text
        marker = "Failed to authenticate"
        reason = text.split(marker, 1)[-1].lstrip(": ").strip() if marker in text else text.strip()
        known = _lookup(text, "")
        if known is not None:
            return WizardError(
                f"The agent could not get the user's token: {reason[:400]}",
                fix=render_stage_refs(known.fix),
                code="agent",
            )
        return _known_or(f"The agent answered without a consent link or a token: {reason[:400]}", "agent", "", "")
    name = type(failure).__name__
    response = getattr(failure, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = str(response["Error"].get("Code", ""))
        message = str(response["Error"].get("Message", "")) or str(failure)
        operation = str(getattr(failure, "operation_name", ""))
        return _known_or(f"{operation}: {code}: {message}", code, operation, GENERIC_AWS_FIX, phrase_text=message)
    known = _lookup(str(failure), name)
    if known is not None:
        message = known.message.format(failure=failure) if known.message else str(failure)
        return WizardError(message, fix=render_stage_refs(known.fix), code=name)
    if isinstance(failure, OSError) and failure.filename and failure.errno:
        return file_error(failure)  # a file of the project (network errors name no file)
    return WizardError(f"{name}: {failure}", fix=GENERIC_FIX)


def _known_or(message: str, code: str, operation: str, fallback: str, phrase_text: str | None = None) -> WizardError:
    known = _lookup(phrase_text if phrase_text is not None else message, code, operation)
    return WizardError(message, fix=render_stage_refs(known.fix) if known else fallback, code=code)
