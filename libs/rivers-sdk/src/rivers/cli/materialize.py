"""``rivers materialize``: run a selection of a code location now, with live progress."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from rivers.cli.console import Console
from rivers.cli.loader import load_repository
from rivers.cli.progress import RunProgress
from rivers.errors import RiversError
from rivers.planning.plan import build_plan
from rivers.storage import Storage

__all__ = ["load_config", "parse_storage", "parse_tags", "register", "split_items"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``materialize`` command."""
    parser = subparsers.add_parser(
        "materialize",
        help="materialize assets of a code location now, in this process",
        description="Materialize a selection of assets inline, printing progress as steps "
        "finish and a summary table at the end. Exit status: 0 success, 1 run failed, "
        "2 bad input.",
    )
    parser.add_argument(
        "-m", "--module", required=True, help="module of the code location, e.g. my_pkg.pipes"
    )
    parser.add_argument(
        "--select",
        action="append",
        default=None,
        metavar="SELECTION",
        help="assets to run: keys, group:NAME, tag:K=V, +key, key*, ... (repeatable or "
        "comma-separated; default: everything)",
    )
    parser.add_argument(
        "--config", type=Path, help="run config file (YAML, JSON or TOML): {asset: {field: value}}"
    )
    parser.add_argument(
        "--partition",
        action="append",
        metavar="KEY",
        help="partition of the partitioned assets to run (repeatable: one run for all given)",
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="tag the run (repeatable)"
    )
    parser.add_argument(
        "--storage",
        default=".rivers/storage",
        help="where runs are recorded when the module sets no storage: a directory "
        "(embedded store), ws://host:port, or 'memory' (default: .rivers/storage)",
    )
    parser.set_defaults(func=run)


def parse_storage(value: str) -> Storage:
    """A Storage from a command-line value: ``memory``, ``ws://...`` or a directory."""
    if value == "memory":
        return Storage.memory()
    if value.startswith(("ws://", "wss://")):
        return Storage.connect(value)
    return Storage.embedded(value)


def load_config(path: Path | str | None) -> dict[str, Any]:
    """Read a run config file (YAML, JSON or TOML by extension); ``{}`` without one."""
    if path is None:
        return {}
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RiversError(f"cannot read config file {path}: {exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise RiversError(f"config file {path} is not valid: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RiversError(f"config file {path} must hold a mapping of asset -> fields")
    return data


def parse_tags(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict."""
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RiversError(f"--tag takes KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def split_items(items: list[str]) -> list[str]:
    """Repeated and comma-separated command-line values, flattened."""
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers materialize``."""
    console = Console()
    module, _, attribute = args.module.partition(":")
    repo = load_repository(module, attribute or None)
    config = load_config(args.config)
    tags = parse_tags(args.tag)
    selection = split_items(args.select) if args.select else None
    storage = repo.use_default_storage(parse_storage(args.storage))
    plan = build_plan(repo.snapshot, selection)
    console.line(
        f"rivers materialize {args.module}: {len(plan.steps)} step(s), storage {storage!r}"
    )
    progress = RunProgress(console, total_steps=len(plan.steps))
    partition = None
    if args.partition:
        keys = split_items(args.partition)
        partition = keys[0] if len(keys) == 1 else keys
    result = repo.materialize(
        selection, config=config, tags=tags, partition=partition, _listeners=[progress]
    )
    progress.summary(result)
    return 0 if result.success else 1
