"""The sandbox server process (`agentcore-wizard sandbox serve`). Imports moto: keep it out of the UI."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HEALTH_PATH = "/__agentcore_wizard_sandbox__/health"
SANDBOX_KIND = "agentcore-wizard-sandbox"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_app() -> WSGIApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    started = time.time()

    def front_door(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body = json.dumps({"kind": SANDBOX_KIND, "pid": os.getpid(), "uptime": time.time() - started})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        return moto_app(environ, start_response)

    return front_door


def make_sandbox_server(host: str = "127.0.0.1", port: int = 0) -> Any:
    """A bound, not yet serving, werkzeug server; tests run it in a thread."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    return make_server(host, port, build_app(), threaded=True, request_handler=MotoRequestHandler)


def endpoint_of(server: Any) -> str:
    bound_host, bound_port = server.server_address[:2]
    return f"http://{_url_host(str(bound_host))}:{bound_port}"


def serve(host: str, port: int, ready_file: Path | None = None, announce: bool = True) -> None:
    server = make_sandbox_server(host, port)
    endpoint = endpoint_of(server)
    if ready_file is not None:
        from wizard.state import atomic_write

        atomic_write(ready_file, json.dumps({"endpoint": endpoint, "pid": os.getpid()}) + "\n")
    if announce:
        print(f"AgentCore wizard sandbox listening on {endpoint}", flush=True)
        print(
            "Nothing here reaches AWS. Use it with: agentcore-wizard --sandbox-endpoint " + endpoint,
            flush=True,
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if ready_file is not None:
            try:
                data = json.loads(ready_file.read_text())
                if data.get("pid") == os.getpid():
                    ready_file.unlink()
            except (OSError, ValueError):
                pass


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
