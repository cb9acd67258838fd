"""docker-compose.yml, checked without a Docker engine.

The file is validated against the Compose Specification's JSON schema as vendored by
check-jsonschema (``--builtin-schema vendor.compose-spec``, offline), once as written and once
with every ``${VAR:-default}`` replaced by its default, as ``docker compose`` would.  Then the
commands in it are parsed by the real command lines they name, and the settings that make
``--scale worker=N`` and a warm shutdown work are pinned.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from ruamel.yaml import YAML  # check-jsonschema's own YAML parser, so no extra dependency

from workers.cli import cli as workers_cli

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\})")


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation of ``$$``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}``
    in every string of ``value`` (the forms this file uses)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group("name")) or match.group("default") or ""

    return _VARIABLE.sub(replace, value)


def variables(text: str) -> dict[str, str | None]:
    """Each ``${VAR...}`` in ``text`` and its default (None when it has none)."""
    return {m.group("name"): m.group("default") for m in _VARIABLE.finditer(text) if m.group("name")}


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as ``docker compose config`` would see it with an empty environment."""
    return interpolate(YAML(typ="safe").load(COMPOSE_FILE.read_text()), env={})


def duration_s(text: str) -> float:
    """A compose duration (``40s``, ``1m30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a compose duration: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def check_compose_spec(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=60)


def test_the_compose_file_follows_the_compose_specification_as_written_and_interpolated(compose, tmp_path):
    # Given the file, and the same file with every variable at its default
    interpolated = tmp_path / "docker-compose.yml"
    with interpolated.open("w") as fh:
        YAML(typ="safe").dump(compose, fh)
    # When both are validated against the Compose Specification's schema
    for path in (COMPOSE_FILE, interpolated):
        result = check_compose_spec(path)
        # Then both pass
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def test_the_validator_rejects_a_misspelt_key(tmp_path):
    # Given the file with depends_on misspelt
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("depends_on:", "depend_on:"))
    # When it is validated, then the validator says where
    result = check_compose_spec(broken)
    assert result.returncode == 1
    assert "'depend_on' was unexpected" in result.stdout


def test_every_variable_has_a_default_and_is_described_in_env_example():
    # Given the variables the compose file reads
    used = variables(COMPOSE_FILE.read_text())
    example = (REPO_ROOT / ".env.example").read_text()
    # Then `docker compose up` works without a .env, and .env.example lists each one
    assert used, "the compose file reads no settings from the environment"
    assert [name for name, default in used.items() if default is None] == []
    assert [name for name in used if f"\n{name}=" not in f"\n{example}"] == []


def test_workers_can_scale_and_wait_for_a_healthy_redis(compose):
    worker = compose["services"]["worker"]
    # No fixed name and no host port: `--scale worker=3` would clash on either
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["init"] is True


def test_docker_stops_a_worker_only_after_the_supervisors_shutdown_timeout(compose):
    # Given the worker's shutdown timeout and Docker's grace period
    worker = compose["services"]["worker"]
    shutdown_timeout_s = float(option(worker["command"], "--shutdown-timeout"))
    # Then SIGTERM starts a warm shutdown, and Docker's SIGKILL comes later than it may last
    assert worker["stop_signal"] == "SIGTERM"
    assert duration_s(worker["stop_grace_period"]) >= shutdown_timeout_s + 5


def test_redis_is_pinned_persistent_and_health_checked(compose):
    redis = compose["services"]["redis"]
    assert re.fullmatch(r"redis:\d+(\.\d+)*(-[a-z0-9.]+)?", redis["image"]), "pin at least the major version"
    assert option(redis["command"], "--appendonly") == "yes"
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the AOF lives on a named volume"
    assert "redis-cli" in redis["healthcheck"]["test"] and "ping" in redis["healthcheck"]["test"]


def test_every_service_url_points_at_the_redis_service(compose):
    for name in ("worker", "producer"):
        assert compose["services"][name]["environment"]["JOBFLEET_URL"] == "redis://redis:6379/0"
    assert option(compose["services"]["worker"]["command"], "--url") == "redis://redis:6379/0"


def test_the_producer_command_parses_with_the_example_it_runs(compose):
    # Given the producer service: a one-shot run of examples.cluster_producer
    producer = compose["services"]["producer"]
    assert producer["entrypoint"] == ["python", "-m", "examples.cluster_producer"]
    assert producer["restart"] == "no" and producer["profiles"] == ["producer"]
    # When its command is parsed by the example's own parser
    from examples.cluster_producer import parse_args

    args = parse_args(producer["command"])
    # Then it asks for the jobs and queue the .env.example describes
    assert args.jobs == 200 and args.queue == "default"


def test_the_image_runs_the_workers_command_line(compose):
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["workers"]' in dockerfile
    assert compose["services"]["worker"]["command"][0] == "supervise"


def test_everything_the_dockerfile_copies_is_in_the_build_context():
    # Given the Dockerfile's COPY sources and what .dockerignore keeps out
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    sources = [src for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE)
               for src in line.split()[:-1]]
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    # Then each exists and is not ignored, and the packages the workers import are among them
    assert sources
    assert [src for src in sources if not (REPO_ROOT / src).exists() or src in ignored] == []
    assert {"jobs", "workers", "examples", "pyproject.toml"} <= set(sources)
    assert {"tests", ".git", ".venv", ".env"} <= ignored


def test_the_worker_command_parses_with_the_real_workers_cli(compose):
    # Given the worker's command line as compose runs it (the image's entrypoint is `workers`)
    argv = compose["services"]["worker"]["command"]
    # When the real CLI parses it, without running it
    name, *rest = argv
    command = workers_cli.get_command(click.Context(workers_cli, info_name="workers"), name)
    assert command is not None, f"`workers {name}` does not exist"
    with command.make_context(name, rest, parent=click.Context(workers_cli, info_name="workers")) as ctx:
        params = ctx.params
    # Then every option is known and has the value compose gives it
    assert name == "supervise"
    assert str(params["url"]) == "redis://redis:6379/0"
    assert int(params["processes"]) == 2


def test_the_producer_reads_jobfleet_url_as_compose_sets_it(monkeypatch):
    # Given JOBFLEET_URL in the environment, as compose sets it for the producer
    monkeypatch.setenv("JOBFLEET_URL", "redis://elsewhere:6379/3")
    from examples.cluster_producer import parse_args

    # When the producer runs without --url, then it uses that URL
    assert parse_args([]).url == "redis://elsewhere:6379/3"
