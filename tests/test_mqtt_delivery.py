"""MQTT delivery against a real Mosquitto: nothing the outbox holds is lost.

Broker restarts mid-stream, an agent killed with SIGKILL, TLS with a client certificate, refused
credentials and a full outbox, each with a broker the test starts on a free loopback port.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.mqtt_broker import Broker, Subscriber, broker_factory_fixture, broker_fixture, free_port
from support.waiting import wait_for

from agent.alerts.record import build_alert
from agent.config import load_config
from agent.errors import DeliveryError
from agent.sinks.mqtt import MqttSink

pytestmark = pytest.mark.mosquitto
__all__ = ["broker_factory_fixture", "broker_fixture"]  # fixtures used by name

HERE = Path(__file__).resolve().parent
#: the MQTT sink as a process of its own (killed and restarted by the delivery tests)
SINK_PROC = HERE / "support" / "mqtt_sink_proc.py"
FAST = ["mqtt.host=127.0.0.1", "mqtt.reconnect_min_s=0.1", "mqtt.reconnect_max_s=0.3", "mqtt.keepalive_s=5"]


def make_alert(i: int, cls: str = "DDoS_UDP") -> dict[str, Any]:
    return build_alert(
        cls=cls, score=0.9, severity=1, first_seen=float(i), last_seen=float(i) + 0.5, count=1, model_name="lab",
        model_sha256="ab" * 32, host="gw1", incident_id="", phase="start",
        context={"src_ip": "10.0.0.1", "src_port": 1000 + i, "dest_ip": "10.0.0.2", "dest_port": 502, "proto": 6},
    )


def make_sink(port: int, state: Path, *extra: str, **kw: Any) -> MqttSink:
    cfg = load_config(None, [f"mqtt.port={port}", f"state_dir={state}", "site=plant", "gateway_id=gw1", *FAST, *extra])
    return MqttSink.from_config(cfg, **kw)


def test_alerts_status_and_health(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port)
    sink = make_sink(broker.port, tmp_path, "mqtt.health_interval_s=0.2", health_provider=lambda: {"records_in": 42})
    try:
        sent = [make_alert(i, cls) for i, cls in enumerate(["DDoS_UDP", "Port_Scanning", "DDoS_UDP"])]
        for a in sent:
            sink.emit(a)
        assert sink.flush(5.0)
        assert sub.wait(lambda s: len(s.alert_ids()) == 3)
        assert sub.alert_ids() == [a["alert_id"] for a in sent]
        topics = [t for t, _, _ in sub.messages if "/alert/" in t]
        assert topics == ["edge-ids/plant/gw1/alert/DDoS_UDP", "edge-ids/plant/gw1/alert/Port_Scanning",
                          "edge-ids/plant/gw1/alert/DDoS_UDP"]
        assert sub.wait(lambda s: s.payloads("/health"))
        health = json.loads(sub.payloads("/health")[-1])
        assert health["records_in"] == 42 and health["mqtt"]["published"] == 3 and health["site"] == "plant"
        assert sub.payloads("/status")[0] == b"online"
        st = sink.stats()
        assert st["published"] == 3 and st["outbox_depth"] == 0 and st["connects"] == 1
    finally:
        sink.close()
    assert sub.wait(lambda s: s.payloads("/status")[-1:] == [b"offline"])
    # retained: a late subscriber learns the gateway's state at once
    late = Subscriber(broker.port, topic="edge-ids/plant/gw1/status")
    assert late.wait(lambda s: s.messages and s.messages[0][1] == b"offline" and s.messages[0][2])
    late.close()
    sub.close()


def test_broker_down_at_start_does_not_stop_the_agent(tmp_path: Path, mosquitto_bin: str) -> None:
    port = free_port()
    sink = make_sink(port, tmp_path / "state")
    try:
        for i in range(3):
            sink.emit(make_alert(i))  # returns at once although nothing listens
        assert not sink.flush(0.3)
        assert sink.stats()["outbox_depth"] == 3
        assert sink.stats()["connect_failures"] >= 1
        b = Broker(mosquitto_bin, tmp_path, port=port).start()
        try:
            assert sink.flush(10.0)
            assert sink.stats()["published"] == 3
        finally:
            sink.close()
            b.stop()
    finally:
        sink.close()


def test_broker_killed_and_restarted_mid_stream(broker_factory: Any, tmp_path: Path) -> None:
    broker = broker_factory(persistence=True)
    mark = broker.log_size()
    sub = Subscriber(broker.port, client_id="dashboard", persistent=True)
    # the broker must have saved the subscriber's session before it is killed: a save begun after
    # the subscription was logged holds it
    assert broker.wait_logged("SUBSCRIBE from dashboard", mark)
    assert broker.wait_logged("Saving in-memory database", broker.log_size())
    sink = make_sink(broker.port, tmp_path / "state")
    sent: list[str] = []
    n = 90

    def stream() -> None:
        for i in range(n):
            a = make_alert(i)
            sink.emit(a)
            sent.append(a["alert_id"])
            time.sleep(0.02)  # paced: 50 alerts/s

    t = threading.Thread(target=stream)
    t.start()
    try:
        assert wait_for(lambda: len(sent) >= 25, 10.0, step=0.01)
        broker.kill()
        assert wait_for(lambda: len(sent) >= 55, 10.0, step=0.01)
        broker.start()
        t.join()
        assert sink.flush(15.0), sink.stats()
        assert sub.wait(lambda s: set(sent) <= set(s.alert_ids()), timeout=15.0), (
            f"missing {len(set(sent) - set(sub.alert_ids()))} of {n}"
        )
        assert sub.alert_ids() == sent  # and in order
        st = sink.stats()
        assert st["disconnects"] >= 1 and st["connects"] >= 2 and st["dropped"] == 0
    finally:
        t.join()
        sink.close()
        sub.close()


def test_agent_killed_with_sigkill_delivers_stored_alerts_on_restart(broker_factory: Any, tmp_path: Path) -> None:
    broker = broker_factory(persistence=True)
    sub = Subscriber(broker.port, client_id="dashboard", persistent=True)
    broker.stop()  # graceful: the session is saved; the agent starts with no broker
    state = tmp_path / "state"
    script = [sys.executable, str(SINK_PROC), str(broker.port), str(state)]
    proc = subprocess.Popen([*script, "100000", "0.005"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stored: list[str] = []
    try:
        assert proc.stdout is not None
        while len(stored) < 40:
            line = proc.stdout.readline()
            assert line, "the sink process ended early"
            stored.append(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    broker.start()
    again = subprocess.run([*script, "0", "0"], capture_output=True, text=True, timeout=60)
    assert "drained True" in again.stdout, again.stderr[-2000:]
    assert sub.wait(lambda s: set(stored) <= set(s.alert_ids()), timeout=10.0)
    got = sub.alert_ids()
    assert got[: len(stored)] == stored  # resent in the order they were stored
    sub.close()


def test_last_will_on_sigkill(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, topic="edge-ids/site/gw-crash/status")
    script = [sys.executable, str(SINK_PROC), str(broker.port), str(tmp_path), "100000", "0.05"]
    proc = subprocess.Popen(script, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert sub.wait(lambda s: b"online" in s.payloads("/status"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert sub.wait(lambda s: s.payloads("/status")[-1:] == [b"offline"], timeout=10.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A test CA, a broker certificate for localhost/127.0.0.1 and a client certificate."""
    d = tmp_path / "pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=edge-ids test CA",
             cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *extra, cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2",
             "-subj", "/CN=someone else", cwd=d)
    return d


