"""Kill points for the crash-point suite, loaded into a wizard process through PYTHONPATH (never in normal runs).

AGENTCORE_CRASH_LOG=path       append one line per kill point the process passes: "aws <service> <Operation>" for
                               every botocore request, "http <METHOD> <path>" for the wizard's own requests (the
                               bearer-token invoke, the consent page), "rename <file name>" for every os.replace
AGENTCORE_CRASH_AT=when:n:label  SIGKILL this process right before or right after the n-th time (from 1) it
                               passes the point with that label (when: before|after). "after" a request means the
                               service has carried it out and answered, and the wizard never sees the answer.

It patches botocore.endpoint.Endpoint.make_request as that module is imported (the wizard imports boto3 late),
and os.replace at once. A kill is os.kill(getpid(), SIGKILL): no handler, no finally, no flush, as a power cut.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import signal
import sys
import threading
from typing import Any

_LOG = os.environ.get("AGENTCORE_CRASH_LOG", "")
_AT = os.environ.get("AGENTCORE_CRASH_AT", "")
_WHEN, _N, _LABEL = (_AT.split(":", 2) + ["", "", ""])[:3] if _AT else ("", "0", "")
_TARGET = int(_N or 0)
_counts: dict[str, int] = {}
_lock = threading.Lock()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _passing(kind: str, detail: str) -> tuple[bool, bool]:
    """Count one point; (kill before it, kill after it)."""
    label = f"{kind} {detail}"
    with _lock:
        n = _counts[label] = _counts.get(label, 0) + 1
        if _LOG:
            with open(_LOG, "a", encoding="utf-8") as handle:
                handle.write(label + "\n")
    hit = label == _LABEL and n == _TARGET
    return hit and _WHEN == "before", hit and _WHEN == "after"


_real_replace = os.replace


def _replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    before, after = _passing("rename", os.path.basename(os.fspath(dst)))
    if before:
        _die()
    _real_replace(src, dst, *args, **kwargs)
    if after:
        _die()


def _template(url: str) -> str:
    """A path with its ids (a runtime ARN, a pool id) as *, so that a label means the same in every run."""
    segments = url.split("?")[0].split("/")
    return "/".join("*" if len(part) > 10 and any(c.isdigit() for c in part) else part for part in segments)


def _patch_http_client() -> None:
    """The wizard's own requests that are not botocore's (the bearer-token invoke, the consent page): the standard
    library's connections only (botocore's urllib3 connections are subclasses, counted as "aws" above)."""
    import http.client

    for cls in (http.client.HTTPConnection, http.client.HTTPSConnection):
        real_request, real_getresponse = cls.request, cls.getresponse

        def request(self: Any, method: str, url: str, *args: Any, _real: Any = real_request, **kwargs: Any) -> Any:
            if type(self).__module__ != "http.client":
                return _real(self, method, url, *args, **kwargs)
            before, after = _passing("http", f"{method} {_template(url)}")
            if before:
                _die()
            self._crash_after = after
            return _real(self, method, url, *args, **kwargs)

        def getresponse(self: Any, _real: Any = real_getresponse) -> Any:
            answer = _real(self)
            if getattr(self, "_crash_after", False):
                _die()
            return answer

        cls.request = request  # type: ignore[method-assign]
        cls.getresponse = getresponse  # type: ignore[method-assign]


def _patch_endpoint(module: Any) -> None:
    real = module.Endpoint.make_request

    def make_request(self: Any, operation_model: Any, request_dict: Any) -> Any:
        service = operation_model.service_model.service_name
        before, after = _passing("aws", f"{service} {operation_model.name}")
        if before:
            _die()
        answer = real(self, operation_model, request_dict)
        if after:
            _die()
        return answer

    module.Endpoint.make_request = make_request


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.endpoint":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            real_exec(module)
            _patch_endpoint(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _LOG or _AT:
    # Only this process: a child it starts (pip, uv, a sandbox) counts nothing and is never killed.
    os.environ.pop("AGENTCORE_CRASH_LOG", None)
    os.environ.pop("AGENTCORE_CRASH_AT", None)
    os.replace = _replace
    _patch_http_client()
    sys.meta_path.insert(0, _PatchOnImport())
