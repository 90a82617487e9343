"""What a stage needs: the project folder, the pinned region, AWS clients and a place to report to."""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.errors import Cancelled, WizardError
from wizard.state import StateFile

SANDBOX_DEFAULT_REGION = "us-east-1"
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
DEFAULT_RETURN_URL = "http://localhost:8081/oauth2/callback"  # the toolkit's own, for familiarity
SANDBOX_CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}


@dataclass
class Event:
    """One thing worth showing: a log line, an AWS call, progress, or a stage status change."""

    kind: str  # "log" | "aws" | "progress" | "status" | "answer" (agent text as it streams) | "consent"
    stage: str
    message: str = ""
    level: str = "info"  # "info" | "warning" | "error" | "success"
    fraction: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # "consent": url, expires_at, username, listening


EventSink = Callable[[Event], None]
# (question, default, yes label, no label) -> answer; headless runs take the default.
Confirm = Callable[[str, bool, str, str], bool]


@dataclass
class Options:
    """Everything the user chose on the command line or in the TUI."""

    project: Path
    region: str | None = None
    profile: str | None = None
    sandbox: bool = False
    sandbox_endpoint: str | None = None
    assume_yes: bool = False
    provider_name: str = "ExternalServiceProvider"
    scopes: list[str] = field(default_factory=lambda: ["openid"])
    model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    # None: what the project already uses (state file), else the quickstart's name.
    agent_name: str | None = None
    workload_name: str | None = None
    return_url: str | None = None  # None: what the project already uses (state file), else DEFAULT_RETURN_URL
    execution_role: str | None = None  # a role the user brings: used as is, never changed or deleted
    wheelhouse: Path | None = None  # install the agent's dependencies only from here (offline)
    session_id: str | None = None  # the runtime session to use instead of the wizard's own
    no_browser: bool = False
    auto_consent: bool = False  # sandbox only: sign in on the sandbox's consent page as the test user
    consent_timeout: float | None = None  # seconds to wait for the browser; None: as long as the link lasts

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox or bool(self.sandbox_endpoint)


class RegionMissing(WizardError):
    """No region from flag, state or profile: the TUI asks, headless runs stop."""


