#!/usr/bin/env bash
# A plain Ray cluster for riffgen (no Kubernetes): one head, N GPU workers. See docs/ray.md.
#
#   deploy/ray/cluster.sh head                      # on the head machine (no replicas there)
#   deploy/ray/cluster.sh worker HEAD_IP            # on each GPU machine
#   deploy/ray/cluster.sh serve HEAD_IP [FLAGS...]  # anywhere that reaches the head: runs
#                                                   # `riffgen serve --ray` until Ctrl-C
#   deploy/ray/cluster.sh stop                      # on every machine
#
# Every machine needs the same Python, riffgen and ray[serve] (pip install 'riffgen[ray]'
# 'ray[serve]'), and RIFFGEN_API_KEY in its environment when the server is exposed.
set -euo pipefail
GCS_PORT=${GCS_PORT:-6379}
HTTP_PORT=${HTTP_PORT:-3013}

case "${1:-}" in
  head)
    # num-cpus 0: the head runs Serve's controller, proxy and the ingress (0 CPUs each) but
    # no model replica; the dashboard (8265) is what `serve deploy` talks to.
    ray start --head --port="$GCS_PORT" --num-cpus=0 --dashboard-host=0.0.0.0
    ;;
  worker)
    head=${2:?usage: cluster.sh worker HEAD_IP}
    # Ray finds the GPUs itself (CUDA_VISIBLE_DEVICES); one replica per GPU by default.
    ray start --address="$head:$GCS_PORT"
    ;;
  serve)
    head=${2:?usage: cluster.sh serve HEAD_IP [riffgen serve flags]}
    shift 2
    # Serve's HTTP proxy listens on every node at --host/--port; put your load balancer in
    # front of the nodes (or of the head only, with proxy_location HeadOnly via serve deploy).
    exec riffgen serve --ray --address "$head:$GCS_PORT" --host 0.0.0.0 --port "$HTTP_PORT" \
      --model "${RIFFGEN_MODEL:-riffusion/riffusion-model-v1}" --dtype fp16 \
      --api-key "${RIFFGEN_API_KEY:?set RIFFGEN_API_KEY}" "$@"
    ;;
  stop)
    ray stop
    ;;
  *)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac
