"""Structural checks of ``docker-compose.yaml``, ``deploy/docker/Dockerfile`` and ``.dockerignore``.

Docker cannot run where this suite runs (there is no Docker engine: the image is never built
and compose never starts here), so these tests check what can be checked without it: every
service built from our image runs a real ``rivers`` command with real flags (parsed by the CLI's
own parser, services' commands loaded from their entry points), sets only ``RIVERS_*`` variables
that are fields of that command's settings class (with valid values), has a healthcheck, and
waits for healthy dependencies; addresses point at services that listen there; the Dockerfile
installs every package under ``libs/`` and ``services/``, copies ``examples/`` and runs
``rivers``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from rivers._service.settings import ServiceSettings
from rivers.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
STORAGE_SERVICE = "surrealdb"

# --- docker-compose.yaml -------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolate(value: Any) -> Any:
    """Compose's variable substitution, with every variable unset (so defaults apply)."""
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    text = value.replace("$$", "\0")
    text = _VARIABLE.sub(lambda m: m.group("default") or "", text)
    return text.replace("\0", "$")


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # resolves anchors and `<<` merge keys
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return {name: interpolate(spec) for name, spec in compose()["services"].items()}


def built_from_our_image(spec: dict[str, Any]) -> bool:
    build = spec.get("build")
    if build is None:
        return False
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    return (ROOT / context / dockerfile).resolve() == DOCKERFILE


def rivers_services() -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in services().items() if built_from_our_image(spec)}


def command(spec: dict[str, Any]) -> list[str]:
    cmd = spec.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


@cache
def parser() -> argparse.ArgumentParser:
    return build_parser()


def parse(name: str, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by the real ``rivers`` parser; a parse error fails the test."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser().parse_args(argv)
    except SystemExit:
        pytest.fail(
            f"compose service {name!r}: `rivers {shlex.join(argv)}` is not a valid rivers "
            f"command: {stderr.getvalue().strip()}"
        )
    if getattr(args, "func", None) is None:
        pytest.fail(f"compose service {name!r}: `rivers {shlex.join(argv)}` runs no command")
    return args


def settings_class(name: str, args: argparse.Namespace) -> type[ServiceSettings]:
    """The command's settings class: the ServiceSettings subclass of its package's settings.

    ``rivers planner`` runs ``rivers_planner.cli.run``, so ``rivers_planner.settings``, whose
    one ServiceSettings subclass is ``PlannerSettings``.
    """
    package = args.func.__module__.split(".")[0]
    try:
        module = importlib.import_module(f"{package}.settings")
    except ModuleNotFoundError:
        pytest.fail(f"compose service {name!r}: {package} has no settings module")
    classes = [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, ServiceSettings)
        and cls.__module__ == module.__name__
    ]
    if len(classes) != 1:
        pytest.fail(f"compose service {name!r}: expected one settings class in {module.__name__}")
    return classes[0]


def field_for(cls: type[ServiceSettings], variable: str) -> str | None:
    """The settings field an environment variable sets (pydantic-settings' env prefix)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    if cls.model_config.get("case_sensitive", False):
        fields = {name: name for name in cls.model_fields}
    else:
        variable, prefix = variable.lower(), prefix.lower()
        fields = {name.lower(): name for name in cls.model_fields}
    if not variable.startswith(prefix):
        return None
    return fields.get(variable[len(prefix) :])


def effective(cls: type[ServiceSettings], env: dict[str, str], field: str) -> str:
    """What a service's setting is: its compose variable, else the class default."""
    for variable, value in env.items():
        if field_for(cls, variable) == field:
            return value
    return str(cls.model_fields[field].default)


def check_value(name: str, cls: type[ServiceSettings], field: str, variable: str, value: str):  # type: ignore[no-untyped-def]
    info = cls.model_fields[field]
    try:
        annotation = (
            Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        )
        TypeAdapter(annotation).validate_strings(value)
    except ValidationError as exc:
        pytest.fail(f"compose service {name!r}: {variable}={value!r} is invalid: {exc}")


def rivers_commands() -> list[tuple[str, dict[str, Any], argparse.Namespace]]:
    return [(n, spec, parse(n, command(spec))) for n, spec in rivers_services().items()]


