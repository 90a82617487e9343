"""SVG snapshots of the main screens (pytest-textual-snapshot).

Deterministic by construction: fixed project folders, fixed fake identity values, a sandbox
endpoint that is never contacted (nothing runs: detect_on_start=False and no key runs a stage).
Update with `pytest tests/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import TuiPort, WizardApp
from wizard.events import ConsentRequested
from wizard.files.identity import IdentityFiles, PoolRecord, discovery_url, write_identity_files
from wizard.return_ports import TOOLKIT_RETURN_URL
from wizard.session import Session
from wizard.settings import Options
from wizard.state import StateFile

SIZE = (120, 40)
SNAPSHOT_ROOT = Path("/tmp/agentcore-wizard-snapshots")
NEVER_CONTACTED = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing here connects

FAKE_FILES = IdentityFiles(
    runtime=PoolRecord(
        pool_id="us-east-1_AAAAAAAAA",
        client_id="runtimeclient0000000000000",
        discovery_url=discovery_url("us-east-1", "us-east-1_AAAAAAAAA"),
        domain_prefix="agentcore-runtime-0000aaaa",
        username="testuser0000aaaa",
        password="Runtime-Passw0rd",
    ),
    identity=PoolRecord(
        pool_id="us-east-1_BBBBBBBBB",
        client_id="identityclient000000000000",
        discovery_url=discovery_url("us-east-1", "us-east-1_BBBBBBBBB"),
        domain_prefix="agentcore-identity-0000aaaa",
        username="externaluser0000aaaa",
        password="Identity-Passw0rd",
        client_secret="fakeclientsecret0000000000000000000000000000000000",
    ),
)


@pytest.fixture(autouse=True)
def _nothing_contacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot never reaches a sandbox, in-process or detached: these fail the test if tried."""
    import wizard.sandbox.manager as manager

    def refuse(*args: object, **kwargs: object) -> str:
        raise AssertionError("a snapshot test tried to reach a sandbox")

    monkeypatch.setattr(manager, "ensure_folder_sandbox", refuse)
    monkeypatch.setattr(manager, "require_healthy", refuse)


@pytest.fixture
def opened() -> Iterator[list[Session]]:
    """Sessions opened by a test, closed (their folder lock released) afterwards."""
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.close()


def fresh_folder(name: str) -> Path:
    folder = SNAPSHOT_ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def write_state(folder: Path, done: tuple[str, ...]) -> None:
    state = StateFile(folder)
    state.data.update(region="us-east-1", region_source="--region", account="123456789012", mode="sandbox")
    for key in done:
        state.set_status(key, "done", save=False)
    state.save()


def make_app(folder: Path, opened: list[Session]) -> WizardApp:
    # The toolkit's return URL as a flag: the port the wizard would choose depends on what else runs on the machine.
    options = Options(
        project=folder, sandbox_endpoint=NEVER_CONTACTED, region="us-east-1", return_url=TOOLKIT_RETURN_URL
    )
    session = Session(options, TuiPort()).open()
    opened.append(session)
    return WizardApp(session, detect_on_start=False)


def goto(key: str, scroll_to: str | None = None):
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, WizardApp)
        app.goto(key)
        await pilot.pause()
        if scroll_to is not None:
            # Whatever container scrolls it: bring the widget to the top of the view.
            app.screen.query_one(scroll_to).scroll_visible(animate=False, top=True)
            await pilot.pause()

    return run_before


def test_welcome_fresh_project(snap_compare, opened) -> None:
    app = make_app(fresh_folder("welcome-fresh"), opened)
    assert snap_compare(app, terminal_size=SIZE)


def test_welcome_resume_at_stage_4(snap_compare, opened) -> None:
    folder = fresh_folder("welcome-resume")
    write_state(folder, ("preflight", "cognito", "env", "agent"))
    app = make_app(folder, opened)
    assert app.session.first_unfinished().key == "configure"
    assert snap_compare(app, terminal_size=SIZE)


def test_cognito_pending(snap_compare, opened) -> None:
    folder = fresh_folder("cognito-pending")
    write_state(folder, ("preflight",))
    app = make_app(folder, opened)
    # Enter continues at the first unfinished stage: cognito.
    assert snap_compare(app, terminal_size=SIZE, press=["enter"])


def test_cognito_done_secrets_masked(snap_compare, opened) -> None:
    folder = fresh_folder("cognito-done")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito"))
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("cognito", scroll_to="#values"))


def test_env_exports_masked(snap_compare, opened) -> None:
    folder = fresh_folder("env-exports")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito"))
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("env", scroll_to="#exports-box"))


def test_provider_command_secret_masked(snap_compare, opened) -> None:
    folder = fresh_folder("provider-masked")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito", "env", "agent", "configure"))
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("provider", scroll_to=".code-box"))