def test_tls_with_client_certificate(broker_factory: Any, pki: Path, tmp_path: Path) -> None:
    broker = broker_factory(extra=(
        f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\nrequire_certificate true"
    ))
    tls = {"ca": str(pki / "ca.crt"), "cert": str(pki / "client.crt"), "key": str(pki / "client.key")}
    sub = Subscriber(broker.port, tls=tls, host="localhost")
    on = ["mqtt.tls.enabled=true", f"mqtt.tls.ca_file={pki}/ca.crt", "mqtt.host=localhost"]
    good = make_sink(broker.port, tmp_path / "good", *on, f"mqtt.tls.cert_file={pki}/client.crt",
                     f"mqtt.tls.key_file={pki}/client.key")
    no_cert = make_sink(broker.port, tmp_path / "nocert", *on)
    wrong_ca = make_sink(broker.port, tmp_path / "wrongca", "mqtt.tls.enabled=true", "mqtt.host=localhost",
                         f"mqtt.tls.ca_file={pki}/other-ca.crt", f"mqtt.tls.cert_file={pki}/client.crt",
                         f"mqtt.tls.key_file={pki}/client.key")
    try:
        a = make_alert(1)
        good.emit(a)
        no_cert.emit(make_alert(2))
        wrong_ca.emit(make_alert(3))
        assert good.flush(10.0)
        assert sub.wait(lambda s: a["alert_id"] in s.alert_ids())
        wait_for(lambda: all(r.stats()["connect_failures"] + r.stats()["disconnects"] >= 1
                             for r in (no_cert, wrong_ca)), 10.0)
        for refused in (no_cert, wrong_ca):  # no client certificate / broker not signed by our CA
            st = refused.stats()
            assert st["outbox_depth"] == 1 and st["published"] == 0 and st["connects"] == 0
            assert st["connect_failures"] + st["disconnects"] >= 1
        assert sub.alert_ids() == [a["alert_id"]]
    finally:
        for s in (good, no_cert, wrong_ca):
            s.close()
        sub.close()


