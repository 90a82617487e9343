"""Command line: the terminal UI by default (a front end found through an entry point, so the core never
imports it), and headless `run`, `status`, `cleanup`, `doctor`, `env` and `sandbox` for facilitators and CI.
Every command drives one core session through the headless port; the policy of the journey lives there."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from wizard import __version__, names
from wizard.errors import Declined, UsageError, WaitingOnUser, WizardError, explain, scrub
from wizard.settings import Options

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_WAITING = 0, 1, 2, 3
MAX_CONSENT_TIMEOUT = 86400.0  # a day: any longer is a typo (the link lasts 600 s)
DEBUG_ENV = "AGENTCORE_WIZARD_DEBUG"  # set: an unexpected failure shows its traceback (for reporting bugs)
# Entry-point group: the terminal UI registers itself as "tui", the browser tabs' server as "serve".
FRONT_ENDS = "agentcore_wizard.front_ends"
# The subcommands (build_parser makes their parsers): a command line with none of them opens the terminal UI.
COMMANDS = ("run", "status", "env", "cleanup", "doctor", "sandbox", "workshop", "serve")

_DEFAULTS: dict[str, Any] = {
    "dir": ".",
    "sandbox": False,
    "sandbox_endpoint": None,
    "region": None,
    "profile": None,
    "json": False,
    "verify": False,
    "deep": False,
    "yes": False,
    "reconfigure": False,
    "through": None,
    "host": "127.0.0.1",
    "port": 0,
    "ready_file": None,
    "shell": "bash",
    "ready_delay": 2.0,
    "wheelhouse": None,
    "stand_in_agent": False,
    "name": None,
    "state_dir": None,
    "no_sandbox": False,
}


def _switch(parser: Any, flag: str, help: str) -> None:  # noqa: A002 (argparse's own name)
    """An on/off option; SUPPRESS keeps one given before the subcommand from being reset by the subparser."""
    parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=help)


def _common(parser: argparse.ArgumentParser, aws: bool = True) -> None:
    # SUPPRESS keeps an option given before the subcommand from being reset by the subparser.
    s = argparse.SUPPRESS
    parser.add_argument("--dir", default=s, help="project folder (default: the current folder)")
    if not aws:
        return
    group = parser.add_mutually_exclusive_group()
    _switch(
        group, "--sandbox", "use this folder's offline sandbox on 127.0.0.1 (started if needed); no AWS account needed"
    )
    group.add_argument("--sandbox-endpoint", default=s, metavar="URL", help="use an already running sandbox")
    parser.add_argument("--region", default=s, help="AWS region to pin for this project")
    parser.add_argument("--profile", default=s, help="AWS profile to use")
    parser.add_argument(
        "--participant",
        default=s,
        metavar="NAME",
        help="workshop participant: every name the wizard makes carries it, so a room can share one sandbox or "
        "account (letters and digits; recorded in the project)",
    )
    parser.add_argument(
        "--workshop",
        default=s,
        metavar="URL",
        help="the URL `agentcore-wizard workshop serve` printed: use its sandbox (when it runs one) and report "
        "progress to its dashboard (needs --participant)",
    )


def _agent_options(parser: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--agent-name", default=s, help="agent name in .bedrock_agentcore.yaml (default identity_demo)")
    parser.add_argument("--provider-name", default=s, help="credential provider the agent asks for")
    parser.add_argument(
        "--workload-name", default=s, help="workload identity to create (default identity-demo-workload)"
    )
    parser.add_argument("--model-id", default=s, help="Bedrock model id the agent uses")
    _switch(
        parser,
        "--reconfigure",
        "let these options replace the values this project recorded (the stages that use them run again)",
    )
    parser.add_argument("--execution-role", default=s, help="deploy with this IAM role (ARN or name) as it is")
    parser.add_argument(
        "--wheelhouse", default=s, metavar="DIR", help="install the agent's dependencies only from this folder"
    )
    parser.add_argument("--scopes", default=s, help="OAuth scopes the agent asks for, comma-separated (default openid)")
    parser.add_argument(
        "--session-id",
        default=s,
        help="runtime session id for the invocation, 33-256 characters (default: one it makes)",
    )
    parser.add_argument(
        "--return-url",
        default=s,
        help="where the browser comes back after consent; the wizard listens there "
        "(default: http://localhost:PORT/oauth2/callback with a port of this project's own, from 8082)",
    )
    _switch(parser, "--no-browser", "show the consent link but do not open a browser")
    _switch(
        parser,
        "--repair",
        "found identity files that no longer match AWS: mend them in place where possible (a missing app client, "
        "domain or user made again in the same pool, a password set back to the one in the files)",
    )
    _switch(
        parser,
        "--start-fresh",
        "found identity files that no longer match AWS: make new pools and files (the old files are kept as "
        "backups; what they name is left in AWS)",
    )


class _Misparsed(Exception):
    """The terminal UI's parser did not understand the command line: the full parser says why."""


