"""infra/compose: the compose files against the Compose Specification's JSON schema (vendored by
check-jsonschema), before and after interpolation with .env.example, plus the wiring a schema cannot see."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "infra" / "compose"
FILES = ("compose.yaml", "compose.gpu.yaml")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal dollar.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@cache
def _validator() -> jsonschema.protocols.Validator:
    import check_jsonschema.builtin_schemas.vendor as vendor

    schema = json.loads((Path(vendor.__file__).parent / "compose-spec.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def _errors(doc) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc)]


def _load(name: str) -> dict:
    return yaml.safe_load((COMPOSE / name).read_text())


def _dotenv(text: str) -> dict[str, str]:
    pairs = (
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    return {k.strip(): v.strip() for k, v in pairs}


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation, as the spec defines it, over a loaded document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        current = env.get(name)
        if op in (":-", "-"):
            return arg if current is None or (op == ":-" and current == "") else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise KeyError(f"{name}: {arg}")
            return current
        return current or ""

    return INTERPOLATION.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def _merged() -> dict:
    """compose.yaml with the GPU overlay merged over it (mappings merge, scalars replace)."""

    def merge(base, over):
        if isinstance(base, dict) and isinstance(over, dict):
            return {k: merge(base.get(k), v) if k in base else v for k, v in over.items()} | {
                k: v for k, v in base.items() if k not in over
            }
        return over

    return merge(_load("compose.yaml"), _load("compose.gpu.yaml"))


SECRETS = {"POSTGRES_PASSWORD": "s3cret-pw", "SHARELM_OPERATOR_TOKEN": "op-token"}


def _env() -> dict[str, str]:
    env = _dotenv((COMPOSE / ".env.example").read_text())
    return env | SECRETS


@pytest.mark.parametrize("name", FILES)
def test_compose_files_match_the_compose_spec(name):
    assert _errors(_load(name)) == []


def test_interpolated_project_matches_the_compose_spec():
    for doc in (_load("compose.yaml"), _merged()):
        project = interpolate(doc, _env())
        assert _errors(project) == []
        # What is left is only what `$$` escaped: variables of the container's shell, not of compose.
        left = set(re.findall(r"\$\{(\w+)\}", json.dumps(project)))
        escaped = set(re.findall(r"\$\$\{(\w+)\}", (COMPOSE / "compose.yaml").read_text()))
        assert left == escaped == {"POSTGRES_USER", "POSTGRES_DB"}


def test_schema_rejects_a_broken_compose_file():
    doc = _load("compose.yaml")
    doc["services"]["collector"]["healthcheck"]["tests"] = doc["services"]["collector"]["healthcheck"].pop(
        "test"
    )
    doc["services"]["postgres"]["depends_on"] = {"migrate": {"condition": "service_finished"}}
    errors = _errors(doc)
    assert any(e.startswith("services.collector.healthcheck:") and "'tests'" in e for e in errors)
    assert any(e.startswith("services.postgres.depends_on:") and "service_finished" in e for e in errors)


def test_required_secrets_fail_fast_and_are_documented():
    """Compose stops with a message while a secret is unset; every variable it reads is in .env.example."""
    text = (COMPOSE / "compose.yaml").read_text() + (COMPOSE / "compose.gpu.yaml").read_text()
    required = {m["name"] for m in INTERPOLATION.finditer(text) if m["op"] in (":?", "?")}
    assert required == set(SECRETS)
    example = (COMPOSE / ".env.example").read_text()
    documented = set(_dotenv(example)) | set(re.findall(r"^# ([A-Z_]+)=", example, re.MULTILINE))
    used = {m["name"] for m in INTERPOLATION.finditer(text)} - {"TORCH_INDEX_URL"}
    assert used <= documented, used - documented
    for name in required:
        with pytest.raises(KeyError, match=name):
            interpolate(_load("compose.yaml"), {k: v for k, v in _env().items() if k != name})
    assert _dotenv(example)["POSTGRES_PASSWORD"] == "" and _dotenv(example)["SHARELM_OPERATOR_TOKEN"] == ""


def test_the_env_file_with_secrets_is_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "infra/compose/.env"], cwd=COMPOSE.parents[1], capture_output=True
    )
    assert ignored.returncode == 0, "infra/compose/.env must be git-ignored"


def test_no_secret_literals_in_the_compose_files():
    secretish = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL")
    for name in FILES:
        for service, spec in _load(name)["services"].items():
            for key, value in (spec.get("environment") or {}).items():
                if not secretish.search(key) or key.endswith("_FILE"):
                    continue
                # Either passed through from .env (null) or interpolated from it; never a literal.
                assert value is None or INTERPOLATION.search(value), f"{name}: {service}.{key}"
                if value is not None:
                    for part in re.split(r"\$\{[^}]*\}", value):
                        assert not re.search(r":[^/@:]+@", part), f"{service}.{key} has a literal password"


def test_startup_order_migrations_then_collector_then_chat():
    services = interpolate(_load("compose.yaml"), _env())["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no" and services["migrate"]["command"] == ["migrate"]
    assert services["collector"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "--no-migrate" in services["collector"]["command"]
    assert services["chat"]["depends_on"] == {"collector": {"condition": "service_healthy"}}
    # Migrations and the API are one image, against one database.
    assert services["migrate"]["image"] == services["collector"]["image"]
    url = services["collector"]["environment"]["DATABASE_URL"]
    assert url == services["migrate"]["environment"]["DATABASE_URL"]
    assert url == "postgresql://sharelm:s3cret-pw@postgres:5432/sharelm"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert _load("compose.yaml")["secrets"]["postgres_password"] == {"environment": "POSTGRES_PASSWORD"}
    # Long-running services report health; the one-shot job does not need to.
    for name in ("postgres", "collector", "chat"):
        assert services[name]["healthcheck"]["test"], name
    chat_url = services["chat"]["environment"]["SHAREDLLM_CHAT_COLLECTOR_URL"]
    assert chat_url == "http://collector:8000"
    assert set(services["chat"]["networks"]) & set(services["collector"]["networks"])


def test_builds_point_at_the_container_files():
    for name in FILES:
        for service, spec in _load(name)["services"].items():
            build = spec.get("build")
            if build and "context" in build:
                context = (COMPOSE / build["context"]).resolve()
                assert (context / build["dockerfile"]).is_file(), f"{name}: {service}"


def test_gpu_overlay_reserves_an_nvidia_gpu():
    chat = interpolate(_merged(), _env())["services"]["chat"]
    (device,) = chat["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert chat["environment"]["SHAREDLLM_CHAT_DEVICE"] == "cuda"
    assert "/cu" in chat["build"]["args"]["TORCH_INDEX_URL"]
    assert chat["build"]["dockerfile"] == "infra/docker/chat.Dockerfile"  # merged, not replaced


def test_commands_exist_in_the_service_clis():
    """The compose commands are real options of the services' Typer CLIs (their --help, run for real)."""
    services = _load("compose.yaml")["services"]
    collector = pytest.importorskip("sharelm_collector.cli")
    from typer.testing import CliRunner

    for command in (services["migrate"]["command"], services["collector"]["command"]):
        result = CliRunner().invoke(collector.app, [command[0], "--help"])
        assert result.exit_code == 0, result.output
        for option in (a for a in command if a.startswith("--")):
            assert option in result.output, (command[0], option)
    chat = pytest.importorskip("sharedllm_chat.cli")
    result = CliRunner().invoke(chat.app, [services["chat"]["command"][0], "--help"])
    assert result.exit_code == 0, result.output
    for option in (a for a in services["chat"]["command"] if a.startswith("--")):
        assert option in result.output


def test_files_need_compose_v2_and_the_readme_says_so():
    """Compose v2 features that docker-compose 1.x rejects are used, so the README must name the tool."""
    doc = _load("compose.yaml")
    assert "version" not in doc and doc["name"] == "sharelm"  # the Compose Specification, not format v1-v3
    assert any("environment" in s for s in doc["secrets"].values())  # a Compose v2 secret source
    readme = (COMPOSE.parent / "README.md").read_text()
    assert "Docker Compose v2" in readme and "docker-compose` package is 1.29" in readme
    commands = re.findall(r"^(docker[ -]compose)\b", readme, re.M)
    assert commands and set(commands) == {"docker compose"}, "the README's commands use the v2 CLI"
