"""The compose stack as Docker would run it, tested without a Docker daemon (none runs here).

What is checked: the file against the compose specification's JSON schema (the copy that the
check-jsonschema package vendors), the shape ops rely on (profiles, healthchecks, restart
policies, Redis's persistence and password), `.env.example` against the settings, the
Dockerfile's stages; and every core service's own command and healthcheck, run here as plain
processes against a Redis started from the compose file's own redis command. What needs Docker
itself (building the image, the network, Flower/Mailpit/ntfy/RabbitMQ images) is not run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import httpx
import jsonschema
import pytest
import redis as redis_lib

from notifier.core import embedded
from notifier.settings import Settings
from tests import compose
from tests.service import ROOT, Service, wait_until
from tests.sinks import free_port

CORE = {"redis", "tick", "poll", "deliver", "beat", "api"}
PROFILES = {"flower": ["tools"], "mailpit": ["tools"], "ntfy": ["push"], "rabbitmq": ["rabbitmq"]}
PASSWORD = f"compose-test-{secrets.token_hex(8)}"


def compose_schema() -> dict:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


def schema_errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_is_valid_against_the_compose_specification():
    assert schema_errors(compose.raw()) == []
    # the schema is strict enough to notice a mistake (a typo in a key, a wrong type)
    broken = compose.raw()
    broken["services"]["poll"]["helthcheck"] = broken["services"]["poll"].pop("healthcheck")
    broken["services"]["redis"]["restart"] = ["always"]
    assert len(schema_errors(broken)) >= 2


def test_core_services_run_by_default_and_extras_sit_behind_profiles():
    services = compose.services({"REDIS_PASSWORD": PASSWORD})
    assert {name for name, s in services.items() if not s.get("profiles")} == CORE
    assert {name: s["profiles"] for name, s in services.items() if s.get("profiles")} == PROFILES


def test_every_service_has_a_healthcheck_and_a_restart_policy():
    for name, service in compose.services({"REDIS_PASSWORD": PASSWORD}).items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] == "unless-stopped", name


def test_redis_persists_never_evicts_needs_a_password_and_is_not_published():
    with pytest.raises(compose.MissingVariable, match="REDIS_PASSWORD"):
        compose.services({})
    redis_service = compose.services({"REDIS_PASSWORD": PASSWORD})["redis"]
    conf = (ROOT / "config" / "redis.conf").read_text().splitlines()
    assert {"appendonly yes", "maxmemory-policy noeviction", "protected-mode yes"} <= set(conf)
    assert redis_service["command"][2:4] == ["--requirepass", PASSWORD]
    assert "ports" not in redis_service and "redis-data:/data" in redis_service["volumes"]


def test_the_workers_use_the_broker_url_and_redis_stays_the_store():
    services = compose.services({"REDIS_PASSWORD": PASSWORD, "NOTIFIER_BROKER_URL": "amqp://u:p@rabbitmq//"})
    for name in CORE - {"redis"}:
        env = compose.environment(services[name])
        assert env["REDIS_URL"] == f"redis://:{PASSWORD}@redis:6379/0", name
        assert env["NOTIFIER_BROKER_URL"] == "amqp://u:p@rabbitmq//", name
        assert services[name]["depends_on"]["rabbitmq"]["required"] is False, name
    elsewhere = compose.services(
        {"REDIS_PASSWORD": PASSWORD, "REDIS_URL": "rediss://:pw@redis.internal:6380/0"}
    )
    assert compose.environment(elsewhere["poll"])["REDIS_URL"] == "rediss://:pw@redis.internal:6380/0"


def test_env_example_names_every_setting():
    text = (ROOT / ".env.example").read_text()
    named = {line.lstrip("# ").split("=", 1)[0] for line in text.splitlines() if "=" in line}
    for field, info in Settings.model_fields.items():
        env_name = info.validation_alias or f"NOTIFIER_{field.upper()}"
        assert env_name in named, env_name
    assert "REDIS_PASSWORD" in named


def test_the_image_is_built_in_two_stages_from_the_lock_and_runs_as_a_user():
    build, final = compose.dockerfile_stages()
    assert any(k == "RUN" and "pip install -c requirements.lock ." in a for k, a in build)
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert not any(k == "RUN" and "pip install" in a for k, a in final), "nothing is built in the final image"
    entrypoint = [compose.exec_form(a) for k, a in final if k == "ENTRYPOINT"][-1]
    assert entrypoint == ["notifier"]


def local_argv(argv: list[str], redis_port: int, api_port: int) -> list[str]:
    """A container's command made to run here: our Python, our ports."""
    mapped = [sys.executable if a == "python" else a for a in argv]
    return [
        a.replace("redis-cli", f"redis-cli -p {redis_port}").replace(
            "127.0.0.1:8000", f"127.0.0.1:{api_port}"
        )
        for a in mapped
    ]


