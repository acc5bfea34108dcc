"""``riffgen serve --ray``: the same FastAPI app as a Ray Serve ingress, the models as replicas.

Two deployments make one Serve application:

* :class:`RiffgenModel` -- one replica per model copy (``num_gpus`` of a GPU when the cluster
  has GPUs), a fixed number or autoscaled between a minimum and a maximum. Each replica loads
  the pipeline once through the model registry (:func:`riffgen.server.loader.load_pipeline`)
  and runs one pipeline call at a time (``max_ongoing_requests=1``): Ray Serve's router sends
  each call to a free replica and queues the rest, and the autoscaler counts that queue.
* :class:`RiffgenIngress` -- the app of :func:`riffgen.server.app.create_app` (original API,
  ``/api/v1``, the jam websocket, the web app) around a :class:`RayPool`, which has
  :class:`~riffgen.server.pool.WorkerPool`'s interface, so no route knows about Ray.

The routes' jobs run on the ingress (a thread per slot, as the local workers do), with a
:class:`RemotePipeline` in place of the pipeline: every pipeline method call (``text_to_audio``,
``interpolate``, ...) goes to a model replica, the result (audio and image) comes back and is
encoded on the ingress. A job that binds state of the event loop (a jam session's engine)
therefore works as it does locally. The step callback stays on the ingress: the slot polls it
while the call runs and cancels the call when it raises (client gone, deadline passed); the
replica stops at its next denoising step.

A replica that dies mid-call (killed, out of memory) fails that call with a Ray actor error;
the call is sent again (it is deterministic) up to :data:`CALL_ATTEMPTS` times, then answered
503 -- never a hang: every wait is bounded by the request's deadline.

Ray is an optional extra: this module is imported only on ``--ray`` paths.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from riffgen.diffusion.types import DEFAULT_STEPS, steps_for
from riffgen.errors import RiffgenError
from riffgen.server.config import ServerConfig
from riffgen.server.pool import WorkerPool
from riffgen.server.worker import (
    JobCancelledError,
    JobTimeoutError,
    ModelWorker,
    WorkerClosedError,
    median_s,
)

log = logging.getLogger("riffgen.server")

APP_NAME = "riffgen"
MODEL_DEPLOYMENT = "RiffgenModel"
INGRESS_DEPLOYMENT = "RiffgenIngress"
CALL_ATTEMPTS = 3  # a call whose replica dies is sent again, at most this many times in all
POLL_S = 0.1  # how often a slot checks its job's cancel flag and deadline during a call
STARTUP_TIMEOUT_S = 600.0  # the first replica loads the model (a hub download on a new node)
REPLICA_REFRESH_S = 2.0  # how often the ingress asks the Serve controller for the replicas
CONNECT_TIMEOUT_S = 5.0  # a cluster address that takes longer to answer counts as unreachable


# -- what to serve -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplicaOptions:
    """How many model replicas and what each holds.

    ``replicas`` fixes the number; ``min_replicas``/``max_replicas`` autoscale between the two
    (Serve adds a replica when more than ``target_ongoing_requests`` calls wait per replica);
    none of them: one replica per GPU of the cluster, else per ``cpus_per_replica`` CPUs.
    ``gpus_per_replica`` None: 1 when the cluster has GPUs, else 0 (0.5 packs two per GPU).
    """

    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    cpus_per_replica: float = 1.0
    gpus_per_replica: float | None = None
    target_ongoing_requests: float = 1.0

    def __post_init__(self) -> None:
        if self.replicas is not None and (
            self.min_replicas is not None or self.max_replicas is not None
        ):
            raise RiffgenError(
                "give either --replicas N (a fixed number) or --min-replicas/--max-replicas "
                "(autoscaling), not both"
            )
        for flag, value in (
            ("--replicas", self.replicas),
            ("--min-replicas", self.min_replicas),
            ("--max-replicas", self.max_replicas),
        ):
            if value is not None and value < 1:
                raise RiffgenError(f"{flag} must be >= 1, got {value}")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise RiffgenError(
                f"--min-replicas ({self.min_replicas}) is more than --max-replicas "
                f"({self.max_replicas})"
            )
        if not self.cpus_per_replica >= 0:
            raise RiffgenError(f"--cpus-per-replica must be >= 0, got {self.cpus_per_replica}")
        if self.gpus_per_replica is not None and not self.gpus_per_replica >= 0:
            raise RiffgenError(f"--gpus-per-replica must be >= 0, got {self.gpus_per_replica}")
        if self.target_ongoing_requests <= 0:
            raise ValueError("target_ongoing_requests must be > 0")

    @property
    def autoscaling(self) -> bool:
        return self.min_replicas is not None or self.max_replicas is not None

    def resolve(self, cluster: dict[str, float]) -> ReplicaPlan:
        """The plan for a cluster with ``cluster`` resources (``ray.cluster_resources()``)."""
        gpus = self.gpus_per_replica
        if gpus is None:
            gpus = 1.0 if cluster.get("GPU", 0) >= 1 else 0.0
        if gpus > 0:
            fits = int(cluster.get("GPU", 0) // gpus)
        else:
            fits = (
                int(cluster.get("CPU", 1) // self.cpus_per_replica) if self.cpus_per_replica else 1
            )
        fits = max(fits, 1)
        if self.autoscaling:
            low = self.min_replicas if self.min_replicas is not None else 1
            high = self.max_replicas if self.max_replicas is not None else max(low, fits)
            return ReplicaPlan(low, high, self.cpus_per_replica, gpus, autoscaling=True)
        count = self.replicas if self.replicas is not None else fits
        return ReplicaPlan(count, count, self.cpus_per_replica, gpus, autoscaling=False)


@dataclass(frozen=True)
class ReplicaPlan:
    """Replica counts and resources, resolved against the cluster."""

    min_replicas: int
    max_replicas: int
    cpus: float
    gpus: float
    autoscaling: bool
    target_ongoing_requests: float = 1.0

    def deployment_options(self) -> dict[str, Any]:
        """Keyword arguments of ``Deployment.options`` for the model deployment."""
        options: dict[str, Any] = {
            "name": MODEL_DEPLOYMENT,
            # One pipeline call at a time per replica: the router queues the rest and sends
            # each to the first free replica; the autoscaler sees that queue.
            "max_ongoing_requests": 1,
            "ray_actor_options": {"num_cpus": self.cpus, "num_gpus": self.gpus},
            "health_check_period_s": 5.0,
            "health_check_timeout_s": 30.0,
            "graceful_shutdown_timeout_s": 5.0,
        }
        if self.autoscaling:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "initial_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
                "upscale_delay_s": 5.0,
                "downscale_delay_s": 120.0,
            }
        else:
            options["num_replicas"] = self.max_replicas
        return options


@dataclass(frozen=True)
class ModelSpec:
    """What each replica loads, through the model registry (``loader``: a stand-in for tests,
    called with no arguments; it is shipped to the replicas by pickling)."""

    model: str
    device: str | None = None
    dtype: str | None = None
    lora: str | None = None
    scheduler: str = "pndm"
    threads: int | None = None  # torch threads per replica; None: its CPUs (at least 1)
    loader: Callable[[], Any] | None = None

    def load(self) -> Any:
        if self.loader is not None:
            return self.loader()
        from riffgen.server.loader import load_pipeline

        return load_pipeline(
            self.model,
            device=self.device,
            dtype=self.dtype,
            lora=self.lora,
            scheduler=self.scheduler,
        )


@dataclass(frozen=True)
class IngressSpec:
    """What the ingress builds its app from (the seed images are found on the ingress's node,
    as a local server finds them)."""

    config: ServerConfig
    slots: int  # model calls in flight at once: the most replicas there can be
    serve_static: bool = True


# -- the model replicas ------------------------------------------------------------------------
class RiffgenModel:
    """A model replica: the pipeline, and one pipeline method call at a time on its thread.

    :meth:`call` is a streaming method: it first yields the replica's id (the ingress then
    knows which replica holds the call), then ``("ok", result)`` or ``("error", exception)``,
    so a failure inside the pipeline reaches the ingress as the exception itself (no Ray
    wrapper, no remote traceback in the message).
    """

    def __init__(self, spec: ModelSpec) -> None:
        import ray

        threads = spec.threads
        if threads is None:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
            threads = max(1, int(cpus))
        with contextlib.suppress(ImportError):
            import torch

            torch.set_num_threads(threads)
        self.pipe = spec.load()
        self.replica_id = _replica_id()
        self.device = str(getattr(self.pipe, "device", "cpu"))
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="riffgen-model")
        log.info("replica %s: model %s on %s", self.replica_id, spec.model, self.device)

    def info(self) -> dict[str, Any]:
        return {
            "replica": self.replica_id,
            "device": self.device,
            "pid": os.getpid(),
            "spectrogram_params": self.pipe.spectrogram_params,
            "default_steps": steps_for(self.pipe, None),
        }

    async def call(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        with_callback: bool,
        timeout_s: float,
        settings: dict[str, Any] | None = None,
    ):
        yield {"replica": self.replica_id, "device": self.device, "pid": os.getpid()}
        cancelled = threading.Event()
        deadline = time.monotonic() + timeout_s

        def check(step: int = 0, total: int = 0) -> None:
            # The ingress polls the request's own flag and deadline; these are the backstops
            # for a cancel that never arrives.
            if cancelled.is_set():
                raise JobCancelledError(f"{method} cancelled at step {step}/{total}")
            if time.monotonic() > deadline:
                raise JobTimeoutError(f"{method} ran past its deadline at step {step}/{total}")

        def run() -> Any:
            check()
            with _applied(self.pipe, settings or {}):
                fn = getattr(self.pipe, method)
                return fn(*args, **({**kwargs, "callback": check} if with_callback else kwargs))

        future = asyncio.get_running_loop().run_in_executor(self.executor, run)
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled.set()  # the pipeline stops at its next step
            raise
        except BaseException as exc:  # noqa: BLE001 - delivered to the ingress
            yield ("error", _portable(exc))
            return
        yield ("ok", result)


@contextlib.contextmanager
def _applied(pipe: Any, settings: dict[str, Any]) -> Iterator[None]:
    """The attributes the job set on its :class:`RemotePipeline` (``decoder`` by
    :func:`riffgen.diffusion.pipeline.decoding`), on the real pipeline for one call."""
    with contextlib.ExitStack() as stack:
        for name, value in settings.items():
            if name == "decoder":
                from riffgen.diffusion.pipeline import decoding

                stack.enter_context(decoding(pipe, value))
            else:
                stack.enter_context(_attribute(pipe, name, value))
        yield


@contextlib.contextmanager
def _attribute(obj: Any, name: str, value: Any) -> Iterator[None]:
    missing = object()
    previous = obj.__dict__.get(name, missing)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if previous is missing:
            with contextlib.suppress(AttributeError):
                delattr(obj, name)
        else:
            setattr(obj, name, previous)


def _replica_id() -> str:
    from ray import serve

    try:
        return serve.get_replica_context().replica_id.unique_id
    except Exception:  # noqa: BLE001 - outside Serve (a unit test)
        return f"pid{os.getpid()}"


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling as it is, else a RiffgenError/RuntimeError with its text
    (an exception class with its own constructor arguments does not)."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
        if type(copy) is type(exc) and str(copy) == str(exc):
            return exc.with_traceback(None)
    except Exception:  # noqa: BLE001
        pass
    if isinstance(exc, RiffgenError):
        return RiffgenError(str(exc))
    return RuntimeError(f"{type(exc).__name__}: {exc}")


# -- the ingress side ------------------------------------------------------------------------------
@dataclass
class ReplicaStats:
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0
    device: str = ""
    recent_s: deque[float] = dataclasses.field(default_factory=lambda: deque(maxlen=20))

    def typical_job_s(self) -> float:
        return median_s(self.recent_s, default=0.0)


class RemoteModel:
    """The model deployment as the ingress's slots call it (thread-safe)."""

    def __init__(self, handle: Any, *, timeout_s: float) -> None:
        self.handle = handle
        self.timeout_s = timeout_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stats: dict[str, ReplicaStats] = {}
        self.lock = threading.Lock()

    def call(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        check: Callable | None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        """``pipeline.method(*args, **kwargs)`` on a replica, from a slot thread: polls
        ``check`` (the job's cancel flag and deadline) until the result is in."""
        if self.loop is None:
            raise WorkerClosedError("the Ray pool has not started")
        future = asyncio.run_coroutine_threadsafe(
            self._call(method, args, kwargs, with_callback=check is not None, settings=settings),
            self.loop,
        )
        while True:
            try:
                status, value = future.result(timeout=POLL_S)
                break
            except concurrent.futures.TimeoutError:
                if check is None:
                    continue
                try:
                    check(0, 0)
                except BaseException:
                    future.cancel()  # cancels the call on its replica
                    raise
            except concurrent.futures.CancelledError:
                raise JobCancelledError(f"{method} cancelled") from None
        if status == "error":
            raise value
        return value

    async def _call(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        with_callback: bool,
        settings: dict[str, Any] | None = None,
    ) -> tuple[str, Any]:
        import ray.exceptions

        last: BaseException | None = None
        for attempt in range(CALL_ATTEMPTS):
            replica: str | None = None
            started = time.monotonic()
            stream = self.handle.options(method_name="call", stream=True).remote(
                method, args, kwargs, with_callback, self.timeout_s, settings
            )
            try:
                async for item in stream:
                    if isinstance(item, dict):  # the replica took the call
                        replica = item["replica"]
                        self._count(replica, item.get("device", ""), running=+1)
                        continue
                    status, value = item
                    self._finish(replica, status, value, time.monotonic() - started)
                    return status, value
                raise WorkerClosedError(f"{method}: the model replica sent no result")
            except asyncio.CancelledError:
                stream.cancel()
                self._finish(replica, "cancelled", None, 0.0)
                raise
            except (ray.exceptions.RayActorError, ray.exceptions.RayError) as exc:
                # The replica died (or was being replaced) with the call: send it again.
                self._finish(replica, "failed", None, 0.0)
                last = exc
                log.warning(
                    "%s: model replica %s lost (attempt %d/%d): %s",
                    method,
                    replica or "?",
                    attempt + 1,
                    CALL_ATTEMPTS,
                    type(exc).__name__,
                )
                await asyncio.sleep(0.5 * (attempt + 1))
        detail = type(last).__name__ if last else "no replica"
        raise WorkerClosedError(
            f"a model replica died {CALL_ATTEMPTS} times while making this request ({detail}); "
            "retry shortly"
        )

    def _count(self, replica: str, device: str, *, running: int) -> None:
        with self.lock:
            stats = self.stats.setdefault(replica, ReplicaStats())
            stats.running += running
            stats.device = device or stats.device

    def _finish(self, replica: str | None, status: str, value: Any, seconds: float) -> None:
        if replica is None:
            return
        with self.lock:
            stats = self.stats.setdefault(replica, ReplicaStats())
            stats.running = max(0, stats.running - 1)
            if status == "ok":
                stats.completed += 1
                stats.recent_s.append(seconds)
            elif status == "cancelled" or isinstance(value, (JobCancelledError, JobTimeoutError)):
                stats.cancelled += 1
            else:
                stats.failed += 1


class RemotePipeline:
    """Stands in for the pipeline on the ingress (one per slot: like a pipeline, it is driven
    by one thread). Its data attributes come from the replicas' info; an attribute a job sets
    (``decoder``, by :func:`riffgen.diffusion.pipeline.decoding`) is kept here and applied on
    the replica for each call while it is set; any other public attribute is a method that
    runs on a replica."""

    DATA = ("spectrogram_params", "device", "default_steps")

    def __init__(self, remote: RemoteModel, info: dict[str, Any]) -> None:
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_settings", {})
        object.__setattr__(self, "spectrogram_params", info["spectrogram_params"])
        object.__setattr__(self, "device", info.get("device", "ray"))
        # What num_inference_steps=None means on the replicas (their model's default).
        object.__setattr__(self, "default_steps", info.get("default_steps", DEFAULT_STEPS))

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in self.DATA:
            raise AttributeError(f"{name} of a remote pipeline is read-only")
        self._settings[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._settings[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        settings = self.__dict__["_settings"]
        if name in settings:
            return settings[name]

        def method(*args: Any, **kwargs: Any) -> Any:
            check = kwargs.pop("callback", None)
            return self._remote.call(name, args, kwargs, check, dict(self._settings))

        method.__name__ = name
        return method


class RayPool(WorkerPool):
    """:class:`WorkerPool`'s interface over Ray Serve model replicas.

    ``slots`` local workers (threads with bounded queues, as in the local server: the same
    503 + Retry-After when full, the same priority for jam clips) each hold one call in flight
    at a time; with ``slots`` = the most replicas there can be, every replica can be kept busy
    and the jobs beyond wait here, where their clients' cancel and deadline checks run.
    """

    def __init__(
        self,
        handle: Any,
        info: dict[str, Any],
        *,
        slots: int,
        max_queue: int,
        timeout_s: float,
        replicas: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.remote = RemoteModel(handle, timeout_s=timeout_s)
        super().__init__(
            [
                ModelWorker(
                    RemotePipeline(self.remote, info), max_queue=max_queue, device=f"ray slot {i}"
                )
                for i in range(slots)
            ]
        )
        self._device = str(info.get("device", "?"))  # where the first replica loaded it
        self._list_replicas = replicas
        self._replicas: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        if replicas is not None:  # asked on a thread: the controller answers with a blocking call
            self._refresher = threading.Thread(
                target=self._refresh_loop, name="riffgen-ray-replicas", daemon=True
            )
            self._refresher.start()

    async def run(self, fn, *, timeout_s, name="job", is_disconnected=None, priority=False):
        if self.remote.loop is None:
            self.remote.loop = asyncio.get_running_loop()
        return await super().run(
            fn, timeout_s=timeout_s, name=name, is_disconnected=is_disconnected, priority=priority
        )

    def describe(self) -> list[dict[str, Any]]:
        """The queue on the ingress first (the web app shows ``queued/max_queue``), then one
        entry per model replica: its state as Serve reports it and the calls it made."""
        slots = super().describe()
        queue = {
            "device": f"ray ({len([r for r in self._replicas if r['state'] == 'RUNNING'])} "
            "replicas)",
            "queued": sum(w["queued"] for w in slots),
            "max_queue": sum(w["max_queue"] for w in slots),
            "completed": sum(w["completed"] for w in slots),
            "failed": sum(w["failed"] for w in slots),
            "cancelled": sum(w["cancelled"] for w in slots),
            "rejected": sum(w["rejected"] for w in slots),
            "typical_job_s": max((w["typical_job_s"] for w in slots), default=0.0),
        }
        with self.remote.lock:
            stats = {
                k: dataclasses.replace(v, recent_s=deque(v.recent_s))
                for k, v in self.remote.stats.items()
            }
        entries = [queue]
        for replica in self._replicas:
            own = stats.get(replica["replica"], ReplicaStats())
            entries.append(
                {
                    "device": f"ray replica {replica['replica']} ({own.device or self._device})",
                    "replica": replica["replica"],
                    "state": replica["state"],
                    "node": replica.get("node"),
                    "queued": own.running,
                    "max_queue": 1,
                    "completed": own.completed,
                    "failed": own.failed,
                    "cancelled": own.cancelled,
                    "rejected": 0,
                    "typical_job_s": round(own.typical_job_s(), 3),
                }
            )
        return entries

    def _refresh(self) -> None:
        try:
            self._replicas = self._list_replicas()
        except Exception as exc:  # noqa: BLE001 - health shows the last list it had
            log.debug("could not list the replicas: %s", exc)

    def _refresh_loop(self) -> None:
        self._refresh()
        while not self._stop.wait(REPLICA_REFRESH_S):
            self._refresh()

    def close(self) -> None:
        self._stop.set()
        super().close()


def list_model_replicas(app_name: str = APP_NAME) -> list[dict[str, Any]]:
    """The model deployment's replicas as the Serve controller reports them."""
    from ray.serve._private.api import _get_global_client  # noqa: PLC2701 - no public one
    from ray.serve.schema import ServeInstanceDetails

    details = ServeInstanceDetails(**_get_global_client().get_serve_details())
    app = details.applications.get(app_name)
    if app is None or MODEL_DEPLOYMENT not in app.deployments:
        return []
    return [
        {
            "replica": r.replica_id,
            "state": str(getattr(r.state, "value", r.state)),
            "node": r.node_ip,
            "pid": r.pid,
        }
        for r in app.deployments[MODEL_DEPLOYMENT].replicas
    ]


class RiffgenIngress:
    """The ingress replica: builds the app around a :class:`RayPool` on the model handle."""

    async def __init__(self, model: Any, spec: IngressSpec) -> None:
        info = await asyncio.wait_for(model.info.remote(), STARTUP_TIMEOUT_S)
        self.pool = RayPool(
            model,
            info,
            slots=spec.slots,
            max_queue=spec.config.max_queue,
            timeout_s=spec.config.request_timeout_s,
            replicas=list_model_replicas,
        )
        self.pool.remote.loop = asyncio.get_running_loop()
        self.spec = spec

    def __serve_build_asgi_app__(self) -> Any:
        from riffgen.server.app import create_app

        config = self.spec.config
        return create_app(
            self.pool,
            serve_registry(config.model_name),
            config,
            serve_static=self.spec.serve_static,
        )


def serve_registry(model: str) -> Any:
    """The seed images a server offers: the default ones, the fake model's without them."""
    from riffgen.server.seeds import DictSeedRegistry, default_registry

    registry = default_registry()
    if model == "fake" and not registry.list():
        from riffgen.diffusion.fake import fake_seed_images

        registry = DictSeedRegistry(fake_seed_images())
    return registry


def build_application(
    spec: ModelSpec, plan: ReplicaPlan, config: ServerConfig, *, serve_static: bool = True
) -> Any:
    """The Serve application: the ingress bound to the model deployment."""
    from ray import serve

    model = serve.deployment(RiffgenModel).options(**plan.deployment_options())
    ingress = serve.deployment(serve.ingress()(RiffgenIngress)).options(
        name=INGRESS_DEPLOYMENT,
        num_replicas=1,  # the jam sessions and the queue live here
        max_ongoing_requests=10_000,  # the app's own limits apply (queue, jam sessions)
        ray_actor_options={"num_cpus": 0},
    )
    spec_ingress = IngressSpec(config=config, slots=plan.max_replicas, serve_static=serve_static)
    return ingress.bind(model.bind(spec), spec_ingress)


# -- a Serve config's application builder (KubeRay RayService, `serve deploy`) --------------------
BUILDER_ARGS = {
    "model": str,
    "device": str,
    "dtype": str,
    "lora": str,
    "scheduler": str,
    "decoder": str,  # the default of requests that name none
    "replicas": int,
    "min_replicas": int,
    "max_replicas": int,
    "cpus_per_replica": float,
    "gpus_per_replica": float,
    "max_queue": int,
    "max_steps": int,
    "timeout_s": float,
    "allowed_hosts": str,  # comma-separated
    "allowed_origins": str,
    "cors_origins": str,
}


def parse_builder_args(args: dict[str, Any]) -> tuple[ModelSpec, ReplicaOptions, ServerConfig]:
    """The ``args:`` of a Serve config (values may come as strings) -> what :func:`deploy`
    takes. The API key comes from the environment (``RIFFGEN_API_KEY``, e.g. a Kubernetes
    secret), never from the config file."""
    unknown = sorted(set(args) - set(BUILDER_ARGS))
    if unknown:
        raise RiffgenError(f"unknown riffgen args {unknown} (known: {sorted(BUILDER_ARGS)})")
    values: dict[str, Any] = {}
    for key, value in args.items():
        if value is None or value == "":
            continue
        try:
            values[key] = BUILDER_ARGS[key](value)
        except (TypeError, ValueError):
            kind = {int: "an integer", float: "a number"}.get(BUILDER_ARGS[key], "a string")
            raise RiffgenError(f"riffgen arg {key}: {value!r} is not {kind}") from None

    def names(key: str) -> tuple[str, ...]:
        return tuple(n.strip() for n in values.get(key, "").split(",") if n.strip())

    from riffgen.models import DEFAULT_MODEL

    model = values.get("model", DEFAULT_MODEL)
    spec = ModelSpec(
        model=model,
        device=values.get("device"),
        dtype=values.get("dtype"),
        lora=values.get("lora"),
        scheduler=values.get("scheduler", "pndm"),
    )
    options = ReplicaOptions(
        replicas=values.get("replicas"),
        min_replicas=values.get("min_replicas"),
        max_replicas=values.get("max_replicas"),
        cpus_per_replica=values.get("cpus_per_replica", 1.0),
        gpus_per_replica=values.get("gpus_per_replica"),
    )
    try:
        config = ServerConfig(
            api_key=os.environ.get("RIFFGEN_API_KEY") or None,
            allowed_hosts=names("allowed_hosts"),
            allowed_origins=names("allowed_origins"),
            cors_origins=names("cors_origins"),
            max_queue=values.get("max_queue", 4),
            max_steps=values.get("max_steps", 100),
            request_timeout_s=values.get("timeout_s", 300.0),
            model_name=model,
            **({"decoder": values["decoder"]} if "decoder" in values else {}),
        )
    except ValueError as exc:
        raise RiffgenError(str(exc)) from None
    return spec, options, config


def build_app(args: dict[str, Any]) -> Any:
    """The application builder of a Serve config: ``import_path:
    riffgen.server.ray_serve:build_app`` with ``args:`` as in :data:`BUILDER_ARGS`."""
    import ray

    spec, options, config = parse_builder_args(args)
    cluster = ray.cluster_resources() if ray.is_initialized() else {}
    plan = options.resolve(cluster)
    return build_application(spec, plan, config)


# -- starting and stopping ----------------------------------------------------------------------
def check_reachable(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A one-line error now for a cluster address nobody answers at (``ray.init`` would retry
    for a minute and print a traceback); ``auto`` and ``local`` are left to Ray."""
    if address in ("auto", "local", ""):
        return
    target = address if "://" in address else f"ray://{address}"
    parts = urlsplit(target)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise RiffgenError(f"--address {address!r} is not HOST:PORT") from None
    if not host or not port:
        raise RiffgenError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RiffgenError(f"cannot reach the Ray cluster at {address}: {reason}") from None


@contextlib.contextmanager
def ray_connection(address: str | None = None) -> Iterator[bool]:
    """Connect to the Ray cluster at ``address`` (``auto``: the one running on this machine),
    else ``RAY_ADDRESS``, else start a new local cluster (never another process's by chance);
    yields whether this call started the cluster, which is then shut down at the end."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
    try:
        import ray
        import ray.serve  # noqa: F401 - its extra dependencies, checked before anything starts
    except ImportError:
        raise RiffgenError("--ray needs Ray Serve: pip install 'ray[serve]'") from None
    if ray.is_initialized():
        yield False
        return
    # Ray's core worker installs its own SIGTERM handler; riffgen's (SIGTERM as Ctrl-C) is put
    # back so that a stop signal shuts the application down cleanly.
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(
            address=address or "local",
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
        )
    except (ConnectionError, ValueError) as exc:
        raise RiffgenError(f"cannot connect to Ray: {' '.join(str(exc).split())[:300]}") from None
    if main_thread:
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
    try:
        yield address is None
    finally:
        ray.shutdown()


def deploy(
    spec: ModelSpec,
    options: ReplicaOptions,
    config: ServerConfig,
    *,
    host: str,
    port: int,
    serve_static: bool = True,
) -> ReplicaPlan:
    """Start Serve's HTTP proxy on ``host:port`` and run the application (returns when the
    ingress is up, i.e. when the first model replica has loaded). Needs a Ray connection."""
    import ray
    from ray import serve

    # Serve says at INFO that serve.run found the proxy serve.start made: true, and misleading.
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    plan = options.resolve(ray.cluster_resources())
    plan = dataclasses.replace(plan, target_ongoing_requests=options.target_ongoing_requests)
    serve.start(http_options={"host": host, "port": port}, logging_config={"log_level": "WARNING"})
    app = build_application(spec, plan, config, serve_static=serve_static)
    try:
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    except RuntimeError as exc:  # a deployment failed to start (e.g. the model did not load)
        raise RiffgenError(f"the Ray Serve application failed: {_first_line(exc)}") from None
    return plan


def undeploy(*, started_cluster: bool) -> None:
    """Remove the application; on a cluster this process started, stop Serve altogether."""
    from ray import serve

    with contextlib.suppress(Exception):
        if started_cluster:
            serve.shutdown()
        else:
            serve.delete(APP_NAME)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):  # Ray's messages end with the cause
        if "Error" in line or "error" in line:
            return line[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def serve_forever(
    spec: ModelSpec,
    options: ReplicaOptions,
    config: ServerConfig,
    *,
    host: str,
    port: int,
    address: str | None = None,
    ready: Callable[[ReplicaPlan], None] | None = None,
) -> int:
    """``riffgen serve --ray``: deploy, then wait for Ctrl-C or SIGTERM, then clean up."""
    with ray_connection(address) as started:
        try:
            plan = deploy(spec, options, config, host=host, port=port)
            if ready is not None:
                ready(plan)
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            return 0
        finally:
            undeploy(started_cluster=started)
