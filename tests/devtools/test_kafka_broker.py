"""The broker launcher's address options: 127.0.0.1 by default, another host's address when asked."""

from __future__ import annotations

from pathlib import Path

from inferstream.devtools.kafka_broker import KafkaBroker, _server_properties


def test_the_broker_listens_and_advertises_on_loopback_by_default(tmp_path: Path) -> None:
    props = _server_properties(tmp_path, 9092, 9093, {})
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    broker = KafkaBroker(port=9092, controller_port=9093, data_dir=tmp_path, process=None)
    assert broker.bootstrap_servers == "127.0.0.1:9092" and broker.command_prefix == ()


def test_a_host_address_is_where_it_listens_advertises_and_is_reached(tmp_path: Path) -> None:
    props = _server_properties(tmp_path, 9092, 9093, {}, host="10.231.0.2")
    assert props["listeners"] == "PLAINTEXT://10.231.0.2:9092,CONTROLLER://10.231.0.2:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://10.231.0.2:9092"
    assert props["controller.quorum.voters"] == "1@10.231.0.2:9093"
    broker = KafkaBroker(port=9092, controller_port=9093, data_dir=tmp_path, process=None, host="10.231.0.2")
    assert broker.bootstrap_servers == "10.231.0.2:9092"
