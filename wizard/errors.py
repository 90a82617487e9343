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
        ("ResourceNotFoundException", "NoSuchEntity"),
        "Something the wizard recorded no longer exists in AWS. Run `agentcore-wizard status --verify` "
        "to see what drifted, then run the stage again to recreate it.",
    ),
)


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
        for known in _KNOWN_FIXES:
            if code in known.codes:
                return WizardError(f"{operation}: {code}: {message}", fix=known.fix, code=code)
        return WizardError(
            f"{operation}: {code}: {message}",
            fix="Read the message above; after fixing the cause, run the stage again.",
            code=code,
        )
    return WizardError(f"{name}: {exc}", fix="Run the stage again; if it keeps failing, report this message.")
