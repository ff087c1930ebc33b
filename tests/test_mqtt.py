"""An alert published over MQTT reaches a subscriber of the machine's Mosquitto broker."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

from notifier import ledger, store
from notifier.models import Subscriber, Topic
from tests.test_delivery_rules import publish, run_ticks

mqtt = pytest.importorskip("paho.mqtt.client")


def broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not broker_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_an_alert_arrives_on_the_subscriber_s_mqtt_topic(env, r):
    topic = f"notifier-test/{uuid.uuid4().hex}"
    received, subscribed = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, message: received.append(message.payload.decode())
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        store.add_topic(r, Topic("storms", "storm"))
        store.add_subscriber(r, Subscriber("ann", (f"mqtt://127.0.0.1:1883/{topic}",), ("storms",)))
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
