"""`riffgen serve --ray`: the app as a Ray Serve ingress, the model as replicas, on a local
2-CPU Ray cluster: concurrent original-API requests spread over 2 replicas, the jam socket, the
replicas in the health, a killed replica answered around (never a hang), bad flags as one line,
and no Ray process left once the server stops."""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile as sf

from riffgen.audio.decoders import DEFAULT_DECODER
from riffgen.cli import main
from riffgen.diffusion.fake import FakePipeline
from riffgen.errors import RiffgenError
from riffgen.server.config import ServerConfig
from riffgen.server.live import free_port
from riffgen.server.ray_serve import (
    ModelSpec,
    ReplicaOptions,
    build_app,
    deploy,
    list_model_replicas,
    parse_builder_args,
    undeploy,
)

STEP_S = 0.05  # the fake model's seconds per step: long enough to kill a replica mid-call
HANG_S = 90.0  # any request still open after this counts as a hang


class DecoderNotingFake(FakePipeline):
    """The fake, noting in each clip's parameters the decoder it was set to (shipped to the
    replicas by value: the workers do not import tests/)."""

    def interpolate(self, *args, **kwargs):
        out = super().interpolate(*args, **kwargs)
        out.parameters["decoder_seen"] = getattr(self, "decoder", None)
        return out


def original_request(i: int, *, steps: int = 10) -> dict:
    """A POST /run_inference/ body as the original riffusion-app sends it."""
    return {
        "alpha": 0.25,
        "num_inference_steps": steps,
        "seed_image_id": "og_beat",
        "start": {"prompt": f"jazz {i}", "seed": i, "denoising": 0.75, "guidance": 7},
        "end": {"prompt": f"jazz {i}", "seed": i + 1, "denoising": 0.75, "guidance": 7},
    }


def started_under(pid: int) -> list[psutil.Process]:
    """The processes started by ``pid`` and their children (the Ray cluster it started)."""
    return psutil.Process(pid).children(recursive=True)


def still_running(processes: list[psutil.Process], timeout: float = 30.0) -> list[str]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [" ".join(p.cmdline())[:100] for p in alive if p.is_running()]


def wait_healthy(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read()}")
        try:
            health = httpx.get(f"{url}/api/v1/health", timeout=5)
            replicas = [w for w in health.json()["workers"] if "replica" in w]
            if (
                health.status_code == 200
                and replicas
                and all(r["state"] == "RUNNING" for r in replicas)
            ):
                return health.json()
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"no healthy server at {url} within {timeout_s} s")


