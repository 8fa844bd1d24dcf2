"""The embedded Tansu broker: starts, serves Kafka clients, refuses a taken port, never leaks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.kafka.broker import BrokerError, EmbeddedBroker, find_tansu
from tests import REPO_ROOT
from tests.conftest import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def tansu_processes(bootstrap: str) -> list[int]:
    """Ids of live Tansu processes listening on `bootstrap` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        listening = f"--listener-url=tcp://{bootstrap}".encode()
        if listening in arguments and state != "Z":
            found.append(int(entry.name))
    return found


def can_listen_on(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
            probe.listen()
        except OSError:
            return False
    return True


async def test_a_produced_message_is_consumed_back(broker: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("deals", num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        sent = await producer.send_and_wait("deals", b"won", key=b"O1", headers=[("v", b"1")])
        assert await producer.partitions_for("deals") == set(range(6))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer("deals", bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert (record.key, record.value, list(record.headers)) == (b"O1", b"won", [("v", b"1")])


def test_a_second_broker_on_the_same_address_fails_with_a_one_line_fix(broker: str) -> None:
    with pytest.raises(BrokerError) as refused:
        EmbeddedBroker(broker).start()
    message = str(refused.value)
    assert "\n" not in message
    assert f"{broker} is already in use" in message
    assert "--bootstrap" in message
    assert "CRMKPI_KAFKA_BOOTSTRAP" in message
    assert len(tansu_processes(broker)) == 1


def test_stop_leaves_no_process_and_frees_the_port() -> None:
    broker = EmbeddedBroker(f"127.0.0.1:{free_port()}")
    broker.start()
    assert len(tansu_processes(broker.bootstrap)) == 1
    broker.stop()
    broker.stop()  # idempotent
    assert tansu_processes(broker.bootstrap) == []
    assert can_listen_on(broker.bootstrap)
    with EmbeddedBroker(broker.bootstrap) as again:
        assert again.bootstrap == broker.bootstrap


CHILD = """
import os, signal, sys
from streams.kafka.broker import EmbeddedBroker
EmbeddedBroker(sys.argv[1]).start()
print("started", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_sigkilled_parent_leaves_no_broker_behind() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout == "started\n", child.stderr
    assert child.returncode == -9
    wait_until(lambda: tansu_processes(bootstrap), "no broker left behind", lambda left: left == [])


def test_a_missing_binary_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRMKPI_TANSU_BIN", str(tmp_path / "tansu"))
    with pytest.raises(BrokerError, match=r"CRMKPI_TANSU_BIN=.* is not an executable file"):
        find_tansu()
    monkeypatch.delenv("CRMKPI_TANSU_BIN")
    assert os.access(find_tansu(), os.X_OK)