class _TuiParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Misparsed(message)

    def print_help(self, file: Any = None) -> None:
        # --he, --hel: abbreviations of --help. The full parser's help lists the commands.
        raise _Misparsed("help")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line. Without a command (the terminal UI) only the top-level options are built: the
    subcommands' parsers take a few milliseconds of the first paint. Anything that parser does not understand,
    and any command or help, goes to the full parser, which says what is wrong as it always does."""
    given = sys.argv[1:] if argv is None else argv
    if not any(arg in COMMANDS or arg in ("-h", "--help") for arg in given):
        try:
            return _top_level(_TuiParser).parse_args(given)
        except _Misparsed:
            pass
    return build_parser().parse_args(given)


def _top_level(kind: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = kind(
        prog="agentcore-wizard",
        description="Perform and verify the Amazon Bedrock AgentCore Identity quickstart. "
        "Without a command, opens the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"agentcore-wizard {__version__}")
    _common(parser)
    _agent_options(parser)
    parser.set_defaults(command=None)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _top_level()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="perform the pending stages headless, in order")
    _common(run)
    _agent_options(run)
    run.add_argument(
        "--through",
        default=argparse.SUPPRESS,
        metavar="KEY|N",
        help="last stage to perform (default: the last one this version can perform)",
    )
    _switch(run, "--yes", "do not ask before creating resources in AWS")
    run.add_argument(
        "--consent-timeout",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="how long the invocation waits for your approval before exiting 3 (default: as long as the link lasts)",
    )
    _switch(
        run,
        "--auto-consent",
        "sandbox only: sign in on the sandbox's consent page as the test user and approve (for CI)",
    )
    _switch(run, "--json", "print every event as a JSON object, one a line, on stdout (the last: the final status)")

    status = commands.add_parser("status", help="show every stage's status")
    _common(status)
    _switch(status, "--json", "print JSON")
    _switch(
        status,
        "--verify",
        "first check each recorded stage against reality and report drift (only checks that cost nothing)",
    )
    _switch(status, "--deep", "with --verify: also ask the deployed agent again (that runs its model)")

    cleanup = commands.add_parser("cleanup", help="delete exactly what the wizard made, in dependency order")
    _common(cleanup)
    _switch(cleanup, "--dry-run", "list what would go and what stays")
    _switch(cleanup, "--yes", "do not ask first")
    _switch(cleanup, "--json", "print every event as a JSON line on stdout")

    doctor = commands.add_parser("doctor", help="say what is wrong with this project and how to fix it")
    _common(doctor)
    _switch(doctor, "--json", "print the findings as JSON")
    _switch(doctor, "--deep", "also ask the deployed agent again (that runs its model)")

    env = commands.add_parser("env", help="print the identity variables as correctly quoted exports")
    _common(env, aws=False)
    env.add_argument("--shell", default=argparse.SUPPRESS, choices=["bash", "zsh", "fish", "powershell"])
    _switch(
        env,
        "--for-toolkit",
        "print what points the quickstart's agentcore CLI at this folder's sandbox (or pinned region) instead",
    )

    sandbox = commands.add_parser("sandbox", help="the offline sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_commands.add_parser("serve", help="run a sandbox in the foreground and print its endpoint")
    _serve_options(serve)
    stop = sandbox_commands.add_parser("stop", help="stop this folder's sandbox")
    _common(stop, aws=False)

    workshop = commands.add_parser("workshop", help="run a room: one shared sandbox and a live dashboard")
    workshop_commands = workshop.add_subparsers(dest="workshop_command", metavar="ACTION", required=True)
    room = workshop_commands.add_parser(
        "serve",
        help="serve the room's sandbox and the facilitator's dashboard on one port, and print the line attendees run",
    )
    _serve_options(room, port_help="port (default: the one this room used last, so its URL stays; else any free one)")
    room.add_argument("--name", default=argparse.SUPPRESS, help="the workshop's name, shown on the dashboard")
    _switch(
        room,
        "--no-sandbox",
        "serve only the dashboard and the reporting API: attendees use their own AWS accounts",
    )
    room.add_argument(
        "--state-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="where the room is kept across restarts, join code included (default: one folder per --name under "
        "~/.local/state/agentcore-wizard/workshops)",
    )
    room_status = workshop_commands.add_parser("status", help="what the dashboard shows, for scripts")
    room_status.add_argument("--workshop", default=argparse.SUPPRESS, metavar="URL", help="the URL serve printed")
    _switch(room_status, "--json", "print JSON")
    _workshop_sweep_parser(workshop_commands)
    _serve_parser(commands)
    return parser


def _serve_options(serve: argparse.ArgumentParser, port_help: str = "port (default: any free one)") -> None:
    """What `sandbox serve` takes; `workshop serve` takes the same (it serves the same sandbox)."""
    serve.add_argument("--host", default=argparse.SUPPRESS, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS, help=port_help)
    serve.add_argument(
        "--ready-delay",
        type=float,
        default=argparse.SUPPRESS,
        help="seconds an agent runtime stays CREATING/UPDATING before READY (default 2)",
    )
    serve.add_argument(
        "--wheelhouse",
        default=argparse.SUPPRESS,
        help="a folder of wheels for this machine: the environment the sandbox runs agents in is built from it "
        "alone, with no index (for offline rooms)",
    )
    serve.add_argument(
        "--stand-in-agent",
        action="store_true",
        default=argparse.SUPPRESS,
        help="answer invocations with the built-in stand-in instead of running the deployed code (tests of the "
        "front door only: a rehearsal then proves nothing about your agent)",
    )
    serve.add_argument("--ready-file", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _serve_parser(commands: Any) -> None:
    s = argparse.SUPPRESS
    serve = commands.add_parser(
        "serve",
        help="serve the wizard to browser tabs: each tab runs its own wizard (in a workshop, each attendee's own)",
    )
    _common(serve)
    _agent_options(serve)
    serve.add_argument("--host", default=s, help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=s, help="port (default: a free one, printed)")
    serve.add_argument(
        "--root",
        default=s,
        metavar="DIR",
        help="the folder the tabs work in (as --dir); with --workshop, each participant gets DIR/<name>",
    )
    serve.add_argument(
        "--public-url",
        default=s,
        metavar="URL",
        help="the address browsers open when it is not --host's (another machine, a proxy), e.g. "
        "http://192.168.1.20:8000",
    )


def _workshop_sweep_parser(workshop_commands: Any) -> None:
    s = argparse.SUPPRESS
    sweep = workshop_commands.add_parser(
        "sweep", help="delete everything the participants made (by tag and name), the reset between sessions"
    )
    sweep.add_argument(
        "--workshop", default=s, metavar="URL", help="the workshop (its participants; its sandbox, the URL's origin)"
    )
    sweep.add_argument(
        "--participant",
        dest="participants",
        action="append",
        default=s,
        metavar="NAME",
        help="a participant to sweep (repeat it; added to the workshop's)",
    )
    sweep.add_argument("--sandbox-endpoint", default=s, metavar="URL", help="sweep this sandbox")
    sweep.add_argument("--region", default=s, help="the region to sweep (sandbox default us-east-1)")
    sweep.add_argument("--profile", default=s, help="without a sandbox: the AWS profile of the account to sweep")
    _switch(sweep, "--dry-run", "list what would go, deleting nothing")
    _switch(sweep, "--yes", "without a sandbox (a real account): do not refuse to delete")


def _get(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, _DEFAULTS.get(name))


def options_from(args: argparse.Namespace, participant_later: bool = False) -> Options:
    """The command line, checked, as frozen options: a bad value costs no AWS call and changes nothing.

    Every value is checked whole (an empty one, or one ending in a newline, is refused, never ignored), and the
    message names the option and its rule. `participant_later`: a workshop's browser tab asks for the participant
    after its options are checked (the join code is checked now all the same)."""
    from wizard.settings import check_endpoint, check_region

    def given(name: str, flag: str, check: Callable[[Any], Any]) -> Any:
        value = _get(args, name)
        return None if value is None else _checked(flag, value, check)

    timeout = given("consent_timeout", "--consent-timeout", _check_timeout)
    workshop = _get(args, "workshop")
    options = Options(
        project=_project(args),
        region=given("region", "--region", check_region),
        profile=given("profile", "--profile", _check_profile),
        participant=given("participant", "--participant", names.check_participant),
        workshop=workshop,
        sandbox=bool(_get(args, "sandbox")),
        sandbox_endpoint=given("sandbox_endpoint", "--sandbox-endpoint", check_endpoint),
        assume_yes=bool(_get(args, "yes")),
        provider_name=given("provider_name", "--provider-name", names.check_provider_name),
        agent_name=given("agent_name", "--agent-name", names.check_agent_name),
        execution_role=given("execution_role", "--execution-role", names.check_execution_role),
        wheelhouse=given("wheelhouse", "--wheelhouse", _wheelhouse),
        workload_name=given("workload_name", "--workload-name", names.check_workload_name),
        scopes=given("scopes", "--scopes", names.check_scopes),
        model_id=given("model_id", "--model-id", names.check_model_id),
        session_id=given("session_id", "--session-id", _check_session_id),
        return_url=given("return_url", "--return-url", _check_return_url),
        reconfigure=bool(_get(args, "reconfigure")),
        repair=bool(_get(args, "repair")),
        start_fresh=bool(_get(args, "start_fresh")),
        no_browser=bool(_get(args, "no_browser")),
        auto_consent=bool(_get(args, "auto_consent")),
        consent_timeout=timeout,
    )
    # Last, once every other value is known to be good: the one check that asks a server.
    return options if workshop is None else _join_workshop(options, str(workshop), participant_later)


# These two checks live with what they check, in modules the terminal UI loads only after its first paint.
def _check_session_id(value: str) -> str:
    from wizard.invocation import check_session_id

    return check_session_id(value)


def _check_return_url(value: str) -> str:
    from wizard.consent import check_return_url

    return check_return_url(value)


def _join_workshop(options: Options, url: str, participant_later: bool = False) -> Options:
    """--workshop, checked with its server before any AWS call: the join code must be right, and when the workshop
    runs the room's sandbox, that is where this project's work goes (its URL's scheme, host and port)."""
    from dataclasses import replace

    from wizard.workshop.link import join, parse_link

    link = _checked("--workshop", url, parse_link)
    if options.participant is None and not participant_later:
        raise UsageError(
            "--workshop: reporting your progress to the facilitator needs your participant name.",
            fix=f"Add --participant NAME (lowercase letters and digits), e.g. agentcore-wizard --workshop "
            f"'{link.url}' --participant alice",
        )
    try:
        joined = join(link)
    except UsageError as refused:  # a wrong code: named like every other bad option
        raise UsageError(f"--workshop: {refused.message}", fix=refused.fix) from None
    if not joined.sandbox:
        return options  # attendees use their own AWS accounts: --profile/--region as usual
    if options.sandbox_asked:
        raise UsageError(
            "--workshop: this workshop runs the room's sandbox; --sandbox and --sandbox-endpoint would use another.",
            fix="Drop --sandbox/--sandbox-endpoint: --workshop already points the wizard at the room's sandbox.",
        )
    return replace(options, sandbox_endpoint=link.base)


def _checked(flag: str, value: Any, check: Callable[[Any], Any]) -> Any:
    """The value as its check returns it, or a usage error that names the option (exit 2, before anything)."""
    try:
        return check(value)
    except WizardError as error:
        raise UsageError(f"{flag}: {error.message}", fix=error.fix) from None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _project(args: argparse.Namespace) -> Path:
    return Path(_checked("--dir", _get(args, "dir"), _check_folder)).expanduser().resolve()


def _check_folder(value: str) -> str:
    if not value or _CONTROL.search(value):
        raise UsageError(
            f"Folder {value!r} is empty or has a control character (a newline?) in it.",
            fix="Pass the project folder, e.g. --dir ~/agentcore-identity-demo (or leave --dir out for this folder).",
        )
    return value


def _check_profile(value: str) -> str:
    if not value or _CONTROL.search(value) or value != value.strip():
        raise UsageError(
            f"Profile {value!r} is empty, has spaces around it or a control character in it.",
            fix="Pass a profile from `aws configure list-profiles`, or leave --profile out.",
        )
    return value


def _check_timeout(value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= MAX_CONSENT_TIMEOUT):
        raise UsageError(
            f"{value} is not a number of seconds the wizard can wait.",
            fix=f"Pass a positive number up to {MAX_CONSENT_TIMEOUT:.0f} (the link itself lasts 600 s), e.g. 300.",
        )
    return value


def _wheelhouse(value: str) -> Path:
    _check_folder(value)
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"{value!r} is not a folder.", fix="Point it at a folder of .whl files.")
    if not any(path.glob("*.whl")):
        raise UsageError(f"{value!r} holds no .whl file.", fix="Point it at a folder of .whl files (pip download -d).")
    return path


