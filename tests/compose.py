"""docker-compose.yml and the Dockerfile, read the way Docker reads them, to run their services
here as plain processes (no Docker daemon on these machines).

`interpolate` does compose's variable substitution (`$$`, `${A}`, `${A:-default}`, `${A-default}`,
`${A:?error}`, `${A?error}`), defaults nested; `services(env)` gives every service with it
applied; `dockerfile_stage(n)` the instructions of one build stage.
"""

from __future__ import annotations

import json
import re
import shlex

import yaml

from tests.service import ROOT

COMPOSE = ROOT / "docker-compose.yml"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingVariable(Exception):
    """A `${A:?message}` whose variable is unset: compose stops with the message."""


def interpolate(text: str, env: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_expand(text[i + 2 : end], env))
            i = end + 1
        elif text[i] == "$" and (m := NAME.match(text, i + 1)):
            out.append(env.get(m.group(0), ""))
            i = m.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j
    raise ValueError(f"unclosed ${{ in {text!r}")


def _expand(inner: str, env: dict[str, str]) -> str:
    name = NAME.match(inner).group(0)
    rest, value = inner[len(name) :], env.get(name)
    for op in (":-", ":?", "-", "?"):
        if rest.startswith(op):
            arg = interpolate(rest[len(op) :], env)
            missing = value is None or (op.startswith(":") and value == "")
            if missing and op.endswith("?"):
                raise MissingVariable(f"{name}: {arg}")
            return arg if missing else value
    return value or ""


def _walk(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(n, env) for n in node]
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    return node


def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services(env: dict[str, str]) -> dict[str, dict]:
    """Every service, variables substituted from `env` (what .env and the shell would give)."""
    return _walk(raw(), env)["services"]


def environment(service: dict) -> dict[str, str]:
    given = service.get("environment") or {}
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    return {k: "" if v is None else str(v) for k, v in given.items()}


def healthcheck_argv(service: dict) -> list[str]:
    """The healthcheck as an argv: CMD as it is, CMD-SHELL through sh -c."""
    kind, *rest = service["healthcheck"]["test"]
    return rest if kind == "CMD" else ["sh", "-c", rest[0]]


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Each FROM's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def env_instruction(args: str) -> dict[str, str]:
    """ENV A=1 B="two words" (the key=value form only)."""
    return dict(part.split("=", 1) for part in shlex.split(args))