def test_missing_tls_files_and_password_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match=r"mqtt\.tls\.ca_file"):
        make_sink(1883, tmp_path, "mqtt.tls.enabled=true", f"mqtt.tls.ca_file={tmp_path}/nope.crt")
    with pytest.raises(DeliveryError, match=r"mqtt\.password_file"):
        make_sink(1883, tmp_path, "mqtt.username=u", f"mqtt.password_file={tmp_path}/nope")


def test_wrong_credentials_logged_clearly_and_retried(
    broker_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "gw1", "s3cret"], check=True, capture_output=True)
    broker = broker_factory(extra=f"allow_anonymous false\npassword_file {pw}")
    (tmp_path / "wrong").write_text("guess\n")
    (tmp_path / "right").write_text("s3cret\n")
    caplog.set_level(logging.ERROR, logger="agent.sinks.mqtt")
    bad = make_sink(broker.port, tmp_path / "s1", "mqtt.username=gw1", f"mqtt.password_file={tmp_path}/wrong")
    try:
        bad.emit(make_alert(1))
        wait_for(lambda: bad.stats()["refused"] >= 3, 10.0)
        assert bad.stats()["refused"] >= 3  # retried with back-off
        assert bad.stats()["outbox_depth"] == 1  # and the alert is kept
        msgs = [r.getMessage() for r in caplog.records if "refused the connection" in r.getMessage()]
        assert msgs and ("Not authorized" in msgs[0] or "Bad user name or password" in msgs[0])
        assert "mqtt.username" in msgs[0] or "ACL" in msgs[0]
    finally:
        bad.close()
    sub_cfg = ["mqtt.username=gw1", f"mqtt.password_file={tmp_path}/right", "mqtt.protocol=5"]
    good = make_sink(broker.port, tmp_path / "s1", *sub_cfg)  # same state dir: the kept alert goes out
    try:
        assert good.flush(10.0)
        assert good.stats()["published"] == 1
    finally:
        good.close()


def test_full_outbox_drops_oldest_and_reports_it(broker_factory: Any, tmp_path: Path) -> None:
    broker = broker_factory(persistence=True)
    sub = Subscriber(broker.port, client_id="dashboard", persistent=True)
    broker.stop()
    sink = make_sink(broker.port, tmp_path / "state", "mqtt.outbox_max=5", "mqtt.health_interval_s=0.2")
    try:
        sent = [make_alert(i) for i in range(12)]
        for a in sent:
            sink.emit(a)
        st = sink.stats()
        assert st["dropped"] == 7 and st["outbox_depth"] == 5
        assert sink.health()["outbox_dropped"] == 7
        broker.start()
        assert sink.flush(10.0)
        assert sub.wait(lambda s: len(s.alert_ids()) == 5)
        # a health report published after the flush arrives after every alert the flush delivered
        healths = len(sub.payloads("/health"))
        assert sub.wait(lambda s: len(s.payloads("/health")) > healths)
        assert sub.alert_ids() == [a["alert_id"] for a in sent[-5:]]  # the newest, in order
        assert sub.wait(lambda s: any(json.loads(p)["mqtt"]["dropped"] == 7 for p in s.payloads("/health")))
    finally:
        sink.close()
        sub.close()


