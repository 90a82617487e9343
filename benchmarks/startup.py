"""How fast the first screen paints, and what has been imported by then.

Goal: the welcome screen paints before boto3 or moto are imported (they load off the UI thread).
Prints figures; asserts nothing.

    python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
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
