"""Settings, resolved once: what the person chose (frozen options) over what this project recorded over defaults.

Every project parameter follows one rule: *flag > what this project recorded > default*. A value is recorded
when a stage that uses it succeeds (or just before AWS is told it, for the return URL and the session id), so
a later run without the flag carries on with the same value. A later flag that differs from the recorded
value is refused by the session, with the way to change it on purpose (`--reconfigure`, or a cleanup first
when the wizard made something under the old name).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard import names, return_ports
from wizard.errors import RegionMissing, WizardError

if TYPE_CHECKING:
    from wizard.state import StateFile

SANDBOX_DEFAULT_REGION = "us-east-1"
# Full matches (a `$` would let a trailing newline through): us-east-1, us-gov-west-1, eusc-de-east-1 …
REGION_PATTERN = re.compile(r"[a-z]{2,4}(?:-[a-z]{1,12}){1,3}-\d{1,2}")
# An http(s) endpoint: a host name, IPv4 or [IPv6] address, an optional port and path; no user, query or fragment.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ENDPOINT_PATTERN = re.compile(
    rf"https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(?::(?P<port>[0-9]{{1,5}}))?"
    r"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*"
)
DEFAULT_PROVIDER = names.DEFAULT_PROVIDER
CHOSEN = "chosen for this project"  # the source of a default made for the project (Parameter.chosen)
DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_SCOPES = ("openid",)


@dataclass(frozen=True)
class Options:
    """What the person chose on the command line, frozen for the whole session. Project parameters are None
    when not given: the project's recorded value (else the default) applies."""

    project: Path
    # Where the work happens.
    sandbox: bool = False
    sandbox_endpoint: str | None = None
    region: str | None = None
    profile: str | None = None
    # A workshop participant: every name the wizard makes carries it, so a room shares one sandbox or account.
    participant: str | None = None
    # A workshop (`workshop serve`'s URL, join code included): progress is reported to it, and its sandbox used
    # when it runs one (then sandbox_endpoint is its address).
    workshop: str | None = None
    # Project parameters (see PARAMETERS).
    agent_name: str | None = None
    provider_name: str | None = None
    workload_name: str | None = None
    scopes: tuple[str, ...] | None = None
    model_id: str | None = None
    return_url: str | None = None
    execution_role: str | None = None  # a role the user brings: used as is, never changed or deleted
    session_id: str | None = None  # the runtime session to use instead of one the wizard makes
    reconfigure: bool = False  # a flag that differs from what the project recorded replaces it
    repair: bool = False  # found resources that fail verification: mend them in place where possible
    start_fresh: bool = False  # found resources that fail verification: new ones (old files backed up)
    # Choices for this run only.
    assume_yes: bool = False
    wheelhouse: Path | None = None  # install the agent's dependencies only from here (offline)
    no_browser: bool = False
    auto_consent: bool = False  # sandbox only: sign in on the sandbox's consent page as the test user
    consent_timeout: float | None = None  # seconds to wait for the browser; None: as long as the link lasts

    @property
    def sandbox_asked(self) -> bool:
        return self.sandbox or bool(self.sandbox_endpoint)


@dataclass(frozen=True)
class Parameter:
    """A project parameter: its flag, its default, and whether the wizard made something under its value (then
    changing it would leave that behind, so it changes only after a cleanup)."""

    name: str
    flag: str
    default: Any
    shown: Callable[[Any], str] = str
    # Whether a flag and a recorded value mean the same (a role's name and its ARN do).
    same: Callable[[Any, Any], bool] = lambda a, b: _same(a, b)
    # Given the state, why the recorded value cannot be replaced in place; "" when it can.
    held_by: Callable[[StateFile], str] = lambda state: ""
    # A default of the project's own instead of one for everyone (given the project folder): made once, when
    # first needed, and kept by the project from then on.
    chosen: Callable[[Path], Any] | None = None


def _created(state: StateFile, stage: str, what: str) -> str:
    recorded = state.resources(stage)
    if recorded.get("origin") == "created" and recorded.get("name"):
        return f"the wizard created {what} {recorded['name']} under it"
    return ""


def _runtime_held(state: StateFile) -> str:
    runtime = state.resources("deploy").get("runtime_id")
    return f"the runtime {runtime} was deployed under it" if runtime else ""


def _role_held(state: StateFile) -> str:
    deploy = state.resources("deploy")
    if deploy.get("role_origin") == "created":
        return f"the wizard created the execution role {deploy.get('role_name')} for it"
    return ""


def _shown_scopes(value: Any) -> str:
    return ",".join(value) if value else ""


def _role_name(value: Any) -> str:
    return str(value or "").rsplit("/", 1)[-1]


def _same_role(a: Any, b: Any) -> bool:
    return _role_name(a) == _role_name(b)


