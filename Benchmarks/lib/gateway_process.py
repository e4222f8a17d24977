"""What the Python drivers of the gateway's benchmarks share: the gateway's generated stubs
(compiled by the interop suite's gateway_fleet) and the resident memory of the gateway process,
sampled in the background."""
import pathlib
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Interop" / "gateway"))
import gateway_fleet  # noqa: E402,F401  (compiles Protos/hubspot into importable `hubspot.gateway.v1` stubs)


class ResidentMemory:
    """VmRSS of a process in MB, now and sampled every half second once started."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()

    def now(self) -> float:
        for line in open(f"/proc/{self.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return 0.0

    def start(self):
        def sample():
            while not self._stop.wait(0.5):
                self.samples.append(self.now())
        threading.Thread(target=sample, daemon=True).start()

    def stop(self):
        self._stop.set()

    def peak(self, *also: float) -> float:
        return max(self.samples + list(also))
