"""How fast the first screen paints, and what has been imported by then.

Goals: the welcome screen paints before boto3 or moto are imported (they load off the UI thread); in a
pseudo-terminal (120x36), process start to the stage list on screen takes at most half of the quickstart CLI's
`agentcore --help` and at most 1.3x a bare Textual app. The three are measured in the same run, interleaved, so a
busy machine slows them alike. Prints figures; asserts nothing.

    python benchmarks/startup.py [--repeat 5] [--no-pty]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_keys import Terminal  # the same pseudo-terminal the key benchmark drives

PROBE = r"""
import time, sys
t0 = time.perf_counter()
import asyncio
from pathlib import Path
from importlib.metadata import entry_points
from wizard.cli import FRONT_ENDS
from wizard.session import Session
from wizard.settings import Options
t_lookup0 = time.perf_counter()
# The CLI finds the terminal UI through its entry point: what that lookup costs is part of start-up.
found = [entry for entry in entry_points(group=FRONT_ENDS) if entry.name == "tui"][0]
t_lookup = time.perf_counter() - t_lookup0
run_tui = found.load()
from screens.app import TuiPort, WizardApp
from screens.welcome import WelcomeScreen
t_import = time.perf_counter()

async def main():
    session = Session(Options(project=Path(sys.argv[1]), sandbox_endpoint="http://127.0.0.1:9"), TuiPort()).open()
    app = WizardApp(session, detect_on_start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, WelcomeScreen):
            await pilot.pause(0.001)
        await pilot.pause()
        t_paint = time.perf_counter()
        print(__import__("json").dumps({
            "import_s": t_import - t0,
            "entry_point_s": t_lookup,
            "first_paint_s": t_paint - t0,
            "boto3_loaded": "boto3" in sys.modules,
            "moto_loaded": "moto" in sys.modules,
        }))
    session.close()

asyncio.run(main())
"""


BARE_APP = r"""
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare textual app painted")

Bare().run()
"""
SIZE = (120, 36)


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(TERM="xterm-256color", COLUMNS=str(SIZE[0]), LINES=str(SIZE[1]))
    return env


def _painted(command: list[str], needles: list[str], cwd: Path) -> float:
    """Seconds from starting the process to every needle on screen (in order)."""
    started = time.perf_counter()
    terminal = Terminal(command, cwd, SIZE, _env())
    try:
        for needle in needles:
            terminal.read_until(needle)
        return time.perf_counter() - started
    finally:
        terminal.close()


def _exited(command: list[str], cwd: Path) -> float:
    """Seconds from starting the process until it has written everything and exited (a CLI's --help)."""
    started = time.perf_counter()
    terminal = Terminal(command, cwd, SIZE, _env())
    try:
        while True:
            if select.select([terminal.master], [], [], 0.05)[0]:
                try:
                    if not os.read(terminal.master, 65536):
                        break
                except OSError:
                    break  # the other end closed: it exited
            elif terminal.process.poll() is not None:
                break
        terminal.process.wait(timeout=30)
        return time.perf_counter() - started
    finally:
        terminal.close()


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def pty_figures(repeat: int) -> None:
    agentcore = shutil.which("agentcore") or str(Path(sys.executable).with_name("agentcore"))
    wizard: list[float] = []
    bare: list[float] = []
    cli: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            # The stage list (its last row, then the button under it): the welcome screen has painted.
            command = [sys.executable, "-m", "wizard", "--sandbox", "--dir", folder]
            wizard.append(_painted(command, ["Invoke the agent", "Start at stage 0"], Path(folder)))
            bare.append(_painted([sys.executable, "-c", BARE_APP], ["bare textual app painted"], Path(folder)))
            if Path(agentcore).exists():
                cli.append(_exited([agentcore, "--help"], Path(folder)))
    print(f"pseudo-terminal {SIZE[0]}x{SIZE[1]}, {repeat} runs each, interleaved:")
    print(f"  agentcore-wizard, process start -> stage list on screen: {_summary(wizard)}")
    print(f"  bare Textual app, process start -> painted:               {_summary(bare)}")
    if cli:
        print(f"  agentcore --help, process start -> exited:                {_summary(cli)}")
    ratio_bare = statistics.median(wizard) / statistics.median(bare)
    print(f"  wizard / bare Textual app: {ratio_bare:.2f}x (goal <= 1.3x)")
    if cli:
        print(f"  wizard / agentcore --help: {statistics.median(wizard) / statistics.median(cli):.2f}x (goal <= 0.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pty", action="store_true", help="only the headless figures")
    args = parser.parse_args()
    if not args.no_pty:
        pty_figures(args.repeat)
    rows = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run([sys.executable, "-c", PROBE, folder], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    paint = [row["first_paint_s"] for row in rows]
    imports = [row["import_s"] for row in rows]
    print(f"runs: {len(rows)}")
    print(f"import wizard+screens: median {statistics.median(imports) * 1000:.0f} ms")
    lookups = [row["entry_point_s"] for row in rows]
    print(f"  of which finding the terminal UI's entry point: median {statistics.median(lookups) * 1000:.0f} ms")
    print(
        f"process start -> welcome painted (headless): median {statistics.median(paint) * 1000:.0f} ms, "
        f"min {min(paint) * 1000:.0f} ms, max {max(paint) * 1000:.0f} ms"
    )
    print(f"boto3 imported before first paint: {any(row['boto3_loaded'] for row in rows)}")
    print(f"moto imported before first paint: {any(row['moto_loaded'] for row in rows)}")


if __name__ == "__main__":
    main()
