"""Command line: the TUI by default, and headless `run`, `status`, `env` and `sandbox` for facilitators and CI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wizard import __version__, names
from wizard.context import Event, Options
from wizard.errors import WAITING_ON_USER, UsageError, WizardError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_WAITING = 0, 1, 2, 3

_DEFAULTS: dict[str, Any] = {
    "dir": ".",
    "sandbox": False,
    "sandbox_endpoint": None,
    "region": None,
    "profile": None,
    "json": False,
    "verify": False,
    "yes": False,
    "through": None,
    "provider_name": "ExternalServiceProvider",
    "model_id": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "host": "127.0.0.1",
    "port": 0,
    "ready_file": None,
    "shell": "bash",
    "scopes": "openid",
    "ready_delay": 2.0,
}


def _common(parser: argparse.ArgumentParser, aws: bool = True) -> None:
    # SUPPRESS keeps an option given before the subcommand from being reset by the subparser.
    s = argparse.SUPPRESS
    parser.add_argument("--dir", default=s, help="project folder (default: the current folder)")
    if not aws:
        return
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--sandbox",
        action="store_true",
        default=s,
        help="use this folder's offline sandbox on 127.0.0.1 (started if needed); no AWS account needed",
    )
    group.add_argument("--sandbox-endpoint", default=s, metavar="URL", help="use an already running sandbox")
    parser.add_argument("--region", default=s, help="AWS region to pin for this project")
    parser.add_argument("--profile", default=s, help="AWS profile to use")


def _agent_options(parser: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--agent-name", default=s, help="agent name in .bedrock_agentcore.yaml (default identity_demo)")
    parser.add_argument("--provider-name", default=s, help="credential provider the agent asks for")
    parser.add_argument(
        "--workload-name", default=s, help="workload identity to create (default identity-demo-workload)"
    )
    parser.add_argument("--model-id", default=s, help="Bedrock model id the agent uses")
    parser.add_argument("--execution-role", default=s, help="deploy with this IAM role (ARN or name) as it is")
    parser.add_argument(
        "--wheelhouse", default=s, metavar="DIR", help="install the agent's dependencies only from this folder"
    )
    parser.add_argument("--scopes", default=s, help="OAuth scopes the agent asks for, comma-separated (default openid)")
    parser.add_argument(
        "--session-id", default=s, help="runtime session id for stage 8, 33-256 characters (default: one it makes)"
    )
    parser.add_argument(
        "--return-url",
        default=s,
        help="where the browser comes back after consent; the wizard listens there "
        "(default http://localhost:8081/oauth2/callback)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", default=s, help="show the consent link but do not open a browser"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentcore-wizard",
        description="Perform and verify the Amazon Bedrock AgentCore Identity quickstart. "
        "Without a command, opens the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"agentcore-wizard {__version__}")
    _common(parser)
    _agent_options(parser)
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
    run.add_argument(
        "--yes",
        action="store_true",
        default=argparse.SUPPRESS,
        help="do not ask before creating resources in AWS",
    )
    run.add_argument(
        "--consent-timeout",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="how long stage 8 waits for your approval before exiting 3 (default: as long as the link lasts)",
    )
    run.add_argument(
        "--auto-consent",
        action="store_true",
        default=argparse.SUPPRESS,
        help="sandbox only: sign in on the sandbox's consent page as the test user and approve (for CI)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the final status as JSON on stdout",
    )

    status = commands.add_parser("status", help="show every stage's status")
    _common(status)
    status.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    status.add_argument(
        "--verify",
        action="store_true",
        default=argparse.SUPPRESS,
        help="first check each recorded stage against reality and report drift",
    )

    cleanup = commands.add_parser("cleanup", help="delete exactly what the wizard made, in dependency order")
    _common(cleanup)
    cleanup.add_argument(
        "--dry-run", action="store_true", default=argparse.SUPPRESS, help="list what would go and what stays"
    )
    cleanup.add_argument("--yes", action="store_true", default=argparse.SUPPRESS, help="do not ask first")
    cleanup.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the final status as JSON"
    )

    doctor = commands.add_parser("doctor", help="say what is wrong with this project and how to fix it")
    _common(doctor)
    doctor.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the findings as JSON")

    env = commands.add_parser("env", help="print the identity variables as correctly quoted exports")
    _common(env, aws=False)
    env.add_argument("--shell", default=argparse.SUPPRESS, choices=["bash", "zsh", "fish", "powershell"])

    sandbox = commands.add_parser("sandbox", help="the offline sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_commands.add_parser("serve", help="run a sandbox in the foreground and print its endpoint")
    serve.add_argument("--host", default=argparse.SUPPRESS, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port (default: any free one)")
    serve.add_argument(
        "--ready-delay",
        type=float,
        default=argparse.SUPPRESS,
        help="seconds an agent runtime stays CREATING/UPDATING before READY (default 2)",
    )
    serve.add_argument("--ready-file", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    stop = sandbox_commands.add_parser("stop", help="stop this folder's sandbox")
    _common(stop, aws=False)
    return parser


def _get(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, _DEFAULTS.get(name))


def options_from(args: argparse.Namespace) -> Options:
    project = Path(_get(args, "dir")).expanduser().resolve()
    provider_name = names.check_provider_name(str(_get(args, "provider_name")))
    agent_name = _get(args, "agent_name")
    workload_name = _get(args, "workload_name")
    scopes = [scope.strip() for scope in str(_get(args, "scopes")).replace(" ", ",").split(",") if scope.strip()]
    if not scopes or any(len(scope) > 128 for scope in scopes):
        raise UsageError("--scopes needs one or more scopes of 1-128 characters.", fix="For example --scopes openid")
    session_id = _get(args, "session_id")
    if session_id is not None:
        from wizard.invocation import check_session_id

        try:
            check_session_id(session_id)
        except WizardError as error:
            raise UsageError(error.message, fix=error.fix) from None
    timeout = _get(args, "consent_timeout")
    if timeout is not None and timeout <= 0:
        raise UsageError("--consent-timeout must be a positive number of seconds.", fix="For example 300.")
    return_url = _get(args, "return_url")
    if return_url is not None:
        from wizard.consent import check_return_url

        check_return_url(return_url)
    if not str(_get(args, "model_id")).strip():
        raise UsageError("--model-id is empty.", fix="Pass a Bedrock model id, or leave the option out.")
    return Options(
        project=project,
        region=_get(args, "region"),
        profile=_get(args, "profile"),
        sandbox=bool(_get(args, "sandbox")),
        sandbox_endpoint=_get(args, "sandbox_endpoint"),
        assume_yes=bool(_get(args, "yes")),
        provider_name=provider_name,
        agent_name=names.check_agent_name(agent_name) if agent_name else None,
        execution_role=_get(args, "execution_role"),
        wheelhouse=_wheelhouse(_get(args, "wheelhouse")),
        workload_name=names.check_workload_name(workload_name) if workload_name else None,
        scopes=scopes,
        model_id=str(_get(args, "model_id")).strip(),
        session_id=session_id,
        return_url=return_url,
        no_browser=bool(_get(args, "no_browser")),
        auto_consent=bool(_get(args, "auto_consent")),
        consent_timeout=timeout,
    )


def _wheelhouse(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--wheelhouse {value} is not a folder.", fix="Point it at a folder of .whl files.")
    return path


def main(argv: list[str] | None = None) -> None:
    sys.exit(dispatch(argv))


def dispatch(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    try:
        if command is None:
            from screens.app import run_tui

            return run_tui(options_from(args))
        if command == "run":
            return cmd_run(args)
        if command == "status":
            return cmd_status(args)
        if command == "env":
            return cmd_env(args)
        if command == "cleanup":
            return cmd_cleanup(args)
        if command == "doctor":
            return cmd_doctor(args)
        if command == "sandbox":
            return cmd_sandbox(args)
    except UsageError as error:
        _print_error(error)
        return EXIT_USAGE
    except WizardError as error:
        _print_error(error)
        return EXIT_ERROR
    parser.error(f"unknown command {command}")
    return EXIT_USAGE


def _print_error(error: WizardError) -> None:
    print(f"error: {error.message}", file=sys.stderr)
    if error.fix:
        print(f"  fix: {error.fix}", file=sys.stderr)


class _AnswerPrinter:
    """The agent's answer as it streams, each line set off from the wizard's own output."""

    def __init__(self) -> None:
        self.at_line_start = True

    def __call__(self, event: Event) -> None:
        if event.detail.get("start"):
            self._end_line()
            print(f"  ┌ the agent's answer ({event.detail['start']} call):", file=sys.stderr, flush=True)
            return
        for piece in event.message.splitlines(keepends=True):
            if self.at_line_start:
                sys.stderr.write("  │ ")
            sys.stderr.write(piece)
            self.at_line_start = piece.endswith("\n")
        sys.stderr.flush()

    def _end_line(self) -> None:
        if not self.at_line_start:
            sys.stderr.write("\n")
            self.at_line_start = True


_print_answer = _AnswerPrinter()


def _stderr_sink(event: Event) -> None:
    if event.kind == "answer":
        _print_answer(event)
        return
    _print_answer._end_line()
    if event.kind == "aws":
        print(f"    · AWS {event.message}", file=sys.stderr, flush=True)
    elif event.kind == "log":
        mark = {"error": "✗", "warning": "!", "success": "✓"}.get(event.level, "·")
        print(f"  {mark} {event.message}", file=sys.stderr, flush=True)
    elif event.kind == "progress" and event.message and event.fraction is None:
        print(f"  … {event.message}", file=sys.stderr, flush=True)


class _PasteReader:
    """Headless, at a terminal: the URL the browser ended on may be pasted on stdin instead."""

    def __init__(self) -> None:
        self.started = False

    def __call__(self, event: Event, wizard: Any) -> None:
        if event.kind != "consent" or not event.message or self.started or wizard.options.auto_consent:
            return
        if not sys.stdin.isatty():
            return
        self.started = True
        print("  (Browser on another machine? Paste the address it ends on here and press Enter.)", file=sys.stderr)

        def read() -> None:
            for line in sys.stdin:
                if line.strip():
                    wizard.ctx.offer_redirect(line.strip())

        import threading

        threading.Thread(target=read, name="paste-reader", daemon=True).start()


def _banner(options: Options) -> None:
    if options.is_sandbox:
        print(
            "SANDBOX MODE: everything runs against the offline sandbox on this machine; nothing is created in AWS.",
            file=sys.stderr,
        )


def cmd_run(args: argparse.Namespace) -> int:
    from wizard.engine import Wizard

    options = options_from(args)
    _banner(options)
    paste_reader = _PasteReader()

    def sink(event: Event) -> None:
        _stderr_sink(event)
        paste_reader(event, wizard)

    wizard = Wizard(options, sink=sink)
    through_ref = _get(args, "through")
    runnable = [stage for stage in wizard.stages if stage.available and stage.number is not None]
    if through_ref is None:
        through = runnable[-1]
    else:
        try:
            through = wizard.stage(str(through_ref))
        except KeyError as exc:
            raise UsageError(
                str(exc.args[0]), fix="Use a stage key or number from `agentcore-wizard status`."
            ) from None
        if through.number is None:
            raise UsageError(
                f"{through.title} is not part of `run`.",
                fix="Use its own command: agentcore-wizard cleanup [--dry-run] [--yes].",
            )
        if not through.available:
            raise UsageError(
                f"Stage {through.label} ({through.key}) is not available in this version of agentcore-wizard.",
                fix=f"The last stage this version performs is {runnable[-1].key} ({runnable[-1].label}).",
            )
    wizard.open()
    if options.auto_consent and not options.is_sandbox:
        wizard.close()
        raise UsageError(
            "--auto-consent works only in the sandbox: against AWS you approve in the browser yourself.",
            fix="Drop --auto-consent, or add --sandbox to rehearse offline.",
        )
    if wizard.state.load_problem:
        print(f"warning: {wizard.state.load_problem}", file=sys.stderr)
    current = None
    try:
        for stage in wizard.stages:
            if stage.number is None or stage.number > (through.number or 0):
                break
            current = stage
            status = wizard.status_of(stage)
            print(f"[{stage.label}] {stage.title}", file=sys.stderr, flush=True)
            if status == "done":
                print("  ✓ already done", file=sys.stderr)
                continue
            if stage.key != "preflight":
                detection = wizard.detect_stage(stage.key)
                if detection.status == "done":
                    print(
                        "  ✓ already in place: " + "; ".join(e.rstrip(".") for e in detection.evidence), file=sys.stderr
                    )
                    continue
            outcome = wizard.run_stage(stage.key)
            if not outcome.ok:
                assert outcome.error is not None
                _print_error(outcome.error)
                waiting = outcome.error.code in WAITING_ON_USER
                return _finish(args, wizard, EXIT_WAITING if waiting else EXIT_ERROR)
            if stage.key == "preflight" and not options.is_sandbox and not _confirm_aws(wizard, options):
                return _finish(args, wizard, EXIT_USAGE)
        return _finish(args, wizard, EXIT_OK)
    except KeyboardInterrupt:
        if current is not None and wizard.status_of(current) == "running":
            wizard.state.set_status(
                current.key,
                "failed",
                {
                    "message": "Stopped with Ctrl-C.",
                    "fix": "Run again: it resumes and creates no duplicates.",
                },
            )
        print("\nStopped. Run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        wizard.close()


def _confirm_aws(wizard: Any, options: Options) -> bool:
    if options.assume_yes:
        return True
    account = wizard.state.data.get("account")
    region = wizard.state.data.get("region")
    question = f"Create quickstart resources in AWS account {account}, region {region}? [y/N] "
    if not sys.stdin.isatty():
        print(
            f"error: this would create resources in AWS account {account} ({region}).\n"
            "  fix: pass --yes to confirm, or use --sandbox to rehearse offline.",
            file=sys.stderr,
        )
        return False
    return input(question).strip().lower() in ("y", "yes")


def _finish(args: argparse.Namespace, wizard: Any, code: int) -> int:
    if _get(args, "json"):
        print(json.dumps(wizard.summary(), indent=2))
    else:
        _print_table(wizard.summary(), sys.stderr)
    return code


def _print_table(summary: dict[str, Any], stream: Any) -> None:
    mode = "sandbox (nothing in AWS)" if summary["mode"] == "sandbox" else "AWS"
    print(f"\n{summary['project']}  ·  {mode}  ·  region {summary['region'] or '-'}", file=stream)
    if summary.get("state_problem"):
        print(f"! {summary['state_problem']}", file=stream)
    for row in summary["stages"]:
        label = "-" if row["number"] is None else row["number"]
        print(f"  {label:>2}  {row['key']:<10} {row['status']:<13} {row['title']}", file=stream)
        if row["error"]:
            print(f"        {row['error'].get('message', '')}", file=stream)
            if row["error"].get("fix"):
                print(f"        fix: {row['error']['fix']}", file=stream)


def cmd_status(args: argparse.Namespace) -> int:
    from wizard.engine import Wizard

    options = options_from(args)
    verify = bool(_get(args, "verify"))
    wizard = Wizard(options, sink=_stderr_sink if verify else None)
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    # Reading needs no lock (writes are atomic); checking and recording drift does.
    wizard.open(lock=verify)
    try:
        code = EXIT_OK
        if verify:
            for stage in wizard.stages:
                if stage.available and wizard.status_of(stage) in ("done", "drifted"):
                    outcome = wizard.verify_stage(stage.key)
                    if not outcome.ok:
                        code = EXIT_ERROR
        summary = wizard.summary()
        if _get(args, "json"):
            print(json.dumps(summary, indent=2))
        else:
            _print_table(summary, sys.stdout)
        return code
    finally:
        wizard.close()


def cmd_cleanup(args: argparse.Namespace) -> int:
    from wizard.engine import Wizard
    from wizard.steps.cleanup import CleanupStage, render_plan

    options = options_from(args)
    _banner(options)
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    wizard = Wizard(options, sink=_stderr_sink)
    wizard.open()
    try:
        stage = wizard.stage("cleanup")
        assert isinstance(stage, CleanupStage)
        wizard.ctx.current_stage = stage.key
        if not any(record.get("resources") for record in wizard.state.data.get("stages", {}).values()):
            _rebuild_records(wizard)
        plan = stage.plan(wizard.ctx)
        asking = any(item.delete for item in plan) and not _get(args, "yes")
        if _get(args, "dry_run") or asking:
            # With --yes the stage itself lists the plan as it starts; printing it here too would say it twice.
            print(render_plan(plan), file=sys.stderr)
        if _get(args, "dry_run"):
            return EXIT_OK
        if asking:
            if not sys.stdin.isatty():
                print("error: cleanup deletes the resources above.\n  fix: pass --yes to confirm.", file=sys.stderr)
                return EXIT_USAGE
            if input("Delete them? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Nothing was deleted.", file=sys.stderr)
                return EXIT_OK
        options.assume_yes = True
        outcome = wizard.run_stage(stage.key)
        if not outcome.ok:
            assert outcome.error is not None
            _print_error(outcome.error)
            return _finish(args, wizard, EXIT_ERROR)
        return _finish(args, wizard, EXIT_OK)
    finally:
        wizard.close()


def _rebuild_records(wizard: Any) -> None:
    """No state to go by: find what the files name. Only pools tagged with a project id count as the wizard's."""
    for key in ("cognito", "configure", "provider", "workload"):
        try:
            wizard.detect_stage(key)
        except Exception as exc:  # best effort: what cannot be proved ours is kept
            print(f"  ! could not check {key}: {exc}", file=sys.stderr)


