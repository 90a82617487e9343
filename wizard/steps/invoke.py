"""Stage 8: invoke with the runtime user's bearer token, and close the consent loop the quickstart leaves open."""

from __future__ import annotations

import queue
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard import consent, inbound_token, return_ports
from wizard.agent_logs import AgentLogs
from wizard.errors import (
    AgentAnswered,
    AuthUrlInLogs,
    Cancelled,
    ConsentLapsed,
    UsageError,
    WaitingOnUser,
    WizardError,
    explain,
)
from wizard.events import AwsCall, ConsentClosed, ConsentRequested
from wizard.files import identity as idfiles
from wizard.invocation import (
    PROMPT,
    Answer,
    authorization_url,
    check_session_id,
    data_plane_endpoint,
    invocation_url,
    invoke,
    is_authenticated,
    new_session_id,
)
from wizard.steps.base import Check, Detection, Stage, stage_ref
from wizard.steps.configure import identity_files
from wizard.steps.deploy import RETURN_URL_ENV

if TYPE_CHECKING:
    from wizard.context import Context

LOG_POLL_SECONDS = 1.0
LOG_WATCH_AFTER = 3.0  # most answers come sooner; only then are the logs read
PRINTED_LINK_GRACE = 8.0  # an agent that logged the link and still answers with it, within this, is fine


