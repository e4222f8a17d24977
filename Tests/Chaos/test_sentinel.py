"""Redis high availability under load: a master, two replicas and three Sentinels (quorum 2);
the master is SIGKILLed while the fleet takes webhooks and creates. The gateways follow the
new master within the Sentinels' failover time, HubSpot's budget holds, and every webhook
event a gateway acknowledged (with --redis-durable-replicas 1) is in the feed afterwards."""
import pathlib
import subprocess
import tempfile
import threading
import time

from chaos import Fleet, Load, post_signed_webhook, acknowledged_found_at_simulator, free_port, ready, record, scale, span_beyond_budget
from test_chaos import hot_ids

PUBLIC_URL = "https://hubspot-gateway.example.com/webhooks/hubspot"
SECRET = "app-client-secret-for-chaos"
FEED_STREAM = "hubspot-gateway:feed:events"


class RedisHA:
    """A master, two replicas (AOF, fsync every second) and three Sentinels on loopback."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="redis-ha-"))
        self.ports = [free_port() for _ in range(3)]
        self.servers = []
        for index, port in enumerate(self.ports):
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                    "--dbfilename", f"{port}.rdb", "--appendonly", "yes", "--appendfilename", f"{port}.aof",
                    "--appenddirname", f"aof-{port}", "--appendfsync", "everysec", "--save", "", "--loglevel", "warning"]
            if index:
                args += ["--replicaof", "127.0.0.1", str(self.ports[0])]
            self.servers.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.wait_until(lambda: "connected_slaves:2" in self.cli(self.ports[0], "INFO", "replication"), "replicas in sync")
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = []
        for port in self.sentinel_ports:
            conf = self.dir / f"sentinel-{port}.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                            f"sentinel monitor gateway 127.0.0.1 {self.ports[0]} 2\n"
                            "sentinel down-after-milliseconds gateway 1000\nsentinel failover-timeout gateway 10000\n")
            self.sentinels.append(subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
        self.wait_until(lambda: all(self.cli(p, "SENTINEL", "REPLICAS", "gateway").count("127.0.0.1") >= 2
                                    for p in self.sentinel_ports), "Sentinels know both replicas")

    @property
    def url(self):
        return "redis-sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + "/gateway"

    @staticmethod
    def cli(port, *args) -> str:
        result = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
        return result.stdout

    def master_port(self) -> int:
        return int(self.cli(self.sentinel_ports[0], "SENTINEL", "get-master-addr-by-name", "gateway").split()[1])

    @staticmethod
    def wait_until(condition, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            time.sleep(0.1)

    def stop(self):
        for process in self.sentinels + self.servers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


class Webhooks:
    """Posts signed batches of synthetic events to the replicas in turn; keeps the ids of the
    events a replica acknowledged (2xx)."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.acknowledged, self.refused = [], 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        batch = 0
        while not self.stop_event.is_set():
            batch += 1
            events = [{"eventId": f"ha-{batch}-{n}", "subscriptionId": 1, "portalId": 62515, "appId": 1,
                       "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
                       "objectId": 700000 + n, "propertyName": "dealname", "propertyValue": f"v{batch}",
                       "changeSource": "INTEGRATION"} for n in range(10)]
            status = post_signed_webhook(self.fleet.gateways[batch % len(self.fleet.gateways)], events, SECRET, PUBLIC_URL)
            if 200 <= status < 300:
                self.acknowledged += [e["eventId"] for e in events]
            else:
                self.refused += 1
            time.sleep(0.02)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=30)


def test_a_sentinel_failover_under_load_keeps_every_acknowledged_event_and_the_budget():
    ha = RedisHA()
    fleet = Fleet(replicas=3, redis_url=ha.url,
                  args=("--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL, "--redis-durable-replicas", "1"))
    try:
        for gateway in fleet.gateways:
            assert ready(gateway)
        load = Load(fleet, hot_ids(fleet), threads=6)
        started = time.monotonic()
        hooks = Webhooks(fleet)
        fleet.sim_admin("POST", "/_sim/stats/reset")
        load.start()
        hooks.start()
        time.sleep(scale(2, 10))  # steady load before the failover (a duration, not an ordering)
        old_master = ha.master_port()
        ha.servers[ha.ports.index(old_master)].kill()
        killed = time.monotonic()
        ha.wait_until(lambda: ha.master_port() != old_master, "the Sentinels promoted a replica")
        promoted = time.monotonic() - killed
        # The fleet writes to the new master again: a webhook acknowledged after the promotion.
        before = len(hooks.acknowledged)
        ha.wait_until(lambda: len(hooks.acknowledged) > before, "a webhook acknowledged on the new master")
        followed = time.monotonic() - killed
        time.sleep(scale(3, 15))
        hooks.stop()
        load.stop()
        stats = fleet.sim_admin("GET", "/_sim/stats?windowMs=1000")
        master = ha.master_port()
        entries = RedisHA.cli(master, "XRANGE", FEED_STREAM, "-", "+").split("\n")
        in_feed = {entries[i + 1] for i, line in enumerate(entries[:-1]) if line == "e"}
        lost = [e for e in hooks.acknowledged if e not in in_feed]
        figures = load.figures()
        found = acknowledged_found_at_simulator(fleet, load.acknowledged)
        row = {"scenario": "Redis master SIGKILLed, Sentinel failover", "seconds": round(time.monotonic() - started, 1),
               **figures, "writes_acknowledged": len(load.acknowledged), "writes_found": found,
               "busiest_second_at_hubspot": stats["maxAdmittedInAnyWallClockSecond"], "hubspot_429s": stats["rateLimited"],
               "all_serving_after_s": "-", "promoted_after_s": round(promoted, 1), "fleet_writing_after_s": round(followed, 1),
               "events_acknowledged": len(hooks.acknowledged), "events_lost": len(lost), "webhook_batches_refused": hooks.refused}
        record(row)
        print(row)
        assert not lost, f"{len(lost)} acknowledged events are not in the feed: {lost[:5]}"
        assert found == len(load.acknowledged), row
        assert span_beyond_budget(stats) is None and stats["rateLimited"] == 0, stats["perSecond"]
        assert all(g.process.poll() is None for g in fleet.gateways)
    finally:
        fleet.stop()
        ha.stop()
