"""An alert published over MQTT reaches a subscriber of the machine's Mosquitto broker."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from notifier.alerts import ledger
from notifier.models import Subscriber, Topic
from notifier.stories import store
from tests.sinks import free_port, wait_for
from tests.test_delivery_rules import publish, run_ticks


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def broker_port(tmp_path_factory):
    """The machine's Mosquitto on 1883; if none answers, our own `mosquitto` on a free port."""
    if answers(1883):
        yield 1883
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail(
            "no MQTT broker on 127.0.0.1:1883 and no mosquitto binary to start one (apt install mosquitto)"
        )
    port = free_port()
    config = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for(lambda: answers(port), timeout=10), "mosquitto did not start"
        yield port
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def test_an_alert_arrives_on_the_subscriber_s_mqtt_topic(env, r, broker_port):
    topic = f"notifier-test/{uuid.uuid4().hex}"
    received, subscribed = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, message: received.append(message.payload.decode())
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        store.add_topic(r, Topic("storms", "storm"))
        store.add_subscriber(r, Subscriber("ann", (f"mqtt://127.0.0.1:{broker_port}/{topic}",), ("storms",)))
        publish(r, "Storm hits the north coast tonight")
        run_ticks(r)
        deadline = threading.Event()
        for _ in range(50):
            if received:
                break
            deadline.wait(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    assert [d.state for d in ledger.recent(r)] == ["sent"]
    assert len(received) == 1 and "Storm hits the north coast tonight" in received[0]
    json.dumps(received)  # the payload is text
