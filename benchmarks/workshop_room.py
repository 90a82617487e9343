"""A room of N participants at once on one shared sandbox: their journeys, then their cleanups.

Starts one sandbox server, runs N headless journeys side by side (`--participant pK`, `--auto-consent`), each in
its own folder, then N cleanups side by side, and prints finished / failed / collisions, the median and slowest
journey, and what the sandbox still holds afterwards. Asserts nothing; everything runs on 127.0.0.1.

    python benchmarks/workshop_room.py --participants 30 --through workload
    python benchmarks/workshop_room.py --participants 10            # the whole journey, deploy and consent
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# What a run's output says when two participants met on one name: the room's names are meant to make it zero.
SERVER_LOG = Path(tempfile.gettempdir()) / "workshop_room_server.log"  # kept: what the server said, for failures
COLLISIONS = re.compile(r"participant_name_taken|ConflictException|exists with other settings|BucketAlreadyOwned")


@dataclass
class Run:
    participant: str
    code: int
    seconds: float
    output: str

    @property
    def collided(self) -> bool:
        return bool(COLLISIONS.search(self.output))

    def last_error(self) -> str:
        lines = [line.strip() for line in self.output.splitlines() if "✗" in line or "Error" in line]
        return lines[-1][:160] if lines else self.output.strip().splitlines()[-1][:160] if self.output.strip() else ""


def wizard_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_server(folder: Path, command: list[str]) -> tuple[subprocess.Popen[bytes], str, str | None]:
    """The room's server (`workshop serve` when there is one, else `sandbox serve`), its endpoint and join URL."""
    ready = folder / "ready.json"
    log = open(SERVER_LOG, "wb")  # noqa: SIM115 (open for the server's whole life)
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", *command, "--ready-file", str(ready)],
        env=wizard_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start: {SERVER_LOG.read_text()}")
        time.sleep(0.05)
    data = json.loads(ready.read_text())
    return process, data["endpoint"], data.get("url")


def run_one(folder: Path, participant: str, args: list[str]) -> Run:
    project = folder / participant
    project.mkdir(exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "wizard", *args, "--participant", participant, "--dir", str(project)],
        env=wizard_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return Run(participant, done.returncode, time.perf_counter() - started, done.stdout + done.stderr)


def room(folder: Path, participants: list[str], args: list[str]) -> list[Run]:
    with ThreadPoolExecutor(max_workers=len(participants)) as pool:
        return list(pool.map(lambda p: run_one(folder, p, args), participants))


def report(title: str, runs: list[Run], wall: float) -> None:
    ok = [r for r in runs if r.code == 0]
    times = sorted(r.seconds for r in runs)
    print(
        f"{title}: {len(ok)} of {len(runs)} finished, {len(runs) - len(ok)} failed, "
        f"{sum(r.collided for r in runs)} collisions; wall {wall:.1f} s, "
        f"fastest {times[0]:.1f} s, median {statistics.median(times):.1f} s, slowest {times[-1]:.1f} s"
    )
    for run in runs:
        if run.code != 0:
            print(f"  {run.participant} exit {run.code}: {run.last_error()}")


def leftovers(endpoint: str, participants: list[str]) -> dict[str, list[str]]:
    """What the sandbox still holds that the room made (by participant name), service by service."""
    import boto3

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def ours(name: str) -> bool:
        return any(p in name for p in participants)

    control = client("bedrock-agentcore-control")
    held: dict[str, list[str]] = {
        "providers": [
            p["name"]
            for p in control.list_oauth2_credential_providers(maxResults=20)["credentialProviders"]
            if ours(p["name"])
        ],
        "workload identities": [
            w["name"] for w in control.list_workload_identities(maxResults=20)["workloadIdentities"] if ours(w["name"])
        ],
        "runtimes": [
            r["agentRuntimeName"]
            for r in control.list_agent_runtimes(maxResults=100)["agentRuntimes"]
            if ours(r["agentRuntimeName"])
        ],
        "user pools": [
            p["Name"] for p in client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] if ours(p["Name"])
        ],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"] if ours(r["RoleName"])],
        "buckets": [
            b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith("agentcore-wizard-")
        ],
    }
    return {kind: names for kind, names in held.items() if names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--through", default=None, help="last stage of each journey (default: the whole journey)")
    parser.add_argument("--no-cleanup", action="store_true", help="leave what the room made")
    parser.add_argument(
        "--sweep", action="store_true", help="reset the room with `workshop sweep` instead of N cleanups"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from wizard_helpers import stand_in_wheelhouse

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        wheels = stand_in_wheelhouse(folder / "wheelhouse")
        # The stand-in agent answers as the quickstart's would without building its environment: the room's
        # own costs are measured here, the agent's in benchmarks/sandbox_agent.py.
        server = ["sandbox", "serve", "--stand-in-agent"]
        has_workshop = subprocess.run(
            [sys.executable, "-m", "wizard", "workshop", "serve", "--help"], env=wizard_env(), capture_output=True
        )
        if has_workshop.returncode == 0:
            server = ["workshop", "serve", "--stand-in-agent", "--state-dir", str(folder / "room")]
        process, endpoint, workshop_url = start_server(folder, server)
        where = ["--workshop", workshop_url] if workshop_url else ["--sandbox-endpoint", endpoint]
        print(
            f"server: {' '.join(server)} at {endpoint}; {args.participants} participants; "
            f"journey through {args.through or 'invoke (deploy and consent included)'}; its log: {SERVER_LOG}"
        )
        try:
            participants = [f"p{k}" for k in range(1, args.participants + 1)]
            journey = ["run", "--yes", "--auto-consent", "--wheelhouse", str(wheels), *where]
            if args.through:
                journey += ["--through", args.through]
            started = time.perf_counter()
            runs = room(folder, participants, journey)
            report("journeys", runs, time.perf_counter() - started)
            if workshop_url:
                status = subprocess.run(
                    [sys.executable, "-m", "wizard", "workshop", "status", "--workshop", workshop_url],
                    env=wizard_env(),
                    capture_output=True,
                    text=True,
                )
                print("the dashboard's view (workshop status):")
                print(status.stdout.rstrip() or status.stderr.rstrip())
            if args.sweep and workshop_url:
                started = time.perf_counter()
                swept = subprocess.run(
                    [sys.executable, "-m", "wizard", "workshop", "sweep", "--workshop", workshop_url],
                    env=wizard_env(),
                    capture_output=True,
                    text=True,
                )
                print(
                    f"workshop sweep: exit {swept.returncode} in {time.perf_counter() - started:.1f} s; "
                    + (swept.stdout.strip().splitlines() or [""])[-1]
                )
                left = leftovers(endpoint, participants)
                print("left in the sandbox after the sweep: " + (json.dumps(left) if left else "nothing"))
            elif not args.no_cleanup:
                started = time.perf_counter()
                cleanups = room(folder, participants, ["cleanup", "--yes", *where])
                report("cleanups", cleanups, time.perf_counter() - started)
                left = leftovers(endpoint, participants)
                print("left in the sandbox after the cleanups: " + (json.dumps(left) if left else "nothing"))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