def main(argv: list[str] | None = None) -> None:
    sys.exit(dispatch(argv))


def dispatch(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    command = args.command
    commands: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: cmd_tui,
        "run": cmd_run,
        "status": cmd_status,
        "env": cmd_env,
        "cleanup": cmd_cleanup,
        "doctor": cmd_doctor,
        "sandbox": cmd_sandbox,
        "workshop": cmd_workshop,
        "serve": cmd_serve,
    }
    try:
        return commands[command](args)
    except UsageError as error:
        print_error(error)
        return EXIT_USAGE
    except WizardError as error:
        print_error(error)
        return EXIT_ERROR
    except Exception as exc:  # a failure nothing explained yet: its message and fix, never a traceback
        if os.environ.get(DEBUG_ENV):
            raise
        print_error(explain(exc))
        return EXIT_ERROR


def print_error(error: WizardError) -> None:
    print(f"error: {scrub(error.message)}", file=sys.stderr)
    if error.fix:
        print(f"  fix: {scrub(error.fix)}", file=sys.stderr)


def exit_code(error: WizardError | None) -> int:
    if error is None:
        return EXIT_OK
    if isinstance(error, UsageError):
        return EXIT_USAGE
    if isinstance(error, WaitingOnUser):
        return EXIT_WAITING
    return EXIT_ERROR


