"""`smconsole deploy FILE.yaml`: plan (the diff), then create or update and wait."""

from __future__ import annotations

import argparse
import sys

from smconsole.cli.common import print_json, refuse_if_read_only, session_from_args
from smconsole.cli.progress import StatusLine


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("deploy", parents=parents,
                            help="deploy an async endpoint from a YAML spec")
    parser.add_argument("spec", metavar="FILE.yaml", help="deploy spec (see configs/deploy-*.yaml)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be created or changed, and stop")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds to wait for InService (default 3600)")
    parser.add_argument("--cleanup-on-failure", action="store_true",
                        help="delete what a failed deploy created")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from smconsole.services.deploy import DeployService
    from smconsole.specs.deploy import load_deploy_spec

    spec = load_deploy_spec(args.spec)  # validated before any call
    session = session_from_args(args)
    if session.is_local and not args.dry_run and not session.read_only:
        from smconsole.local import demo

        if demo.uses_demo_model(spec):  # as `smconsole --local` does before its first deploy
            print("smconsole: uploading the demo model and making the spec's buckets and "
                  "topics on the local stack", file=sys.stderr)
            demo.prepare_demo_assets(session, spec)
    service = DeployService(session)
    plan = service.plan(spec)
    if args.dry_run:
        if args.json:
            print_json({"plan": plan, "diff": plan.diff_lines()})
        else:
            print("\n".join(plan.diff_lines()))
        return 0
    if not args.json:
        print("\n".join(plan.diff_lines()))
    refuse_if_read_only(session, f"deploy {spec.name}")
    status = StatusLine(sys.stderr)
    progress = None if args.json else (
        lambda p: status(p.line(), says=(p.stage, p.status, p.message)))
    try:
        result = service.deploy(plan, progress, timeout=args.timeout)
    finally:
        status.end()
    cleanup = None
    if not result.ok and args.cleanup_on_failure and result.created:
        cleanup = service.cleanup(result.created)
    if args.json:
        print_json({"result": result, "ok": result.ok, "cleanup": cleanup})
    else:
        print(result.summary())
        if result.log_lines:
            print("last container log lines:")
            print("\n".join(f"  {line}" for line in result.log_lines))
        if not result.ok and result.created:
            if cleanup is None:
                print("created (delete with --cleanup-on-failure, or the deploy view's `x`):")
                print("\n".join(f"  {r.label()}" for r in result.created))
            else:
                print("deleted: " + ", ".join(r.label() for r in cleanup.deleted))
                for resource, why in cleanup.failed:
                    print(f"not deleted: {resource.label()}: {why}")
    return 0 if result.ok else 1
