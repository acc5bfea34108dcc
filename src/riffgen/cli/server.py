"""``riffgen serve``: the inference server and web app."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from riffgen.cli._shared import add_decoder_flag, finite_float
from riffgen.errors import RiffgenError


def register(subparsers: argparse._SubParsersAction) -> None:
    from riffgen.models import DEFAULT_MODEL  # import-light by design

    p = subparsers.add_parser(
        "serve",
        help="run the inference server and web app",
        description="Serve the web app at / and the API (/run_inference/, /api/v1/..., docs at "
        "/docs). Example: riffgen serve --model riffusion/riffusion-model-v1 --port 3013",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model id or path; 'debug' (random debug model) or 'fake' (tones, no "
        "weights) to try the web app",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3013)
    p.add_argument(
        "--device",
        action="append",
        default=None,
        help="device to run a model worker on; repeat for several (default: auto)",
    )
    p.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default=None)
    p.add_argument("--lora", default=None, help="LoRA weights to load into the model")
    p.add_argument("--scheduler", default="pndm")
    add_decoder_flag(p)  # the default of requests that name no decoder (and /run_inference/)
    p.add_argument(
        "--api-key",
        default=None,
        help="require this key in the X-API-Key header (or env RIFFGEN_API_KEY)",
    )
    p.add_argument(
        "--cors",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow cross-origin requests from ORIGIN (repeatable, '*' for any)",
    )
    p.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web page origin (https://music.example.org) besides the server's own that may "
        "POST and open the jam websocket, without CORS read access (repeatable, '*' for any)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name the server answers to besides localhost, IP addresses, --host and the "
        "origins' names, e.g. behind a proxy (repeatable, '*' for any)",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=4,
        help="jobs waiting or running per worker before 503 (default 4)",
    )
    p.add_argument("--timeout", type=finite_float, default=300.0, help="seconds per request")
    p.add_argument(
        "--header-timeout",
        type=finite_float,
        default=10.0,
        metavar="S",
        help="close connections whose request headers take longer (default 10 s)",
    )
    p.add_argument(
        "--body-timeout",
        type=finite_float,
        default=120.0,
        metavar="S",
        help="answer 408 to request bodies that take longer, or pause for min(S, 15 s) "
        "(default 120 s)",
    )
    p.add_argument("--max-upload-mb", type=finite_float, default=20.0)
    p.add_argument("--max-audio-s", type=finite_float, default=30.0)
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    _add_ray_flags(p)
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from riffgen.server import ServerConfig, create_app, default_registry
    from riffgen.server.loader import build_pool
    from riffgen.server.transport import uvicorn_options

    if not 0 < args.port < 65536:
        raise RiffgenError(f"port must be 1-65535, got {args.port}")
    if not args.header_timeout > 0:
        raise RiffgenError(f"--header-timeout must be > 0 s, got {args.header_timeout}")
    ray_options = _ray_options(args)  # bad --ray flags: one line, before anything starts
    api_key = args.api_key or os.environ.get("RIFFGEN_API_KEY") or None
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if not _is_loopback(args.host) and not api_key:
        print(
            f"riffgen: warning: serving on {args.host} without --api-key: anyone who can reach "
            "this address can use the model",
            file=sys.stderr,
        )
    try:
        config = ServerConfig(
            api_key=api_key,
            cors_origins=tuple(args.cors),
            allowed_origins=tuple(args.allowed_origin),
            allowed_hosts=_served_host_names(args),
            max_queue=args.max_queue,
            request_timeout_s=args.timeout,
            body_timeout_s=args.body_timeout,
            body_idle_timeout_s=min(args.body_timeout, 15.0),
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_audio_s=args.max_audio_s,
            max_steps=args.max_steps,
            model_name=args.model,
            decoder=args.decoder,
        )
    except ValueError as exc:
        raise RiffgenError(str(exc)) from None
    if ray_options is not None:
        return _serve_ray(args, config, ray_options)
    pool = build_pool(
        args.model,
        devices=args.device or [None],
        max_queue=args.max_queue,
        dtype=args.dtype,
        lora=args.lora,
        scheduler=args.scheduler,
    )
    registry = default_registry()
    if args.model == "fake" and not registry.list():
        from riffgen.diffusion.fake import fake_seed_images
        from riffgen.server.seeds import DictSeedRegistry

        registry = DictSeedRegistry(fake_seed_images())
    app = create_app(pool, registry, config)
    print(
        f"riffgen: serving {args.model} at http://{args.host}:{args.port}/ (API docs at /docs)",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        **uvicorn_options(
            header_timeout_s=args.header_timeout, max_header_bytes=config.max_header_bytes
        ),
    )
    return 0


def _served_host_names(args: argparse.Namespace) -> tuple[str, ...]:
    """Host header names to answer besides localhost and IP addresses: the bound name and the
    names of the allowed origins (a browser on https://music.example.org sends that Host)."""
    from urllib.parse import urlsplit

    names = {args.host, *args.allowed_host}
    for origin in (*args.cors, *args.allowed_origin):
        if "://" in origin:
            names.add(urlsplit(origin).hostname or "")
    return tuple(sorted(n for n in names if n))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _add_ray_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "Ray Serve", "serve the same app on a Ray cluster, the models as replicas (docs/ray.md)"
    )
    g.add_argument(
        "--ray",
        action="store_true",
        help="run the app as a Ray Serve ingress with model replicas (needs ray[serve])",
    )
    g.add_argument(
        "--replicas", type=int, default=None, metavar="N", help="a fixed number of model replicas "
        "(default: one per GPU of the cluster, else one per --cpus-per-replica CPUs)",
    )  # fmt: skip
    g.add_argument(
        "--min-replicas", type=int, default=None, metavar="A",
        help="autoscale: at least A replicas (default 1)",
    )  # fmt: skip
    g.add_argument(
        "--max-replicas", type=int, default=None, metavar="B",
        help="autoscale: at most B replicas (default: what the cluster fits)",
    )  # fmt: skip
    g.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster to join, HOST:PORT of its head or 'auto' (default: RAY_ADDRESS, "
        "else a new local cluster)",
    )
    g.add_argument("--cpus-per-replica", type=finite_float, default=1.0, metavar="C")
    g.add_argument(
        "--gpus-per-replica", type=finite_float, default=None, metavar="G",
        help="GPUs per model replica (default: 1 on a cluster with GPUs, else 0; 0.5: two a GPU)",
    )  # fmt: skip