def _shown_role(value: Any) -> str:
    return str(value) if value else "(the wizard's own role)"


def _shown_session(value: Any) -> str:
    return str(value) if value else "(one the wizard makes)"


def _participant_held(state: StateFile) -> str:
    made = [
        key
        for key, stage in (state.data.get("stages") or {}).items()
        if any(str(k).endswith("origin") and v == "created" for k, v in (stage.get("resources") or {}).items())
    ]
    return f"the wizard made resources under it ({', '.join(made)})" if made else ""


PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "participant", "--participant", None, shown=lambda value: str(value or "(none)"), held_by=_participant_held
    ),
    Parameter("agent_name", "--agent-name", names.DEFAULT_AGENT, held_by=_runtime_held),
    Parameter(
        "provider_name",
        "--provider-name",
        DEFAULT_PROVIDER,
        held_by=lambda state: _created(state, "provider", "credential provider"),
    ),
    Parameter(
        "workload_name",
        "--workload-name",
        names.DEFAULT_WORKLOAD,
        held_by=lambda state: _created(state, "workload", "workload identity"),
    ),
    Parameter("scopes", "--scopes", DEFAULT_SCOPES, shown=_shown_scopes),
    Parameter("model_id", "--model-id", DEFAULT_MODEL),
    # Each project its own port (wizard/return_ports.py): two wizards waiting for consent at once on one machine
    # must not listen for each other's browser, as they did when every project defaulted to the toolkit's 8081.
    Parameter(
        "return_url", "--return-url", None, chosen=lambda project: return_ports.return_url(return_ports.claim(project))
    ),
    Parameter("execution_role", "--execution-role", None, shown=_shown_role, same=_same_role, held_by=_role_held),
    Parameter("session_id", "--session-id", None, shown=_shown_session),
)
PARAMETER_NAMES = tuple(parameter.name for parameter in PARAMETERS)
_BY_NAME = {parameter.name: parameter for parameter in PARAMETERS}


def parameter(name: str) -> Parameter:
    return _BY_NAME[name]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return bool(a == b)


@dataclass(frozen=True)
class Conflict:
    """A flag that differs from what this project recorded."""

    parameter: Parameter
    recorded: Any
    given: Any


