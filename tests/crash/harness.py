"""The crash-point harness: kill the wizard right before or right after one point of its run, run again, count.

A point is an AWS request (botocore), one of the wizard's own HTTP requests (the bearer-token invoke, the consent
page) or a file rename, named by its label and which occurrence of that label it is ("after 2nd aws cognito-idp
CreateUserPool"), so a point means the same thing in every run even though two pools are built side by side.
The kill is a SIGKILL from inside the process (tests/crash/hook/sitecustomize.py): no handler runs, nothing is
flushed. Everything runs against a sandbox process of the harness's own on 127.0.0.1.

Used by tests/test_crash_points.py (a fast subset) and benchmarks/crash_points.py (every point).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard_helpers import free_port, stand_in_wheelhouse

HOOK = Path(__file__).parent / "hook"
RUN = ("run", "--yes", "--auto-consent")  # and --wheelhouse: the rig's stand-in wheels, nothing from PyPI
CLEANUP = ("cleanup", "--yes")
TIMEOUT = 240
# A stall outlasts the read timeout, and the service then carries the request out: the lost-answer case.
FAULT_READ_TIMEOUT = 2.0
STALL_SECONDS = 3.5
FAULT_MODES = ("throttle", "error", "hang")
READ_ONLY = re.compile(r"^aws \S+ (Get|Describe|List|Head|InitiateAuth|AdminInitiateAuth)|^http GET ")


@dataclass(frozen=True)
class Point:
    """One place to kill: before or after the n-th occurrence of a label."""

    when: str  # "before" | "after"
    n: int
    label: str

    @property
    def spec(self) -> str:
        return f"{self.when}:{self.n}:{self.label}"

    @property
    def changes_something(self) -> bool:
        return not READ_ONLY.search(self.label)

    def __str__(self) -> str:
        return f"{self.when} {self.label} #{self.n}"


def points_in(log: list[str]) -> list[Point]:
    """Every point a counted run passed, before and after each."""
    seen: collections.Counter[str] = collections.Counter()
    points = []
    for label in log:
        seen[label] += 1
        points += [Point("before", seen[label], label), Point("after", seen[label], label)]
    return points


@dataclass
class Outcome:
    point: Point
    phase: str
    reached: bool  # the kill or the fault landed: the point was reached
    finished: bool = False  # the next run (or cleanup) ended with exit 0
    duplicates: dict[str, int] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def survived(self) -> bool:
        return self.reached and self.finished and not self.duplicates and not self.orphans


class Sandbox:
    """A sandbox process of the harness's own (a port the system picks)."""

    def __init__(self) -> None:
        env = wizard_env()
        self.process = subprocess.Popen(
            # The stand-in agent: these runs test the wizard's record under kills, not an agent's code.
            [
                sys.executable,
                "-m",
                "wizard",
                "sandbox",
                "serve",
                "--port",
                "0",
                "--ready-delay",
                "0.2",
                "--stand-in-agent",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)", self.process.stdout.readline())
        if not match:
            self.close()
            raise RuntimeError("the sandbox did not announce its endpoint")
        self.endpoint = match.group(1)
        stream = self.process.stdout
        threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback)
            pass

    def fault(self, operation: str, mode: str, count: int = 1, seconds: float = 30) -> None:
        body = json.dumps({"operation": operation, "mode": mode, "count": count, "seconds": seconds}).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/__agentcore_wizard_sandbox__/faults", data=body, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback)
            pass

    def queued_faults(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.endpoint}/__agentcore_wizard_sandbox__/faults", timeout=30) as answer:  # noqa: S310
            return dict(json.loads(answer.read())["queued"])

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )

    def world(self) -> dict[str, list[str]]:
        """Everything the sandbox holds, by kind (a runtime's own workload identity goes with the runtime)."""
        idp, iam, s3 = self.client("cognito-idp"), self.client("iam"), self.client("s3")
        control, secrets, logs = (
            self.client("bedrock-agentcore-control"),
            self.client("secretsmanager"),
            self.client("logs"),
        )
        runtimes = control.list_agent_runtimes()["agentRuntimes"]
        runtime_ids = {runtime["agentRuntimeId"] for runtime in runtimes}
        buckets = [bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])]
        objects = [
            f"{bucket}/{item['Key']}"
            for bucket in buckets
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        ]
        pools = idp.list_user_pools(MaxResults=60)["UserPools"]
        return {
            "pools": sorted(pool["Name"] for pool in pools),
            "app clients": sorted(
                client["ClientName"]
                for pool in pools
                for client in idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
            ),
            "roles": sorted(role["RoleName"] for role in iam.list_roles()["Roles"]),
            "buckets": sorted(buckets),
            "objects": sorted(objects),
            "runtimes": sorted(runtime["agentRuntimeName"] for runtime in runtimes),
            "workload identities": sorted(
                workload["name"]
                for workload in control.list_workload_identities()["workloadIdentities"]
                if workload["name"] not in runtime_ids
            ),
            "credential providers": sorted(
                provider["name"] for provider in control.list_oauth2_credential_providers()["credentialProviders"]
            ),
            "secrets": sorted(secret["Name"] for secret in secrets.list_secrets().get("SecretList", [])),
            "log groups": sorted(group["logGroupName"] for group in logs.describe_log_groups().get("logGroups", [])),
        }

    def settled_world(self) -> dict[str, list[str]]:
        """The world once a request the killed process had in flight has finished in the sandbox."""
        last = self.world()
        for _ in range(20):
            time.sleep(0.15)
            now = self.world()
            if now == last:
                return now
            last = now
        return last

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_return_url() -> str:
    return f"http://localhost:{free_port()}/oauth2/callback"


