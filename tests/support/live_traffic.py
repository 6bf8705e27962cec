"""Traffic for the live end-to-end tests: Ethernet frames built with scapy, a CAN bus sender script.

Ethernet frames carry MAC addresses no interface owns, so neither kernel at the ends of the veth
pair takes them in, answers them or forwards them: they exist only on the wire, where the agent
sees them in promiscuous mode as a mirror port would. Addresses are 10.77.0.0/24 and, for the
flood's spoofed sources, random ones; none of it is ever routed anywhere.
"""

from __future__ import annotations

import random

VICTIM = "10.77.0.2"
SCANNER = "10.77.0.66"
FLOODER_MAC = "02:4c:00:00:00:66"
VICTIM_MAC = "02:4c:00:00:00:02"
SENSOR = ("10.77.0.10", "02:4c:00:00:00:10")
BROKER = ("10.77.0.5", "02:4c:00:00:00:05")
FLOOD_PORT = 502  # Modbus/TCP on a PLC, a typical target on a plant network
#: the Ethernet classes a flood may be reported as
DOS_FAMILY = {"DDoS_TCP", "DDoS_UDP", "DDoS_ICMP", "DDoS_HTTP"}


def _ether(src_mac: str, dst_mac: str) -> object:
    from scapy.layers.l2 import Ether

    return Ether(src=src_mac, dst=dst_mac)


def syn_flood(n: int, seed: int = 1, dport: int = FLOOD_PORT) -> list[bytes]:
    """``hping3 -S --flood --rand-source -p PORT VICTIM``: SYNs from random spoofed sources."""
    from scapy.layers.inet import IP, TCP

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        src = ".".join(str(rng.randint(1, 223)) for _ in range(4))
        pkt = _ether(FLOODER_MAC, VICTIM_MAC) / IP(src=src, dst=VICTIM, ttl=64, id=rng.randrange(65536)) / TCP(
            sport=rng.randint(1024, 65535), dport=dport, flags="S", seq=rng.getrandbits(32), window=512
        )
        out.append(bytes(pkt))
    return out


def syn_scan(n: int, seed: int = 2) -> list[bytes]:
    """``nmap -sS VICTIM``: one SYN per port, ports in random order, one source port, MSS option."""
    from scapy.layers.inet import IP, TCP

    rng = random.Random(seed)
    sport = rng.randint(32768, 61000)
    out = []
    for port in rng.sample(range(1, 10000), k=n):
        pkt = _ether(FLOODER_MAC, VICTIM_MAC) / IP(
            src=SCANNER, dst=VICTIM, ttl=rng.randint(37, 59), id=rng.randrange(65536)
        ) / TCP(sport=sport, dport=port, flags="S", seq=rng.getrandbits(32), window=1024, options=[("MSS", 1460)])
        out.append(bytes(pkt))
    return out


def normal_mqtt(publishes: int, seed: int = 3) -> list[bytes]:
    """A sensor's MQTT session with its broker: handshake, CONNECT/CONNACK, QoS 0 PUBLISHes with ACKs."""
    from scapy.layers.inet import IP, TCP

    rng = random.Random(seed)
    (cip, cmac), (sip, smac) = SENSOR, BROKER
    sport = rng.randint(40000, 60000)
    cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
    out: list[bytes] = []

    def seg(from_client: bool, flags: str, payload: bytes = b"") -> None:
        nonlocal cseq, sseq
        if from_client:
            pkt = _ether(cmac, smac) / IP(src=cip, dst=sip) / TCP(
                sport=sport, dport=1883, flags=flags, seq=cseq, ack=sseq if "A" in flags else 0, window=64240)
            cseq = (cseq + len(payload) + (1 if "S" in flags or "F" in flags else 0)) & 0xFFFFFFFF
        else:
            pkt = _ether(smac, cmac) / IP(src=sip, dst=cip) / TCP(
                sport=1883, dport=sport, flags=flags, seq=sseq, ack=cseq, window=65160)
            sseq = (sseq + len(payload) + (1 if "S" in flags or "F" in flags else 0)) & 0xFFFFFFFF
        out.append(bytes(pkt / payload) if payload else bytes(pkt))

    seg(True, "S")
    seg(False, "SA")
    seg(True, "A")
    client_id = b"sensor-17"
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    seg(True, "PA", bytes([0x10, len(body)]) + body)
    seg(False, "A")
    seg(False, "PA", b"\x20\x02\x00\x00")
    seg(True, "A")
    for i in range(publishes):
        topic = b"plant/line1/temp"
        msg = f'{{"t":{20 + rng.random() * 5:.2f},"n":{i}}}'.encode()
        body = len(topic).to_bytes(2, "big") + topic + msg
        seg(True, "PA", bytes([0x30, len(body)]) + body)
        seg(False, "A")
    return out