# --- Dockerfile ----------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs: comments dropped, continuation lines joined."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.strip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """Instructions by build stage (each starts with its FROM), global ARGs substituted."""
    args: dict[str, str] = {}
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "ARG" and not result:
            key, _, default = rest.partition("=")
            args[key] = default
            continue
        if keyword == "FROM":
            rest = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], rest)
            result.append([])
        result[-1].append((keyword, rest))
    return result


def packages() -> set[Path]:
    return {
        path.parent
        for path in ROOT.glob("*/*/pyproject.toml")
        if path.parts[-3] in {"libs", "services"}
    }


# --- tests: compose ------------------------------------------------------------------------


def test_compose_runs_storage_and_every_service_from_our_image() -> None:
    """Compose has SurrealDB 3 and the planner, UI and a code location built from our image."""
    all_services = services()
    assert all_services[STORAGE_SERVICE]["image"].startswith("surrealdb/surrealdb:v3.")
    ours = rivers_services()
    commands = {command(spec)[0] for spec in ours.values()}
    assert {"planner", "ui", "serve"} <= commands
    assert set(all_services) == {STORAGE_SERVICE, *ours}


def test_commands_are_real_rivers_commands() -> None:
    """Each service's command parses with the real `rivers` parser (services' entry points)."""
    for name, spec in rivers_services().items():
        parse(name, command(spec))


def test_environment_variables_are_settings_fields() -> None:
    """Every RIVERS_* variable a service sets is a field of its command's settings class."""
    for name, spec, args in rivers_commands():
        cls = settings_class(name, args)
        for variable, value in environment(spec).items():
            if not variable.startswith("RIVERS_"):
                continue
            field = field_for(cls, variable)
            if field is None:
                pytest.fail(f"compose service {name!r}: {variable} is no field of {cls.__name__}")
            check_value(name, cls, field, variable, value)


def test_image_environment_is_settings_fields() -> None:
    """The RIVERS_* defaults the image sets are fields of every service's settings class."""
    image_env = {}
    for keyword, rest in stages()[-1]:
        if keyword == "ENV":
            image_env.update(item.split("=", 1) for item in shlex.split(rest))
    assert image_env.get("RIVERS_HOST") == "0.0.0.0"  # noqa: S104 - a container's interface
    for name, _, args in rivers_commands():
        cls = settings_class(name, args)
        for variable, value in image_env.items():
            if variable.startswith("RIVERS_"):
                field = field_for(cls, variable)
                assert field is not None, f"{variable} is no field of {cls.__name__} ({name})"
                check_value(name, cls, field, variable, value)


def test_services_share_one_store_with_its_credentials() -> None:
    """Every service uses the SurrealDB service, with the user and password it starts with."""
    storage = services()[STORAGE_SERVICE]
    argv = command(storage)
    assert argv[0] == "start"
    user, password = argv[argv.index("--user") + 1], argv[argv.index("--pass") + 1]
    assert storage.get("volumes"), "the store needs a persistent volume"
    for name, spec in rivers_services().items():
        env = environment(spec)
        assert env["RIVERS_STORAGE_URL"] == f"ws://{STORAGE_SERVICE}:8000", name
        assert (env["RIVERS_STORAGE_USER"], env["RIVERS_STORAGE_PASSWORD"]) == (user, password)


def test_addresses_point_at_services_listening_there() -> None:
    """The gateway dials the planner's service and port; code servers advertise their name."""
    by_command = {a.func.__module__.split(".")[0]: (n, s, a) for n, s, a in rivers_commands()}
    gateway_name, gateway, gateway_args = by_command["rivers_ui"]
    planner_name, planner, planner_args = by_command["rivers_planner"]
    address = effective(
        settings_class(gateway_name, gateway_args), environment(gateway), "planner_address"
    )
    port = effective(settings_class(planner_name, planner_args), environment(planner), "grpc_port")
    assert address == f"{planner_name}:{port}"
    for name, spec, args in rivers_commands():
        cls = settings_class(name, args)
        if "advertise_host" in cls.model_fields:
            assert effective(cls, environment(spec), "advertise_host") == name