def wizard_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "AGENTCORE_CRASH_", "PYTEST_")) and key != "COV_CORE_SOURCE"
    }
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1", AGENTCORE_WIZARD_SANDBOX_READY_DELAY="0.2")
    env.update(extra)
    return env


def _was_killed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == -signal.SIGKILL


class Rig:
    """A sandbox, a work folder, stand-in wheels and a dependency cache of its own: one line of crash runs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.wheelhouse = stand_in_wheelhouse(workdir / "wheelhouse")
        self.cache = workdir / "cache"
        self.sandbox = Sandbox()
        self.run_args = (*RUN, "--wheelhouse", str(self.wheelhouse))
        self._return_urls: dict[Path, str] = {}

    def close(self) -> None:
        self.sandbox.close()

    def folder(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.workdir))

    def wizard(
        self,
        folder: Path,
        args: tuple[str, ...],
        crash_at: Point | None = None,
        log: Path | None = None,
        read_timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        extra = {"PYTHONPATH": str(HOOK), "AGENTCORE_WIZARD_CACHE": str(self.cache)}
        if read_timeout is not None:
            extra["AGENTCORE_WIZARD_READ_TIMEOUT"] = str(read_timeout)
        if crash_at is not None:
            extra["AGENTCORE_CRASH_AT"] = crash_at.spec
        if log is not None:
            extra["AGENTCORE_CRASH_LOG"] = str(log)
        if args and args[0] == "run":
            # A return URL of the folder's own: on 8081 (the default) a wizard of another test or suite on this
            # machine would take the browser's redirect meant for this one, and this one would wait for ever.
            args = (*args, "--return-url", self._return_urls.setdefault(folder, free_return_url()))
        command = [sys.executable, "-m", "wizard", *args, "--sandbox-endpoint", self.sandbox.endpoint]
        try:
            return subprocess.run(
                command,
                cwd=folder,
                env=wizard_env(**extra),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as stuck:
            # A run that never ends is a failure with its own output (where it waited), not a bare timeout.
            said = stuck.stderr.decode(errors="replace") if isinstance(stuck.stderr, bytes) else stuck.stderr or ""
            return subprocess.CompletedProcess(command, 124, "", f"{said}\n[harness] no end after {TIMEOUT} s")

    def counted(self, folder: Path, args: tuple[str, ...]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """A run with every point it passes written down."""
        log = self.workdir / f"points-{os.getpid()}-{time.monotonic_ns()}"
        try:
            result = self.wizard(folder, args, log=log)
            return result, log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        finally:
            log.unlink(missing_ok=True)

    def journey_points(self) -> tuple[list[Point], list[Point], dict[str, list[str]]]:
        """A clean journey and its cleanup, counted: the points of each, and the world a journey leaves. The
        dependency layer is built before counting, as a second project finds it (the cache's own writes are not
        points: they are shared by every run of the rig)."""
        self.sandbox.reset()
        warm = self.wizard(self.folder("warm-"), self.run_args)
        if warm.returncode != 0:
            raise RuntimeError("the clean journey failed:\n" + warm.stderr[-3000:])
        self.sandbox.reset()
        folder = self.folder("count-")
        ran, journey_log = self.counted(folder, self.run_args)
        if ran.returncode != 0:
            raise RuntimeError("the clean journey failed:\n" + ran.stderr[-3000:])
        built = self.sandbox.world()
        cleaned, cleanup_log = self.counted(folder, CLEANUP)
        if cleaned.returncode != 0:
            raise RuntimeError("the clean cleanup failed:\n" + cleaned.stderr[-3000:])
        left = left_in(self.sandbox.world(), folder)
        if left:
            raise RuntimeError(f"a clean journey and cleanup leave things behind: {left}")
        return points_in(journey_log), points_in(cleanup_log), built

    def crash_journey(self, point: Point, expected: dict[str, list[str]]) -> Outcome:
        """Kill the journey at the point, run it again to the end, then clean up."""
        self.sandbox.reset()
        folder = self.folder("journey-")
        outcome = self._killed_at(point, "journey", folder, self.run_args)
        if not outcome.reached:
            return outcome
        again = self.wizard(folder, self.run_args)
        outcome.duplicates = duplicates(self.sandbox.world(), expected)
        if again.returncode != 0:
            outcome.detail = "the run after the kill failed:\n" + again.stderr[-2500:]
            return outcome
        cleaned = self.wizard(folder, CLEANUP)
        return self._cleaned_up(outcome, folder, cleaned, "kill")

    def _cleaned_up(
        self, outcome: Outcome, folder: Path, cleaned: subprocess.CompletedProcess[str], after: str
    ) -> Outcome:
        """The last cleanup must exit 0 with no traceback and leave nothing of the folder's in the sandbox."""
        outcome.orphans = left_in(self.sandbox.world(), folder)
        outcome.finished = cleaned.returncode == 0 and not traceback_in(cleaned)
        if not outcome.finished:
            outcome.detail = f"cleanup after the {after} failed:\n" + cleaned.stderr[-2500:]
        return outcome

    def _killed_at(self, point: Point, phase: str, folder: Path, args: list[str]) -> Outcome:
        """Run the wizard until the kill point; once it was killed, wait for the sandbox to settle."""
        first = self.wizard(folder, args, crash_at=point)
        outcome = Outcome(point, phase, reached=_was_killed(first))
        if not outcome.reached:
            outcome.detail = f"not reached (exit {first.returncode})"
        else:
            self.sandbox.settled_world()
        return outcome

    def crash_cleanup(self, point: Point) -> Outcome:
        """A whole journey, cleanup killed at the point, then cleanup again."""
        self.sandbox.reset()
        folder = self.folder("cleanup-")
        built = self.wizard(folder, self.run_args)
        if built.returncode != 0:
            return Outcome(point, "cleanup", reached=False, detail="the journey failed:\n" + built.stderr[-2500:])
        outcome = self._killed_at(point, "cleanup", folder, CLEANUP)
        if not outcome.reached:
            return outcome
        again = self.wizard(folder, CLEANUP)
        return self._cleaned_up(outcome, folder, again, "kill")

    def damaged(self, kind: str, expected: dict[str, list[str]], then_run: bool = True) -> Outcome:
        """A whole journey, the state file damaged, then run again (or only clean up) and clean up."""
        point = Point("damaged", 1, kind)
        phase = "damaged, run" if then_run else "damaged, cleanup"
        self.sandbox.reset()
        folder = self.folder("damaged-")
        built = self.wizard(folder, self.run_args)
        if built.returncode != 0:
            return Outcome(point, phase, reached=False, detail="the journey failed:\n" + built.stderr[-2500:])
        DAMAGE[kind](state_path(folder))
        outcome = Outcome(point, phase, reached=True)
        if then_run:
            again = self.wizard(folder, self.run_args)
            outcome.duplicates = duplicates(self.sandbox.world(), expected)
            if again.returncode != 0 or traceback_in(again):
                outcome.detail = "the run after the damage failed:\n" + again.stderr[-2500:]
                return outcome
        cleaned = self.wizard(folder, CLEANUP)
        return self._cleaned_up(outcome, folder, cleaned, "damage")

    def faulted(
        self,
        phase: str,
        operation: str,
        mode: str,
        expected: dict[str, list[str]],
        stall: float = STALL_SECONDS,
        read_timeout: float | None = FAULT_READ_TIMEOUT,
    ) -> Outcome:
        """One failure (throttle, 500, or a stall past the read timeout) on one operation of the journey or of
        its cleanup. The run may stop with a message (never a traceback); the next one must finish, with no
        duplicate, and the cleanup after it leave nothing."""
        point = Point(mode, 1, operation)
        self.sandbox.reset()
        folder = self.folder("fault-")
        if phase == "cleanup":
            built = self.wizard(folder, self.run_args)
            if built.returncode != 0:
                return Outcome(point, phase, reached=False, detail="the journey failed:\n" + built.stderr[-2500:])
        args = self.run_args if phase == "journey" else CLEANUP
        self.sandbox.fault(operation, mode, count=1, seconds=stall)
        first = self.wizard(folder, args, read_timeout=read_timeout)
        outcome = Outcome(point, phase, reached=not self.sandbox.queued_faults())
        if not outcome.reached:
            outcome.detail = f"not reached: {operation} was never called"
            return outcome
        if traceback_in(first):
            outcome.detail = "a traceback:\n" + first.stderr[-2500:]
            return outcome
        self.sandbox.settled_world()
        if phase == "journey":
            again = first if first.returncode == 0 else self.wizard(folder, self.run_args)
            outcome.duplicates = duplicates(self.sandbox.world(), expected)
            if again.returncode != 0 or traceback_in(again):
                outcome.detail = "the run after the fault failed:\n" + again.stderr[-2500:]
                return outcome
        cleaned = first if phase == "cleanup" and first.returncode == 0 else self.wizard(folder, CLEANUP)
        return self._cleaned_up(outcome, folder, cleaned, "fault")