def _ray_options(args: argparse.Namespace):
    """The replica options of ``--ray`` (None without it); bad combinations are a RiffgenError."""
    ray_only = {
        "--replicas": args.replicas,
        "--min-replicas": args.min_replicas,
        "--max-replicas": args.max_replicas,
        "--address": args.address,
        "--gpus-per-replica": args.gpus_per_replica,
        "--cpus-per-replica": None if args.cpus_per_replica == 1.0 else args.cpus_per_replica,
    }
    if not args.ray:
        given = [flag for flag, value in ray_only.items() if value is not None]
        if given:
            raise RiffgenError(f"{given[0]} needs --ray")
        return None
    if args.device and len(args.device) > 1:
        raise RiffgenError("--ray places the model replicas itself: give at most one --device")
    from riffgen.server.ray_serve import ReplicaOptions

    return ReplicaOptions(
        replicas=args.replicas,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        cpus_per_replica=args.cpus_per_replica,
        gpus_per_replica=args.gpus_per_replica,
    )


def _serve_ray(args: argparse.Namespace, config, options) -> int:
    """``serve --ray``: Serve's HTTP proxy on --host/--port, until Ctrl-C or SIGTERM."""
    import os

    from riffgen.server.ray_serve import ModelSpec, serve_forever

    spec = ModelSpec(
        model=args.model,
        device=args.device[0] if args.device else None,
        dtype=args.dtype,
        lora=args.lora,
        scheduler=args.scheduler,
    )

    # On a cluster, Serve's HTTP proxy listens on its nodes, not where this command runs.
    remote = args.address not in (None, "", "local") or bool(os.environ.get("RAY_ADDRESS"))
    where = (
        f"port {args.port} of the cluster's nodes" if remote else f"http://{args.host}:{args.port}/"
    )

    def ready(plan) -> None:
        count = (
            f"{plan.min_replicas}-{plan.max_replicas} (autoscaled)"
            if plan.autoscaling
            else str(plan.max_replicas)
        )
        print(
            f"riffgen: serving {args.model} on Ray ({count} replicas, {plan.cpus:g} CPU "
            f"{plan.gpus:g} GPU each) at {where} (API docs at /docs)",
            file=sys.stderr,
            flush=True,
        )

    return serve_forever(
        spec, options, config, host=args.host, port=args.port, address=args.address, ready=ready
    )