def cmd_tui(args: argparse.Namespace) -> int:
    """The terminal UI, registered by the front end itself: the core only knows the entry-point group."""
    options = options_from(args)
    return int(_front_end("tui", "The terminal UI")(options))


def cmd_serve(args: argparse.Namespace) -> int:
    """The wizard in browser tabs, served by the front end's `serve` (textual-serve imports Textual and Rich)."""
    from wizard import served

    plan = served.plan(vars(args))
    # Every other flag checked once, not in each tab (the join code too; each tab asks for its participant).
    options_from(argparse.Namespace(**plan.tab.arguments), participant_later=plan.tab.join_root is not None)
    return int(_front_end("serve", "The browser front end (textual-serve)")(plan))


def _front_end(name: str, what: str) -> Callable[..., Any]:
    target = _own_entry_point(FRONT_ENDS, name)
    if target is None:  # installed some other way (a wheel of another version, a zip): the full lookup
        from importlib.metadata import entry_points

        target = next((entry.value for entry in entry_points(group=FRONT_ENDS) if entry.name == name), None)
    if target is None:
        raise WizardError(
            f"{what} is not installed with this copy of agentcore-wizard.",
            fix="Install the package (`pip install -e .` in a clone), or use the headless commands: "
            "agentcore-wizard run --help",
        )
    from importlib import import_module

    module, _, attribute = target.partition(":")
    loaded: Callable[..., Any] = getattr(import_module(module.strip()), attribute.strip())
    return loaded


