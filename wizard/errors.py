"""Errors the wizard shows: what went wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


# Stage 8 stopped waiting for the person's approval: resumable later, not a fault.
WAITING_ON_USER = ("waiting_on_user", "consent_lapsed")


class UsageError(WizardError):
    """Bad input on the command line or in a form: exit code 2."""


class Cancelled(Exception):
    """The user asked to stop; raised at the next safe point between AWS calls."""


@dataclass(frozen=True)
class KnownFix:
    codes: tuple[str, ...]
    fix: str


# Codes come from botocore's error responses; fixes from the quickstart's troubleshooting section
# and what users report (reference/user-pain-points.md).
_KNOWN_FIXES = (
    KnownFix(
        ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"),
        "Your AWS session has expired. Sign in again (for SSO: `aws sso login --profile <profile>`), "
        "then run the stage again.",
    ),
    KnownFix(
        ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"),
        "These AWS credentials are not valid. Check `aws configure list` and the profile you chose, "
        "or use --sandbox to try the wizard without an AWS account.",
    ),
    KnownFix(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"),
        "Your AWS identity is not allowed to do this. The README lists the permissions the wizard needs.",
    ),
    KnownFix(
        ("Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"),
        "AWS is throttling requests. The wizard already retried with back-off; wait a minute and run "
        "the stage again. Nothing already created is lost.",
    ),
    KnownFix(
        ("NotAuthorizedException",),
        "Cognito rejected the username or password. If you edited the identity files by hand, run the "
        "cognito stage again: it resets the test users' passwords and rewrites the files.",
    ),
    KnownFix(
        ("InvalidPasswordException",),
        "The generated password did not meet the pool's password policy. Run the stage again to generate a new one.",
    ),
    KnownFix(
        ("ConflictException",),
        "Something with this name already exists in this account and region, made by another project or person "
        "(in a workshop sharing one account or sandbox, everyone starts with the same names). Give yours its own: "
        "--agent-name, --provider-name or --workload-name, then run from stage 4 again.",
    ),
    KnownFix(
        ("ResourceNotFoundException", "NoSuchEntity"),
        "Something the wizard recorded no longer exists in AWS. Run `agentcore-wizard status --verify` "
        "to see what drifted, then run the stage again to recreate it.",
    ),
)


# Messages AWS or the agent gives, mapped to their cause and fix: the quickstart's troubleshooting section
# and reference/user-pain-points.md. Every error a stage shows, and the doctor, goes through this map.
KNOWN_MESSAGES = (
    (
        "Workload access token has not been set",
        "The runtime did not hand the agent a workload access token: it was invoked with SigV4 and no user id, "
        "or the tool ran outside the request's context. Invoke with the bearer token (this stage does), and "
        "keep `await agent.invoke_async(...)` in agent.py.",
    ),
    (
        "must provide a ResourceOauth2ReturnUrl",
        "The agent passed no return URL. agent.py must pass callback_url from AGENTCORE_OAUTH2_RETURN_URL "
        "(the wizard's agent.py does); run stage 3 and stage 7 again.",
    ),
    (
        "register and use at least one ResourceOauth2ReturnUrl",
        "The runtime's workload identity allows no return URL. Run stage 7 again: it registers the wizard's.",
    ),
    (
        "is not allowed for workload identity",
        "The return URL the agent passed is not on the runtime's workload identity. Run stage 7 again.",
    ),
    (
        "Invalid or expired session",
        "The consent session expired or was completed with another token. Run the stage again for a fresh "
        "session and link.",
    ),
    (
        "(AccessDeniedException) when calling the GetResourceOauth2Token",
        "The execution role may not call GetResourceOauth2Token or read the provider's secret. Run stage 7 "
        "again (the wizard's role grants both); a role you brought needs the same permissions.",
    ),
    (
        "(ResourceNotFoundException) when calling the GetResourceOauth2Token",
        "The credential provider the agent names does not exist in this region. Run stage 5 again, and "
        "check the provider name in agent.py.",
    ),
    (
        "Authorization method mismatch",
        "The runtime was deployed with another authorizer than the call uses. The wizard always invokes with "
        "the bearer token; run stage 4 (Configure) and stage 7 (Deploy) again so the runtime has the JWT authorizer.",
    ),
    (
        "Unable to verify secret hash",
        "The app client has a client secret, so every sign-in must send SECRET_HASH. The wizard does; with the "
        "toolkit, set RUNTIME_CLIENT_SECRET (or use the wizard's stage 8).",
    ),
    (
        "Role validation failed",
        "AgentCore cannot assume the execution role yet (new roles take a few seconds to spread), or its trust "
        "policy does not allow bedrock-agentcore.amazonaws.com. Run stage 7 again; the wizard retries for 90 s.",
    ),
    (
        "Polling timed out",
        "Nobody approved in the browser within ten minutes. Run stage 8 again for a fresh link.",
    ),
)


def fix_for_message(message: str) -> str | None:
    for needle, fix in KNOWN_MESSAGES:
        if needle.lower() in message.lower():
            return fix
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


def explain(exc: BaseException) -> WizardError:
    """Turn any exception from a stage into a WizardError with the best known fix."""
    if isinstance(exc, WizardError):
        return exc
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return WizardError(
            "No AWS credentials were found.",
            fix="Run `aws configure` (or `aws sso login --profile <profile>` and pass --profile), "
            "or start with --sandbox to use the offline sandbox without an AWS account.",
            code=name,
        )
    if name in ("ProfileNotFound",):
        return WizardError(str(exc), fix="Check the profile name with `aws configure list-profiles`.", code=name)
    if name in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"):
        return WizardError(
            "Your AWS SSO session has expired or was never started.",
            fix="Run `aws sso login --profile <profile>` and try again.",
            code=name,
        )
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ):
        return WizardError(
            f"Could not reach the service: {exc}",
            fix="Check your network connection (and, in sandbox mode, that the sandbox is running: "
            "`agentcore-wizard status --sandbox` restarts it).",
            code=name,
        )
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = str(response["Error"].get("Code", ""))
        message = str(response["Error"].get("Message", "")) or str(exc)
        operation = getattr(exc, "operation_name", "")
        by_message = fix_for_message(message)
        if by_message:
            return WizardError(f"{operation}: {code}: {message}", fix=by_message, code=code)
        for known in _KNOWN_FIXES:
            if code in known.codes:
                return WizardError(f"{operation}: {code}: {message}", fix=known.fix, code=code)
        return WizardError(
            f"{operation}: {code}: {message}",
            fix="Read the message above; after fixing the cause, run the stage again.",
            code=code,
        )
    return WizardError(f"{name}: {exc}", fix="Run the stage again; if it keeps failing, report this message.")
