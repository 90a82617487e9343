"""The sandbox's runtime runs the code you deployed: each runtime's package, from the sandbox's S3, in a child
process of its own, with an environment built for this machine from the package's requirements.txt.

The package holds dependencies built for linux/arm64 (the managed runtime's platform), which may not run here,
so only the user's own files are unpacked (everything a packed `*.dist-info/RECORD` lists is left out), and the
dependencies come from an environment built for this machine, cached in the user-level cache by everything that
decides its content (a wheelhouse is honoured, for offline rooms). Every AWS client of the agent points at the
sandbox; its stdout and stderr go to the runtime's log group in the sandbox's CloudWatch Logs.
"""

from __future__ import annotations

import http.client
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wizard.agent_logs import log_group
from wizard.sandbox.protocol import ServiceError

STAND_IN_ENV = "AGENTCORE_WIZARD_SANDBOX_AGENT"  # "stand-in": the built-in agent, for tests of the front door
WHEELHOUSE_ENV = "AGENTCORE_WIZARD_SANDBOX_WHEELHOUSE"
STARTUP_SECONDS = 30.0  # the managed runtime's own limit for initialization
REQUEST_SECONDS = 900.0  # and for one request
LAUNCHER = Path(__file__).with_name("agent_launcher.py")
# What the agent process inherits from this one: enough to run, nothing that points elsewhere (no proxies).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")

QUEUED = "queued"
FETCHING = "fetching the code package"
INSTALLING = "installing the agent's dependencies for the sandbox"
STARTING = "starting the agent"
RUNNING = "running"
FAILED = "failed"
STOPPED = "stopped"


@dataclass
class AgentProcess:
    runtime_id: str
    version: int
    region: str
    request: dict[str, Any]
    phase: str = QUEUED
    detail: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    settled: threading.Event = field(default_factory=threading.Event)
    log_stream: str = ""
    retry_on_invoke: bool = False
    build_seconds: float = 0.0
    start_seconds: float = 0.0

    def status(self) -> dict[str, Any]:
        return {
            "runtimeId": self.runtime_id,
            "version": self.version,
            "phase": self.phase,
            "detail": self.detail,
            "logGroup": log_group(self.runtime_id),
            "logStream": self.log_stream,
            "buildSeconds": round(self.build_seconds, 3),
            "startSeconds": round(self.start_seconds, 3),
        }


def _dependency_files(archive: zipfile.ZipFile) -> set[str]:
    """Every file an installed distribution in the zip owns (its RECORD), and the dist-info folders themselves."""
    owned: set[str] = set()
    for name in archive.namelist():
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
            for line in archive.read(name).decode("utf-8", errors="replace").splitlines():
                path = line.split(",", 1)[0].strip()
                if path and not path.startswith(".."):
                    owned.add(path)
        if parts[0].endswith((".dist-info", ".data")):
            owned.add(name)
    return owned


