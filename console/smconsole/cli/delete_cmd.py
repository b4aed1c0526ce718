"""`smconsole delete NAME [--config] [--model]`: an endpoint, and what it leaves behind."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from smconsole import errors
from smconsole.cli.common import print_json, refuse_if_read_only, session_from_args


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "delete", parents=parents, help="delete an endpoint (and its config and model)",
        description="Delete an endpoint (its autoscaling target and policies first). "
                    "Its endpoint config and model stay unless --config / --model / --all.",
    )
    parser.add_argument("endpoint", metavar="NAME")
    parser.add_argument("--config", action="store_true", help="also delete its endpoint config")
    parser.add_argument("--model", action="store_true", help="also delete its model(s)")
    parser.add_argument("--all", action="store_true", help="--config and --model")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask (required when not on a terminal)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from smconsole.models.deploy import Resource
    from smconsole.services.deploy import DeployService

    session = session_from_args(args)
    refuse_if_read_only(session, f"delete {args.endpoint}")
    sagemaker = session.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=args.endpoint)
    config_name = endpoint["EndpointConfigName"]
    models: list[str] = []
    if args.model or args.all:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        models = list(dict.fromkeys(v["ModelName"] for v in config.get("ProductionVariants", [])
                                    if v.get("ModelName")))
    # Newest first in cleanup's order: the endpoint, then its config, then its models.
    doomed = [Resource("model", m) for m in models]
    if args.config or args.all:
        doomed.append(Resource("endpoint-config", config_name))
    doomed.append(Resource("endpoint", args.endpoint))
    if not args.yes:
        _confirm(args.endpoint, [r.label() for r in reversed(doomed)])
    result = DeployService(session).cleanup(doomed)
    if args.json:
        print_json({"deleted": [_row(r) for r in result.deleted],
                    "failed": [{**_row(r), "error": why} for r, why in result.failed],
                    "kept": _kept(args, config_name)})
    else:
        for resource in result.deleted:
            print(f"deleted {resource.label()}")
        for resource, why in result.failed:
            print(f"not deleted: {resource.label()}: {why}", file=sys.stderr)
        kept = _kept(args, config_name)
        if kept:
            print(f"kept {', '.join(kept)} (--config / --model / --all delete them too)")
    return 0 if result.ok else 1


def _row(resource: Any) -> dict[str, str]:
    return {"kind": resource.kind, "name": resource.name}


def _kept(args: argparse.Namespace, config_name: str) -> list[str]:
    kept = []
    if not (args.config or args.all):
        kept.append(f"endpoint-config {config_name}")
    if not (args.model or args.all):
        kept.append("its model(s)")
    return kept


def _confirm(name: str, labels: list[str]) -> None:
    if not sys.stdin.isatty():
        raise errors.SmconsoleError(
            f"delete {name}: not on a terminal, so nothing was deleted; pass --yes to delete "
            f"without asking")
    print("about to delete:\n" + "\n".join(f"  {label}" for label in labels), file=sys.stderr)
    try:
        typed = input(f"type the endpoint name ({name}) to confirm: ")
    except EOFError:
        typed = ""
    if typed.strip() != name:
        raise errors.SmconsoleError(f"delete {name}: not confirmed; nothing was deleted")
