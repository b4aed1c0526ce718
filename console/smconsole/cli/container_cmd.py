"""`smconsole container package|build|run|ping|invoke|push|check|stop|status`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from smconsole.cli.common import print_json, session_from_args


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("container", parents=parents,
                            help="package, build, run, check and push the inference container")
    actions = parser.add_subparsers(dest="container_action", metavar="ACTION", required=True)

    def action(name: str, helptext: str, fn: Any) -> argparse.ArgumentParser:
        p = actions.add_parser(name, parents=parents, help=helptext)
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=fn)
        return p

    p = action("package", "tar a model folder as model.tar.gz (model/ layout) and upload it",
               run_package)
    p.add_argument("model_dir", metavar="MODEL_DIR", type=Path)
    p.add_argument("-o", "--output", type=Path, default=Path("model.tar.gz"))
    p.add_argument("--upload", metavar="S3_URI", help="upload to this s3:// URI")

    p = action("build", "docker build the container image (output streamed)", run_build)
    p.add_argument("--context", type=Path, help="build context (default: the bundled container/)")
    p.add_argument("--tag", default="smconsole-container:latest")

    p = action("run", "run the container locally (docker, or a process without an engine)",
               run_run)
    p.add_argument("model", metavar="MODEL", type=Path, help="model folder or model.tar.gz")
    _target_args(p, url=False)
    p.add_argument("--mode", choices=("docker", "process"), help="default: docker when an "
                   "engine answers and --image is given, else process")
    p.add_argument("--image", help="image to run in docker mode")
    p.add_argument("--port", type=int, help="local port (default: a free one)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--wait", action="store_true", help="wait until /ping answers 200")
    p.add_argument("--timeout", type=float, default=480.0)

    p = action("ping", "GET /ping on a running container", run_ping)
    _target_args(p)

    p = action("invoke", "POST a file's body to /invocations", run_invoke)
    p.add_argument("body", metavar="FILE", type=Path)
    _target_args(p)
    p.add_argument("--content-type", help="default: from the file's extension")

    p = action("stop", "stop a running container (SIGTERM, SIGKILL after 30 s)", run_stop)
    _target_args(p, url=False)

    p = action("status", "docker engine, GPU, and the containers started here", run_status)

    p = action("push", "push the image to ECR (token, login, tag, push)", run_push)
    p.add_argument("--image", default="smconsole-container:latest")
    p.add_argument("--repository", help="ECR repository (default: the image's name)")
    p.add_argument("--tag", help="remote tag (default: the image's)")

    p = action("check", "preflight: start as SageMaker does, /ping within 2 s, a sample invoke",
               run_check)
    p.add_argument("model", metavar="MODEL", type=Path, help="model folder or model.tar.gz")
    p.add_argument("--mode", choices=("docker", "process"))
    p.add_argument("--image")
    p.add_argument("--sample", type=Path, help="request body file (default: a short text)")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--timeout", type=float, default=480.0,
                   help="seconds to become healthy (SageMaker's default: 480)")


def _target_args(p: argparse.ArgumentParser, url: bool = True) -> None:
    p.add_argument("--name", default="default", help="which started container (default: default)")
    if url:
        p.add_argument("--url", help="any container URL instead of a started one")


def _service(args: argparse.Namespace, aws: bool = False) -> Any:
    from smconsole.services.container import ContainerService

    return ContainerService(session_from_args(args) if aws else None)


def _env(pairs: list[str]) -> dict[str, str]:
    from smconsole.services.container import ContainerError

    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ContainerError(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def _lines(args: argparse.Namespace) -> Any:
    # With --json, progress goes to stderr so stdout stays one JSON document.
    stream = sys.stderr if args.json else sys.stdout
    return lambda line: print(line, file=stream, flush=True)


def run_package(args: argparse.Namespace) -> int:
    service = _service(args, aws=bool(args.upload))
    package = service.package(args.model_dir, args.output)
    if args.upload:
        package = service.upload(package, args.upload)
    if args.json:
        print_json(package)
    else:
        print(f"{package.path}: {package.files} files, {package.size / 1e6:.1f} MB")
        if package.uploaded_to:
            print(f"uploaded to {package.uploaded_to}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    tag = _service(args).build(args.context, args.tag, _lines(args))
    print_json({"tag": tag}) if args.json else print(f"built {tag}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    service = _service(args)
    running = service.run(args.model, name=args.name, mode=args.mode, image=args.image,
                          port=args.port, env=_env(args.env))
    if not args.json:
        print(f"{running.name}: {running.mode} at {running.url}"
              + (f" (pid {running.pid}, log {running.log_path})" if running.pid else ""))
    ping = None
    if args.wait:
        ping = service.wait_healthy(running, args.timeout)
        if not args.json:
            print(f"/ping {ping.status} ({ping.elapsed * 1000:.0f} ms)")
    if args.json:
        print_json({"running": running, "ping": ping})
    return 0


def _target(args: argparse.Namespace, service: Any) -> Any:
    return args.url if getattr(args, "url", None) else service.get(args.name)


def run_ping(args: argparse.Namespace) -> int:
    service = _service(args)
    ping = service.ping(_target(args, service))
    if args.json:
        print_json({"status": ping.status, "elapsed": ping.elapsed, "body": ping.body,
                    "healthy": ping.healthy})
    else:
        print(f"/ping {ping.status or 'no answer'} in {ping.elapsed * 1000:.0f} ms {ping.body}")
    return 0 if ping.healthy else 1


def run_invoke(args: argparse.Namespace) -> int:
    from smconsole.services.container import guess_content_type, read_body

    service = _service(args)
    body = read_body(args.body)
    answer = service.invoke(_target(args, service), body,
                            args.content_type or guess_content_type(args.body))
    if args.json:
        print_json({"status": answer.status, "elapsed": answer.elapsed,
                    "content_type": answer.content_type,
                    "body": answer.body.decode("utf-8", "replace")})
    else:
        print(f"{answer.status} in {answer.elapsed * 1000:.0f} ms", file=sys.stderr)
        sys.stdout.write(answer.body.decode("utf-8", "replace") + "\n")
    return 0 if answer.ok else 1


def run_stop(args: argparse.Namespace) -> int:
    code = _service(args).stop(args.name)
    print_json({"stopped": args.name, "exit_code": code}) if args.json else print(
        f"stopped {args.name}" + ("" if code is None else f" (exit {code})"))
    return 0


def run_status(args: argparse.Namespace) -> int:
    service = _service(args)
    status = service.docker_status()
    running = service.list_running()
    if args.json:
        print_json({"docker": status, "running": running})
    else:
        print(f"docker: {status.message}")
        print(f"gpu: {'yes' if status.gpu else 'no'}")
        for r in running:
            print(f"{r.name}: {r.mode} at {r.url}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    pushed = _service(args, aws=True).push(args.image, args.repository, args.tag, _lines(args))
    print_json(pushed) if args.json else print(f"pushed {pushed.remote}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from smconsole.services.container import DEFAULT_SAMPLE, read_body

    sample = read_body(args.sample) if args.sample else DEFAULT_SAMPLE
    emit = None if args.json else (lambda step: print(step.line(), flush=True))
    result = _service(args).check(args.model, image=args.image, mode=args.mode, sample=sample,
                                  content_type=args.content_type, env=_env(args.env),
                                  startup_timeout=args.timeout, on_step=emit)
    if args.json:
        print_json({"ok": result.ok, "mode": result.mode, "steps": result.steps,
                    "log_tail": result.log_tail})
    else:
        print(f"{'passed' if result.ok else 'FAILED'} ({result.mode} mode)")
        if result.log_tail:
            print("last container log lines:")
            print("\n".join(f"  {line}" for line in result.log_tail))
    return 0 if result.ok else 1