@pytest.mark.parametrize("as_json", [False, True])
def test_tail_prints_what_it_receives(broker: Broker, tmp_path: Path, as_json: bool) -> None:
    conf = tmp_path / "agent.yaml"
    conf.write_text(f"site: plant\ngateway_id: gw1\nstate_dir: {tmp_path}/state\nmqtt:\n  host: 127.0.0.1\n"
                    f"  port: {broker.port}\n")
    cmd = [sys.executable, "-m", "agent", "tail", "--config", str(conf), "--count", "2", "--timeout", "20"]
    if as_json:
        cmd.append("--json")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE.parent)
    try:
        assert proc.stderr is not None
        assert "connected" in proc.stderr.readline()
        assert broker.wait_logged("Sending SUBACK")  # the subscription is in place
        sink = make_sink(broker.port, tmp_path / "state")
        sent = [make_alert(1), build_alert(
            cls="SPOOFING-RPM", score=0.99, severity=1, first_seen=5.0, last_seen=6.0, count=4, model_name="can",
            model_sha256="cd" * 32, host="gw1", incident_id="", phase="update",
            context={"channel": "can0", "arbitration_id": 0x316, "rate_hz": 480.0})]
        for a in sent:
            sink.emit(a)
        assert sink.flush(5.0)
        sink.close()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0
    lines = [x for x in out.splitlines() if "/alert/" in x or "plant/gw1" in x or x.startswith("{")]
    if as_json:
        recs = [json.loads(x) for x in lines]
        assert [r["alert_id"] for r in recs if "alert_id" in r] == [a["alert_id"] for a in sent]
        assert {"topic": "edge-ids/plant/gw1/status", "status": "online"} in recs
    else:
        alerts = [x for x in lines if "  sev " in x]
        assert len(alerts) == 2
        assert "plant/gw1  start   sev 1  DDoS_UDP  0.900  10.0.0.1:1001 -> 10.0.0.2:502 TCP" in alerts[0]
        assert "plant/gw1  update  sev 1  SPOOFING-RPM  0.990  bus can0 id 0x316 at 480.0 frames/s" in alerts[1]
        assert any(x.endswith("plant/gw1 status online") for x in lines)


def test_an_alert_queued_while_the_link_was_down_is_settled(broker: Broker, tmp_path: Path) -> None:
    """The broker goes away between two alerts and paho has not yet said so: ``publish`` queues the
    next alert and answers MQTT_ERR_NO_CONN. paho sends it on reconnect and records the PUBACK; the
    sink must then settle it and go on, not fail every round on that message (delivery stalled for
    good, the outbox growing, until the agent restarted)."""
    from paho.mqtt import client as mqtt

    sub = Subscriber(broker.port)
    sink = make_sink(broker.port, tmp_path)
    real_publish = sink.client.publish
    queued: list[int] = []

    def publish_as_if_the_link_were_down(*args: Any, **kwargs: Any) -> Any:
        info = real_publish(*args, **kwargs)
        if "/alert/" in args[0] and not queued:
            queued.append(info.mid)
            info.rc = mqtt.MQTT_ERR_NO_CONN  # what paho answers for a message it queued for the reconnect
        return info

    sink.client.publish = publish_as_if_the_link_were_down  # type: ignore[method-assign]
    try:
        sent = [make_alert(i) for i in range(5)]
        for a in sent:
            sink.emit(a)
        assert sink.flush(5.0), sink.stats()
        assert queued
        assert sub.wait(lambda s: len(s.alert_ids()) == 5)
        assert sub.alert_ids() == [a["alert_id"] for a in sent]
        assert sink.stats()["published"] == 5
    finally:
        sink.close()
        sub.close()