class Settings:
    """The resolved project parameters, mode and region. A view over the frozen options, the state file and the
    defaults: what a stage records is seen at once by the stages after it. Answers the person gives during the
    session (a region chosen in a dialog, the sandbox accepted) live here, never in the options."""

    def __init__(self, options: Options, state: StateFile) -> None:
        self.options = options
        self.state = state
        self.chosen_region: str | None = None  # answered in the region dialog
        # The person accepted the sandbox (no credentials), or the session found this folder's work lives there.
        self.sandbox_chosen = False
        self.profile_region: Callable[[], str | None] = lambda: None
        self._chosen: dict[str, Any] = {}  # defaults made for this project (Parameter.chosen), once per session

    # --- project parameters ------------------------------------------------------------------------

    def recorded(self) -> dict[str, Any]:
        return dict(self.state.data.get("settings") or {})

    def value(self, name: str) -> Any:
        given = getattr(self.options, name)
        if given is not None:
            return given
        recorded = self.recorded()
        if name in recorded:
            return recorded[name]
        participant = self.participant if name != "participant" else None
        if participant and name in names.participant_names(participant):
            return names.participant_names(participant)[name]
        item = _BY_NAME[name]
        if item.chosen is None:
            return item.default
        if name not in self._chosen:
            self._chosen[name] = item.chosen(self.options.project)
        return self._chosen[name]

    def source(self, name: str) -> str:
        if getattr(self.options, name) is not None:
            return _BY_NAME[name].flag
        if name in self.recorded():
            return "this project"
        return CHOSEN if _BY_NAME[name].chosen is not None else "default"

    def record(self, *names_: str) -> None:
        """Remember the values in use now, so later runs without the flags carry on with them."""
        recorded = self.recorded()
        changed = False
        for name in names_:
            value = self.value(name)
            if isinstance(value, tuple):
                value = list(value)
            if name not in recorded or not _BY_NAME[name].same(recorded[name], value):
                recorded[name] = value
                changed = True
        if changed:
            self.state.update(settings=recorded)

    def adopt(self, name: str, value: Any) -> None:
        """Record a value found in the folder (a name the toolkit's file chose) for a parameter never set."""
        recorded = self.recorded()
        if getattr(self.options, name) is None and name not in recorded:
            recorded[name] = list(value) if isinstance(value, tuple) else value
            self.state.update(settings=recorded)

    def forget(self, *names_: str) -> None:
        recorded = self.recorded()
        if any(name in recorded for name in names_):
            for name in names_:
                recorded.pop(name, None)
            self.state.update(settings=recorded)

    def conflicts(self) -> list[Conflict]:
        """Flags that differ from what this project recorded."""
        recorded = self.recorded()
        found = []
        for item in PARAMETERS:
            given = getattr(self.options, item.name)
            if given is not None and item.name in recorded and not item.same(given, recorded[item.name]):
                found.append(Conflict(item, recorded[item.name], given))
        return found

    @property
    def participant(self) -> str | None:
        value = self.value("participant")
        return str(value) if value else None

    @property
    def agent_name(self) -> str:
        return str(self.value("agent_name"))

    @property
    def provider_name(self) -> str:
        return str(self.value("provider_name"))

    @property
    def workload_name(self) -> str:
        return str(self.value("workload_name"))

    @property
    def scopes(self) -> list[str]:
        return list(self.value("scopes"))

    @property
    def model_id(self) -> str:
        return str(self.value("model_id"))

    @property
    def return_url(self) -> str:
        """Where the browser comes back after consent, and where the wizard listens."""
        return str(self.value("return_url"))

    @property
    def execution_role(self) -> str | None:
        value = self.value("execution_role")
        return str(value) if value else None

    @property
    def session_id(self) -> str | None:
        value = self.value("session_id")
        return str(value) if value else None

    # --- mode ---------------------------------------------------------------------------------------

    @property
    def is_sandbox(self) -> bool:
        return self.options.sandbox_asked or self.sandbox_chosen or self.state.data.get("mode") == "sandbox"

    @property
    def mode(self) -> str:
        return "sandbox" if self.is_sandbox else "aws"

    # --- region -------------------------------------------------------------------------------------

    def resolve_region(self) -> tuple[str, str]:
        """The region and where it came from: flag > state file > profile/env (> sandbox default)."""
        flag = self.options.region or self.chosen_region
        pinned = self.state.data.get("region")
        if flag:
            check_region(flag)
            if pinned and pinned != flag and self.has_resources():
                raise WizardError(
                    f"This project is pinned to region {pinned}, but {flag} was asked for.",
                    fix=f"Drop --region (or pass --region {pinned}); resources already exist in {pinned}. "
                    "To start over in another region, use another folder.",
                )
            return flag, "--region" if self.options.region else "your choice"
        if pinned:
            return str(pinned), "the state file"
        if self.is_sandbox:
            env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if env_region:
                check_region(env_region)
                return env_region, "AWS_REGION"
            return SANDBOX_DEFAULT_REGION, "the sandbox default"
        # botocore reads AWS_DEFAULT_REGION and the profile, but not AWS_REGION, which the SDK and most
        # tools honour; people set either.
        region = os.environ.get("AWS_REGION") or self.profile_region()
        if region:
            check_region(region)
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
    def region(self) -> str:
        return self.resolve_region()[0]

    def record_region(self, region: str, source: str) -> None:
        self.state.update(region=region, region_source=source, mode=self.mode)

    def has_resources(self) -> bool:
        return any(
            record.get("resources") and key != "preflight" for key, record in self.state.data.get("stages", {}).items()
        )

    def as_dict(self) -> dict[str, Any]:
        """Every parameter with its value and where it came from (status --json shows this)."""
        out: dict[str, Any] = {}
        for item in PARAMETERS:
            value = self.value(item.name)
            out[item.name] = {
                "value": list(value) if isinstance(value, tuple) else value,
                "from": self.source(item.name),
            }
        return out


def seconds_from_env(name: str, example: str) -> float | None:
    """Seconds from an environment variable meant for rehearsals and tests; None when it is unset or empty."""
    value = os.environ.get(name)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise WizardError(
            f"{name}={value!r} is not a number of seconds.", fix=f"Unset it, or set e.g. {name}={example}"
        ) from None
    if not seconds >= 0:
        raise WizardError(f"{name} cannot be negative.", fix=f"Unset it, or set e.g. {name}={example}")
    return seconds


def check_region(region: str) -> str:
    if not isinstance(region, str) or not REGION_PATTERN.fullmatch(region):
        raise WizardError(
            f"{region!r} is not an AWS region name.",
            fix="Use a name like us-east-1 or eu-west-1: lower-case letters and '-', ending in a number, "
            "with no spaces or newline.",
            code="bad_region",
        )
    return region


def check_endpoint(url: str) -> str:
    """A sandbox endpoint: an http(s) URL with a host, and no user, query or fragment."""
    match = ENDPOINT_PATTERN.fullmatch(url) if isinstance(url, str) else None
    port = match.group("port") if match else None
    if match is None or (port is not None and not 0 < int(port) < 65536):
        raise WizardError(
            f"Sandbox endpoint {url!r} is not an http(s) URL.",
            fix="Pass the URL `agentcore-wizard sandbox serve` printed, e.g. http://127.0.0.1:4566 (a host, "
            "an optional port of 1-65535 and path; no user, query or fragment).",
            code="bad_endpoint",
        )
    return url
