# Sourced by the benchmarks that run one hubspot-gateway against their own redis-server and
# hubspot-sim. Needs $bin, $key, $grpc_port, $http_port, $sim_port, $redis_port and $work.

# start_gateway SCOPES [GATEWAY OPTION…]: starts the gateway with a `bench` caller key of
# SCOPES in the background, waits until it listens, zeroes the simulator's statistics and sets
# $gateway_pid.
start_gateway() {
  local scopes=$1; shift
  HUBSPOT_GATEWAY_HUBSPOT_TOKEN=pat-sim-token \
  HUBSPOT_GATEWAY_CALLER_KEYS="bench sha256:$(printf %s "$key" | sha256sum | cut -d' ' -f1) $scopes" \
    "$bin/hubspot-gateway" --host 127.0.0.1 --grpc-port "$grpc_port" --http-port "$http_port" \
      --hubspot-base-url "http://127.0.0.1:$sim_port" --redis-url "redis://127.0.0.1:$redis_port" --log-level warning "$@" \
      > "$work/gateway.out" 2>&1 &
  gateway_pid=$!
  for _ in $(seq 200); do grep -q "grpc listening" "$work/gateway.out" 2>/dev/null && break; sleep 0.05; done
  curl -sf -X POST "http://127.0.0.1:$sim_port/_sim/stats/reset" > /dev/null
}
