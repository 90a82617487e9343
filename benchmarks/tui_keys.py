"""Key-to-screen latency of the terminal UI, driven in a pseudo-terminal as a person drives it.

Starts `agentcore-wizard --sandbox` in a fresh folder inside a pty (120x36), presses Enter on the welcome screen,
then `n` and `p` to walk the stages forward and back, and times each key press until the new stage's title has
been written to the terminal. Prints medians and maxima; asserts nothing. Everything runs on 127.0.0.1.

    python benchmarks/tui_keys.py [--rounds 3] [--size 120x36]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

TITLES = [
    "Prerequisites",
    "Create Cognito pools",
    "Load environment variables",
    "Create agent code",
    "Configure agent with JWT auth",
    "Create credential provider",
    "Create workload identity",
    "Deploy agent",
    "Invoke the agent",
    "Cleanup",
]
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def terminal_env(size: tuple[int, int]) -> dict[str, str]:
    """The environment of a wizard run in the pseudo-terminal: no AWS settings, the terminal's size, and without
    PYTHONDONTWRITEBYTECODE (set on some machines, CI's among them): an installed copy has its bytecode compiled
    and a clone writes it on its first run, so a start-up that compiles every module each time is not what a
    person sees."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(TERM="xterm-256color", COLUMNS=str(size[0]), LINES=str(size[1]))
    return env


class Terminal:
    def __init__(self, command: list[str], cwd: Path, size: tuple[int, int], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, needle: str, timeout: float = 20.0) -> float:
        """Seconds until the plain text (escapes removed) written since the last call contains the needle."""
        started = time.perf_counter()
        wanted = needle.encode()
        buffer = b""
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                buffer += chunk
                if wanted in ESCAPES.sub(b"", buffer):
                    return time.perf_counter() - started
        raise TimeoutError(f"{needle!r} never appeared; last output: {ESCAPES.sub(b'', buffer)[-300:]!r}")

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def drain(self, quiet: float = 0.3) -> None:
        """Read until the screen has been still for a moment (animations, the footer)."""
        while select.select([self.master], [], [], quiet)[0]:
            try:
                os.read(self.master, 65536)
            except OSError:
                return

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        os.close(self.master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="120x36")
    parser.add_argument("--profile", metavar="FILE", help="run the wizard under cProfile, its stats written to FILE")
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.split("x"))
    env = terminal_env((columns, rows))
    forward: list[tuple[float, str]] = []
    backward: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "wizard", "--sandbox", "--dir", folder]
        if args.profile:
            command[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())]
        terminal = Terminal(command, Path(folder), (columns, rows), env)
        try:
            first_paint = terminal.read_until("Start at stage 0")
            terminal.drain()
            terminal.press(b"\r")
            # The first Enter: the stage screen is composed, and its stylesheet parsed, on the way.
            first_enter = terminal.read_until("Stage 0 · Prerequisites")
            terminal.drain()
            for round_ in range(args.rounds):
                for number in range(1, len(TITLES)):
                    terminal.press(b"n")
                    label = f"Stage {number} · {TITLES[number]}" if number < len(TITLES) - 1 else "Cleanup   "
                    forward.append((terminal.read_until(label), f"to stage {number}, round {round_ + 1}"))
                    terminal.drain(0.15)
                for number in range(len(TITLES) - 2, -1, -1):
                    terminal.press(b"p")
                    backward.append(
                        (
                            terminal.read_until(f"Stage {number} · {TITLES[number]}"),
                            f"to stage {number}, round {round_ + 1}",
                        )
                    )
                    terminal.drain(0.15)
        finally:
            if args.profile:  # cProfile writes its stats on a normal exit: quit, do not kill
                terminal.press(b"q")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    terminal.process.wait(timeout=10)
            terminal.close()
    print(f"first paint (process start to the welcome screen): {first_paint:.2f} s")
    print(f"first Enter (welcome screen to stage 0): {first_enter * 1000:.0f} ms")
    for name, presses in (("next (n)", forward), ("previous (p)", backward)):
        milliseconds = [value * 1000 for value, _ in presses]
        slowest, where = max(presses)
        later = [value * 1000 for value, what in presses if not what.endswith("round 1")]
        print(
            f"{name}: median {statistics.median(milliseconds):.0f} ms, max {max(milliseconds):.0f} ms "
            f"({where}; {len(presses)} presses)"
            + (
                f"; after the first round: median {statistics.median(later):.0f} ms, max {max(later):.0f} ms"
                if later
                else ""
            )
        )


if __name__ == "__main__":
    main()
