"""`smconsole cost [NAME] [--since 7d] [--json]`: what endpoints cost; `--simulate` what scale to
zero would save; `--apply PROPOSAL` puts one in place through the scaling plan."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole import errors
from smconsole.cli.common import print_json, refuse_if_read_only, session_from_args
from smconsole.models.cost import EndpointCost, Simulation, SimulationResult

MAX_SINCE = timedelta(days=42)  # Application Auto Scaling keeps six weeks of activities
MIN_SPAN = timedelta(minutes=1)  # one CloudWatch period
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # as AWS accepts them


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("cost", parents=parents,
                            help="what endpoints cost; what scale to zero would save")
    parser.add_argument("endpoint", metavar="NAME", nargs="?", help="one endpoint (default: all)")
    parser.add_argument("--since", default="7d", help="window: 1h, 24h, 7d (up to 42d)")
    parser.add_argument("--stranded-after", default="1h",
                        help="idle time after which a non-scaling endpoint is stranded")
    parser.add_argument("--simulate", action="store_true",
                        help="replay the window's backlog through scale-to-zero proposals")
    parser.add_argument("--apply", metavar="PROPOSAL",
                        help="apply a proposal (e.g. zero-15m) through the scaling plan")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--refresh-prices", action="store_true",
                        help="read this region's prices from the AWS Pricing API first")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def duration(text: str, what: str) -> timedelta:
    from smconsole.models.logs import parse_since

    now = datetime.now(UTC)
    if not text.strip()[:1].isdigit():
        raise errors.SmconsoleError(f"--{what} {text!r}: expected a duration like 1h, 24h or 7d")
    span = now - datetime.fromtimestamp(parse_since(text, now) / 1000, UTC)
    if span < MIN_SPAN:
        raise errors.SmconsoleError(f"--{what} {text!r}: at least 1m")
    return span


def run(args: argparse.Namespace) -> int:
    since = duration(args.since, "since")
    if since > MAX_SINCE:
        raise errors.SmconsoleError(f"--since {args.since}: at most 42d (the activity record)")
    since = timedelta(seconds=round(since.total_seconds()))
    stranded_after = duration(args.stranded_after, "stranded-after")
    if (args.simulate or args.apply) and not args.endpoint:
        raise errors.SmconsoleError("--simulate and --apply need an endpoint NAME")
    if args.endpoint is not None and not ENDPOINT_NAME.match(args.endpoint):
        raise errors.SmconsoleError(f"{args.endpoint!r} is not an endpoint name (letters, digits "
                                    "and hyphens, at most 63)")
    from smconsole.services.cost import CostService

    session = session_from_args(args)
    if args.apply:
        refuse_if_read_only(session, f"cost {args.endpoint} --apply {args.apply}")
    service = CostService(session, stranded_after=stranded_after)
    if args.refresh_prices:
        count = service.refresh_prices()
        print(f"prices: {count} hosting prices for {service.region} from the Pricing API",
              file=sys.stderr)
    if args.simulate or args.apply:
        return simulate(service, args, since)
    costs = ([service.endpoint_cost(args.endpoint, since=since)] if args.endpoint
             else service.all_costs(since=since))
    if args.json:
        print_json({"region": service.region, "prices": price_source(service),
                    "notes": service.notes, "endpoints": [cost_json(c) for c in costs]})
        return 0
    for note in service.notes:
        print(f"! {note}", file=sys.stderr)
    if args.endpoint:
        print("\n".join(detail_lines(costs[0])))
    else:
        print("\n".join(table_lines(costs, since)))
    return 0


def simulate(service: Any, args: argparse.Namespace, since: timedelta) -> int:
    result = service.simulate(args.endpoint, since=since)
    if args.apply:
        chosen = next((r for r in result.proposals if r.proposal.name == args.apply), None)
        if chosen is None:
            names = ", ".join(r.proposal.name for r in result.proposals)
            raise errors.SmconsoleError(f"no proposal {args.apply!r} (proposals: {names})")
        plan = service.plan_proposal(args.endpoint, chosen.proposal)
        print("\n".join(plan.diff_lines() + [f"! {w}" for w in plan.warnings]), file=sys.stderr)
        if plan.empty:
            print_json({"applied": False, "diff": []}) if args.json else print("no changes")
            return 0
        if not args.yes and input("apply? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not applied", file=sys.stderr)
            return 1
        applied = service.apply(plan)
        if args.json:
            print_json({"proposal": chosen.proposal.name, "diff": plan.diff_lines(),
                        "applied": applied.applied, "error": applied.error,
                        "rolled_back": applied.rolled_back})
        else:
            print(applied.message())
        return 0 if applied.applied else 1
    if args.json:
        print_json(simulation_json(result))
    else:
        print("\n".join(simulation_lines(result)))
    return 0


# ---- output -------------------------------------------------------------------------------

def price_source(service: Any) -> dict[str, Any]:
    book = service.prices
    return {"shipped": book.shipped_date, "override_file": str(book.override_path),
            "cache_file": str(book.cache_path(service.region))}


def cost_json(c: EndpointCost) -> dict[str, Any]:
    out = dataclasses.asdict(c)
    out["usd_per_hour_now"] = c.usd_per_hour_now
    out["price"] = {"usd_per_hour": c.price.usd_per_hour, "source": c.price.source}
    for window, raw in zip(c.windows, out["windows"], strict=True):
        raw["usd_per_1k"] = window.usd_per_1k
    out["timeline"] = [{"start": s.start, "instances": s.instances} for s in c.timeline]
    return out


def simulation_json(s: Simulation) -> dict[str, Any]:
    out = dataclasses.asdict(s)
    for raw, result in zip([out["current"], *out["proposals"]], [s.current, *s.proposals],
                           strict=True):
        raw["policy"] = result.proposal.describe()
    return out


def money(value: float | None, digits: int = 2) -> str:
    return "price unknown" if value is None else f"${value:,.{digits}f}"


def rate(c: EndpointCost) -> str:
    if c.price.usd_per_hour is None:
        return f"{c.instance_type or '?'}: price unknown"
    return f"{c.instance_type} ${c.price.usd_per_hour:g}/h ({c.price.source})"


def table_lines(costs: list[EndpointCost], since: timedelta) -> list[str]:
    label = costs[0].windows[-1].label if costs else "7d"
    shorter = costs[0].windows[0].label if costs else "24h"
    headers = ("NAME", "INSTANCE", "N", "$/H", f"{shorter.upper()} $", f"{label.upper()} $",
               "REQUESTS", "$/1K", "IDLE $", "")
    rows = []
    for c in costs:
        day, window = c.windows[0], c.windows[-1]  # the shorter window, and the one asked for
        rows.append((
            c.name, c.instance_type or "", str(c.instances_now), short(c.usd_per_hour_now, 3),
            short(day.usd), short(window.usd), str(window.requests or 0),
            per_1k(window), short(window.idle_usd),
            "STRANDED" if c.stranded else "",
        ))
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in [headers, *rows]]


def short(value: float | None, digits: int = 2) -> str:
    """Dollars: "?" when the price is unknown; small sums keep a third decimal."""
    if value is None:
        return "?"
    return f"{value:,.{max(digits, 3) if abs(value) < 10 else digits}f}"


def per_1k(window: Any) -> str:
    if window.usd is None:
        return "?"
    return "-" if not window.requests else short(window.usd_per_1k, 4)


def detail_lines(c: EndpointCost) -> list[str]:
    bounds = f"target {c.min_capacity}..{c.max_capacity}" if c.has_target else "no scalable target"
    lines = [f"{c.name}  {rate(c)}",
             f"now: {c.instances_now} instance(s) = {money(c.usd_per_hour_now, 3)}/h, {bounds}"]
    lines.append(f"{'':6}{'inst-h':>9}{'$':>11}{'idle inst-h':>13}{'idle $':>10}"
                 f"{'requests':>10}{'$/1k req':>10}")
    for w in c.windows:
        lines.append(f"{w.label:6}{w.instance_hours:>9.2f}{short(w.usd):>11}"
                     f"{w.idle_instance_hours:>13.2f}{short(w.idle_usd):>10}"
                     f"{w.requests or 0:>10}{per_1k(w):>10}")
    if c.stranded:
        lines.append(f"STRANDED: {c.stranded_reason}")
    if c.cold_start_s is not None:
        lines.append(f"cold start: {c.cold_start_s:.0f} s (median of {c.cold_start_samples} "
                     "scale-out(s) from zero)")
    lines += [f"note: {n}" for n in c.notes]
    return lines


def wait(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.1f}m"


def simulation_lines(s: Simulation) -> list[str]:
    results: list[SimulationResult] = [s.current, *s.proposals]
    cold = f"{s.cold_start_s:.0f} s " + ("measured" if s.cold_start_measured else
                                         "(default: no scale-out from zero recorded)")
    span = f"{s.start:%Y-%m-%d %H:%M} .. {s.end:%Y-%m-%d %H:%M} UTC"
    lines = [f"{s.endpoint}: replay of {span}, cold start {cold}"]
    for r in results:
        lines.append(f"  {r.proposal.name:10} {r.proposal.describe()}")
    rows = [
        ("", [r.proposal.name for r in results]),
        ("instance-h", [f"{r.instance_hours:.2f}" for r in results]),
        ("$", [short(r.usd) for r in results]),
        ("saved $", ["-"] + [short(r.saved_usd) for r in s.proposals]),
        ("cold starts", [str(r.cold_starts) for r in results]),
        ("delayed", [f"{r.delayed_requests}/{r.requests}" for r in results]),
        ("wait p50", [wait(r.extra_wait_p50_s) for r in results]),
        ("wait p99", [wait(r.extra_wait_p99_s) for r in results]),
    ]
    width = max(12, *(len(r.proposal.name) + 2 for r in results))
    lines += [f"{label:12}" + "".join(f"{v:>{width}}" for v in values) for label, values in rows]
    lines.append("apply one: smconsole cost NAME --apply PROPOSAL")
    return lines