def interleave(attack: list[bytes], normal: list[bytes]) -> list[bytes]:
    """``normal`` frames spread evenly through ``attack`` (both keep their order)."""
    if not normal:
        return list(attack)
    out: list[bytes] = []
    every = max(1, len(attack) // len(normal))
    it = iter(normal)
    for i, frame in enumerate(attack):
        if i % every == 0:
            nxt = next(it, None)
            if nxt is not None:
                out.append(nxt)
        out.append(frame)
    out.extend(it)
    return out


# --------------------------------------------------------------------------------------------------
# CAN: a vehicle bus over python-can's udp_multicast, run inside the test namespace

#: benign ECUs: (arbitration id, period s)
CAN_ECUS = [(0x0C1, 0.01), (0x130, 0.01), (0x1A0, 0.02), (0x201, 0.01), (0x2B0, 0.02), (0x316, 0.05),
            (0x3E9, 0.05), (0x43F, 0.1), (0x545, 0.1), (0x5F0, 0.5)]
#: the id whose signal the spoofing phase forges (engine RPM, 10 ms)
SPOOF_ID = 0x201

#: ``python -c CAN_SENDER GROUP PLAN_JSON``; PLAN is ``[[phase, seconds], ...]`` with phase one of
#: ``benign``, ``dos`` (ID 0x000, all-zero payload, every 0.5 ms, on top of the benign ECUs) or
#: ``spoof`` (SPOOF_ID with a forged value, 10x its ECU's rate, while the ECU keeps sending).
#: Prints ``{"phases": [[phase, start_epoch, end_epoch, frames], ...]}``.
CAN_SENDER = r"""
import json, math, sys, time, can
group, plan = sys.argv[1], json.loads(sys.argv[2])
ecus = json.loads(sys.argv[3])
spoof_id = int(sys.argv[4])
bus = can.Bus(interface="udp_multicast", channel=group)
static = {aid: bytes([(aid * 7 + k * 31) & 0xFF for k in range(8)]) for aid, _ in ecus}
counter = {aid: 0 for aid, _ in ecus}
def benign(aid, t):
    counter[aid] = (counter[aid] + 1) & 0x0F
    value = int(2000 + 1500 * math.sin(t / 3.0 + aid)) & 0xFFFF
    d = bytearray(static[aid])
    d[0] = counter[aid]
    d[1:3] = value.to_bytes(2, "big")
    d[7] = sum(d[:7]) & 0xFF
    return bytes(d)
t0 = time.monotonic()
due = {aid: t0 + (aid % 10) * 0.001 for aid, _ in ecus}
period = dict((aid, p) for aid, p in ecus)
report = []
start = t0
for phase, seconds in plan:
    end = start + seconds
    attack_gap = {"dos": 0.0005, "spoof": period[spoof_id] / 10}.get(phase)
    next_attack = start
    sent = 0
    wall_start = time.time()
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for aid, p in ecus:
            if due[aid] <= now:
                bus.send(can.Message(arbitration_id=aid, data=benign(aid, now), is_extended_id=False))
                due[aid] += p
        if attack_gap is not None:
            while next_attack <= now:
                if phase == "dos":
                    msg = can.Message(arbitration_id=0, data=bytes(8), is_extended_id=False)
                else:
                    d = bytearray(benign(spoof_id, now))
                    d[1:3] = (16000).to_bytes(2, "big")
                    d[7] = sum(d[:7]) & 0xFF
                    msg = can.Message(arbitration_id=spoof_id, data=bytes(d), is_extended_id=False)
                bus.send(msg)
                sent += 1
                next_attack += attack_gap
        nxt = min(min(due.values()), next_attack if attack_gap is not None else end, end)
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    report.append([phase, wall_start, time.time(), sent])
    start = end
bus.shutdown()
print(json.dumps({"phases": report}), flush=True)
"""
