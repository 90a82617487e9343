"""The crash-point suite's fast subset: a kill in each create window, around the files that hold secrets and
in cleanup; the state file damaged in every way after a whole journey; a stall, a 500 and a throttle on creates.

Each case: the run after it finishes with no duplicate, and cleanup leaves nothing (tests/crash/harness.py).
`python benchmarks/crash_points.py` runs every point.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash.harness import CLEANUP, DAMAGE, Outcome, Point, Rig, duplicates, left_in, state_path, traceback_in

pytestmark = pytest.mark.cli

# What one clean journey leaves in an empty sandbox (the benchmark measures it; here it is the spec).
ONE_JOURNEY = {
    "pools": 2,
    "app clients": 2,
    "roles": 1,
    "buckets": 1,
    "objects": 1,
    "runtimes": 1,
    "workload identities": 1,
    "credential providers": 1,
    "secrets": 1,
    "log groups": 0,
}
EXPECTED = {kind: [kind] * count for kind, count in ONE_JOURNEY.items()}


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    made = Rig(Path(tempfile.mkdtemp(prefix="crash-rig-")))
    try:
        yield made
    finally:
        made.close()


def _explain(outcome: Outcome) -> str:
    return f"{outcome.point}: duplicates {outcome.duplicates}, orphans {outcome.orphans}\n{outcome.detail}"


JOURNEY_KILLS = [
    Point("after", 1, "aws cognito-idp CreateUserPool"),  # a pool made, its id never seen
    Point("after", 2, "aws cognito-idp CreateUserPoolClient"),
    Point("before", 1, "rename .agentcore_identity_cognito_user.json"),  # passwords set, the files not yet there
    Point("after", 1, "aws bedrock-agentcore-control CreateOauth2CredentialProvider"),
    Point("after", 1, "aws bedrock-agentcore-control CreateWorkloadIdentity"),
    Point("after", 1, "aws iam CreateRole"),
    Point("after", 1, "aws bedrock-agentcore-control CreateAgentRuntime"),
    Point("after", 1, "aws bedrock-agentcore CompleteResourceTokenAuth"),
]


@pytest.mark.parametrize("point", JOURNEY_KILLS, ids=str)
def test_a_kill_in_the_journey_leaves_no_duplicate_and_no_orphan(rig: Rig, point: Point) -> None:
    outcome = rig.crash_journey(point, EXPECTED)
    assert outcome.reached, f"the run never reached {point}: {outcome.detail}"
    assert outcome.survived, _explain(outcome)


CLEANUP_KILLS = [
    Point("after", 1, "aws bedrock-agentcore-control DeleteAgentRuntime"),
    Point("after", 1, "aws cognito-idp DeleteUserPool"),
    Point("before", 3, "rename state.json"),
]


@pytest.mark.parametrize("point", CLEANUP_KILLS, ids=str)
def test_a_kill_in_cleanup_and_cleanup_again_leaves_nothing(rig: Rig, point: Point) -> None:
    outcome = rig.crash_cleanup(point)
    assert outcome.reached, f"cleanup never reached {point}: {outcome.detail}"
    assert outcome.survived, _explain(outcome)


def test_every_kind_of_damaged_state_file_and_the_run_finishes(rig: Rig) -> None:
    """One journey; then, one after another, each damage followed by a run that must finish with no duplicate
    (each damage hits a state file the previous rebuild wrote); then cleanup leaves nothing."""
    rig.sandbox.reset()
    folder = rig.folder("damaged-")
    assert rig.wizard(folder, rig.run_args).returncode == 0
    for kind, damage in DAMAGE.items():
        damage(state_path(folder))
        again = rig.wizard(folder, rig.run_args)
        assert again.returncode == 0 and not traceback_in(again), f"{kind}:\n{again.stderr[-3000:]}"
        assert duplicates(rig.sandbox.world(), EXPECTED) == {}, kind
        status = json.loads(state_path(folder).read_text())["stages"]
        assert all(status[key]["status"] == "done" for key in ("cognito", "provider", "workload", "deploy")), kind
    cleaned = rig.wizard(folder, CLEANUP)
    assert cleaned.returncode == 0, cleaned.stderr[-3000:]
    assert left_in(rig.sandbox.world(), folder) == []


def test_a_lost_state_file_then_only_cleanup_leaves_nothing(rig: Rig) -> None:
    outcome = rig.damaged("deleted", EXPECTED, then_run=False)
    assert outcome.survived, _explain(outcome)


FAULTS = [
    ("hang", "CreateUserPool"),  # past the read timeout, then carried out: found, not made again
    ("error", "CreateOauth2CredentialProvider"),
    ("hang", "CreateAgentRuntime"),
    ("throttle", "CreateWorkloadIdentity"),
]


@pytest.mark.parametrize(("mode", "operation"), FAULTS, ids=lambda value: str(value))
def test_a_fault_on_a_create_makes_no_duplicate(rig: Rig, mode: str, operation: str) -> None:
    outcome = rig.faulted("journey", operation, mode, EXPECTED)
    assert outcome.reached, outcome.detail
    assert outcome.survived, _explain(outcome)
