"""The `serve` front end (entry point agentcore_wizard.front_ends): textual-serve's web server, which starts one
wizard process (screens/tab.py) per browser tab, with Textual's web driver: the tab's keys come from the
browser, and copy and open-link happen there (App.copy_to_clipboard, App.open_url)."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from aiohttp import web
from textual_serve.server import Server

if TYPE_CHECKING:
    from wizard.served import ServePlan

TITLE = "agentcore-wizard"
# The process each tab runs. Its options come in the environment (wizard.served.TAB_ENV), so this command line,
# which every user of the machine can read, carries no workshop join code.
TAB_COMMAND = shlex.join([sys.executable, "-m", "screens.tab"])


class WizardServer(Server):
    """textual-serve's server, saying what it serves in the wizard's words instead of its own banner."""

    def __init__(self, plan: ServePlan) -> None:
        super().__init__(TAB_COMMAND, host=plan.host, port=plan.port, title=TITLE, public_url=plan.public_url)
        self.plan = plan
        self._tabs: set[asyncio.Task[Any]] = set()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        task = asyncio.current_task()
        assert task is not None  # aiohttp runs each request in a task of its own
        self._tabs.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._tabs.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        # Ctrl+C: aiohttp would wait a minute for the open tabs' websockets to end on their own. Cancelled, each
        # closes its websocket and tells its wizard to quit (textual-serve's own clean-up), which keeps its
        # progress and lets its folder go.
        for task in list(self._tabs):
            task.cancel()
        await asyncio.gather(*self._tabs, return_exceptions=True)

    async def on_startup(self, app: web.Application) -> None:
        plan = self.plan
        if plan.workshop:
            what = f"each tab asks for a participant name, then runs the wizard in {plan.root}/<name>"
        else:
            what = f"each tab runs the wizard in {plan.root} (one tab at a time: the folder takes one wizard)"
        if plan.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {plan.host}, reachable beyond this machine.", file=sys.stderr)
        print(f"Serving the wizard to browser tabs: {what}.")
        print("Open this in a browser:")
        print(plan.url)  # on a line of its own, for people and scripts alike
        print("Ctrl+C stops the server and every tab's wizard (their progress is kept).", flush=True)


def serve(plan: ServePlan) -> int:
    os.environ.update(plan.tab.to_environment())  # textual-serve gives each tab's process this environment
    WizardServer(plan).serve()
    return 0