class Context:
    def __init__(self, options: Options, state: StateFile, sink: EventSink | None = None) -> None:
        self.options = options
        self.project = options.project
        self.state = state
        self.sink: EventSink = sink or (lambda event: None)
        self.confirm: Confirm = lambda question, default, yes, no: default
        self.cancel_event = threading.Event()
        self.current_stage = ""
        self.region_choice: str | None = None
        self._endpoint: str | None = None
        self._endpoint_lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        # URLs the browser came back on: from the return-URL listener, or pasted by the user.
        self.consent_inbox: queue.Queue[str] = queue.Queue()

    # --- reporting --------------------------------------------------------------------------------

    def emit(
        self,
        kind: str,
        message: str = "",
        level: str = "info",
        fraction: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.sink(
            Event(
                kind=kind,
                stage=self.current_stage,
                message=message,
                level=level,
                fraction=fraction,
                detail=detail or {},
            )
        )

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", message, level)

    def progress(self, fraction: float, message: str = "") -> None:
        self.emit("progress", message, fraction=max(0.0, min(1.0, fraction)))

    def offer_redirect(self, url: str) -> None:
        """The URL the browser ended on after consent, pasted by the user (any thread)."""
        self.consent_inbox.put(url)

    def checkpoint(self) -> None:
        """A safe point between AWS calls where a stop request takes effect."""
        if self.cancel_event.is_set():
            raise Cancelled()

    # --- mode and region --------------------------------------------------------------------------

    @property
    def is_sandbox(self) -> bool:
        return self.options.is_sandbox

    @property
    def mode(self) -> str:
        return "sandbox" if self.is_sandbox else "aws"

    def resolve_region(self) -> tuple[str, str]:
        """The region and where it came from: flag > state file > profile/env (> sandbox default)."""
        flag = self.options.region or self.region_choice
        pinned = self.state.data.get("region")
        if flag:
            _check_region(flag)
            if pinned and pinned != flag and self._has_resources():
                raise WizardError(
                    f"This project is pinned to region {pinned}, but {flag} was asked for.",
                    fix=f"Drop --region (or pass --region {pinned}); resources already exist in {pinned}. "
                    "To start over in another region, use another folder.",
                )
            return flag, "--region" if self.options.region else "your choice"
        if pinned:
            return pinned, "the state file"
        if self.is_sandbox:
            env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if env_region:
                _check_region(env_region)
                return env_region, "AWS_REGION"
            return SANDBOX_DEFAULT_REGION, "the sandbox default"
        # botocore reads AWS_DEFAULT_REGION and the profile, but not AWS_REGION, which the SDK and most
        # tools honour; people set either.
        region = os.environ.get("AWS_REGION") or self.session().region_name
        if region:
            _check_region(region)
            if os.environ.get("AWS_REGION"):
                return region, "AWS_REGION"
            return region, f"profile {self.options.profile}" if self.options.profile else "AWS config/env"
        raise RegionMissing(
            "No AWS region is set, and the wizard never guesses one.",
            fix="Pass --region (for example --region us-east-1), set AWS_REGION, or set a region in "
            "your profile with `aws configure`.",
            code="region_missing",
        )

    @property
    def return_url(self) -> str:
        """Where the browser comes back after consent: --return-url, else the project's, else the default."""
        return str(self.options.return_url or self.state.data.get("return_url") or DEFAULT_RETURN_URL)

    def pin_return_url(self) -> str:
        """Remember the return URL once AWS knows it, so later runs without the flag use the same one."""
        url = self.return_url
        if self.state.data.get("return_url") != url:
            self.state.data["return_url"] = url
            self.state.save()
        return url

    @property
    def region(self) -> str:
        return self.resolve_region()[0]

    def _has_resources(self) -> bool:
        return any(
            record.get("resources") and key != "preflight" for key, record in self.state.data.get("stages", {}).items()
        )

    # --- AWS --------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        """The sandbox endpoint, starting this folder's sandbox on first use."""
        if not self.is_sandbox:
            return None
        with self._endpoint_lock:  # parallel checks must not start two sandboxes
            if self._endpoint is None and self.options.sandbox_endpoint:
                from wizard.sandbox.manager import require_healthy

                self._endpoint = require_healthy(self.options.sandbox_endpoint)
            if self._endpoint is None:
                from wizard.sandbox.manager import ensure_folder_sandbox, running_endpoint

                self._endpoint = running_endpoint(self.project)
                if self._endpoint is None:
                    self.log("Starting this folder's sandbox on 127.0.0.1 …")
                    self._endpoint = ensure_folder_sandbox(self.project)
                    if self._has_resources():
                        self.log(
                            "This is a new sandbox: what the previous one held is gone. "
                            "`agentcore-wizard status --verify` shows which stages to run again.",
                            "warning",
                        )
                self.log(f"Sandbox at {self._endpoint} (nothing is created in AWS).")
            return self._endpoint

    def switch_to_sandbox(self) -> None:
        """Used when there are no AWS credentials and the user chooses to rehearse offline instead."""
        with self._clients_lock, self._endpoint_lock:
            self.options.sandbox = True
            self._session = None
            self._clients.clear()

    def session(self) -> Any:
        if self._session is None:
            import boto3

            if self.is_sandbox:
                # The sandbox never sees real credentials, and a user's profile cannot leak into it.
                self._session = boto3.Session(**SANDBOX_CREDENTIALS)
            else:
                self._session = boto3.Session(profile_name=self.options.profile)
        return self._session

    def client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                from botocore.config import Config

                config = Config(
                    retries={"mode": "adaptive", "max_attempts": 8},
                    connect_timeout=10,
                    read_timeout=60,
                    user_agent_extra="agentcore-wizard",
                )
                client = self.session().client(
                    service, region_name=self.region, endpoint_url=self.endpoint, config=config
                )
                client.meta.events.register("before-call.*.*", self._announce_call)
                self._clients[service] = client
            return self._clients[service]

    def _announce_call(self, model: Any = None, **_: Any) -> None:
        service = getattr(getattr(model, "service_model", None), "endpoint_prefix", "aws")
        self.emit("aws", f"{service} {getattr(model, 'name', '?')}")

    # --- plain HTTP (discovery documents) ---------------------------------------------------------

    def local_url(self, url: str) -> str:
        """Where a real AWS URL is served: itself, or the sandbox's copy of it."""
        if not self.is_sandbox:
            return url
        match = re.match(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com(/.*)$", url)
        if not match:
            raise WizardError(f"The sandbox does not serve {url}.", fix="Use a Cognito discovery URL.")
        return f"{self.endpoint}{match.group(1)}"

    def get_json(self, url: str, timeout: float = 10.0) -> tuple[int, Any]:
        target = self.local_url(url)
        import urllib.error
        import urllib.request  # ~60 ms: kept off the path to the first screen

        request = urllib.request.Request(target, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https or sandbox)
                return response.status, json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise WizardError(
                f"Could not read {url}: {exc}",
                fix="Check the network (or that the sandbox is running), then verify again.",
            ) from exc


def _check_region(region: str) -> None:
    if not REGION_PATTERN.match(region):
        raise WizardError(
            f"{region!r} is not an AWS region name.",
            fix="Use a name like us-east-1 or eu-west-1.",
            code="bad_region",
        )
