"""`smconsole request ID` (a request's timeline) and `smconsole doctor [NAME]` (what is wrong)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from smconsole import errors
from smconsole.cli.common import print_json, session_from_args
from smconsole.models.doctor import EndpointHealth, Finding
from smconsole.models.timeline import Timeline

MARKS = {"error": "✖", "warning": "!", "info": "·"}


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    request = sub.add_parser(
        "request", parents=parents, help="one async request's timeline, step by step",
        description="Joins the ledger, InvokeEndpointAsync's answer, the endpoint's log lines "
                    "for the inference id (one FilterLogEvents), the SNS message the watcher "
                    "read and the S3 output or failure object.",
    )
    request.add_argument("ref", metavar="ID", help="inference id, or BATCH/INDEX")
    request.add_argument("--json", action="store_true", help="print the timeline as JSON")
    request.set_defaults(handler=run_request)

    doctor = sub.add_parser(
        "doctor", parents=parents, help="what is wrong with async endpoints, and the fixes",
        description="Checks autoscaling (scale to zero that never wakes, metrics async "
                    "endpoints do not publish, cooldowns), output paths and topics, "
                    "concurrency against the container's batch size, timeouts, GPU drivers and "
                    "quotas. --fix applies the fixes the console can make, each shown as a "
                    "diff first.",
    )
    doctor.add_argument("endpoint", nargs="?", metavar="NAME", help="one endpoint (default: all)")
    doctor.add_argument("--json", action="store_true", help="print findings as JSON")
    doctor.add_argument("--fix", metavar="CODE", action="append",
                        help="apply the fix of this finding (repeatable; 'all' for every one "
                             "the console can make)")
    doctor.add_argument("--yes", action="store_true", help="apply without asking")
    doctor.set_defaults(handler=run_doctor)


# ---- request ----------------------------------------------------------------------------

def run_request(args: argparse.Namespace) -> int:
    from smconsole.ledger import Ledger
    from smconsole.services.timeline import TimelineService

    with Ledger() as ledger:
        service = TimelineService(session_from_args(args), ledger)
        timeline = service.timeline(service.find(args.ref))
    if args.json:
        print_json(timeline)
    else:
        print("\n".join(timeline_lines(timeline)))
    return 0


def timeline_lines(timeline: Timeline) -> list[str]:
    r = timeline.request
    lines = [(f"request {r.inference_id} (batch {r.batch_id}, #{r.index}) on {r.endpoint}: "
             f"{r.status.value}")]
    for step in timeline.steps:
        when = "-" * 12 if step.at is None else _clock(step.at)[:8 if step.precision >= 1 else 12]
        when = when.ljust(12)
        text = step.detail if step.present else f"missing: {step.missing}"
        lines.append(f"  {when}  {step.name:<9} {step.source:<38} {text}")
    spans = []
    for span in timeline.spans:
        spans.append(f"{span.name} {span.seconds:.3f}s ({span.basis})" if span.seconds is not None
                     else f"{span.name} unknown ({span.missing})")
    lines.append("  " + " · ".join(spans))
    lines.append(f"  instance: {timeline.instance or 'unknown (' + str(timeline.instance_missing) + ')'}")
    stored = timeline.output
    if stored is not None:
        size = f"{stored.size:,} bytes" if stored.size is not None else "size unknown"
        lines.append(f"  object: {stored.location} ({size}, {stored.content_type})")
        preview = stored.preview[:400] + ("…" if stored.truncated or len(stored.preview) > 400
                                          else "")
        lines.append(f"    {preview}")
    else:
        lines.append(f"  object: none ({timeline.output_missing})")
    note = timeline.notification
    if note is not None:
        reason = f": {note['failureReason']}" if note.get("failureReason") else ""
        lines.append(f"  notification: {note.get('invocationStatus')}{reason}")
    else:
        lines.append(f"  notification: none ({timeline.notification_missing})")
    return lines


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


# ---- doctor -----------------------------------------------------------------------------

def run_doctor(args: argparse.Namespace) -> int:
    from smconsole.ledger import Ledger
    from smconsole.services.doctor import DoctorService

    session = session_from_args(args)
    with Ledger() as ledger:
        doctor = DoctorService(session, ledger=ledger)
        healths = [doctor.check(args.endpoint)] if args.endpoint else doctor.check_all()
        fixes: list[dict[str, Any]] = []
        if args.fix:
            fixes = _apply_fixes(doctor, healths, args)
            healths = [doctor.check(h.endpoint) for h in healths]
    if args.json:
        print_json({"endpoints": [health_record(h) for h in healths], "fixes": fixes})
    else:
        for health in healths:
            print("\n".join(health_lines(health)))
    failed_fix = any(not f["applied"] for f in fixes)
    return 1 if failed_fix or any(h.worst == "error" for h in healths) else 0


def _apply_fixes(doctor: Any, healths: list[EndpointHealth],
                 args: argparse.Namespace) -> list[dict[str, Any]]:
    wanted = set(args.fix)
    chosen = [f for h in healths for f in h.findings
              if ("all" in wanted and f.fix.applicable) or f.code in wanted]
    unknown = wanted - {"all"} - {f.code for h in healths for f in h.findings}
    if unknown:
        raise errors.SmconsoleError(f"doctor --fix: no finding {', '.join(sorted(unknown))}")
    done = []
    for finding in chosen:
        if not finding.fix.applicable:
            done.append({"endpoint": finding.endpoint, "code": finding.code, "applied": False,
                         "message": "not a fix the console makes: " + "; ".join(finding.fix.steps)})
            continue
        plan = doctor.plan_fix(finding)
        out = sys.stderr if args.json else sys.stdout
        print(f"{finding.endpoint}: {finding.code}: {finding.fix.summary}", file=out)
        print("\n".join(f"  {line}" for line in plan.diff + tuple(f"! {w}" for w in plan.warnings)),
              file=out)
        if not args.yes and not _confirm("apply this change?"):
            done.append({"endpoint": finding.endpoint, "code": finding.code, "applied": False,
                         "message": "not confirmed", "diff": list(plan.diff)})
            continue
        result = doctor.apply_fix(plan)
        print(f"  {result.message}", file=out)
        done.append({"endpoint": finding.endpoint, "code": finding.code,
                     "applied": result.applied, "rolled_back": result.rolled_back,
                     "message": result.message, "diff": list(plan.diff)})
    return done


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise errors.SmconsoleError("doctor --fix: not a terminal; pass --yes to apply")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def health_record(health: EndpointHealth) -> dict[str, Any]:
    return {
        "endpoint": health.endpoint, "status": health.status, "mark": health.mark,
        "worst": health.worst, "error": health.error, "skipped": list(health.skipped),
        "findings": [finding_record(f) for f in health.findings],
    }


def finding_record(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code, "severity": finding.severity, "variant": finding.variant,
        "title": finding.title, "why": finding.why, "facts": dict(finding.facts),
        "fix": {"kind": finding.fix.kind, "summary": finding.fix.summary,
                "applicable": finding.fix.applicable, "steps": list(finding.fix.steps)},
    }


def health_lines(health: EndpointHealth) -> list[str]:
    counts = {s: sum(1 for f in health.findings if f.severity == s)
              for s in ("error", "warning", "info")}
    summary = ", ".join(f"{n} {s}{'s' if n > 1 else ''}" for s, n in counts.items() if n) \
        or "no findings"
    lines = [f"{health.mark} {health.endpoint} ({health.status}): {summary}"]
    for f in health.findings:
        lines.append(f"  {MARKS[f.severity]} {f.severity:<7} {f.code}: {f.title}")
        lines.append(f"      why: {f.why}")
        how = "--fix " + f.code if f.fix.applicable else "by hand"
        lines.append(f"      fix ({how}): {f.fix.summary}")
        lines += [f"        {step}" for step in f.fix.steps]
    lines += [f"  not checked: {s}" for s in health.skipped]
    return lines
