"""Make the golden files under tests/data/ that tests/test_golden.py compares the agent with.

Regenerate (from the repository root; needs scapy, tshark and the shipped bundles in models/)::

    python tests/data/make_golden.py

What it writes (each a few KB; everything crafted here is deterministic, so running it twice gives
the same bytes):

- ``ethernet_mix.pcap``: a few frames each of Modbus/TCP, MQTT, DNS and HTTP, and
  ``ethernet_mix.tshark.tsv``: tshark's ``-T fields`` output for the 61 Edge-IIoTset columns (header
  line first). The extractor must agree with it where tshark is not installed; where it is, tshark
  must still agree with it.
- ``port_scan.pcap``: a FIN scan among Modbus polling, and ``port_scan.alert.json``: the first alert
  record the port-scan rule raises when the capture is replayed through the shipped Ethernet bundle,
  with the fields that depend on the wall clock or on chance left out (``ALERT_IGNORED`` in
  tests/support/golden.py).
- ``can_learn.log``: a small vehicle's candump log (three periodic ids, 6 s), and
  ``can_baseline/baseline.json``: the baseline learned from it with ``configs/can.yaml``, its creation
  time set to ``GOLDEN_CREATED`` (tests/support/golden.py; the learned-at time is the wall clock's)
  and its inputs named by file name (not by the path of the checkout it was learned in).

When regenerating is legitimate: only for a deliberate change of what the files record (the alert
record's or the baseline's format, a new feature column, a retrained shipped bundle whose scores or
thresholds move, a tshark version that prints a field differently), and the diff of the regenerated
files must be read and explained in the commit. A failing golden test after a refactoring means the
behaviour changed: fix the code, not the golden file.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# this tree's agent, trainer and test helpers, whatever else is installed
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from support.golden import golden_baseline, tshark_fields, without_ignored  # noqa: E402

C, S = "10.0.0.2", "10.0.0.1"
MAC_C, MAC_S = "02:00:00:00:00:02", "02:00:00:00:00:01"
T0 = 1_650_000_000.123456
#: how long the golden CAN log runs
SECONDS = 6.0


def _tcp_conv(sport: int, dport: int, payloads: list[tuple[str, bytes]], isn_c: int = 1000,
              isn_s: int = 5000) -> list[Any]:
    """A TCP connection: handshake, the payloads ('c' client, 's' server) each ACKed, FIN/ACK."""
    from scapy.all import IP, TCP, Ether, Raw

    e_c, e_s = Ether(src=MAC_C, dst=MAC_S), Ether(src=MAC_S, dst=MAC_C)
    pk = [e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="S", seq=isn_c),
          e_s / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1),
          e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="A", seq=isn_c + 1, ack=isn_s + 1)]
    cs, ss = isn_c + 1, isn_s + 1
    for who, data in payloads:
        if who == "c":
            pk.append(e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="PA", seq=cs, ack=ss) / Raw(data))
            cs += len(data)
            pk.append(e_s / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="A", seq=ss, ack=cs))
        else:
            pk.append(e_s / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="PA", seq=ss, ack=cs) / Raw(data))
            ss += len(data)
            pk.append(e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="A", seq=cs, ack=ss))
    pk.append(e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="FA", seq=cs, ack=ss))
    pk.append(e_s / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="FA", seq=ss, ack=cs + 1))
    pk.append(e_c / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="A", seq=cs + 1, ack=ss + 1))
    return pk


def _stamp(pkts: list[Any], t0: float = T0, step: float = 0.010017) -> list[Any]:
    for i, p in enumerate(pkts):
        p.time = t0 + i * step
    return pkts


def ethernet_mix() -> list[Any]:
    """Modbus/TCP (read holding registers), MQTT (connect, publish), DNS (query, answer), HTTP (GET, 200)."""
    from scapy.all import DNS, DNSQR, DNSRR, IP, UDP, Ether

    modbus = _tcp_conv(40001, 502, [("c", bytes.fromhex("000100000006010300000002")),
                                    ("s", bytes.fromhex("00010000000701030400070009"))])
    connect = bytes.fromhex("101000044d5154540402003c0004") + b"gw01"
    publish = bytes.fromhex("3014000a") + b"plant/temp" + b"21.5C"
    mqtt = _tcp_conv(40002, 1883, [("c", connect), ("s", bytes.fromhex("20020000")), ("c", publish)],
                     isn_c=7000, isn_s=9000)
    http = _tcp_conv(40003, 80, [("c", b"GET /status HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: probe/1\r\n\r\n"),
                                 ("s", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")],
                     isn_c=11000, isn_s=13000)
    e_c, e_s = Ether(src=MAC_C, dst=MAC_S), Ether(src=MAC_S, dst=MAC_C)
    dns = [e_c / IP(src=C, dst=S) / UDP(sport=53000, dport=53) / DNS(id=0x1234, rd=1, qd=DNSQR(qname="plc.plant.")),
           e_s / IP(src=S, dst=C) / UDP(sport=53, dport=53000) / DNS(
               id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="plc.plant."),
               an=DNSRR(rrname="plc.plant.", ttl=60, rdata="10.0.0.7"))]
    return _stamp(modbus + mqtt + dns + http)


def port_scan() -> list[Any]:
    """Modbus polling of a PLC, and from 1 s on a FIN scan of 60 of its ports that it never answers."""
    from scapy.all import IP, TCP, Ether, Raw

    plc, hmi, scanner = "10.10.0.20", "10.10.0.9", "10.10.0.66"
    e = Ether(src=MAC_C, dst=MAC_S)
    pkts = []
    for i in range(10):  # one request a tenth of a second, each answered
        t = i * 0.1
        req = e / IP(src=hmi, dst=plc) / TCP(sport=41000, dport=502, flags="PA", seq=1 + 12 * i, ack=1) / Raw(
            bytes.fromhex(f"{i:04x}00000006010300000002"))
        rsp = e / IP(src=plc, dst=hmi) / TCP(sport=502, dport=41000, flags="PA", seq=1 + 13 * i, ack=13 + 12 * i) / Raw(
            bytes.fromhex(f"{i:04x}0000000701030400070009"))
        req.time, rsp.time = T0 + t, T0 + t + 0.002
        pkts += [req, rsp]
    for k, port in enumerate(range(1, 61)):
        p = e / IP(src=scanner, dst=plc) / TCP(sport=62000, dport=port, flags="F", seq=77)
        p.time = T0 + 1.0 + k / 500.0
        pkts.append(p)
    return sorted(pkts, key=lambda p: float(p.time))


def can_log() -> str:
    """A small vehicle: three periodic ids (100, 200, 250 ms) for 6 s, a counter and a varying signal."""
    lines = []
    t0 = 1_700_000_000.0
    for aid, period, phase in ((0x1A0, 0.1, 0.003), (0x2B0, 0.2, 0.011), (0x3C0, 0.25, 0.029)):
        n = 0
        t = t0 + phase
        while t < t0 + SECONDS:
            jitter = ((n * 7919 + aid) % 11 - 5) * 0.0004  # a few hundred microseconds, no randomness
            data = bytes([n & 0x0F, (100 + 37 * n) & 0xFF, 0x00, 0x40, aid & 0xFF, 0, 0, 0])
            lines.append((t + jitter, f"({t + jitter:.6f}) can0 {aid:03X}#{data.hex().upper()}\n"))
            n += 1
            t = t0 + phase + n * period
    return "".join(line for _, line in sorted(lines))


def first_rule_alert(pcap: Path, rule: str) -> dict[str, Any]:
    """The first alert record ``rule`` raises when ``pcap`` is replayed through the shipped Ethernet
    bundle, without the fields that change from run to run."""
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    plan = PLANS["ethernet"]
    alerts, _ = replay_alerts(plan, REPO / "models" / plan.name, pcap)
    by_rule = [a for a in alerts if a["edge_ids"].get("rule") == rule]
    if not by_rule:
        raise RuntimeError(f"{pcap}: no {rule} alert")
    return without_ignored(by_rule[0])



def learn_can_baseline(log: Path, out: Path) -> Path:
    """Learn a baseline from ``log`` with configs/can.yaml into ``out``; its creation time is
    fixed (:func:`support.golden.golden_baseline`)."""
    from agent.baseline import load_baseline
    from agent.commands.learn import learn
    from agent.config import load_config

    with tempfile.TemporaryDirectory(prefix="edge-ids-golden-") as tmp:
        cfg = load_config(str(REPO / "configs" / "can.yaml"),
                          ["mqtt.enabled=false", f"state_dir={tmp}", "logging.level=WARNING"])
        with contextlib.redirect_stdout(io.StringIO()):
            learn(cfg, [str(log)], None, tmp + "/baseline")
        baseline = load_baseline(tmp + "/baseline", "can-temporal")
    return golden_baseline(baseline).save(out)



def main() -> int:
    from scapy.all import wrpcap

    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark is not installed (apt install tshark)", file=sys.stderr)
        return 1
    mix = HERE / "ethernet_mix.pcap"
    wrpcap(str(mix), ethernet_mix())
    (HERE / "ethernet_mix.tshark.tsv").write_text(tshark_fields(tshark, mix))
    scan = HERE / "port_scan.pcap"
    wrpcap(str(scan), port_scan())
    (HERE / "port_scan.alert.json").write_text(json.dumps(first_rule_alert(scan, "port_scan"), indent=1,
                                                          sort_keys=True) + "\n")
    log = HERE / "can_learn.log"
    log.write_text(can_log())
    learn_can_baseline(log, HERE / "can_baseline")
    for f in sorted(HERE.rglob("*")):
        if f.is_file() and f.suffix != ".py":
            print(f"{f.relative_to(REPO)}: {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
