"""Correctly quoted exports of the identity variables for each shell people use."""

from __future__ import annotations

import re

SHELLS = ("bash", "zsh", "fish", "powershell")


def _single_quote_posix(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _single_quote_fish(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _single_quote_powershell(value: str) -> str:
    # PowerShell also ends a single-quoted string at the typographic quotes U+2018..U+201B.
    return "'" + re.sub("(['\u2018-\u201b])", r"\1\1", value) + "'"


def exports(values: dict[str, str], shell: str) -> str:
    """Lines that set every variable in the named shell, safe for any character in the values."""
    shell = shell.lower()
    if shell in ("bash", "zsh", "sh"):
        lines = [f"export {key}={_single_quote_posix(value)}" for key, value in values.items()]
    elif shell == "fish":
        lines = [f"set -gx {key} {_single_quote_fish(value)}" for key, value in values.items()]
    elif shell in ("powershell", "pwsh"):
        lines = [f"$env:{key} = {_single_quote_powershell(value)}" for key, value in values.items()]
    else:
        raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    return "\n".join(lines) + "\n"


def unsets(names: list[str], shell: str) -> str:
    """Lines that remove these variables from the named shell's environment."""
    shell = shell.lower()
    if not names:
        return ""
    if shell in ("bash", "zsh", "sh"):
        return f"unset {' '.join(names)}\n"
    if shell == "fish":
        return "".join(f"set -e {name}\n" for name in names)
    if shell in ("powershell", "pwsh"):
        return "".join(f"Remove-Item Env:{name} -ErrorAction SilentlyContinue\n" for name in names)
    raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
