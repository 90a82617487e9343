"""What a stage needs: the project folder, the settings, AWS clients, and a way to report and ask."""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wizard.errors import Cancelled, WizardError
from wizard.events import AnswerChunk, AwsCall, Confirm, Event, LogLine, Progress, Question, StatusChanged
from wizard.settings import Options, Settings, seconds_from_env
from wizard.state import StateFile

if TYPE_CHECKING:
    from wizard.steps.registry import Registry

# How long an answer may take (botocore's own default is 60 s). A rehearsal of stalls sets it lower, so that a
# stall past it (and what the wizard does then: look for what the lost create made) takes seconds, not minutes.
READ_TIMEOUT_ENV = "AGENTCORE_WIZARD_READ_TIMEOUT"
SANDBOX_CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}

Emit = Callable[[Event], None]
_loader: Any = None
_loader_lock = threading.Lock()


def _shared_loader() -> Any:
    """One botocore data loader for every session of this process. Each boto3 session otherwise parses the
    service models again (~0.3 s of CPU for the wizard's seven clients); a process that holds many sessions
    (a workshop server, the test suite) pays it once. The loader only caches the SDK's own JSON files."""
    global _loader
    with _loader_lock:
        if _loader is None:
            import botocore.loaders

            _loader = botocore.loaders.create_loader()
        return _loader


def _dedupe_search_paths() -> None:
    """boto3 appends its data folder to the loader's search path for every session made with it."""
    with _loader_lock:
        paths = _loader.search_paths
        unique = list(dict.fromkeys(paths))
        if len(unique) != len(paths):
            paths[:] = unique


Ask = Callable[[Question], Any]