def test_provider_command_secret_masked_at_80_columns(snap_compare, opened) -> None:
    folder = fresh_folder("provider-narrow")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito", "env", "agent", "configure"))
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=(80, 24), run_before=goto("provider", scroll_to=".code-box"))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_agent_shows_the_code_it_wrote(snap_compare, opened, size: tuple[int, int]) -> None:
    """Stage 3 shows agent.py as it is on disk, highlighted and read-only."""
    from wizard.files.agent_code import render_agent

    folder = fresh_folder(f"agent-code-{size[0]}")
    (folder / "agent.py").write_text(render_agent("ExternalServiceProvider", ["openid"], "us.anthropic.model-v1:0"))
    write_state(folder, ("preflight", "cognito", "env", "agent"))
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=size, run_before=goto("agent", scroll_to="#agent-code"))


STAGE_KEYS = (
    "preflight",
    "cognito",
    "env",
    "agent",
    "configure",
    "provider",
    "workload",
    "deploy",
    "invoke",
    "cleanup",
)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
@pytest.mark.parametrize("key", STAGE_KEYS)
def test_every_stage_screen(snap_compare, opened, key: str, size: tuple[int, int]) -> None:
    """Each stage as an attendee first meets it: the stages before it done, this one pending."""
    folder = fresh_folder(f"stage-{key}-{size[0]}")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, STAGE_KEYS[: STAGE_KEYS.index(key)] if key != "cleanup" else STAGE_KEYS[:-1])
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=size, run_before=goto(key))


FAKE_RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/identity_demo-AAAAAAAAAA"
FAKE_LINK = (
    "https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/authorize"
    "?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)


def waiting_for_consent(folder: Path, opened: list[Session]) -> WizardApp:
    """Stage 8 as it looks while the person approves in the browser (the events the stage sends)."""
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito", "env", "agent", "configure", "provider", "workload", "deploy"))
    state = StateFile(folder).load()
    state.record("deploy", "runtime_arn", FAKE_RUNTIME_ARN)
    state.update(settings={"session_id": "agentcore-wizard-00000000000000000000000000000000"})
    app = make_app(folder, opened)
    app.answers["invoke"] = (
        "── first call: the agent said ──\n🔐 Authorization Required\n\n"
        "Please open this URL in your browser to authorize:\n"
        f"{FAKE_LINK}\n\nAfter authorizing, call this tool again with the same session ID."
    )
    return app


def show_waiting() -> Any:
    async def run_before(pilot: Pilot) -> None:
        await goto("invoke")(pilot)
        # The consent arrives while the screen is showing, as it does from the running stage.
        app = pilot.app
        assert isinstance(app, WizardApp)
        app.consent["invoke"] = ConsentRequested(
            "invoke",
            url=FAKE_LINK,
            username="externaluser0000aaaa",
            listening=True,
            return_url=app.session.settings.return_url,
        )
        screen = app.screen
        screen.show_progress(0.3, "9:41 left · approve in the browser")
        screen.show_consent()
        await pilot.pause()

    return run_before


def test_invoke_waiting_for_consent(snap_compare, opened) -> None:
    app = waiting_for_consent(fresh_folder("invoke-consent"), opened)
    assert snap_compare(app, terminal_size=SIZE, run_before=show_waiting())


def test_invoke_waiting_for_consent_at_80_columns(snap_compare, opened) -> None:
    app = waiting_for_consent(fresh_folder("invoke-consent-narrow"), opened)
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_waiting())


def test_cleanup_lists_what_goes_and_what_stays(snap_compare, opened) -> None:
    folder = fresh_folder("cleanup-plan")
    write_identity_files(folder, FAKE_FILES)
    write_state(folder, ("preflight", "cognito", "env", "agent", "configure", "provider", "workload", "deploy"))
    state = StateFile(folder).load()
    for name, value in (
        ("runtime_id", "identity_demo-AAAAAAAAAA"),
        ("role_name", "MyOwnAgentRole"),
        ("role_origin", "yours"),
    ):
        state.record("deploy", name, value)
    state.record("provider", "name", "ExternalServiceProvider")
    state.record("provider", "origin", "created")
    state.record("workload", "name", "identity-demo-workload")
    state.record("workload", "origin", "adopted")
    for role, pool in (("runtime", "us-east-1_AAAAAAAAA"), ("identity", "us-east-1_BBBBBBBBB")):
        state.record("cognito", f"{role}_pool_id", pool)
        state.record("cognito", f"{role}_origin", "created")
    app = make_app(folder, opened)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("cleanup", scroll_to="#values"))


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_copy_toast_never_covers_the_consent_box(snap_compare, opened, monkeypatch, size: tuple[int, int]) -> None:
    """`c` on stage 8 copies the link: the toast saying so sits over the stage list, not over the link."""
    import pyperclip
    from textual.widgets._toast import Toast

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)  # the system clipboard, never touched; the same toast
    app = waiting_for_consent(fresh_folder(f"invoke-toast-{size[0]}"), opened)

    async def run_before(pilot: Pilot) -> None:
        await show_waiting()(pilot)
        await pilot.press("c")
        await pilot.pause(0.3)
        assert copied == [FAKE_LINK]
        box = pilot.app.screen.query_one("#consent-box").region
        main = pilot.app.screen.query_one("#main").region
        toasts = list(pilot.app.screen.query(Toast))
        assert toasts
        for toast in toasts:
            assert not toast.region.overlaps(box), (toast.region, box)
            assert not toast.region.overlaps(main), (toast.region, main)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