class InvokeStage(Stage):
    key = "invoke"
    requires = ("deploy",)
    uses = ("return_url", "session_id")
    explanation = """\
Invokes the deployed agent the way a user's app would: over HTTPS with the runtime pool test user's
**bearer token** (a Cognito access token, fetched with `InitiateAuth` and never shown), one runtime
**session id** for every call, and no SigV4 fallback. The agent answers with an **authorization URL**;
you sign in as the *identity* pool's test user and approve; the wizard then completes the session and
asks again in the same session, and the agent answers with the user's token (its length only).

- **Callback URL vs return URL.** The *callback URL* is AgentCore's own address, registered on the
  identity pool's app client by the provider stage: Cognito sends the authorization code there. The *return URL*
  is the wizard's (`localhost`), allowed on the runtime's workload identity: AgentCore sends your
  browser there afterwards, and the wizard calls `CompleteResourceTokenAuth` with the exact bearer
  token of the first call. Without that call the token is never released; the quickstart skips it.
- The quickstart's second `agentcore invoke` generates a *new* session id although its text says to
  reuse it; the command below keeps one.
- Over SSH or on another machine: open the link where you have a browser, approve, and paste the
  address the browser ends on (it may show an error page) into the box below.
"""

    def __init__(self) -> None:
        self._bearer: inbound_token.BearerToken | None = None

    # --- description ------------------------------------------------------------------------------

    def command(self, ctx: Context) -> str:
        session_id = ctx.settings.session_id or "<made when the stage runs>"
        arn = str(ctx.state.resources("deploy").get("runtime_arn") or f"<runtime ARN from {stage_ref('deploy')}>")
        region = ctx.state.data.get("region") or "<region>"
        # Always the real endpoint here: this is the command a person copies to run against AWS.
        url = invocation_url(data_plane_endpoint(str(region), None), arn)
        return (
            "# The quickstart (with ONE session id for both calls; its second command makes a new one):\n"
            "BEARER_TOKEN=$(agentcore identity get-cognito-inbound-token)\n"
            f'agentcore invoke \'{{"prompt": "{PROMPT}"}}\' \\\n'
            f'  --bearer-token "$BEARER_TOKEN" --session-id "{session_id}"\n\n'
            "# The same call without the toolkit:\n"
            f'curl -N -X POST "{url}" \\\n'
            '  -H "Authorization: Bearer $BEARER_TOKEN" -H "Content-Type: application/json" \\\n'
            '  -H "Accept: text/event-stream, application/json" \\\n'
            f'  -H "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: {session_id}" \\\n'
            # Where the browser goes after consent: the SDK uses it when agent.py names no callback_url.
            f'  -H "OAuth2CallbackUrl: {ctx.return_url}" \\\n'
            f'  -d \'{{"prompt": "{PROMPT}"}}\''
        )

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        recorded = self.resources(ctx)
        rows: list[tuple[str, str, bool]] = []
        arn = ctx.state.resources("deploy").get("runtime_arn")
        if arn:
            rows.append(("Runtime ARN", str(arn), False))
        if ctx.settings.session_id:
            rows.append(("Session id", ctx.settings.session_id, False))
        rows.append(("Return URL (the wizard listens here)", ctx.return_url, False))
        files = idfiles.read_identity_json(ctx.project)
        if files is not None:
            rows.append(("Sign in to approve as", files.identity.username, False))
            rows.append(("Its password", files.identity.password, True))
        if recorded.get("authenticated_at"):
            rows.append(("Authenticated answer at", str(recorded["authenticated_at"]), False))
        return rows

    # --- detect / verify --------------------------------------------------------------------------

    def detect(self, ctx: Context) -> Detection:
        if not self.resources(ctx).get("authenticated_at"):
            return Detection("pending")
        outdated = self.outdated(ctx)
        if outdated:
            return Detection("pending", [outdated])
        failed = [check for check in self.verify(ctx) if not check.ok]
        if failed:
            return self.not_done(ctx, failed)
        return Detection("done", ["the agent answers with the user's token in the recorded session"])

    def outdated(self, ctx: Context) -> str | None:
        answered_by = self.resources(ctx).get("answered_by")
        deployed = ctx.state.resources("deploy").get("deployed_sha256")
        if answered_by and deployed and answered_by != deployed:
            return "the agent was deployed again since its last authenticated answer"
        return None

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        """What costs nothing: a session recorded, the runtime READY, an authenticated answer on record.
        Deep: ask the agent again in the recorded session (that runs the model): it must answer with the token."""
        session_id = ctx.settings.session_id
        if not session_id:
            return [Check("session id recorded", False, "the stage has not run")]
        arn = ctx.state.resources("deploy").get("runtime_arn")
        if not arn:
            return [Check("runtime deployed", False, f"run {stage_ref('deploy')} first")]
        checks = [Check("session id recorded", True, str(session_id))]
        runtime_id = str(arn).rsplit("/", 1)[-1]
        runtime = ctx.client("bedrock-agentcore-control").get_agent_runtime(agentRuntimeId=runtime_id)
        checks.append(Check("runtime READY", runtime.get("status") == "READY", str(runtime.get("status"))))
        if not deep:
            answered = self.resources(ctx).get("authenticated_at")
            checks.append(
                Check(
                    "authenticated answer recorded",
                    bool(answered),
                    f"at {answered} (Verify on this stage asks the agent again)" if answered else "none yet",
                )
            )
            return checks
        token = self._token(ctx, identity_files(ctx))
        answer = self._invoke(ctx, str(arn), token, str(session_id), "check")
        if is_authenticated(answer.text):
            detail = "in the recorded session"
        elif authorization_url(answer.text):
            detail = "it asks for consent again: run this stage to approve"
        else:
            detail = f"it answered: {' '.join(answer.text.split())[:300]}"
        checks.append(Check("agent answers with the user's token", is_authenticated(answer.text), detail))
        return checks

    # --- run --------------------------------------------------------------------------------------

    def run(self, ctx: Context) -> list[Check]:
        if ctx.options.auto_consent and not ctx.is_sandbox:
            raise UsageError(
                "--auto-consent signs in on the sandbox's consent page; against AWS you approve yourself.",
                fix="Drop --auto-consent and approve in the browser.",
            )
        arn = ctx.state.resources("deploy").get("runtime_arn")
        if not arn:
            raise WizardError("No runtime is recorded.", fix=f"Run {stage_ref('deploy')} first.")
        session_id = self._session_id(ctx)
        files = identity_files(ctx)
        self._check_runtime(ctx, str(arn))

        ctx.progress(0.05, "bearer token")
        token = self._token(ctx, files)
        until = datetime.fromtimestamp(token.expires_at).strftime("%H:%M")
        ctx.log(
            f"Bearer token: the access token of {files.runtime.username} (runtime pool), valid until {until}. "
            "It is never shown or written anywhere."
        )
        ctx.checkpoint()
        ctx.progress(0.15, "first call")
        first = self._invoke(ctx, str(arn), token, session_id, "first")
        checks = [
            Check("bearer token accepted by the runtime", True, "customJWTAuthorizer"),
            Check("session id", True, session_id),
        ]
        if is_authenticated(first.text):
            ctx.log("The user had already consented: the agent answered with the token at once.", "success")
            return self._finish(ctx, first, checks)
        link = authorization_url(first.text)
        if link is None:
            raise explain(AgentAnswered(first.text))
        checks.append(Check("agent answered with an authorization URL", True, link.split("?")[0]))
        ctx.checkpoint()
        redirect = self._wait_for_consent(ctx, link, files)
        ctx.progress(0.85, "completing the session")
        self._complete(ctx, redirect.session_uri, token)
        checks.append(Check("session completed with the first call's bearer token", True, "CompleteResourceTokenAuth"))
        ctx.checkpoint()
        ctx.progress(0.9, "second call, same session")
        token = self._token(ctx, files)
        second = self._invoke(ctx, str(arn), token, session_id, "second")
        if not is_authenticated(second.text):
            if authorization_url(second.text):
                raise WizardError(
                    "The agent still asks for consent after the session was completed.",
                    fix="The scopes in agent.py may differ from the ones approved; run the stage again.",
                )
            raise explain(AgentAnswered(second.text))
        return self._finish(ctx, second, checks)

    def _finish(self, ctx: Context, answer: Answer, checks: list[Check]) -> list[Check]:
        self.record_many(
            ctx,
            authenticated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            answer=answer.text[:1000],
            # Which deployed code answered: a later deploy makes this stage worth running again.
            answered_by=ctx.state.resources("deploy").get("deployed_sha256"),
        )
        ctx.progress(1.0, "done")
        return [*checks, Check("agent answered with the user's token in the same session", True, answer.session_id)]

    def _check_runtime(self, ctx: Context, arn: str) -> None:
        """READY, and sending the browser back where this run listens; otherwise consent cannot finish."""
        runtime_id = arn.rsplit("/", 1)[-1]
        runtime = ctx.client("bedrock-agentcore-control").get_agent_runtime(agentRuntimeId=runtime_id)
        if runtime.get("status") != "READY":
            raise WizardError(
                f"The runtime is {runtime.get('status')}, not READY.",
                fix=f"Wait a minute and run the stage again, or run {stage_ref('deploy')} again if it failed.",
            )
        deployed_url = (runtime.get("environmentVariables") or {}).get(RETURN_URL_ENV)
        if deployed_url and deployed_url != ctx.return_url:
            raise WizardError(
                f"The deployed agent sends the browser back to {deployed_url}, but this run listens on "
                f"{ctx.return_url}.",
                fix=f"Drop --return-url (or pass --return-url {deployed_url}); to move it, run again with "
                "--reconfigure --return-url URL: the workload identity and the runtime take the new one first.",
            )

    def _session_id(self, ctx: Context) -> str:
        """--session-id, else the project's, else a new one; recorded before the first call, so a run that
        stops waiting for approval resumes in the same session."""
        session_id = ctx.settings.session_id
        if session_id:
            check_session_id(session_id)  # refused before anything is sent
            ctx.settings.record("session_id")
            return session_id
        session_id = new_session_id()
        ctx.settings.adopt("session_id", session_id)
        ctx.log(f"New runtime session {session_id}: every call of this stage uses it.")
        return session_id

    def _token(self, ctx: Context, files: idfiles.IdentityFiles) -> inbound_token.BearerToken:
        runtime = files.runtime
        self._bearer = inbound_token.current(
            self._bearer,
            ctx.client("cognito-idp"),
            runtime.client_id,
            runtime.username,
            runtime.password,
            runtime.client_secret,
        )
        return self._bearer

    def _invoke(self, ctx: Context, arn: str, token: inbound_token.BearerToken, session_id: str, which: str) -> Answer:
        """One call, watched: it can be stopped, an authorization URL the agent only wrote to its logs ends the
        wait (instead of the SDK's ten minutes of polling), and a failure shows the agent's last log lines."""
        url = invocation_url(data_plane_endpoint(ctx.region, ctx.endpoint), arn)
        note = f"{which} call, bearer token, session {session_id}"
        ctx.emit(AwsCall(self.key, "bedrock-agentcore", "InvokeAgentRuntime", note))
        ctx.answer_chunk(which, starts=True)
        logs = AgentLogs(ctx.client("logs"), arn.rsplit("/", 1)[-1], since=time.time())
        outcome: queue.Queue[tuple[bool, Any]] = queue.Queue()
        abandoned = threading.Event()

        def on_text(chunk: str) -> None:
            if not abandoned.is_set():  # an abandoned call's late answer goes nowhere
                ctx.answer_chunk(which, chunk)

        def call() -> None:
            try:
                outcome.put((True, invoke(url, token.value, session_id, on_text=on_text, return_url=ctx.return_url)))
            except Exception as exc:
                outcome.put((False, exc))

        threading.Thread(target=call, name=f"invoke-{which}", daemon=True).start()
        started = time.monotonic()
        link_seen = 0.0
        logged_link = ""
        try:
            while True:
                try:
                    answered, value = outcome.get(timeout=LOG_POLL_SECONDS)
                except queue.Empty:
                    ctx.checkpoint()
                    waited = time.monotonic() - started
                    if not link_seen and waited >= LOG_WATCH_AFTER:
                        logged_link = logs.authorization_url() or ""
                        if logged_link:
                            link_seen = time.monotonic()
                            ctx.log(
                                f"The agent wrote an authorization URL to its logs ({logs.group}) and has not "
                                f"answered yet; waiting {PRINTED_LINK_GRACE:.0f}s more for its answer.",
                                "warning",
                            )
                    if link_seen and time.monotonic() - link_seen >= PRINTED_LINK_GRACE:
                        raise explain(AuthUrlInLogs(logged_link, logs.group, waited)) from None
                    continue
                if answered:
                    return value
                self._show_log_tail(ctx, logs)
                raise explain(value) from value
        except BaseException:
            abandoned.set()
            raise

    @staticmethod
    def _show_log_tail(ctx: Context, logs: AgentLogs) -> None:
        lines = logs.tail()
        if lines:
            ctx.log(f"The agent's last lines in its log group {logs.group}:", "warning")
            for line in lines:
                ctx.log(f"  {line}")
        elif logs.unavailable:
            ctx.log(f"Its log group {logs.group} could not be read ({logs.unavailable[:200]}).")

    def _wait_for_consent(self, ctx: Context, link: str, files: idfiles.IdentityFiles) -> consent.Redirect:
        options = ctx.options
        started = time.monotonic()
        lapses = started + consent.CONSENT_SECONDS
        deadline = min(lapses, started + options.consent_timeout) if options.consent_timeout else lapses
        while True:  # what an earlier, abandoned wait left behind must not complete this one
            try:
                ctx.consent_inbox.get_nowait()
            except queue.Empty:
                break
        # The session this link starts: the listener answers only its redirect, and a pasted one must match.
        session_uri = consent.session_of_link(link)
        sessions = None if session_uri is None else {session_uri}
        if session_uri is None:
            ctx.log(
                "The authorization link names no session (no request_uri): the listener takes any approval "
                "that reaches it.",
                "warning",
            )
        listener = consent.ReturnListener(ctx.return_url, ctx.consent_inbox, sessions=sessions)
        not_listening = ""
        try:
            listener.start()
        except WizardError as error:
            ctx.log(f"{error.message} {error.fix}", "warning")
            not_listening = self._port_holder(ctx, listener.port, error)
        outcome = "failed"
        try:
            user = files.identity.username
            ctx.log(f"Authorization needed. Open this link and sign in as {user} (identity pool):", "warning")
            ctx.log(link)
            # Opening a browser, copying the link: the front end's decision, from this event.
            ctx.emit(
                ConsentRequested(
                    self.key,
                    url=link,
                    username=user,
                    listening=not not_listening,
                    return_url=ctx.return_url,
                    not_listening_because=not_listening,
                    expires_at=time.time() + (deadline - started),
                    approving_itself=options.auto_consent,
                )
            )
            if options.auto_consent:
                ctx.log(f"--auto-consent: signing in on the sandbox's consent page as {user} and approving.")
                location = consent.sandbox_consent(link, user, files.identity.password)
                if not consent.follow_to_listener(location):
                    ctx.deliver_redirect(location)
            if not not_listening:
                ctx.log(f"Waiting for the browser to come back to {ctx.return_url} …")
            else:
                ctx.log("Waiting for the URL your browser ends on after approving (paste it) …")
            redirect = self._await_redirect(ctx, started, deadline, sessions, link_lapses=deadline >= lapses)
            outcome = "approved"
            return redirect
        except ConsentLapsed:
            outcome = "lapsed"
            # A new link also needs a new session; the old one may hold the lapsed request.
            ctx.settings.forget("session_id")
            raise
        except WaitingOnUser:
            outcome = "timed_out"
            raise
        except Cancelled:
            outcome = "stopped"
            raise
        except WizardError as error:
            outcome = "denied" if error.code == "access_denied" else "failed"
            raise
        finally:
            listener.stop()
            ctx.emit(ConsentClosed(self.key, outcome))

    @staticmethod
    def _port_holder(ctx: Context, port: int, error: WizardError) -> str:
        """Why the wizard cannot listen, for the consent box: who holds the port, when the claims can tell."""
        holder = return_ports.claimed_by(port)
        if holder and holder != str(ctx.project.resolve()):
            return f"port {port} is claimed by another agentcore-wizard project, {holder}"
        if return_ports.port_of(return_ports.TOOLKIT_RETURN_URL) == port:
            return f"port {port} is in use, perhaps by the toolkit's `agentcore invoke` callback server"
        return f"port {port} is in use by another program ({error.message.rstrip('.')})"

    def _await_redirect(
        self, ctx: Context, started: float, deadline: float, sessions: set[str] | None, link_lapses: bool
    ) -> consent.Redirect:
        last_shown = -1
        total = deadline - started
        while True:
            ctx.checkpoint()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if int(remaining) != last_shown:
                last_shown = int(remaining)
                minutes, seconds = divmod(last_shown, 60)
                fraction = 0.2 + 0.6 * (1 - remaining / total)
                # The countdown first: on a narrow terminal the end of the line is what gets cut.
                ctx.progress(fraction, f"{minutes}:{seconds:02d} left · approve in the browser")
            try:
                pasted = ctx.consent_inbox.get(timeout=min(0.5, remaining))
            except queue.Empty:
                continue
            try:
                redirect = consent.parse_redirect(pasted, ctx.return_url)
            except WizardError as error:
                ctx.log(f"{error.message} {error.fix}", "warning")
                continue
            if sessions is not None and redirect.session_uri not in sessions:
                # A stale approval (an earlier link of this project) or another wizard's: completing it would
                # fail, or complete the wrong session. The wait goes on for this link's.
                ctx.log(
                    "That address is for another session, not the one this link started: approve this link "
                    "(the one shown now) and paste where the browser ends then.",
                    "warning",
                )
                continue
            if redirect.denied:
                raise WizardError(
                    f"Access was denied in the browser ({redirect.error}).",
                    fix="Run the stage again and press Approve this time.",
                    code="access_denied",
                )
            ctx.log("The browser came back with the session: approved.", "success")
            return redirect
        if link_lapses:
            raise ConsentLapsed(
                f"The authorization link lapsed after {int(consent.CONSENT_SECONDS // 60)} minutes without approval.",
                fix="Run the stage again: it starts a fresh session with a new link.",
            )
        raise WaitingOnUser(
            f"No approval arrived within {int(total)} seconds (--consent-timeout).",
            fix="Run the same command again for a new link: this one needed the bearer token this run held, "
            "which is never stored.",
        )

    def _complete(self, ctx: Context, session_uri: str, token: inbound_token.BearerToken) -> None:
        ctx.log("Completing the session: CompleteResourceTokenAuth with the exact bearer token of the first call.")
        ctx.client("bedrock-agentcore").complete_resource_token_auth(
            sessionUri=session_uri, userIdentifier={"userToken": token.value}
        )
        ctx.log("Session completed: AgentCore released the user's token to the token vault.", "success")

    def undo(self, ctx: Context) -> None:
        ctx.settings.forget("session_id")
        for name in ("runtime_session_id", "authenticated_at", "answer", "answered_by"):
            ctx.state.forget(self.key, name)
