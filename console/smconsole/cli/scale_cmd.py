"""`smconsole scale NAME --min 0 --max 4 [--policy FILE.yaml]`: plan the diff, then apply it."""

from __future__ import annotations

import argparse

from smconsole.cli.common import print_json, refuse_if_read_only, session_from_args


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("scale", parents=parents,
                            help="edit an endpoint variant's autoscaling (bounds, policies)")
    parser.add_argument("endpoint", metavar="NAME")
    parser.add_argument("--variant", help="variant name (default: the endpoint's first)")
    parser.add_argument("--min", type=int, dest="min_capacity", help="MinCapacity (0 allowed)")
    parser.add_argument("--max", type=int, dest="max_capacity", help="MaxCapacity")
    parser.add_argument("--policy", metavar="FILE.yaml",
                        help="policies (and bounds) file; replaces the variant's policies "
                             "(see configs/scaling-*.yaml)")
    parser.add_argument("--dry-run", action="store_true", help="show the diff and stop")
    parser.add_argument("--show", action="store_true", help="describe and stop")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from smconsole.services.autoscaling import AutoscalingService, check_bounds
    from smconsole.specs.scaling import ScalingSpec, load_scaling_spec

    spec = load_scaling_spec(args.policy) if args.policy else ScalingSpec()
    bounds = {k: v for k, v in (("min_capacity", args.min_capacity),
                                ("max_capacity", args.max_capacity)) if v is not None}
    if bounds:
        lo = bounds.get("min_capacity", spec.min_capacity)
        hi = bounds.get("max_capacity", spec.max_capacity)
        if lo is not None and hi is not None:
            check_bounds(lo, hi)  # before any call: a bad edit changes nothing
        spec = spec.model_copy(update=bounds)  # bounds re-checked against the target in plan
    session = session_from_args(args)
    service = AutoscalingService(session)
    if args.show:
        state = service.describe(args.endpoint, args.variant)
        print_json(state) if args.json else print("\n".join(describe_lines(state)))
        return 0
    plan = service.plan(args.endpoint, spec, variant=args.variant,
                        replace_policies=True if args.policy else None)
    if args.dry_run or plan.empty:
        if args.json:
            print_json({"diff": plan.diff_lines(), "warnings": plan.warnings, "applied": False})
        else:
            print("\n".join(plan.diff_lines() + [f"! {w}" for w in plan.warnings]))
        return 0
    if session.read_only and not args.json:
        print("\n".join(plan.diff_lines() + [f"! {w}" for w in plan.warnings]))
    refuse_if_read_only(session, f"scale {args.endpoint}")
    result = service.apply(plan)
    if args.json:
        print_json({"diff": plan.diff_lines(), "warnings": plan.warnings,
                    "applied": result.applied, "rolled_back": result.rolled_back,
                    "error": result.error, "after": result.after})
    else:
        print("\n".join(plan.diff_lines() + [f"! {w}" for w in plan.warnings]))
        print(result.message())
    return 0 if result.applied else 1


def describe_lines(state: object) -> list[str]:
    from smconsole.models.scaling import ScalingState

    assert isinstance(state, ScalingState)
    target = state.target
    lines = [
        (f"{state.endpoint}/{state.variant} ({state.instance_type or '?'}): instances "
         f"{_n(state.current_instances)} current, {_n(state.desired_instances)} desired"),
        f"target: {target.min_capacity}..{target.max_capacity}" if target else
        "target: none registered",
    ]
    lines += [f"policy {p.name}: {p.summary()}" for p in state.policies]
    lines += [f"alarm {a.name}: {a.summary()} [{a.state or '?'}]" for a in state.alarms]
    return lines


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
