"""The headless front end: a session's events as readable lines on stderr (and, with --json, as JSON lines on
stdout for a program to follow live), its questions answered from the flags or at the terminal."""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from wizard.errors import scrub
from wizard.events import (
    AnswerChunk,
    AwsCall,
    ChooseRegion,
    Confirm,
    ConsentRequested,
    Event,
    LogLine,
    OfferSandbox,
    Progress,
    Question,
)

if TYPE_CHECKING:
    from wizard.session import Answer, Session

MARKS = {"error": "✗", "warning": "!", "success": "✓"}


class HeadlessPort:
    def __init__(
        self,
        json_lines: bool = False,
        assume_yes: bool = False,
        interactive: bool | None = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.json_lines = json_lines
        self.assume_yes = assume_yes
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.session: Session | None = None  # set once the session exists: pasted consent URLs go to it
        self._shown_stage: str | None = None
        self._at_line_start = True
        self._reading_pastes = False
        self._write_lock = threading.Lock()

    # --- events -----------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        with self._write_lock:
            if self.json_lines:
                data = event.to_json() if isinstance(event, AnswerChunk) else scrubbed(event.to_json())
                self.out.write(json.dumps(data, ensure_ascii=False) + "\n")
                self.out.flush()
            self._show(event)
        if isinstance(event, ConsentRequested):
            self._consent(event)

    def _show(self, event: Event) -> None:
        if isinstance(event, AnswerChunk):
            self._answer(event)
            return
        if not isinstance(event, (LogLine, AwsCall, Progress)):
            return
        if isinstance(event, Progress) and not (event.message and event.fraction is None):
            return  # fractions are for screens; waiting messages are worth a line
        self._end_line()
        self._heading(event.stage)
        if isinstance(event, AwsCall):
            self._line(f"    · AWS {event.message}")
        elif isinstance(event, LogLine):
            self._line(f"  {MARKS.get(event.level, '·')} {event.message}")
        else:
            self._line(f"  … {event.message}")

    def _heading(self, stage: str) -> None:
        """Each stage's lines under a heading of their own: "[1] Create Cognito pools"."""
        if not stage or stage == self._shown_stage or self.session is None:
            return
        self._shown_stage = stage
        item = self.session.stage(stage)
        self._line(f"[{item.label}] {item.title}")

    def _answer(self, event: AnswerChunk) -> None:
        """The agent's answer as it streams, each line set off from the wizard's own output."""
        if event.starts:
            self._end_line()
            self._heading(event.stage)
            self._line(f"  ┌ the agent's answer ({event.call} call):")
            return
        for piece in event.text.splitlines(keepends=True):
            if self._at_line_start:
                self.err.write("  │ ")
            self.err.write(piece)
            self._at_line_start = piece.endswith("\n")
        self.err.flush()

    def _line(self, text: str) -> None:
        print(scrub(text), file=self.err, flush=True)  # never a request's Authorization header

    def _end_line(self) -> None:
        if not self._at_line_start:
            self.err.write("\n")
            self._at_line_start = True

    def say(self, text: str) -> None:
        with self._write_lock:
            self._end_line()
            self._line(text)

    # --- consent: the browser and the paste box are this front end's business --------------------

    def _consent(self, event: ConsentRequested) -> None:
        from wizard.consent import can_open_browser, open_browser

        if event.approving_itself:
            return
        if self.session is not None and not self.session.options.no_browser:
            if not can_open_browser():
                self.say("  · No browser here (SSH or no display): open the link where you have one.")
            elif open_browser(event.url):
                self.say("  · Opened the link in your browser.")
            else:
                self.say("  ! Could not open a browser: open the link yourself.")
        self._read_pastes()

    def _read_pastes(self) -> None:
        """At a terminal, the URL the browser ended on may be pasted on stdin instead."""
        if self._reading_pastes or not self.interactive or self.session is None:
            return
        self._reading_pastes = True
        session = self.session
        self.say("  (Browser on another machine? Paste the address it ends on here and press Enter.)")

        def read() -> None:
            for line in sys.stdin:
                if line.strip():
                    session.deliver_redirect(line.strip())

        threading.Thread(target=read, name="paste-reader", daemon=True).start()

    # --- questions --------------------------------------------------------------------------------

    def ask(self, question: Question, answer: Answer) -> None:
        from wizard.session import NOBODY

        if self.json_lines:
            with self._write_lock:
                self.out.write(json.dumps(question.to_json(), ensure_ascii=False) + "\n")
                self.out.flush()
        if isinstance(question, Confirm):
            if not question.needs_yes:
                # Headless runs take the question's default; saying so keeps the run honest.
                taken = question.yes if question.default else question.no
                self.say(f"  ? {question.text.splitlines()[0]} → {taken} (headless: the default)")
                answer(question.default)
            elif self.assume_yes:
                answer(True)
            elif self.interactive:
                self._answer_at_terminal(question, answer)
            else:
                answer(NOBODY)
            return
        if isinstance(question, (ChooseRegion, OfferSandbox)):
            answer(NOBODY)  # headless never guesses a region or switches mode: the error says what to pass
            return
        answer(NOBODY)

    def _answer_at_terminal(self, question: Confirm, answer: Answer) -> None:
        with self._write_lock:
            self._end_line()
            # On stderr: stdout may be a stream of JSON lines a program reads.
            self.err.write(f"{question.text} [y/N] ")
            self.err.flush()
            reply = _input()
        answer(reply.strip().lower() in ("y", "yes"))


def _input() -> str:
    try:
        return input()
    except EOFError:
        return ""


def print_table(summary: dict[str, Any], stream: IO[str]) -> None:
    mode = "sandbox (nothing in AWS)" if summary["mode"] == "sandbox" else "AWS"
    print(f"\n{summary['project']}  ·  {mode}  ·  region {summary['region'] or '-'}", file=stream)
    if summary.get("state_problem"):
        print(f"! {summary['state_problem']}", file=stream)
    for row in summary["stages"]:
        label = "-" if row["number"] is None else row["number"]
        print(f"  {label:>2}  {row['key']:<10} {row['status']:<13} {row['title']}", file=stream)
        evidence = (row.get("found") or {}).get("evidence", [])
        for line in evidence:
            print(f"        {line}", file=stream)
        if row["error"] and row["error"].get("message") != "; ".join(evidence):
            print(f"        {scrub(row['error'].get('message', ''))}", file=stream)
            if row["error"].get("fix"):
                print(f"        fix: {scrub(row['error']['fix'])}", file=stream)


def scrubbed(value: Any) -> Any:
    """A JSON value with every string scrubbed of credentials (before it is serialised, so it stays valid)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value
