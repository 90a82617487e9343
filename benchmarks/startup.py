"""How fast the first screen paints, and what has been imported by then.

Goals: the welcome screen paints before the session, the stage controllers, boto3 or moto are imported (they load
off the UI thread, after it); in a pseudo-terminal (120x36), process start to the stage list on screen takes at
most half of the quickstart CLI's `agentcore --help` and at most 1.3x a bare Textual app. The three are measured in
the same run, interleaved, so a busy machine slows them alike; a first round, not counted, writes the bytecode.
Prints figures; asserts nothing.

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

from tui_keys import Terminal, terminal_env  # the same pseudo-terminal the key benchmark drives

PROBE = r"""
import time, sys
t0 = time.perf_counter()
import asyncio
from wizard.cli import _front_end, options_from, parse_arguments
options = options_from(parse_arguments(["--sandbox-endpoint", "http://127.0.0.1:9", "--dir", sys.argv[1]]))
t_lookup0 = time.perf_counter()
# The CLI finds the terminal UI through its entry point: what that lookup (and the import) costs is start-up.
run_tui = _front_end("tui", "The terminal UI")
t_import = time.perf_counter()
WizardApp = run_tui.__globals__["WizardApp"]
painted = {}
open_after_paint = WizardApp._open_in_worker

def loaded(name):
    return any(module == name or module.startswith(name + ".") for module in sys.modules)

def at_first_paint(self, options):
    # Called once the first frame is rendered, before the project is opened.
    painted.update(first_paint_s=time.perf_counter() - t0, **{name: loaded(name) for name in LOOKED_FOR})
    open_after_paint(self, options)

LOOKED_FOR = ("wizard.session", "wizard.steps", "boto3", "moto")
WizardApp._open_in_worker = at_first_paint

async def main():
    app = WizardApp(opening=options, detect_on_start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while not painted:
            await pilot.pause(0.001)
    app.close_session()
    print(__import__("json").dumps({"import_s": t_import - t0, "entry_point_s": t_import - t_lookup0, **painted}))

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


def _painted(command: list[str], needles: list[str], cwd: Path) -> float:
    """Seconds from starting the process to every needle on screen (in order)."""
    started = time.perf_counter()
    terminal = Terminal(command, cwd, SIZE, terminal_env(SIZE))
    try:
        for needle in needles:
            terminal.read_until(needle)
        return time.perf_counter() - started
    finally:
        terminal.close()


def _exited(command: list[str], cwd: Path) -> float:
    """Seconds from starting the process until it has written everything and exited (a CLI's --help)."""
    started = time.perf_counter()
    terminal = Terminal(command, cwd, SIZE, terminal_env(SIZE))
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
    for round_ in range(repeat + 1):
        if round_ == 1:  # the first round wrote the bytecode (and warmed the file cache): not counted
            for figures in (wizard, bare, cli):
                figures.clear()
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
            out = subprocess.run(
                [sys.executable, "-c", PROBE, folder],
                capture_output=True,
                text=True,
                check=True,
                env=terminal_env(SIZE),
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    paint = [row["first_paint_s"] for row in rows]
    imports = [row["import_s"] for row in rows]
    print(f"runs: {len(rows)}")
    print(
        "import wizard.cli and the terminal UI, parse the command line: "
        f"median {statistics.median(imports) * 1000:.0f} ms"
    )
    lookups = [row["entry_point_s"] for row in rows]
    print(f"  of which the terminal UI's entry point and its import: median {statistics.median(lookups) * 1000:.0f} ms")
    print(
        f"process start -> welcome painted (headless): median {statistics.median(paint) * 1000:.0f} ms, "
        f"min {min(paint) * 1000:.0f} ms, max {max(paint) * 1000:.0f} ms"
    )
    for name in ("wizard.session", "wizard.steps", "boto3", "moto"):
        print(f"{name} imported before first paint: {any(row[name] for row in rows)}")


if __name__ == "__main__":
    main()