def cmd_doctor(args: argparse.Namespace) -> int:
    from wizard.doctor import diagnose, render
    from wizard.engine import Wizard

    options = options_from(args)
    if not options.project.is_dir():
        raise UsageError(f"{options.project} is not a folder.", fix="Pass the project folder with --dir.")
    wizard = Wizard(options, sink=_stderr_sink if not _get(args, "json") else None)
    wizard.open()  # locked: drift it finds is recorded, as with status --verify
    try:
        findings = diagnose(wizard)
    finally:
        wizard.close()
    if _get(args, "json"):
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        print(render(findings))
    return EXIT_ERROR if any(finding.level == "error" for finding in findings) else EXIT_OK


def cmd_env(args: argparse.Namespace) -> int:
    from wizard.files.identity import ENV_KEYS, ENV_NAME, read_env_file
    from wizard.files.shell import exports

    project = Path(_get(args, "dir")).expanduser().resolve()
    if not (project / ENV_NAME).exists():
        raise WizardError(
            f"{project / ENV_NAME} does not exist.",
            fix="Run stage 1 first: agentcore-wizard run --through cognito",
        )
    values = read_env_file(project)
    missing = [key for key in ENV_KEYS if key not in values]
    if missing:
        raise WizardError(f"{ENV_NAME} lacks {', '.join(missing)}.", fix="Run stage 1 (cognito) again to rewrite it.")
    sys.stdout.write(exports({key: values[key] for key in ENV_KEYS}, _get(args, "shell")))
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.sandbox_command == "serve":
        from wizard.sandbox.server import serve

        host = _get(args, "host")
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: serving the sandbox on {host}, reachable beyond this machine.", file=sys.stderr)
        ready = _get(args, "ready_file")
        delay = float(_get(args, "ready_delay"))
        if delay < 0:
            raise UsageError("--ready-delay cannot be negative.", fix="For example --ready-delay 2")
        serve(host, int(_get(args, "port")), Path(ready) if ready else None, ready_delay=delay)
        return EXIT_OK
    from wizard.sandbox.manager import stop_folder_sandbox

    project = Path(_get(args, "dir")).expanduser().resolve()
    if stop_folder_sandbox(project):
        print(f"Stopped the sandbox of {project}; its contents are gone.")
    else:
        print(f"No sandbox was running for {project}.")
    return EXIT_OK