# --- a damaged state file ---------------------------------------------------------------------------------


def _rewrite(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _into_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGE: dict[str, Any] = {
    "deleted": lambda path: path.unlink(),
    "empty": lambda path: path.write_bytes(b""),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
    "garbage": lambda path: path.write_bytes(bytes(range(256)) * 4),
    "JSON but a list": lambda path: path.write_text("[]"),
    "JSON null": lambda path: path.write_text("null"),
    "a directory": _into_directory,
    "a future schema": lambda path: _rewrite(path, lambda data: data.update(schema_version=99)),
    "no schema": lambda path: _rewrite(path, lambda data: data.pop("schema_version")),
    "a stage record not an object": lambda path: _rewrite(path, lambda data: data["stages"].update(deploy="done")),
    "the wizard's folder deleted": lambda path: shutil.rmtree(path.parent),
}


def state_path(folder: Path) -> Path:
    return folder / ".agentcore-wizard" / "state.json"


def traceback_in(result: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback (most recent call last)" in result.stdout + result.stderr


def duplicates(world: dict[str, list[str]], expected: dict[str, list[str]]) -> dict[str, int]:
    """More of a kind than one clean journey makes (names carry random suffixes: count them)."""
    return {
        kind: len(names) - len(expected.get(kind, []))
        for kind, names in world.items()
        if len(names) > len(expected.get(kind, []))
    }


def left_in(world: dict[str, list[str]], folder: Path) -> list[str]:
    """After cleanup: whatever the sandbox still holds, and any temp file a killed write left in the folder."""
    left = [f"{kind}: {name}" for kind, names in world.items() for name in names]
    left += [f"file: {path.name}" for path in folder.rglob("*.tmp")]
    return left