def _own_entry_point(group: str, name: str) -> str | None:
    """This package's entry point, read from its own metadata where importlib.metadata would find it first (the
    first folder on sys.path that holds it). importlib.metadata itself (email, zipfile, csv, and a scan of every
    installed package) costs the terminal UI a tenth of its start-up."""
    for folder in sys.path:
        for metadata in (f"agentcore_wizard-{__version__}.dist-info", "agentcore_wizard.egg-info"):
            path = os.path.join(folder or ".", metadata, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as file:
                    lines = file.read().splitlines()
            except OSError:
                continue
            return _entry_point_in(lines, group, name)
    return None


def _entry_point_in(lines: list[str], group: str, name: str) -> str | None:
    """`name = module:attribute` under `[group]` in an entry_points.txt (the format pip and setuptools write)."""
    current = None
    for line in lines:
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == group and "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == name:
                return value.strip()
    return None


def _banner(session: Any) -> None:
    if session.is_sandbox:
        print(
            "SANDBOX MODE: everything runs against the offline sandbox on this machine; nothing is created in AWS.",
            file=sys.stderr,
        )


def _headless(args: argparse.Namespace, options: Options, events: bool = True) -> tuple[Any, Any]:
    from wizard.headless import HeadlessPort
    from wizard.session import QuietPort, Session

    port = HeadlessPort(json_lines=bool(_get(args, "json")), assume_yes=options.assume_yes) if events else QuietPort()
    session = Session(options, port)
    if isinstance(port, HeadlessPort):
        port.session = session
    return session, port


def cmd_run(args: argparse.Namespace) -> int:
    from wizard.steps import REGISTRY

    options = options_from(args)
    through = _get(args, "through")
    REGISTRY.run_target(None if through is None else str(through))  # checked before the folder is touched
    session, port = _headless(args, options)
    session.open()
    try:
        _banner(session)
        if session.load_problem:
            port.say(f"warning: {session.load_problem}")
        try:
            outcome = session.run_through(None if through is None else str(through))
        except KeyboardInterrupt:
            port.say("\nStopped. Run the same command again to resume.")
            return 130
        if outcome.error is not None:
            print_error(outcome.error)
        return _finish(args, session, exit_code(outcome.error))
    finally:
        session.close()


def _finish(args: argparse.Namespace, session: Any, code: int) -> int:
    if _get(args, "json"):
        session.emit_summary()
    else:
        from wizard.headless import print_table

        print_table(session.summary(), sys.stderr)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from wizard.headless import print_table, scrubbed

    options = options_from(args)
    verify = bool(_get(args, "verify"))
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    # Events only while verifying, and then on stderr: stdout carries the status.
    session, _port = _headless(argparse.Namespace(), options, events=verify)
    # Without --verify nothing is written: it only looks (read-only detection, records kept in memory); checking
    # and recording drift takes the lock.
    session.open(lock=verify)
    try:
        code = EXIT_OK
        if verify and not all(outcome.ok for outcome in session.verify_all(deep=bool(_get(args, "deep")))):
            code = EXIT_ERROR
        if not verify:
            session.look()
        summary = session.summary()
        if _get(args, "json"):
            print(json.dumps(scrubbed(summary), indent=2))
        else:
            print_table(summary, sys.stdout)
        return code
    finally:
        session.close()


def cmd_cleanup(args: argparse.Namespace) -> int:
    from wizard.steps.cleanup import render_plan

    options = options_from(args)
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    session, port = _headless(args, options)
    dry_run = bool(_get(args, "dry_run"))
    session.open(lock=not dry_run)  # a dry run changes nothing: no lock, no state, no file
    try:
        _banner(session)
        if dry_run:
            print(render_plan(session.cleanup_plan()), file=sys.stderr)
            return EXIT_OK
        outcome = session.run_stage("cleanup")
        error = outcome.error
        if isinstance(error, Declined):
            port.say(error.message)  # the person said no at the terminal: nothing to report but that
            return EXIT_OK
        if error is not None:
            print_error(error)
        return _finish(args, session, exit_code(error))
    finally:
        session.close()


def cmd_doctor(args: argparse.Namespace) -> int:
    from wizard.doctor import render

    options = options_from(args)
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    as_json = bool(_get(args, "json"))
    session, _port = _headless(argparse.Namespace(), options, events=not as_json)
    session.open()  # locked: drift it finds is recorded, as with status --verify
    try:
        findings = session.doctor(deep=bool(_get(args, "deep")))
    finally:
        session.close()
    if as_json:
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        print(render(findings))
    return EXIT_ERROR if any(finding.level == "error" for finding in findings) else EXIT_OK


def cmd_env(args: argparse.Namespace) -> int:
    from wizard.files.identity import ENV_KEYS, ENV_NAME, read_env_file
    from wizard.files.shell import exports
    from wizard.steps.base import stage_ref

    project = _project(args)
    if _get(args, "for_toolkit"):
        from wizard.files.shell import unsets
        from wizard.toolkit import environment

        found = environment(project)
        shell = _get(args, "shell")
        print(f"# {found.note}", file=sys.stderr)
        sys.stdout.write(unsets(found.cleared, shell) + exports(found.values, shell))
        return EXIT_OK
    if not (project / ENV_NAME).exists():
        raise WizardError(
            f"{project / ENV_NAME} does not exist.",
            fix=f"Run {stage_ref('cognito')} first: agentcore-wizard run --through cognito",
        )
    values = read_env_file(project)
    missing = [key for key in ENV_KEYS if key not in values]
    if missing:
        raise WizardError(
            f"{ENV_NAME} lacks {', '.join(missing)}.", fix=f"Run {stage_ref('cognito')} again to rewrite it."
        )
    sys.stdout.write(exports({key: values[key] for key in ENV_KEYS}, _get(args, "shell")))
    return EXIT_OK


def _serve_settings(args: argparse.Namespace) -> tuple[str, int, float]:
    """The host, port and ready delay `sandbox serve` and `workshop serve` were given, checked; the sandbox's
    agent environment (--wheelhouse, --stand-in-agent) goes to the environment its agent host reads."""
    host = str(_get(args, "host"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}, reachable beyond this machine.", file=sys.stderr)
    delay = float(_get(args, "ready_delay"))
    if not (math.isfinite(delay) and delay >= 0):
        raise UsageError("--ready-delay must be a number of seconds, 0 or more.", fix="For example --ready-delay 2")
    port = int(_get(args, "port"))
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port.", fix="Pass 0-65535 (0: any free port).")
    from wizard.sandbox.agent_host import STAND_IN_ENV, WHEELHOUSE_ENV

    wheelhouse = _get(args, "wheelhouse")
    if wheelhouse:
        if not Path(wheelhouse).expanduser().is_dir():
            raise UsageError(f"--wheelhouse {wheelhouse} is not a folder.", fix="Pass a folder of .whl files.")
        os.environ[WHEELHOUSE_ENV] = str(Path(wheelhouse).expanduser().resolve())
    if _get(args, "stand_in_agent"):
        os.environ[STAND_IN_ENV] = "stand-in"
    return host, port, delay


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.sandbox_command == "serve":
        from wizard.sandbox.server import serve

        host, port, delay = _serve_settings(args)
        ready = _get(args, "ready_file")
        serve(host, port, Path(ready) if ready else None, ready_delay=delay)
        return EXIT_OK
    from wizard.sandbox.manager import stop_folder_sandbox

    project = _project(args)
    if stop_folder_sandbox(project):
        print(f"Stopped the sandbox of {project}; its contents are gone.")
    else:
        print(f"No sandbox was running for {project}.")
    return EXIT_OK


def cmd_workshop(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": cmd_workshop_serve,
        "status": cmd_workshop_status,
        "sweep": cmd_workshop_sweep,
    }
    return commands[args.workshop_command](args)


def cmd_workshop_sweep(args: argparse.Namespace) -> int:
    """`workshop sweep`: the participants from --workshop (its status) and --participant; the sandbox from
    --sandbox-endpoint, else the workshop URL's origin; without either, the account of --profile."""
    from wizard.settings import SANDBOX_DEFAULT_REGION, check_endpoint, check_region
    from wizard.workshop import sweep

    url = _get(args, "workshop")
    endpoint = _get(args, "sandbox_endpoint")
    endpoint = None if endpoint is None else _checked("--sandbox-endpoint", endpoint, check_endpoint)
    participants = [
        _checked("--participant", name, sweep.check_participant) for name in _get(args, "participants") or []
    ]
    if url is not None:
        from wizard.workshop.link import parse_link

        link = _checked("--workshop", url, parse_link)
        endpoint = endpoint or link.base
        participants = sweep.workshop_participants(link) + participants
    if not participants:
        raise UsageError(
            "Nobody to sweep: no workshop and no participant named.",
            fix="Pass --workshop URL (the one `workshop serve` printed), or --participant NAME (repeated).",
        )
    region = _get(args, "region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = None if region is None else _checked("--region", region, check_region)
    dry_run = bool(_get(args, "dry_run"))
    if endpoint is not None:
        from wizard.sandbox.manager import require_healthy

        aws = sweep.Aws.sandbox(require_healthy(endpoint), region or SANDBOX_DEFAULT_REGION)
    else:
        import boto3

        session = boto3.Session(profile_name=_get(args, "profile"))
        region = region or session.region_name
        if not region:
            raise UsageError("No AWS region is set, and the wizard never guesses one.", fix="Pass --region.")
        if not dry_run and not _get(args, "yes"):
            raise UsageError(
                f"This sweeps an AWS account ({region}), not a sandbox: it deletes what "
                f"{', '.join(participants)} made there.",
                fix="List it first with --dry-run, then pass --yes to delete.",
            )
        aws = sweep.Aws(session, region)
    report = sweep.sweep(aws, participants, dry_run=dry_run, out=print)
    return EXIT_OK if report.ok else EXIT_ERROR


def cmd_workshop_serve(args: argparse.Namespace) -> int:
    from wizard.workshop.link import check_room_name
    from wizard.workshop.room import ROOM_FILE, default_state_dir
    from wizard.workshop.server import serve_workshop

    host, port, delay = _serve_settings(args)
    name = _get(args, "name")
    name = None if name is None else _checked("--name", name, check_room_name)
    state_dir = _get(args, "state_dir")
    folder = Path(_checked("--state-dir", state_dir, _check_folder)) if state_dir else default_state_dir(name or "")
    ready = _get(args, "ready_file")
    serve_workshop(
        host,
        port if "port" in args else None,
        state_file=folder.expanduser().resolve() / ROOM_FILE,
        name=name,
        sandbox=not _get(args, "no_sandbox"),
        ready_file=Path(ready) if ready else None,
        ready_delay=delay,
    )
    return EXIT_OK


def cmd_workshop_status(args: argparse.Namespace) -> int:
    from wizard.workshop.link import parse_link, room_status
    from wizard.workshop.room import render_table

    url = _get(args, "workshop")
    if url is None:
        raise UsageError(
            "workshop status needs the workshop's URL.",
            fix="Pass the URL `agentcore-wizard workshop serve` printed: agentcore-wizard workshop status "
            "--workshop 'http://127.0.0.1:4566/workshop/?code=…'",
        )
    room = room_status(_checked("--workshop", str(url), parse_link))
    if _get(args, "json"):
        print(json.dumps(room, indent=2))
    else:
        print(render_table(room))
    return EXIT_OK
