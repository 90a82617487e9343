"""The crash-point suite, all of it (tests/test_crash_points.py runs a fast subset in CI).

kills    SIGKILL right before and right after each AWS request, each of the wizard's own HTTP requests and each
         file rename of a whole journey (stages 0-8) and of its cleanup; then run again, and clean up.
damaged  after a whole journey, the state file deleted or damaged in 11 ways; run again (and, separately, only
         clean up).
faults   a throttle, a 500 and a stall past the read timeout (the service carries the request out after the
         client gave up) on each AWS operation of the journey and of its cleanup (read timeout 2 s, stall 3.5 s).
stall70  a 70 s stall on each create of the journey with the wizard's own 60 s read timeout (slow: minutes).

Each must end the same way: the next run finishes (exit 0, never a traceback) with no duplicate (no more pools,
clients, roles, buckets, objects, runtimes, workload identities, providers, secrets or log groups than one clean
journey makes), and the cleanup after it leaves nothing (no orphan in the sandbox, no temp file in the folder).

Prints figures; asserts nothing. Everything runs on 127.0.0.1, in sandboxes of its own.

    python benchmarks/crash_points.py [--suite kills,damaged,faults] [--jobs N] [--phase journey|cleanup|both]
                                      [--changes-only] [--match REGEX] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crash.harness import DAMAGE, FAULT_MODES, Outcome, Point, Rig  # noqa: E402 (tests/ is put on the path first)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="kills,damaged,faults", help="any of kills, damaged, faults, stall70")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2)), help="kills run side by side")
    parser.add_argument("--phase", choices=("journey", "cleanup", "both"), default="both")
    parser.add_argument("--changes-only", action="store_true", help="skip points on requests that only read")
    parser.add_argument("--match", default="", help="only points whose label matches this regular expression")
    parser.add_argument("--limit", type=int, default=0, help="at most this many points per phase (0: all)")
    args = parser.parse_args()

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="crash-points-"))
    rigs: list[Rig] = []
    local = threading.local()
    lock = threading.Lock()

    def rig() -> Rig:
        if not hasattr(local, "rig"):
            made = Rig(Path(tempfile.mkdtemp(prefix="rig-", dir=workdir)))
            with lock:
                rigs.append(made)
            local.rig = made
        return local.rig  # type: ignore[no-any-return]

    counter = Rig(Path(tempfile.mkdtemp(prefix="rig-", dir=workdir)))
    rigs.append(counter)
    journey, cleanup, expected = counter.journey_points()
    print(f"A clean journey passes {len(journey) // 2} points and its cleanup {len(cleanup) // 2}.", flush=True)

    def _operations(points: list[Point]) -> list[str]:
        labels = dict.fromkeys(p.label for p in points if p.label.startswith("aws ") and re.search(args.match, p.label))
        return [label.rsplit(" ", 1)[-1] for label in labels]

    def chosen(points: list[Point]) -> list[Point]:
        kept = [p for p in points if (p.changes_something or not args.changes_only) and re.search(args.match, p.label)]
        return kept[: args.limit] if args.limit else kept

    suites = set(args.suite.split(","))
    phases = ("journey", "cleanup") if args.phase == "both" else (args.phase,)
    work: list[tuple[str, str, Point]] = []
    if "kills" in suites:
        for phase in phases:
            work += [("kill", phase, point) for point in chosen(journey if phase == "journey" else cleanup)]
    if "damaged" in suites:
        work += [("damaged", "run", Point("damaged", 1, kind)) for kind in DAMAGE]
        work += [("damaged", "cleanup", Point("damaged", 1, kind)) for kind in DAMAGE]
    if "faults" in suites:
        for phase in phases:
            operations = _operations(journey if phase == "journey" else cleanup)
            work += [("fault", phase, Point(mode, 1, op)) for op in operations for mode in FAULT_MODES]
    if "stall70" in suites:
        creates = [op for op in _operations(journey) if op.startswith(("Create", "AdminCreate"))]
        work += [("stall70", "journey", Point("hang", 1, op)) for op in creates]
    print(f"{len(work)} runs, {args.jobs} side by side …", flush=True)

    def one(suite: str, phase: str, point: Point) -> Outcome:
        if suite == "kill":
            return rig().crash_journey(point, expected) if phase == "journey" else rig().crash_cleanup(point)
        if suite == "damaged":
            return rig().damaged(point.label, expected, then_run=phase == "run")
        if suite == "stall70":
            outcome = rig().faulted(phase, point.label, "hang", expected, stall=70, read_timeout=None)
            outcome.phase = "70 s stall"
            return outcome
        outcome = rig().faulted(phase, point.label, point.when, expected)
        outcome.phase = f"{phase} fault"
        return outcome

    outcomes: list[Outcome] = []
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(one, suite, phase, point) for suite, phase, point in work]
            for done, future in enumerate(as_completed(futures), 1):
                outcome = future.result()
                outcomes.append(outcome)
                mark = "ok " if outcome.survived else ("-- " if not outcome.reached else "BAD")
                print(f"[{done:4}/{len(work)}] {mark} {outcome.phase:8} {outcome.point}", flush=True)
                if outcome.reached and not outcome.survived:
                    print(_failure(outcome), flush=True)
    finally:
        for made in rigs:
            made.close()

    report(outcomes, time.perf_counter() - started)
    return 0


def _failure(outcome: Outcome) -> str:
    lines = []
    if outcome.duplicates:
        lines.append(f"      duplicates: {outcome.duplicates}")
    if outcome.orphans:
        lines.append(f"      orphans: {outcome.orphans}")
    if outcome.detail:
        lines += ["      " + line for line in outcome.detail.splitlines()[-25:]]
    return "\n".join(lines)


def report(outcomes: list[Outcome], seconds: float) -> None:
    print()
    print(f"{'':16}{'tried':>8}{'survived':>10}{'duplicates':>12}{'orphans':>9}{'not reached':>13}")
    for phase in dict.fromkeys(o.phase for o in sorted(outcomes, key=lambda o: o.phase)):
        mine = [o for o in outcomes if o.phase == phase]
        tried = [o for o in mine if o.reached]
        print(
            f"{phase:16}{len(tried):>8}{sum(o.survived for o in tried):>10}"
            f"{sum(sum(o.duplicates.values()) for o in tried):>12}{sum(len(o.orphans) for o in tried):>9}"
            f"{len(mine) - len(tried):>13}"
        )
    kills = [o for o in outcomes if o.reached and o.phase in ("journey", "cleanup")]
    kinds: dict[str, int] = {}
    for outcome in kills:
        kind = f"{outcome.point.when} {outcome.point.label.split(' ', 1)[0]}"
        kinds[kind] = kinds.get(kind, 0) + 1
    if kinds:
        print("kills by kind: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    print(f"{seconds:.0f} s in all")


if __name__ == "__main__":
    raise SystemExit(main())
