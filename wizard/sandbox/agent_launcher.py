"""Starts a deployed agent in the sandbox as the managed runtime does: its entry point run as `__main__`
in its own code folder. Run by the sandbox with `python -I -S` so nothing of the wizard's own environment
(moto, its boto3) is visible: only the agent's code, then the environment built from its requirements.

The runtime contract fixes port 8080, and `BedrockAgentCoreApp.run()` has no setting for it, so the port
uvicorn is given is replaced by the one the sandbox chose for this runtime (many runtimes, sandboxes and
test suites share one machine). Standard library only: it runs before anything else is importable.

    python -I -S agent_launcher.py CODE_DIR DEPENDENCIES_DIR ENTRY_POINT PORT
"""

from __future__ import annotations

import os
import runpy
import site
import sys
import threading
import time


def _exit_with_the_sandbox() -> None:
    """A sandbox killed outright cannot stop its agents: each one leaves by itself once its parent is gone."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def main(code: str, dependencies: str, entry_point: str, port: int) -> None:
    threading.Thread(target=_exit_with_the_sandbox, daemon=True).start()
    sys.path.insert(0, code)
    if dependencies:
        site.addsitedir(dependencies)  # its .pth files too, as an installed environment has
    os.chdir(code)
    try:
        import uvicorn
    except ImportError:  # an agent without uvicorn serves however it likes, on whatever it binds
        uvicorn = None  # type: ignore[assignment]
    if uvicorn is not None:
        real_run = uvicorn.run

        def run_on_the_sandbox_port(app: object, **options: object) -> object:
            options.pop("fd", None)
            options.pop("uds", None)
            options.update(host="127.0.0.1", port=port)
            print(f"[agentcore-wizard sandbox] the agent serves on 127.0.0.1:{port}", file=sys.stderr, flush=True)
            return real_run(app, **options)  # type: ignore[arg-type]

        uvicorn.run = run_on_the_sandbox_port  # type: ignore[assignment]
    sys.argv = [entry_point]
    runpy.run_path(os.path.join(code, entry_point), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
