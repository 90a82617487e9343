"""One screen per stage: what it does and why, the quickstart command, Run and Verify, live activity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalGroup, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Header,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    RichLog,
    Static,
)

from screens.modals import ConfirmModal
from screens.sidebar import Sidebar
from screens.widgets import QuietFooter, ValuesTable, status_text

if TYPE_CHECKING:
    from screens.app import WizardApp
    from wizard.session import Session
    from wizard.steps import Stage
    from wizard.steps.base import Description

NARROW_COLUMNS = 110  # the app's -narrow breakpoint
# A stage's explanation parsed once (Rich's Markdown), shown again on every visit.
_EXPLANATIONS: dict[str, RichMarkdown] = {}
SHELL_CHOICES = (("bash", "bash / zsh"), ("fish", "fish"), ("powershell", "PowerShell"))


class StageScreen(Screen[None]):
    CSS_PATH = "stage.tcss"  # its rules are parsed when it is first shown, not before the first paint
    # Only this screen changes with the width (the welcome screen and the dialogs do not): a breakpoint class
    # restyles every widget of the screen it is set on.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_COLUMNS, "-wide")]
    # One key, the thing needed now: while the agent waits for consent `c` copies the link and `o` opens it; on
    # stage 2 `c` copies the exports for the chosen shell; otherwise `c` copies the quickstart command. The footer
    # shows only the binding that applies (check_action), so what it says is what the key does.
    BINDINGS = [
        Binding("r", "run", "Run", id="stage.run", tooltip="Perform this stage, then verify it"),
        Binding("v", "verify", "Verify", id="stage.verify", tooltip="Check this stage against AWS and the folder"),
        Binding("c", "copy_link", "Copy link", id="stage.copy-link", tooltip="Copy the authorization link"),
        Binding("o", "open_link", "Open it", id="stage.open-link", tooltip="Open the link in a browser"),
        Binding("c", "copy_exports", "Copy exports", id="stage.copy-exports", tooltip="Copy the exports"),
        Binding("c", "copy_command", "Copy command", id="stage.copy", tooltip="Copy the quickstart command"),
        Binding("s", "toggle_secrets", "Reveal", id="stage.reveal", tooltip="Show or hide secrets"),
        Binding("n", "next_stage", "Next", id="stage.next"),
        # Not in the footer (80 columns need the room for Doctor): in the palette, and `p` works everywhere.
        Binding("p", "previous_stage", "Prev", id="stage.previous", show=False),
        # Left/Right move between the buttons of a row, as Tab does; Left past the first button reaches the
        # stage list (Up/Down move in it, Enter opens one) and Right comes back to the buttons. Widgets that use
        # the arrows themselves (the list, a text field, a scrolling box) keep them.
        Binding("left", "arrow(-1)", "", show=False),
        Binding("right", "arrow(1)", "", show=False),
    ]

    def __init__(self, stage_key: str) -> None:
        super().__init__(id="stage")
        self.stage_key = stage_key
        self.shell = "bash"
        self.consent_link = ""
        self._revealed: set[str] = set()  # the stages whose secrets were left revealed
        self._description: Description | None = None
        self._agent_code_stamp: tuple[float, int] | None = None

    @property
    def wizard_app(self) -> WizardApp:
        return cast("WizardApp", self.app)

    @property
    def session(self) -> Session:
        return self.wizard_app.session

    @property
    def stage(self) -> Stage:
        return self.session.stage(self.stage_key)

    def compose(self) -> ComposeResult:
        # One screen for every stage: switching stages swaps what these widgets show (and which of the
        # stage-specific parts are displayed) instead of switching screens, which restyles a whole screen and
        # recomposes its footer. What a stage shows is cached or read once per switch.
        yield Header()
        with Horizontal(id="body"):
            yield Sidebar(self.session, self.stage_key)
            with Vertical(id="main"):
                # The head stays put while the body scrolls: status and actions are always in view.
                with Vertical(id="stage-head"):
                    yield Static(id="stage-title")
                    yield Static(
                        "SANDBOX: this runs against the offline sandbox on 127.0.0.1. Nothing is created in AWS.",
                        id="sandbox-banner",
                    )
                    with Horizontal(id="actions"):
                        yield Button("Run", id="run", variant="primary")
                        yield Button("Verify", id="verify")
                        yield Button("Copy command", id="copy")
                        yield Button("Reveal", id="reveal")
                        yield Button("Next →", id="next")
                    yield Label("", id="blocked")
                    with Horizontal(id="progress-row"):
                        yield ProgressBar(id="progress", show_eta=False)
                        yield Label("", id="progress-label")
                with VerticalScroll(id="stage-body"):
                    with VerticalGroup(id="invoke-part", classes="stage-part"):
                        yield from self._compose_invoke()
                    # Rich's Markdown in one Static: Textual's Markdown widget makes a widget per block, and
                    # composing those is most of what the first visit of a stage costs.
                    yield Static(id="explanation")
                    yield Label("The quickstart's command, with this project's values", classes="section")
                    with HorizontalScroll(classes="code-box"):
                        yield Static(id="command")
                    with VerticalGroup(id="agent-part", classes="stage-part"):
                        # The code this stage wrote or kept, as it is on disk (read-only here).
                        yield Label("agent.py, as it is in the folder", classes="section")
                        with HorizontalScroll(classes="code-box"):
                            yield Static(id="agent-code")
                    yield Label("", id="values-title", classes="section")
                    yield ValuesTable(id="values")
                    with VerticalGroup(id="env-part", classes="stage-part"):
                        yield from self._compose_exports()
                    yield Label("Checks", classes="section")
                    yield Static("Not checked yet.", id="checks")
                    yield Label("Activity (every AWS call is named as it happens)", classes="section")
                    # min_width 1: RichLog's default (78) wraps wider than a narrow log, and the scrollbar then
                    # hides the last characters of every wrapped line (a pool id, a link).
                    yield RichLog(id="log", markup=False, wrap=True, max_lines=2000, min_width=1)
        yield QuietFooter()

    def _compose_exports(self) -> ComposeResult:
        yield Label("Load them in your shell (quoted correctly, unlike `export $(… | xargs)`)", classes="section")
        with Vertical(id="exports-box"):
            with RadioSet(id="shell-choice"):
                for value, title in SHELL_CHOICES:
                    yield RadioButton(title, value=value == self.shell, name=value)
            with HorizontalScroll(classes="code-box"):
                yield Static(id="exports")
            yield Button("Copy exports", id="copy-exports")

    def _compose_invoke(self) -> ComposeResult:
        with Vertical(id="consent-box"):
            yield Label("Approve in your browser", classes="section")
            yield Static(id="consent-who")
            # The whole link, folded at the box's edge: never cut, and copied whole by `c`.
            with Vertical(classes="code-box", id="consent-url-box"):
                yield Static(id="consent-url")
            with Horizontal(id="consent-actions"):
                yield Button("Copy link (c)", id="copy-link", variant="primary")
                yield Button("Open browser (o)", id="open-browser")
            yield Static(id="consent-listening")
            with Horizontal(id="paste-row"):
                yield Input(
                    placeholder="Browser on another machine? Paste the address it ended on after approving",
                    id="paste-url",
                )
                yield Button("Use it", id="use-paste")
        yield Label("The agent's answers", classes="section")
        yield Static(Text("No call yet: press Run.", style="dim"), id="answer")

    def on_mount(self) -> None:
        self.query_one("#progress-row").display = False
        self._show_parts()
        self._fill_log()
        self.refresh_view()

    def on_resize(self) -> None:
        # A narrow terminal: the footer's compact form, so Quit, Doctor and the palette still fit on 80 columns.
        self.query_one(QuietFooter).compact = self.app.size.width < NARROW_COLUMNS

    def on_screen_resume(self) -> None:
        # Textual refreshes the footer's bindings on resume by itself; a second refresh recomposes it again.
        self.refresh_view(bindings=False)

    def show_stage(self, key: str) -> None:
        """Show another stage on this screen: what the widgets show is swapped, the widgets stay."""
        if key == self.stage_key:
            return
        self.stage_key = key
        self.consent_link = ""
        self.query_one(Sidebar).show_current(key)
        self._show_parts()
        focused = self.focused
        if focused is not None and any(
            not node.display for node in focused.ancestors_with_self if node is not self.app
        ):
            self._focus_first_button()  # it was on a part this stage does not have
        self._fill_log()
        self.query_one("#stage-body", VerticalScroll).scroll_home(animate=False, immediate=True)
        self.refresh_view()

    def _show_parts(self) -> None:
        """The parts only some stages have; the stage's explanation and the title of its values."""
        key = self.stage_key
        for part, owner in (("#invoke-part", "invoke"), ("#agent-part", "agent"), ("#env-part", "env")):
            self.query_one(part).display = key == owner
        explanation = _EXPLANATIONS.get(key)
        if explanation is None:
            explanation = _EXPLANATIONS[key] = RichMarkdown(self.stage.explanation)
        self.query_one("#explanation", Static).update(explanation)
        self.query_one("#values-title", Label).update(self.stage.values_title)

    def _fill_log(self) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        for line in self.wizard_app.logs.get(self.stage_key, []):
            log.write(line)

    # --- rendering --------------------------------------------------------------------------------

    def refresh_view(self, bindings: bool = True) -> None:
        app = self.wizard_app
        session = self.session
        stage = self.stage
        status = session.status_of(stage)
        title = Text.assemble(
            (f"Stage {stage.label} · {stage.title}" if stage.number is not None else stage.title, "bold"),
            (f"   ({stage.quickstart_step})   " if stage.quickstart_step != stage.title else "   ", "dim"),
            status_text(status),
        )
        self.query_one("#stage-title", Static).update(title)
        # The mode can change at run time (no credentials, the user chose the sandbox).
        # A class, not `display`: the stylesheet also hides the banner on narrow terminals.
        self.query_one("#sandbox-banner").set_class(not session.is_sandbox, "-aws")
        # Once per refresh (it reads the identity files): Reveal, the footer's check_action and stage 8's
        # password use this one.
        description = self._description = session.describe(stage)
        self.query_one("#command", Static).update(Text(description.command, no_wrap=True, overflow="ignore"))
        self.query_one("#values", ValuesTable).set_rows(description.values)
        self.query_one("#values", ValuesTable).set_revealed(self.revealed)
        reveal = self.query_one("#reveal", Button)
        reveal.label = "Hide" if self.revealed else "Reveal"
        reveal.display = self.has_secrets()
        self.query_one("#next", Button).display = self.wizard_app.relative_key(self.stage_key, +1) is not None
        self.query_one(Sidebar).refresh_statuses()
        busy = app.busy is not None
        blocker = session.blocked_by(stage)
        run = self.query_one("#run", Button)
        run.disabled = busy or blocker is not None
        self.query_one("#verify", Button).disabled = busy
        # The primary look goes to what to do now: Run until the stage is done, then Next (while a stage runs or
        # waits on the browser, neither: the consent box's own button is the one).
        done = session.status_of(stage) == "done"
        run.variant = "primary" if not (busy or done) and blocker is None else "default"
        next_button = self.query_one("#next", Button)
        next_button.variant = "primary" if done and not busy and next_button.display else "default"
        reason = ""
        error = session.error_of(stage)
        if busy and app.stopping:
            reason = "Stopping after the current AWS call … everything created so far is recorded."
        elif busy:
            reason = f"Busy: {app.busy}."
        elif blocker is not None:
            reason = f"Run {session.stages.name(blocker.key)} first."
        elif error:
            reason = f"✗ {error.get('message', '')}\n  → {error.get('fix', '')}"
        elif session.cleanup_interrupted() and self.stage_key != "cleanup":
            reason = "The cleanup was interrupted: part of the project is gone. Finish it on the Cleanup screen."
        self.query_one("#blocked", Label).update(Text(reason, style="red" if error and not busy else "yellow"))
        self._render_checks()
        if self.stage_key == "agent":
            self._render_agent_code()
        if self.stage_key == "env":
            self._render_exports()
        if self.stage_key == "invoke":
            self._render_invoke()
        if bindings:
            self.refresh_bindings()

    def has_secrets(self) -> bool:
        """Whether Reveal has anything to show here: a secret value, the exports, or the consent password."""
        rows = self._description.values if self._description is not None else []
        return any(secret for _, _, secret in rows) or self.stage_key in ("env", "invoke")

    def waiting_for_consent(self) -> bool:
        """The consent box is up (from ConsentRequested until ConsentClosed): the link is what `c` copies."""
        return bool(self.consent_link)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which of the bindings sharing a key applies now; False hides it from the footer too."""
        if action in ("copy_link", "open_link"):
            return self.waiting_for_consent()
        if action == "copy_exports":
            return self.stage_key == "env" and not self.waiting_for_consent()
        if action == "copy_command":
            return self.stage_key != "env" and not self.waiting_for_consent()
        if action == "toggle_secrets":
            return self.has_secrets()
        if action == "next_stage":
            return self.wizard_app.relative_key(self.stage_key, +1) is not None
        return True

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        """The footer's actions for the palette, each with its key, as they apply now."""
        found = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue  # the arrows: moving focus, not an action
            if not self.check_action(binding.action, ()):
                continue
            found.append(
                (
                    f"{binding.description} ({binding.key})",
                    binding.tooltip or "",
                    getattr(self, f"action_{binding.action}"),
                )
            )
        if not self.check_action("copy_command", ()):  # still a button here, with no key of its own now
            found.append(("Copy the quickstart command", "Copy it to the clipboard", self.action_copy_command))
        return found

    def _render_checks(self) -> None:
        checks = self.wizard_app.checks.get(self.stage_key)
        if checks is None:
            pending = self.session.status_of(self.stage) == "pending"
            hint = "Run performs it, then checks it." if pending else "press Verify."
            self.query_one("#checks", Static).update(Text(f"Not checked yet: {hint}", style="dim"))
            return
        text = Text()
        for index, check in enumerate(checks):
            if index:
                text.append("\n")
            text.append("✓ " if check.ok else "✗ ", style="green" if check.ok else "red")
            text.append(check.name, style="bold")
            if check.detail:
                text.append(f"  {check.detail}")
        self.query_one("#checks", Static).update(text)

    def _render_agent_code(self) -> None:
        from rich.syntax import Syntax

        path = self.session.project / "agent.py"
        try:
            stamp: tuple[float, int] | None = (path.stat().st_mtime, path.stat().st_size)
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._agent_code_stamp:
            return  # unchanged on disk: no read, no highlighting on the UI thread
        self._agent_code_stamp = stamp
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.query_one("#agent-code", Static).update(Text("No agent.py yet: Run writes it.", style="dim"))
            return
        self.query_one("#agent-code", Static).update(
            Syntax(code, "python", line_numbers=True, word_wrap=False, background_color="default")
        )

    def _render_exports(self) -> None:
        exports = self._exports(reveal=self.revealed)
        widget = self.query_one("#exports", Static)
        if exports:
            widget.update(Text(exports.rstrip("\n"), no_wrap=True, overflow="ignore"))
        else:
            widget.update(
                Text(f"Available after {self.session.stages.name('cognito')} wrote the env file.", style="dim")
            )
        self.query_one("#copy-exports", Button).disabled = not exports

    def _exports(self, reveal: bool) -> str:
        return self.session.exports(self.shell, reveal)

    def _render_invoke(self) -> None:
        app = self.wizard_app
        answer = app.answers.get(self.stage_key, "")
        recorded = self.session.state.resources(self.stage_key)
        if answer:
            shown = Text(answer)
        elif recorded.get("answer") and self.session.status_of(self.stage) == "done":
            # After a restart: the answer this project recorded, not "no call yet".
            shown = Text.assemble(
                (f"The last authenticated answer, at {recorded.get('authenticated_at', '?')}:\n", "dim"),
                str(recorded["answer"]),
            )
        else:
            shown = Text("No call yet: press Run.", style="dim")
        self.query_one("#answer", Static).update(shown)
        consent = app.consent.get(self.stage_key)
        box = self.query_one("#consent-box")
        self.consent_link = consent.url if consent else ""
        box.display = consent is not None
        if consent is None:
            return
        self.query_one("#consent-url", Static).update(Text(self.consent_link, overflow="fold"))
        # Who signs in, and the password right here (masked until revealed): not 40 lines down under Values.
        rows = self._description.values if self._description is not None else []
        password = next((value for _, value, secret in rows if secret), "")
        masked = password if self.revealed else "•" * 12
        self.query_one("#consent-who", Static).update(
            Text.assemble(
                "Sign in as ",
                (consent.username, "bold"),
                " (the identity pool's test user) with the password ",
                (masked, "bold"),
                " (s hides it)" if self.revealed else " (s shows it)",
                ", then press Approve.",
            )
        )
        listening = (
            f"The wizard listens on {consent.return_url} and carries on by itself when the browser lands there."
            if consent.listening
            else f"The wizard cannot listen on the return URL ({consent.not_listening_because}): paste the address "
            "the browser ends on, even if the page there says the approval is for another session."
        )
        self.query_one("#consent-listening", Static).update(Text(listening, style="dim"))

    def show_answer(self) -> None:
        self._render_invoke()
        self.query_one("#answer").scroll_visible()

    def show_consent(self) -> None:
        waiting_before = bool(self.consent_link)
        self._render_invoke()
        self.refresh_bindings()  # `c` now copies the link, `o` opens it
        if self.consent_link and not waiting_before:
            # Enter (or c) copies the link at once. The box's top goes to the top of the view, so who signs in,
            # the password and the link are all on screen even at 80x24; the buttons follow below.
            button = self.query_one("#copy-link", Button)
            button.focus(scroll_visible=False)
            box = self.query_one("#consent-box")
            self.call_after_refresh(box.scroll_visible, animate=False, top=True)

    def write_log(self, line: Text) -> None:
        self.query_one("#log", RichLog).write(line)

    def show_progress(self, fraction: float | None, message: str) -> None:
        row = self.query_one("#progress-row")
        row.display = True
        bar = self.query_one("#progress", ProgressBar)
        if fraction is None:
            if bar.total is not None and bar.progress == 0:
                bar.update(total=None)
        else:
            bar.update(total=100, progress=fraction * 100)
        if message:
            self.query_one("#progress-label", Label).update(message)

    def hide_progress(self) -> None:
        self.query_one("#progress-row").display = False
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)

    # --- actions ----------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions: dict[str, Any] = {
            "run": self.action_run,
            "verify": self.action_verify,
            "copy": self.action_copy_command,
            "reveal": self.action_toggle_secrets,
            "next": self.action_next_stage,
            "copy-exports": self._copy_exports,
            "copy-link": self._copy_link,
            "open-browser": self._open_browser,
            "use-paste": self._use_paste,
        }
        handler = actions.get(event.button.id or "")
        if handler:
            handler()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "paste-url":
            self._use_paste()

    def _copy_link(self) -> None:
        if self.consent_link:
            self.wizard_app.copy_text(self.consent_link, "the authorization link")

    def _open_browser(self) -> None:
        if self.consent_link:
            self.wizard_app.open_in_browser(self.consent_link)

    def action_copy_link(self) -> None:
        self._copy_link()

    def action_open_link(self) -> None:
        self._open_browser()

    def action_copy_exports(self) -> None:
        self._copy_exports()

    def _use_paste(self) -> None:
        field = self.query_one("#paste-url", Input)
        pasted = field.value.strip()
        if not pasted:
            self.notify("Paste the address your browser ended on first.", severity="warning")
            return
        if self.wizard_app.busy is None:
            self.notify("Nothing is waiting for a consent right now: press Run first.", severity="warning")
            return
        self.session.deliver_redirect(pasted)
        field.value = ""
        self.notify("Checking the address you pasted …")

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.shell = event.pressed.name or "bash"
        self._render_exports()

    def on_sidebar_stage_chosen(self, message: Sidebar.StageChosen) -> None:
        if message.key != self.stage_key:
            self.wizard_app.goto(message.key)

    def action_run(self) -> None:
        if not self.query_one("#run", Button).disabled:
            self.wizard_app.start_stage(self.stage_key)

    def action_verify(self) -> None:
        if not self.query_one("#verify", Button).disabled:
            self.wizard_app.start_verify(self.stage_key)

    def action_copy_command(self) -> None:
        masked = self.session.describe(self.stage).command
        with_secret = self.session.command_with_secret(self.stage_key)
        if not with_secret:
            self.wizard_app.copy_text(masked, "the quickstart command")
            return

        def answered(include: bool | None) -> None:
            if include:
                self.wizard_app.copy_text(with_secret, "the quickstart command, with the client secret")
            else:
                self.wizard_app.copy_text(masked, "the quickstart command, secret masked")

        self.app.push_screen(
            ConfirmModal(
                "This command contains the identity app client's secret. Copy it with the secret?\n\n"
                "Anyone who sees your clipboard or shell history sees the secret. Without it, replace the "
                "masked value yourself.",
                yes="Copy with the secret",
                no="Copy it masked",
            ),
            answered,
        )

    def _copy_exports(self) -> None:
        exports = self._exports(reveal=True)
        if exports:
            self.wizard_app.copy_text(exports, f"the {self.shell} exports (they include the secrets)")

    @property
    def revealed(self) -> bool:
        """Whether this stage's secrets show: each stage keeps its own choice while the screen is reused."""
        return self.stage_key in self._revealed

    def action_toggle_secrets(self) -> None:
        self._revealed.symmetric_difference_update({self.stage_key})
        self.refresh_view()

    def action_arrow(self, step: int) -> None:
        sidebar = self.query_one(Sidebar)
        focused = self.focused
        if focused is sidebar:
            if step > 0:
                self._focus_first_button()
            return
        if not isinstance(focused, Button) or focused.parent is None:
            return
        row = [button for button in focused.parent.query_children(Button) if button.display and button.focusable]
        index = row.index(focused) + step if focused in row else -1
        if 0 <= index < len(row):
            row[index].focus()
        elif index < 0:
            sidebar.focus()

    def _focus_first_button(self) -> None:
        """The first button of the stage's head that can be pressed (Run, or Verify while Run is blocked)."""
        for button in self.query_one("#actions").query_children(Button):
            if button.display and button.focusable:
                button.focus()
                return
        self.query_one(Sidebar).focus()

    def action_next_stage(self) -> None:
        self.wizard_app.goto_relative(self.stage_key, +1)

    def action_previous_stage(self) -> None:
        self.wizard_app.goto_relative(self.stage_key, -1)