def test_every_service_has_a_healthcheck_on_its_http_port() -> None:
    """Every service has a healthcheck; ours probe /healthz on the port they serve HTTP on."""
    for name, spec in services().items():
        check = spec.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        test = check["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck {test!r}"
    for name, spec in rivers_services().items():
        test = " ".join(spec["healthcheck"]["test"])
        assert "/healthz" in test and "RIVERS_HTTP_PORT" in test, name
        port = environment(spec).get("RIVERS_HTTP_PORT")
        assert port, f"{name} sets no RIVERS_HTTP_PORT: nothing would serve /healthz"


def test_dependencies_wait_for_healthy_services() -> None:
    """Every depends_on waits for service_healthy; every rivers service waits for storage."""
    all_services = services()
    for name, spec in all_services.items():
        depends = spec.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must give conditions"
        for other, condition in depends.items():
            assert other in all_services, f"{name} depends on unknown {other!r}"
            assert condition.get("condition") == "service_healthy", f"{name} -> {other}"
    for name in rivers_services():
        assert STORAGE_SERVICE in all_services[name].get("depends_on", {}), name


def test_ui_is_published_on_port_3000() -> None:
    """The UI service publishes port 3000 (the documented http://localhost:3000)."""
    (ui,) = [spec for spec in rivers_services().values() if command(spec)[0] == "ui"]
    published = {str(p).rsplit(":", 1)[0].split(":")[-1] for p in ui.get("ports", [])}
    assert "3000" in published
    assert environment(ui)["RIVERS_HTTP_PORT"] == "3000"


# --- tests: Dockerfile ---------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    """Every stage is python:3.11-slim; the final stage copies wheels, not build tools."""
    all_stages = stages()
    assert len(all_stages) >= 2
    for stage in all_stages:
        assert stage[0][1].split()[0] == "python:3.11-slim"
    final = " ".join(rest for _, rest in all_stages[-1])
    assert "pip wheel" not in final and "apt-get" not in final


def test_dockerfile_builds_and_installs_every_package() -> None:
    """Wheels are built of every package under libs/ and services/ and installed offline."""
    build = [rest for keyword, rest in stages()[0] if keyword == "RUN"]
    wheel = [cmd for cmd in build if "pip wheel" in cmd]
    assert len(wheel) == 1, build
    targets = [arg for arg in shlex.split(wheel[0]) if "/" in arg and not arg.startswith("-")]
    covered = {
        path.resolve()
        for arg in targets
        if not arg.startswith("/")
        for path in ROOT.glob(arg.removeprefix("./").rstrip("/"))
    }
    missing = {p.relative_to(ROOT) for p in packages()} - {p.relative_to(ROOT) for p in covered}
    assert packages() and not missing, f"not built into the image: {sorted(map(str, missing))}"
    copied = {rest.split()[0] for keyword, rest in stages()[0] if keyword == "COPY"}
    assert {"libs/", "services/"} <= copied
    installs = [
        rest for keyword, rest in stages()[-1] if keyword == "RUN" and "pip install" in rest
    ]
    assert installs and "/wheels" in installs[0] and "--no-index" in installs[0]


def test_dockerfile_runs_rivers_as_a_user_with_the_examples() -> None:
    """ENTRYPOINT is `rivers`, the user is not root, examples/ is copied, /healthz is probed."""
    final = stages()[-1]
    last = dict(final)  # the last instruction of each kind is the one in force
    assert yaml.safe_load(last["ENTRYPOINT"]) == ["rivers"]
    assert last["USER"].split(":")[0] not in ("root", "0")
    copies = [shlex.split(rest) for keyword, rest in final if keyword == "COPY"]
    assert any(args[-2].rstrip("/") == "examples" for args in copies)
    assert "/healthz" in last["HEALTHCHECK"] and "urllib" in last["HEALTHCHECK"]


def test_dockerfile_exposes_every_default_port() -> None:
    """EXPOSE lists the default ports of the services' settings (3000, 7000, 7001, 7002)."""
    exposed = {
        int(port.split("/")[0])
        for keyword, rest in stages()[-1]
        if keyword == "EXPOSE"
        for port in rest.split()
    }
    defaults = set()
    for name, _, args in rivers_commands():
        cls = settings_class(name, args)
        for field in ("grpc_port", "http_port"):
            default = cls.model_fields[field].default
            if default:
                defaults.add(default)
    assert defaults >= {3000, 7000, 7001, 7002}
    assert exposed >= defaults


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    """The build context leaves out virtualenvs, local stores, caches and .git."""
    entries = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for needed in (".git", ".venv", ".rivers", "benchmarks", "**/__pycache__", ".mypy_cache"):
        assert needed in entries, needed
    for kept in ("libs", "services", "examples"):
        assert kept not in entries and f"{kept}/" not in entries