# -- bad flags: one line on stderr, exit 2, nothing started -------------------------------------
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray", "--replicas", "0"], "--replicas must be >= 1, got 0"),
        (["--ray", "--min-replicas", "3", "--max-replicas", "2"], "is more than --max-replicas"),
        (["--ray", "--replicas", "2", "--min-replicas", "1"], "not both"),
        (["--ray", "--max-replicas", "0"], "--max-replicas must be >= 1"),
        (["--replicas", "2"], "--replicas needs --ray"),
        (["--address", "auto"], "--address needs --ray"),
        (["--ray", "--device", "cpu", "--device", "cpu"], "at most one --device"),
    ],
)
def test_bad_flags_are_one_line(capsys, flags, message):
    assert main(["serve", "--model", "fake", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("riffgen: error: ") and message in err, err


def test_unreachable_address_is_one_line():
    port = free_port()  # nothing listens there
    proc = subprocess.run(
        [sys.executable, "-m", "riffgen", "serve", "--ray", "--model", "fake",
         "--address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == f"riffgen: error: cannot reach the Ray cluster at 127.0.0.1:{port}: " \
        "Connection refused\n"  # fmt: skip


# -- the cluster recipes ---------------------------------------------------------------------------
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "ray"


def serve_configs() -> list[tuple[str, dict]]:
    import yaml

    service = yaml.safe_load((DEPLOY / "rayservice.yaml").read_text())
    return [
        ("rayservice.yaml", yaml.safe_load(service["spec"]["serveConfigV2"])),
        ("serve-config.yaml", yaml.safe_load((DEPLOY / "serve-config.yaml").read_text())),
    ]


@pytest.mark.parametrize(("name", "config"), serve_configs())
def test_recipes_name_the_builder_with_args_it_takes(name, config, monkeypatch):
    import importlib

    import ray

    monkeypatch.setenv("RIFFGEN_API_KEY", "k" * 24)
    (app,) = config["applications"]
    module, _, attr = app["import_path"].partition(":")
    assert getattr(importlib.import_module(module), attr) is build_app
    spec, options, server = parse_builder_args(app["args"])
    assert spec.model == "riffusion/riffusion-model-v1" and options.gpus_per_replica == 1
    assert server.api_key == "k" * 24  # from the environment, never from the file
    plan = options.resolve({"CPU": 64, "GPU": 4})
    assert plan.gpus == 1 and 1 <= plan.min_replicas <= plan.max_replicas <= 4
    if name == "rayservice.yaml":
        service = __import__("yaml").safe_load((DEPLOY / "rayservice.yaml").read_text())
        assert service["spec"]["rayClusterConfig"]["rayVersion"] == ray.__version__
        assert f"rayproject/ray:{ray.__version__}-" in (DEPLOY / "Dockerfile").read_text()


def test_builder_args_are_checked():
    with pytest.raises(RiffgenError, match="unknown riffgen args \\['replica'\\]"):
        parse_builder_args({"replica": 2})
    with pytest.raises(RiffgenError, match="max_replicas: 'many' is not an integer"):
        parse_builder_args({"max_replicas": "many"})
    spec, options, config = parse_builder_args(
        {"model": "fake", "min_replicas": "1", "max_replicas": "3", "allowed_hosts": "a, b"}
    )
    assert (options.min_replicas, options.max_replicas) == (1, 3)
    assert config.allowed_hosts == ("a", "b") and spec.model == "fake"
    plan = options.resolve({"CPU": 2})
    assert plan.autoscaling and plan.gpus == 0
    auto = plan.deployment_options()["autoscaling_config"]
    assert (auto["min_replicas"], auto["max_replicas"], auto["target_ongoing_requests"]) == (
        1,
        3,
        1,
    )


# -- the command end to end (the debug model) ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_serve_ray_debug_model_then_stops_with_nothing_left(tmp_path):
    """`serve --ray --replicas 2` with the debug model (real pipeline, random weights) on a
    cluster it starts: it says it is serving, answers two requests at once, and on SIGTERM
    exits 0 with no Ray process left."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "riffgen", "serve", "--ray", "--replicas", "2", "--model",
           "debug", "--device", "cpu", "--dtype", "fp32", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ,
                            "RAY_ADDRESS": ""})  # fmt: skip
    # stderr is read as it comes: the health can answer before `serve.run` returns and the
    # command prints its ready line, so a SIGTERM sent on the health alone could come first
    # (the command then exits 0 without that line: a flaky failure on a loaded machine).
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(iter(proc.stderr.readline, "")))
    reader.start()
    ready = "riffgen: serving debug on Ray (2 replicas, 1 CPU 0 GPU each)"
    try:
        deadline = time.monotonic() + 240
        while not any(ready in line for line in err_lines):
            assert proc.poll() is None, f"the server exited: {''.join(err_lines)}"
            assert time.monotonic() < deadline, f"no ready line in 240 s: {''.join(err_lines)}"
            time.sleep(0.5)
        health = wait_healthy(url, 60)
        cluster = started_under(proc.pid)
        assert any("raylet" in " ".join(p.cmdline()) for p in cluster)
        replicas = [w for w in health["workers"] if "replica" in w]
        assert len(replicas) == 2 and health["model"] == "debug"
        bodies = [{"prompt": p, "seed": 3, "num_inference_steps": 2, "width": 128}
                  for p in ("lofi", "jazz")]  # fmt: skip
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # one on each replica
            answers = list(pool.map(lambda b: httpx.post(
                f"{url}/api/v1/text_to_audio", json=b, timeout=120), bodies))  # fmt: skip
        for answer in answers:
            assert answer.status_code == 200, answer.text
            clip = answer.json()
            assert clip["sample_rate"] == 44100 and abs(clip["duration_s"] - 1.28) < 0.05
        assert answers[0].json()["audio"] != answers[1].json()["audio"]
    finally:
        cluster = started_under(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        reader.join(timeout=30)
    err = "".join(err_lines)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not (left := still_running(cluster)), f"Ray processes left running: {left}"


# -- the library on one local cluster (the fake model, slowed down) ----------------------------------
@pytest.fixture(scope="module")
def served():
    """A 2-CPU local cluster serving the fake model (STEP_S a step) on 2 replicas; at the end
    Serve and Ray are shut down and no process of that cluster may be left."""
    import ray
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")  # fmt: skip
    port = free_port()
    try:
        spec = ModelSpec("fake", loader=functools.partial(DecoderNotingFake, step_s=STEP_S))
        config = ServerConfig(model_name="fake", request_timeout_s=60)
        deploy(spec, ReplicaOptions(replicas=2), config, host="127.0.0.1", port=port)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, 120)
        yield url
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        cluster = started_under(os.getpid())
        undeploy(started_cluster=True)
        ray.shutdown()
        left = still_running(cluster)
        assert not left, f"Ray processes left running: {left}"


def post_all(url: str, bodies: list[dict], *, timeout_s: float = HANG_S) -> list[httpx.Response]:
    def post(body: dict) -> httpx.Response:
        return httpx.post(f"{url}/run_inference/", json=body, timeout=timeout_s)

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def replica_entries(url: str) -> list[dict]:
    return [w for w in httpx.get(f"{url}/api/v1/health").json()["workers"] if "replica" in w]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_concurrent_original_requests_use_both_replicas(served):
    before = {r["replica"]: r["completed"] for r in replica_entries(served)}
    answers = post_all(served, [original_request(i) for i in range(6)])
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"image", "audio", "duration_s"} and body["duration_s"] > 5
        assert body["audio"].startswith("data:audio/mpeg;base64,")
    # The same request gives the same clip whichever replica made it.
    again = post_all(served, [original_request(0)])[0]
    assert again.json()["audio"] == answers[0].json()["audio"]
    health = httpx.get(f"{served}/api/v1/health").json()
    replicas = [w for w in health["workers"] if "replica" in w]
    assert len(replicas) == 2 and all(r["state"] == "RUNNING" for r in replicas)
    done = {r["replica"]: r["completed"] - before.get(r["replica"], 0) for r in replicas}
    assert sum(done.values()) == 7 and min(done.values()) >= 1, done  # both replicas worked
    assert health["workers"][0]["device"] == "ray (2 replicas)"
    assert health["workers"][0]["queued"] == 0


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_jam_socket_streams_through_the_ingress(served):
    from websockets.sync.client import connect

    ws_url = served.replace("http://", "ws://") + "/api/v1/jam"
    start = {"type": "start", "prompts": ["jazz"], "num_inference_steps": 2,
             "seed_image": "og_beat", "buffer_ahead": 2, "format": "wav"}  # fmt: skip
    with connect(ws_url, max_size=2**24, open_timeout=30) as ws:
        ws.send(json.dumps(start))
        messages = []
        while len([m for m in messages if m["type"] == "clip"]) < 2:
            messages.append(json.loads(ws.recv(timeout=60)))
            assert messages[-1]["type"] != "error", messages[-1]
        ws.send(json.dumps({"type": "stop"}))
    started = next(m for m in messages if m["type"] == "started")
    clips = [m for m in messages if m["type"] == "clip"]
    assert started["bpm"] > 0 and [c["seq"] for c in clips] == [0, 1]
    assert [c["alpha"] for c in clips] == [0.25, 0.5]
    audio, sr = sf.read(io.BytesIO(base64.b64decode(clips[0]["audio"].split(",", 1)[1])))
    assert sr == 44100 and abs(len(audio) / sr - clips[0]["duration_s"]) < 0.01


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_replica_does_not_hang_the_server(served):
    """SIGKILL one replica while 6 requests (1 s each) are in flight: each request is answered
    (200, its call sent again to a live replica) or refused with a clear 503, none hangs; the
    server answers afterwards and Serve brings the replica count back to 2."""
    victims = [r for r in list_model_replicas() if r["state"] == "RUNNING" and r["pid"]]
    assert len(victims) == 2
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(post_all, served, [original_request(i, steps=20) for i in range(6)])
        time.sleep(1.0)  # calls are running on both replicas now
        os.kill(victims[0]["pid"], signal.SIGKILL)
        began = time.monotonic()
        answers = future.result(timeout=HANG_S + 10)
    assert time.monotonic() - began < HANG_S
    for answer in answers:
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            assert "model replica died" in answer.json()["detail"]
    assert sum(a.status_code == 200 for a in answers) >= 4, [a.text[:80] for a in answers]
    after = post_all(served, [original_request(99)])[0]
    assert after.status_code == 200, after.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = [r for r in replica_entries(served) if r["state"] == "RUNNING"]
        if len(running) == 2 and victims[0]["replica"] not in {r["replica"] for r in running}:
            break
        time.sleep(1.0)
    else:
        raise AssertionError(f"the replica was not replaced: {replica_entries(served)}")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_request_decoder_reaches_the_replica(served):
    """A job sets ``pipe.decoder`` for its call (diffusion.pipeline.decoding): the replica's
    pipeline decodes with it, and no other call sees it."""
    body = {**original_request(5, steps=2), "decoder": "original"}
    named = httpx.post(f"{served}/api/v1/interpolate", json=body, timeout=HANG_S)
    assert named.status_code == 200, named.text
    assert named.json()["parameters"]["decoder_seen"] == "original"
    del body["decoder"]
    default = httpx.post(f"{served}/api/v1/interpolate", json=body, timeout=HANG_S)
    assert default.json()["parameters"]["decoder_seen"] == DEFAULT_DECODER