class Context:
    """Handed to every stage call. Reports go out as typed events; questions block the stage's thread until
    the front end answers them (headless runs answer at once)."""

    def __init__(
        self,
        settings: Settings,
        state: StateFile,
        stages: Registry,
        emit: Emit | None = None,
        ask: Ask | None = None,
    ) -> None:
        self.settings = settings
        self.options: Options = settings.options
        self.project = settings.options.project
        self.state = state
        self.stages = stages
        self._emit: Emit = emit or (lambda event: None)
        self._ask: Ask = ask or (lambda question: getattr(question, "default", None))
        self.cancel_event = threading.Event()
        self.current_stage = ""
        # True while cleanup looks at what a folder names: files the wizard did not write are kept byte for byte.
        self.cleaning_up = False
        self._endpoint: str | None = None
        self._endpoint_lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        # URLs the browser came back on: from the return-URL listener, or pasted by the user.
        self.consent_inbox: queue.Queue[str] = queue.Queue()
        settings.profile_region = lambda: self.session().region_name

    # --- reporting --------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self._emit(event)

    def log(self, message: str, level: str = "info") -> None:
        self._emit(LogLine(self.current_stage, message, level))

    def progress(self, fraction: float | None, message: str = "") -> None:
        """How far the stage is (None: still working, no measure)."""
        if fraction is not None:
            fraction = max(0.0, min(1.0, fraction))
        self._emit(Progress(self.current_stage, fraction, message))

    def set_status(self, key: str, status: str, error: dict[str, str] | None = None) -> None:
        """A stage's status, recorded and reported (cleanup sends every stage back to pending)."""
        self.state.set_status(key, status, error)
        self._emit(StatusChanged(key, status, error))

    def answer_chunk(self, call: str, text: str = "", starts: bool = False) -> None:
        self._emit(AnswerChunk(self.current_stage, call, text, starts))

    # --- asking -----------------------------------------------------------------------------------

    def ask(self, question: Question) -> Any:
        return self._ask(question)

    def confirm(
        self,
        text: str,
        default: bool,
        yes: str = "Yes",
        no: str = "No",
        detail: str = "",
        needs_yes: bool = False,
        refused: str = "",
        refused_fix: str = "",
    ) -> bool:
        """A yes or no from the person; `default` is what a run with nobody to ask takes. With needs_yes there is
        no default: nobody to ask is refused with `refused` and `refused_fix`."""
        question = Confirm(
            self.current_stage,
            text=text,
            detail=detail,
            default=default,
            yes=yes,
            no=no,
            needs_yes=needs_yes,
            refused=refused,
            refused_fix=refused_fix,
        )
        return bool(self._ask(question))

    def deliver_redirect(self, url: str) -> None:
        """The URL the browser ended on after consent, pasted by the user (any thread)."""
        self.consent_inbox.put(url)

    def checkpoint(self) -> None:
        """A safe point between AWS calls where a stop request takes effect."""
        if self.cancel_event.is_set():
            raise Cancelled()

    # --- settings the stages read often -----------------------------------------------------------

    @property
    def is_sandbox(self) -> bool:
        return self.settings.is_sandbox

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def return_url(self) -> str:
        return self.settings.return_url

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
                if self._endpoint is None and self.state.read_only:
                    raise WizardError(
                        "This folder's sandbox is not running, so only the records can be shown.",
                        fix="Any command that changes things starts it again (a new sandbox is empty).",
                        code="sandbox_not_running",
                    )
                if self._endpoint is None:
                    self.log("Starting this folder's sandbox on 127.0.0.1 …")
                    self._endpoint = ensure_folder_sandbox(self.project)
                    if self.settings.has_resources():
                        self.log(
                            "This is a new sandbox: what the previous one held is gone. "
                            "`agentcore-wizard status --verify` shows which stages to run again.",
                            "warning",
                        )
                self.log(f"Sandbox at {self._endpoint} (nothing is created in AWS).")
            return self._endpoint

    def forget_clients(self) -> None:
        """After the mode changed (the person chose the sandbox): clients are made afresh for it."""
        with self._clients_lock, self._endpoint_lock:
            self._session = None
            self._clients.clear()

    def session(self) -> Any:
        if self._session is None:
            import boto3
            import botocore.session

            core = botocore.session.Session()
            core.register_component("data_loader", _shared_loader())
            if self.is_sandbox:
                # The sandbox never sees real credentials, and a user's profile cannot leak into it.
                self._session = boto3.Session(botocore_session=core, **SANDBOX_CREDENTIALS)
            else:
                self._session = boto3.Session(botocore_session=core, profile_name=self.options.profile)
            _dedupe_search_paths()
        return self._session

    def client(self, service: str) -> Any:
        """A client that retries by itself (throttling, timeouts): for everything but creates."""
        return self._client(service, creator=False)

    def creator(self, service: str) -> Any:
        """A client that never retries by itself, for creates: a retried create whose first answer was lost can
        make a second resource. ownership.create_once retries them, looking for what a lost attempt made first."""
        return self._client(service, creator=True)

    def _client(self, service: str, creator: bool) -> Any:
        key = f"{service}{'#creator' if creator else ''}"
        with self._clients_lock:
            if key not in self._clients:
                from botocore.config import Config

                retries = (
                    {"mode": "standard", "total_max_attempts": 1}
                    if creator
                    else {"mode": "adaptive", "max_attempts": 8}
                )
                config = Config(
                    retries=retries,
                    connect_timeout=10,
                    read_timeout=seconds_from_env(READ_TIMEOUT_ENV, "60") or 60,
                    user_agent_extra="agentcore-wizard",
                )
                client = self.session().client(
                    service, region_name=self.region, endpoint_url=self.endpoint, config=config
                )
                client.meta.events.register("before-call.*.*", self._announce_call)
                self._clients[key] = client
            return self._clients[key]

    def _announce_call(self, model: Any = None, **_: Any) -> None:
        service = getattr(getattr(model, "service_model", None), "endpoint_prefix", "aws")
        self._emit(AwsCall(self.current_stage, str(service), str(getattr(model, "name", "?"))))

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