def local_env(spec: dict, name: str, tmp: Path, redis_port: int, api_port: int) -> dict[str, str]:
    """The container's environment, with the compose network's `redis` host made 127.0.0.1:PORT."""
    env = {
        k: v.replace("@redis:6379", f"@127.0.0.1:{redis_port}") for k, v in compose.environment(spec).items()
    }
    # per container: its own data dir (the image's NOTIFIER_DATA_DIR) and hostname; the API binds
    # loopback here where the container binds 0.0.0.0 inside its own network namespace
    env.update(NOTIFIER_DATA_DIR=str(tmp / name / "data"), NOTIFIER_NODE_NAME=name)
    env.update(NOTIFIER_API_HOST="127.0.0.1", NOTIFIER_API_PORT=str(api_port))
    return env


def start_compose_redis(service: Service, spec: dict, tmp: Path, port: int) -> None:
    """The compose file's redis command, with its config file taken from the mounted volume."""
    mounts = {v.split(":")[1]: str(ROOT / v.split(":")[0]) for v in spec["volumes"] if v.startswith("./")}
    binary = shutil.which("redis-server") or embedded.server_binary()
    argv = [binary, *(mounts.get(a, a) for a in spec["command"][1:])]
    (tmp / "redis").mkdir()
    service.spawn("redis", [*argv, "--port", str(port), "--bind", "127.0.0.1"], cwd=tmp / "redis")


def healthy(argv: list[str], env: dict[str, str]) -> bool:
    done = subprocess.run(argv, env={**os.environ, **env}, cwd=ROOT, capture_output=True, timeout=20)
    return done.returncode == 0


@pytest.mark.e2e
def test_each_core_service_command_runs_here_and_every_healthcheck_passes(tmp_path):
    services = compose.services({"REDIS_PASSWORD": PASSWORD})
    redis_port, api_port = free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_") and k != "REDIS_URL"}
    with Service({}, tmp_path) as service:
        service.env = {**base, "PYTHONUNBUFFERED": "1"}
        start_compose_redis(service, services["redis"], tmp_path, redis_port)
        bare = redis_lib.Redis(port=redis_port, socket_connect_timeout=1)
        assert wait_until(lambda: _answers(bare), timeout=15), service.logs()
        with pytest.raises(redis_lib.AuthenticationError):
            bare.ping()
        authed = redis_lib.Redis(port=redis_port, password=PASSWORD)
        assert authed.config_get("appendonly")["appendonly"] == "yes"
        assert authed.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"

        # `docker compose up --scale poll=2`: two containers of one service, two hostnames
        instances = {"tick": "tick", "poll-1": "poll", "poll-2": "poll", "deliver": "deliver"}
        instances |= {"beat": "beat", "api": "api"}
        checks = {}
        for name, of in instances.items():
            env = local_env(services[of], name, tmp_path, redis_port, api_port)
            service.start(name, *services[of]["command"], env=env)
            checks[name] = (local_argv(compose.healthcheck_argv(services[of]), redis_port, api_port), env)
        redis_env = compose.environment(services["redis"])
        if shutil.which("redis-cli"):
            checks["redis"] = (
                local_argv(compose.healthcheck_argv(services["redis"]), redis_port, 0),
                redis_env,
            )

        def failing():
            return [name for name, (argv, env) in checks.items() if not healthy(argv, env)]

        assert wait_until(lambda: not failing(), timeout=120, interval=1), (failing(), service.logs())
        ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5).json()
        assert ready["checks"]["workers"]["alive"] == {"tick": 1, "poll": 2, "deliver": 1}
        printed = [n for n in instances if "admin token (shown once" in (tmp_path / f"{n}.log").read_text()]
        assert len(printed) == 1, printed  # whichever started first, and no other


def _answers(client) -> bool:
    try:
        client.ping()
    except redis_lib.AuthenticationError:
        return True
    except redis_lib.RedisError:
        return False
    return True


@pytest.mark.e2e
def test_the_image_entrypoint_runs_as_a_plain_process_and_stops_on_sigterm(tmp_path):
    """ENTRYPOINT + CMD with the image's ENV: `notifier run`, embedded Redis, ready, SIGTERM."""
    final = compose.dockerfile_stages()[-1]
    argv = [compose.exec_form(a) for k, a in final if k == "ENTRYPOINT"][-1]
    argv += [compose.exec_form(a) for k, a in final if k == "CMD"][-1]
    image_env = {}
    for args in (a for k, a in final if k == "ENV"):
        image_env |= compose.env_instruction(args)
    assert image_env["NOTIFIER_DATA_DIR"].startswith("/home/notifier/")
    port = free_port()
    # the image's paths and its all-interfaces bind are the container's; here, a tmp dir and loopback
    image_env |= {"NOTIFIER_DATA_DIR": str(tmp_path / "home"), "NOTIFIER_API_HOST": "127.0.0.1"}
    image_env |= {
        "NOTIFIER_API_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_") and k != "REDIS_URL"}
    with Service({}, tmp_path) as service:
        service.env = base
        proc = service.spawn(
            "image", [shutil.which(argv[0], path=image_env["PATH"]), *argv[1:]], env=image_env
        )
        ready = wait_until(lambda: _ready(port), timeout=90, interval=0.5)
        assert ready, service.logs()
        os.killpg(proc.pid, 15)
        assert proc.wait(timeout=15) == 0
        service.procs.clear()
    assert (tmp_path / "image.log").read_text().count("admin token (shown once") == 1


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False
