"""MQTT sink: alerts to a broker, stored in an on-disk outbox until the broker acknowledges them.

Topics (``<p>/<s>/<g>`` is ``<mqtt.topic_prefix>/<site>/<gateway_id>``):

- ``<p>/<s>/<g>/alert/<class>``: one EVE alert record per message, QoS ``mqtt.qos`` (1 by default).
- ``<p>/<s>/<g>/status``: retained ``online`` once connected; ``offline`` as the last will (the
  broker publishes it if the gateway vanishes) and on a clean shutdown.
- ``<p>/<s>/<g>/health``: every ``mqtt.health_interval_s``, a JSON object with the runtime's counters
  (from the ``health_provider`` callable the runtime passes in) and this sink's own (``mqtt``:
  published, outbox depth, dropped, connection counts).

Delivery loses nothing the outbox holds (at least once; subscribers de-duplicate on ``alert_id``):

1. :meth:`MqttSink.emit` (scoring thread) serialises the alert, stores it in the sqlite outbox
   (:mod:`agent.sinks.outbox`) and wakes the sender thread. It never waits for the network.
2. The sender thread publishes stored rows in order, at most ``inflight_window`` unacknowledged at a
   time (memory stays bounded however long the broker is away), and deletes a row only when paho
   reports its PUBACK. While disconnected it publishes nothing, so the outbox, not paho's memory,
   holds the backlog, and a full outbox drops the oldest undelivered alerts (counted, in health).
3. On reconnect paho first resends what was in flight, then the sender continues with the next
   stored rows: order is kept. On restart (after a crash or SIGKILL) everything still stored is
   sent first, in order.

Connection handling: ``connect_async`` + ``loop_start``, so a broker that is down at start does not
stop the agent; paho reconnects with exponential back-off between ``mqtt.reconnect_min_s`` and
``mqtt.reconnect_max_s``. A refused CONNACK (bad credentials, not authorised, client id rejected) is
logged as an error with the broker's reason and a hint, and retried with the same back-off.

Threads: paho's network thread runs the callbacks; they only update counters and wake the sender.
Only the sender thread publishes alerts, so no lock is held across a paho call (paho calls
``on_publish`` with its own message lock held; holding ours while calling ``publish`` could deadlock).
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from agent.alerts.record import iso_timestamp
from agent.config import AgentConfig, MqttConfig
from agent.errors import DeliveryError
from agent.sinks.outbox import Outbox

log = logging.getLogger(__name__)

HealthProvider = Callable[[], Mapping[str, Any]]
_TOPIC_UNSAFE = re.compile(r"[/+#\s\x00]+")
#: CONNACK reasons that a person must fix (MQTT 5 codes; paho maps 3.1.1 return codes onto them)
_AUTH_REASONS = {134: "check mqtt.username and mqtt.password_file", 135: "check the broker's ACL for this user",
                 133: "check mqtt.client_id", 140: "check the broker's authentication method"}


def topic_part(text: str) -> str:
    """A string made safe as one topic level (no ``/``, ``+``, ``#``, spaces)."""
    return _TOPIC_UNSAFE.sub("_", text.strip()) or "_"


def topic_base(cfg: MqttConfig, site: str, gateway_id: str) -> str:
    """``<prefix>/<site>/<gateway>``: every topic of one gateway starts with it."""
    return f"{cfg.topic_prefix.rstrip('/')}/{topic_part(site)}/{topic_part(gateway_id)}"


def read_password(cfg: MqttConfig) -> str | None:
    """The first line of ``mqtt.password_file`` (without its newline), or ``None`` when not set."""
    if not cfg.password_file:
        return None
    try:
        with open(cfg.password_file, encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n")
    except OSError as exc:
        raise DeliveryError(
            f"mqtt.password_file: cannot read {cfg.password_file}: {exc.strerror or exc}; "
            "the file's first line must hold the broker password"
        ) from exc


def tls_context(cfg: MqttConfig) -> ssl.SSLContext | None:
    """An SSL context from ``mqtt.tls`` (``None`` when TLS is off); verification stays on unless
    ``mqtt.tls.insecure`` is set. Missing or unreadable files raise :class:`DeliveryError`."""
    tls = cfg.tls
    if not tls.enabled:
        return None
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, key)
        if path is not None and not os.access(path, os.R_OK):
            raise DeliveryError(f"mqtt.tls.{key}: cannot read {path}; give a readable PEM file")
    if tls.key_file and not tls.cert_file:
        raise DeliveryError("mqtt.tls.key_file is set but mqtt.tls.cert_file is not; give both or neither")
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_file) if tls.ca_file else ssl.create_default_context()
        if tls.cert_file:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise DeliveryError(
            f"mqtt.tls: cannot load the certificates ({tls.ca_file=}, {tls.cert_file=}, {tls.key_file=}): {exc}"
        ) from exc
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A paho client (callback API 2) with protocol, credentials, TLS and back-off from ``cfg``.

    Shared by the sink and ``edge-ids-agent tail`` so both connect the same way.
    """
    v5 = cfg.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else True,
    )
    if cfg.username is not None:
        client.username_pw_set(cfg.username, read_password(cfg))
    ctx = tls_context(cfg)
    if ctx is not None:
        client.tls_set_context(ctx)
        client.tls_insecure_set(cfg.tls.insecure)
    # paho annotates the delays as int but computes with them as numbers; sub-second values work.
    client.reconnect_delay_set(
        cast(int, max(0.01, cfg.reconnect_min_s)), cast(int, max(cfg.reconnect_min_s, cfg.reconnect_max_s))
    )
    return client


def describe_reason(reason: ReasonCode | int) -> str:
    """``Bad user name or password (134)``."""
    if isinstance(reason, ReasonCode):
        return f"{reason.getName()} ({reason.value})"
    return f"code {reason}"


class MqttSink:
    """Alerts over MQTT with a durable outbox, status, last will and periodic health (module docstring)."""

    name = "mqtt"

    def __init__(
        self,
        cfg: MqttConfig,
        site: str,
        gateway_id: str,
        state_dir: str | os.PathLike[str],
        health_provider: HealthProvider | None = None,
        inflight_window: int = 256,
        outbox_synchronous: str = "NORMAL",
    ):
        """:param cfg: the ``mqtt`` config section.
        :param site: site name (topic level and health field).
        :param gateway_id: gateway id (topic level and health field).
        :param state_dir: where ``mqtt-outbox.sqlite`` lives.
        :param health_provider: returns the runtime's counters for each health message.
        :param inflight_window: stored alerts handed to paho and not yet acknowledged, at most.
        :raises DeliveryError: unreadable password or TLS files, or an outbox that cannot be opened.
        """
        self.cfg = cfg
        self.site = site
        self.gateway_id = gateway_id
        self.base = topic_base(cfg, site, gateway_id)
        self.status_topic = f"{self.base}/status"
        self.health_topic = f"{self.base}/health"
        self.health_provider = health_provider
        self.window = max(1, int(inflight_window))
        self.qos = int(cfg.qos)
        self.client_id = cfg.client_id or f"edge-ids-{topic_part(site)}-{topic_part(gateway_id)}"
        self.outbox = Outbox(Path(state_dir) / "mqtt-outbox.sqlite", cfg.outbox_max, outbox_synchronous)
        self.published = 0
        self.rejected = 0
        self.connects = 0
        self.disconnects = 0
        self.connect_failures = 0
        self.refused = 0
        self.health_sent = 0
        self.last_error = ""
        self._fail_streak = 0
        self._connected = False
        self._closing = False
        self._cursor = 0  # highest seq handed to paho (in this process)
        self._handed: deque[tuple[int, mqtt.MQTTMessageInfo]] = deque()
        self._resync_since: float | None = None
        self._failed_mids: dict[int, ReasonCode] = {}
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._stop = threading.Event()
        self._next_health = time.monotonic() + max(0.1, cfg.health_interval_s)
        try:
            self.client = make_client(cfg, self.client_id)
        except BaseException:
            self.outbox.close()
            raise
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.enable_logger(logging.getLogger("agent.sinks.mqtt.paho"))
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._sender.start()
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        self.client.loop_start()

    @classmethod
    def from_config(cls, cfg: AgentConfig, **kwargs: Any) -> MqttSink:
        kwargs.setdefault("outbox_synchronous", getattr(cfg.mqtt, "outbox_synchronous", "NORMAL"))
        return cls(cfg.mqtt, cfg.site, cfg.gateway_id, cfg.state_dir, **kwargs)

    # --- the Sink protocol ------------------------------------------------------------------------

    def alert_topic(self, cls: str) -> str:
        return f"{self.base}/alert/{topic_part(cls)}"

    def emit(self, alert: dict[str, Any]) -> None:
        """Store the alert in the outbox (durable before anything is sent) and wake the sender."""
        cls = str((alert.get("edge_ids") or {}).get("class", "unknown"))
        payload = json.dumps(alert, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.outbox.put(self.alert_topic(cls), payload, self.qos, in_flight_upto=self._cursor)
        self._wake.set()

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (every alert acknowledged) or ``timeout_s`` passes."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._drained:
            while len(self.outbox) > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._drained.wait(min(left, 0.05))
        return True

    def stats(self) -> dict[str, int]:
        return {
            "published": self.published,
            "outbox_depth": len(self.outbox),
            "dropped": self.outbox.dropped,
            "dropped_total": self.outbox.dropped_total,
            "rejected": self.rejected,
            "in_flight": len(self._handed),
            "connected": int(self._connected),
            "connects": self.connects,
            "disconnects": self.disconnects,
            "connect_failures": self.connect_failures,
            "refused": self.refused,
            "health_sent": self.health_sent,
        }

    def close(self) -> None:
        """Publish ``offline`` (retained), disconnect and stop the threads; stored alerts stay stored."""
        if self._closing:
            return
        self._closing = True
        self._stop.set()
        self._wake.set()
        self._sender.join(timeout=5.0)
        if self._connected:
            try:
                info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("MQTT: could not publish offline status: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    # --- health -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The health message: the runtime's counters plus this sink's (dropped alerts included)."""
        body: dict[str, Any] = {"timestamp": iso_timestamp(time.time()), "site": self.site, "gateway": self.gateway_id}
        if self.health_provider is not None:
            try:
                body.update(self.health_provider())
            except Exception as exc:  # noqa: BLE001 - a broken provider must not stop health messages
                body["health_error"] = str(exc)
        body["mqtt"] = self.stats()
        body["outbox_dropped"] = self.outbox.dropped
        return body

    def publish_health(self) -> bool:
        """Publish one health message now (QoS 0: a stale one is worth nothing later)."""
        if not self._connected:
            return False
        payload = json.dumps(self.health(), separators=(",", ":"), default=str)
        info = self.client.publish(self.health_topic, payload, qos=0)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.health_sent += 1
            return True
        return False

    # --- sender thread ----------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.05 if self._handed else 0.5)
            self._wake.clear()
            try:
                self._reap()
                if self._connected:
                    self._pump()
                    if self.cfg.health_interval_s > 0 and time.monotonic() >= self._next_health:
                        self._next_health = time.monotonic() + self.cfg.health_interval_s
                        self.publish_health()
            except Exception:  # the sender must outlive one bad round (it retries)
                log.exception("MQTT sender: unexpected error; retrying")
                time.sleep(0.5)

    def _reap(self) -> None:
        """Delete rows whose PUBACK arrived (``info.is_published()``), in any order."""
        if not self._handed:
            return
        done = False
        keep: deque[tuple[int, mqtt.MQTTMessageInfo]] = deque()
        for seq, info in self._handed:
            if info.is_published():
                reason = self._failed_mids.pop(info.mid, None)
                if reason is not None:
                    # The broker refused this message (MQTT 5); resending would be refused again.
                    self.rejected += 1
                    log.error("MQTT broker rejected alert on %s: %s", info, describe_reason(reason))
                elif self.outbox.delete(seq):
                    self.published += 1
                done = True
            else:
                keep.append((seq, info))
        self._handed = keep
        if not keep:
            self._resync_since = None
        if done:
            with self._drained:
                self._drained.notify_all()

    def _pump(self) -> None:
        """Hand the next stored rows to paho, keeping at most ``window`` unacknowledged."""
        if self._resync_since is not None:
            # After a reconnect paho first resends what was in flight; new rows wait so order holds.
            if time.monotonic() - self._resync_since < max(10.0, 2.0 * self.cfg.keepalive_s):
                return
            log.warning("MQTT: %d in-flight alert(s) not acknowledged after reconnect; continuing", len(self._handed))
            self._resync_since = None
        room = self.window - len(self._handed)
        if room <= 0:
            return
        rows = self.outbox.after(self._cursor, room)
        for row in rows:
            if not self._connected:
                return
            info = self.client.publish(row.topic, row.payload, qos=row.qos)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("MQTT: publish failed (%s); will retry", mqtt.error_string(info.rc))
                return
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                if row.qos == 0:
                    return  # paho does not keep QoS 0 while the link is down: the row waits here
                # the link went down before paho told us: it keeps QoS>0 messages queued, sends them on
                # reconnect and records the PUBACK, but is_published() raises on this code for ever
                # after, which stalled every later delivery until a restart; the message is handed
                info.rc = mqtt.MQTT_ERR_SUCCESS
            if row.qos == 0:
                # QoS 0 has no PUBACK: handing it to the network is all there is.
                self.outbox.delete(row.seq)
                self.published += 1
            else:
                self._handed.append((row.seq, info))
            self._cursor = row.seq
        if len(rows) == room:
            self._wake.set()

    # --- paho callbacks (network thread) ------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        if reason.is_failure:
            self.refused += 1
            self.connect_failures += 1
            hint = _AUTH_REASONS.get(reason.value, "check the broker's log")
            self.last_error = f"refused: {describe_reason(reason)}"
            log.error(
                "MQTT broker %s:%d refused the connection of client %r: %s; %s; retrying with back-off",
                self.cfg.host, self.cfg.port, self.client_id, describe_reason(reason), hint,
            )
            return
        self.connects += 1
        self._fail_streak = 0
        self.last_error = ""
        if self._handed:
            self._resync_since = time.monotonic()
        self._connected = True
        log.info("MQTT connected to %s:%d as %r (%d alert(s) stored)", self.cfg.host, self.cfg.port,
                 self.client_id, len(self.outbox))
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self._wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.connect_failures += 1
        self._fail_streak += 1
        # The first failure of a streak is worth a warning; the retries that follow are not news.
        level = logging.WARNING if self._fail_streak == 1 else logging.DEBUG
        self.last_error = "cannot connect"
        log.log(level, "MQTT: cannot connect to %s:%d (attempt %d); alerts are kept in the outbox, retrying",
                self.cfg.host, self.cfg.port, self._fail_streak)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        was = self._connected
        self._connected = False
        if not was and not self._closing:
            # Lost before a CONNACK: typically TLS (a client certificate the broker requires, or one it
            # does not trust); paho's logger has just logged the TLS error itself.
            self.connect_failures += 1
            self._fail_streak += 1
            self.last_error = f"connection closed before CONNACK ({describe_reason(reason)})"
            log.log(logging.WARNING if self._fail_streak == 1 else logging.DEBUG,
                    "MQTT: %s:%d closed the connection before accepting it (%s); check mqtt.tls.*; retrying",
                    self.cfg.host, self.cfg.port, describe_reason(reason))
        if was:
            self.disconnects += 1
            if not self._closing:
                log.warning("MQTT: disconnected from %s:%d (%s); alerts are kept in the outbox, reconnecting",
                            self.cfg.host, self.cfg.port, describe_reason(reason))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any) -> None:
        if reason.is_failure:
            self._failed_mids[mid] = reason
        self._wake.set()
