"""compose.yaml and the Dockerfile: valid for Compose (checked by `docker-compose config`, which needs
no Docker engine), and every setting they use is a setting of the app.

`make install` installs Debian's docker-compose when it is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.cli import build_parser
from app.core.settings import documented_settings

REPO = Path(__file__).resolve().parent.parent
SECRETS = {"POSTGRES_PASSWORD": "owner-pw", "ATLAS_API_PASSWORD": "api-pw", "ATLAS_ETL_PASSWORD": "etl-pw",
           "ATLAS_READER_PASSWORD": "reader-pw"}
APP_SETTINGS = {env for env, _, _ in documented_settings()}


def compose(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is missing: `make install` installs it (apt-get install docker-compose)"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("ATLAS_")}
    return subprocess.run([docker_compose, "-f", str(REPO / "compose.yaml"), *args], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def resolved() -> dict:
    """compose.yaml as Compose reads it, variables filled in."""
    result = compose("config", **SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid() -> None:
    result = compose("config", "-q", **SECRETS)
    assert result.returncode == 0, result.stderr


def test_no_secret_has_a_default() -> None:
    result = compose("config", "-q")
    assert result.returncode != 0 and "POSTGRES_PASSWORD" in result.stderr
    text = (REPO / "compose.yaml").read_text()
    for secret in SECRETS:  # required (`:?`) where first used, never given a fallback (`:-`)
        assert f"${{{secret}:?" in text and f"${{{secret}:-" not in text, secret


def test_services_database_migration_and_api(resolved: dict) -> None:
    services = resolved["services"]
    assert set(services) == {"db", "migrate", "api"}
    assert services["db"]["image"] == "pgvector/pgvector:pg18"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert any(volume.startswith("pgdata:/var/lib/postgresql") for volume in services["db"]["volumes"])
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/api/health" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("migrate", "api"):
        assert services[name]["build"]["context"] == str(REPO)
    assert set(resolved["volumes"]) == {"pgdata", "atlas-state"}
    # least privilege: the API container gets the read-only role's URL, and no owner password
    api_env = services["api"]["environment"]
    assert api_env["DATABASE_URL"] == "postgresql://atlas_api:api-pw@db:5432/atlas"
    assert "owner-pw" not in yaml.safe_dump(services["api"])


def test_every_setting_compose_and_the_dockerfile_use_exists_in_the_app(resolved: dict) -> None:
    used = set()
    for name in ("migrate", "api"):
        used |= set(resolved["services"][name]["environment"])
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in re.findall(r"^ENV (.+)$", dockerfile, flags=re.M):
        used |= {assignment.split("=", 1)[0] for assignment in shlex.split(line)}
    app_like = {name for name in used if name.startswith("ATLAS_") or name in {"DATABASE_URL", "OPENAI_API_KEY"}}
    assert app_like - APP_SETTINGS == set(), "settings compose.yaml or the Dockerfile use that the app lacks"
    assert used - app_like <= {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "NUMBA_CACHE_DIR",
                               "HF_HOME"}  # the libraries' own


def test_every_command_compose_and_the_dockerfile_run_is_an_atlas_command(resolved: dict) -> None:
    commands = [" ".join(resolved["services"][name]["command"]) for name in ("migrate", "api")]
    commands += [" ".join(re.findall(r'"([^"]+)"', line)) for line in re.findall(r"^CMD (.+)$",
                                                                                  (REPO / "Dockerfile").read_text(),
                                                                                  flags=re.M)]
    invocations = [shlex.split(part.strip().removeprefix("sh -c ").strip())
                   for command in commands for part in re.split(r"&&|sh -c", command) if "atlas" in part]
    invocations = [args[args.index("atlas") + 1:] for args in invocations if "atlas" in args]
    assert len(invocations) == 5  # db upgrade, load, build, serve (api), serve (Dockerfile)
    parser = build_parser()
    parser.exit = _refuse  # type: ignore[method-assign]
    for args in invocations:
        parser.parse_args([a.replace("$$ATLAS_SAMPLE", "/data/x").replace("$ATLAS_SAMPLE", "/data/x") for a in args])


def _refuse(status: int = 0, message: str | None = None) -> None:
    raise argparse.ArgumentError(None, message or f"exit {status}")


def test_the_image_runs_as_a_user_and_serves_the_api() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, flags=re.M)
    assert re.search(r"^USER atlas$", dockerfile, flags=re.M)
    assert 'CMD ["atlas", "serve"]' in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".atlas", ".git"} <= set(ignored)