def unpack_user_code(package: bytes, into: Path) -> list[str]:
    """The user's own files of a deploy package (no dependencies), written under `into`."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        owned = _dependency_files(archive)
        kept = []
        for info in archive.infolist():
            if info.is_dir() or info.filename in owned or info.filename.startswith("bin/"):
                continue
            target = (into / info.filename).resolve()
            if into.resolve() not in target.parents:
                continue  # a path that would leave the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            kept.append(info.filename)
    return kept


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AgentHost:
    """One agent process per runtime (its latest version), started when a version is created and reused for
    every invocation until the next version, the runtime's deletion or the sandbox's end."""

    def __init__(self, account: str, endpoint: Any, stand_in: bool = False, wheelhouse: str | None = None) -> None:
        self.account = account
        self._endpoint = endpoint  # a callable: the sandbox's own address is known only once it is bound
        self.stand_in = stand_in
        self.wheelhouse = wheelhouse
        self._agents: dict[str, AgentProcess] = {}
        self._lock = threading.Lock()
        self._logs_lock = threading.Lock()
        self._work = Path(tempfile.mkdtemp(prefix="agentcore-wizard-sandbox-agents-"))

    # --- lifecycle ---------------------------------------------------------------------------------

    def deploy(self, runtime_id: str, version: int, region: str, request: dict[str, Any]) -> None:
        """A new version exists: prepare it in the background (the old process stops first)."""
        if self.stand_in:
            return
        agent = AgentProcess(runtime_id, version, region, request)
        with self._lock:
            previous = self._agents.get(runtime_id)
            self._agents[runtime_id] = agent
        if previous is not None:
            self._stop_soon(previous)
        threading.Thread(target=self._prepare, args=(agent,), name=f"agent-{runtime_id}", daemon=True).start()

    def remove(self, runtime_id: str) -> None:
        with self._lock:
            agent = self._agents.pop(runtime_id, None)
        if agent is not None:
            self._stop_soon(agent)

    def _stop_soon(self, agent: AgentProcess) -> None:
        """Called while the sandbox's state is locked: the process is waited for elsewhere."""
        agent.phase = STOPPED if agent.phase != FAILED else agent.phase
        agent.settled.set()
        threading.Thread(target=self._stop, args=(agent,), daemon=True).start()

    def stop_all(self) -> None:
        with self._lock:
            agents = list(self._agents.values())
            self._agents.clear()
        for agent in agents:
            self._stop(agent)

    def close(self) -> None:
        self.stop_all()
        shutil.rmtree(self._work, ignore_errors=True)

    def status(self, runtime_id: str) -> dict[str, Any] | None:
        with self._lock:
            agent = self._agents.get(runtime_id)
        return agent.status() if agent is not None else None

    def _stop(self, agent: AgentProcess) -> None:
        agent.phase = STOPPED if agent.phase != FAILED else agent.phase
        agent.settled.set()
        process = agent.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # --- preparing one version ---------------------------------------------------------------------

    def _prepare(self, agent: AgentProcess) -> None:
        try:
            self._prepare_or_fail(agent)
        except ServiceError as error:
            self._fail(agent, error.message)
        except Exception as exc:  # the sandbox must say what went wrong, never die with the thread
            self._fail(agent, f"{type(exc).__name__}: {exc}")

    def _fail(self, agent: AgentProcess, why: str) -> None:
        agent.detail = why
        agent.phase = FAILED
        agent.retry_on_invoke = True
        self._log(agent, f"[agentcore-wizard sandbox] the agent cannot run: {why}")
        agent.settled.set()

    def _prepare_or_fail(self, agent: AgentProcess) -> None:
        code_config = (agent.request.get("agentRuntimeArtifact") or {}).get("codeConfiguration")
        if not code_config:
            raise ServiceError("RuntimeClientError", "Only code (direct code deploy) runtimes run in the sandbox.")
        agent.phase = FETCHING
        location = (code_config.get("code") or {}).get("s3") or {}
        bucket, key = str(location.get("bucket", "")), str(location.get("prefix", ""))
        package = self._s3_object(bucket, key)
        if package is None:
            raise ServiceError("RuntimeClientError", f"The code package s3://{bucket}/{key} does not exist.")
        code = self._work / agent.runtime_id / f"v{agent.version}-{uuid.uuid4().hex[:6]}"
        code.mkdir(parents=True)
        try:
            unpack_user_code(package, code)
        except zipfile.BadZipFile:
            raise ServiceError("RuntimeClientError", f"s3://{bucket}/{key} is not a zip file.") from None
        entry = list(code_config.get("entryPoint") or ["main.py"])[0]
        if not (code / entry).is_file():
            raise ServiceError("RuntimeClientError", f"The entry point {entry} is not in the code package.")
        dependencies = self._dependencies(agent, code)
        if agent.phase == STOPPED:
            return
        self._start(agent, code, entry, dependencies)

    def _s3_object(self, bucket: str, key: str) -> bytes | None:
        from moto.s3.models import s3_backends

        try:
            found = s3_backends[self.account]["aws"].get_object(bucket, key)
        except Exception:
            return None
        return bytes(found.value) if found is not None else None

    def _dependencies(self, agent: AgentProcess, code: Path) -> Path | None:
        from wizard.files import package

        requirements = code / "requirements.txt"
        if not requirements.is_file():
            self._log(agent, "[agentcore-wizard sandbox] no requirements.txt in the package: no dependencies")
            return None
        agent.phase = INSTALLING
        links = (self.wheelhouse,) if self.wheelhouse else ()
        target = package.Target.host(find_links=links, no_index=bool(self.wheelhouse))
        started = time.monotonic()

        def progress(line: str) -> None:
            if line.strip():
                agent.detail = line.strip()[:300]

        try:
            folder, built = package.build_dependencies(package.user_cache(), requirements, target, progress)
        except Exception as exc:  # WizardError: pip's own words
            message = getattr(exc, "message", str(exc))
            raise ServiceError("RuntimeClientError", f"{message} {getattr(exc, 'fix', '')}".strip()) from None
        agent.build_seconds = time.monotonic() - started
        agent.detail = "built" if built else "from the cache"
        return folder

    def _environment(self, agent: AgentProcess) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.update({str(key): str(value) for key, value in (agent.request.get("environmentVariables") or {}).items()})
        # Last, so no setting of the agent's sends its AWS calls anywhere but this sandbox.
        env.update(
            {
                "AWS_ENDPOINT_URL": self._endpoint(),
                "AWS_ACCESS_KEY_ID": "sandbox",
                "AWS_SECRET_ACCESS_KEY": "sandbox",
                "AWS_REGION": agent.region,
                "AWS_DEFAULT_REGION": agent.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                # The managed runtime's containers set it; the SDK then refuses to invent a local identity.
                "DOCKER_CONTAINER": "1",
            }
        )
        return env

    def _start(self, agent: AgentProcess, code: Path, entry: str, dependencies: Path | None) -> None:
        agent.phase = STARTING
        agent.port = _free_port()
        started = time.monotonic()
        command = [sys.executable, "-I", "-S", "-u", str(LAUNCHER), str(code), str(dependencies or ""), entry]
        agent.process = subprocess.Popen(
            [*command, str(agent.port)],
            cwd=code,
            env=self._environment(agent),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(agent, agent.process), daemon=True).start()
        deadline = started + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if agent.phase == STOPPED:
                return
            code_now = agent.process.poll()
            if code_now is not None:
                raise ServiceError(
                    "RuntimeClientError",
                    f"The agent exited during initialization (exit code {code_now}); its logs are in "
                    f"{log_group(agent.runtime_id)}.",
                )
            if self._pings(agent.port):
                agent.start_seconds = time.monotonic() - started
                agent.phase = RUNNING
                agent.detail = f"127.0.0.1:{agent.port}"
                agent.settled.set()
                return
            time.sleep(0.05)
        self._stop_process(agent)
        raise ServiceError(
            "RuntimeClientError",
            f"Runtime initialization time exceeded. Please make sure that initialization completes in "
            f"{int(STARTUP_SECONDS)}s (GET /ping on the agent's port never answered).",
        )

    def _stop_process(self, agent: AgentProcess) -> None:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait()

    @staticmethod
    def _pings(port: int) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    # --- logs --------------------------------------------------------------------------------------

    def _pump(self, agent: AgentProcess, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._log(agent, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        code = process.wait()
        if agent.phase == RUNNING:
            agent.phase = FAILED
            agent.detail = f"the agent exited (exit code {code})"
            self._log(agent, f"[agentcore-wizard sandbox] the agent exited (exit code {code})")

    def _log(self, agent: AgentProcess, line: str) -> None:
        """One line into the runtime's log group, as the managed runtime ships the agent's output."""
        from moto.logs.models import logs_backends

        group = log_group(agent.runtime_id)
        with self._logs_lock:
            try:
                backend = logs_backends[self.account][agent.region]
                if group not in backend.groups:
                    backend.create_log_group(group, tags={})
                if not agent.log_stream:
                    day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
                    agent.log_stream = f"{day}/[runtime-logs]{uuid.uuid4()}"
                if agent.log_stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, agent.log_stream)
                event = {"timestamp": int(time.time() * 1000), "message": line}
                backend.put_log_events(group, agent.log_stream, [event])
            except Exception as exc:  # logs are a view; the agent must not stop for them
                print(f"[agentcore-wizard sandbox] could not write to {group}: {exc}", file=sys.stderr)

    # --- invocations -------------------------------------------------------------------------------

    def running(self, runtime_id: str, wait: float = STARTUP_SECONDS) -> AgentProcess:
        """The runtime's agent, once it serves; the runtime's own error when it cannot."""
        with self._lock:
            agent = self._agents.get(runtime_id)
        if agent is None:
            raise ServiceError("RuntimeClientError", "The runtime has no code the sandbox could run.", 424)
        if agent.phase == FAILED and agent.retry_on_invoke:
            # A new session starts the runtime afresh (the managed runtime gives each its own microVM): try again.
            agent.retry_on_invoke = False
            self.deploy(agent.runtime_id, agent.version, agent.region, agent.request)
            return self.running(runtime_id, wait)
        agent.settled.wait(wait)
        if agent.phase == RUNNING and agent.process is not None and agent.process.poll() is None:
            return agent
        if agent.phase in (FETCHING, INSTALLING, STARTING, QUEUED):
            raise ServiceError(
                "RetryableConflictException", f"The agent is still {agent.phase}; retry in a moment.", 409
            )
        raise ServiceError(
            "RuntimeClientError",
            f"Runtime initialization failed: {agent.detail} Please check your CloudWatch logs "
            f"({log_group(runtime_id)}) for more information.",
            424,
        )

    def invoke(
        self, runtime_id: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], Iterator[bytes]]:
        """Forward one invocation to the agent; its answer streams back as it comes (JSON or event stream)."""
        agent = self.running(runtime_id)
        connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=REQUEST_SECONDS)
        try:
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ServiceError(
                "RuntimeClientError",
                f"The agent did not answer ({exc}). Please check your CloudWatch logs "
                f"({log_group(runtime_id)}) for more information.",
                424,
            ) from None
        if response.status >= 400:
            response.read()
            connection.close()
            raise ServiceError(
                "RuntimeClientError",
                f"Received error ({response.status}) from runtime. Please check your CloudWatch logs "
                f"({log_group(runtime_id)}) for more information.",
                424,
            )
        content_type = response.getheader("Content-Type", "application/json") or "application/json"

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    piece = response.read1(65536)
                    if not piece:
                        return
                    yield piece
            except (OSError, http.client.HTTPException):
                return
            finally:
                connection.close()

        return response.status, [("Content-Type", content_type)], chunks()

    def invoke_whole(self, runtime_id: str, headers: dict[str, str], body: bytes) -> tuple[str, bytes]:
        _, answer_headers, pieces = self.invoke(runtime_id, headers, body)
        return dict(answer_headers)["Content-Type"], b"".join(pieces)


def from_environment(account: str, endpoint: Any) -> AgentHost:
    return AgentHost(
        account,
        endpoint,
        stand_in=os.environ.get(STAND_IN_ENV, "").strip().lower() == "stand-in",
        wheelhouse=os.environ.get(WHEELHOUSE_ENV) or None,
    )
