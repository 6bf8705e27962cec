"""Which records a bundle's model scores (``window.records``): frames without any Edge-IIoTset protocol
field are skipped by the model when the bundle says so, in training and in the agent alike."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, LLC, STP, Dot3, Ether
from scapy.layers.vrrp import VRRP
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from agent.bundle import load_bundle, parse_manifest, write_bundle
from agent.errors import BundleError
from agent.features import record_filter
from agent.features.edge_iiotset import EdgeIIoTsetExtractor
from agent.features.edge_iiotset.columns import carries_protocol_field
from agent.features.host_context import HostContextExtractor
from agent.preprocess import Preprocessor
from agent.records import Frame
from agent.scorer import Scorer

REPO = Path(__file__).resolve().parent.parent
MAC_A, MAC_B = "00:1b:1b:00:00:01", "00:1b:1b:00:00:02"
T0 = 1_700_000_000.0

#: frames the Edge-IIoTset columns cannot describe, as plants and offices send them
NO_FIELDS: dict[str, Packet] = {
    "LLDP": Ether(src=MAC_A, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes.fromhex("020704001b1b000001")),
    "STP": Dot3(src=MAC_A, dst="01:80:c2:00:00:00") / LLC() / STP(),
    "PROFINET RT": Ether(src=MAC_A, dst=MAC_B, type=0x8892) / Raw(bytes.fromhex("8000") + bytes(40) + b"\x35\x00"),
    "GOOSE": Ether(src=MAC_A, dst="01:0c:cd:01:00:01", type=0x88B8) / Raw(bytes.fromhex("0001002c00000000")),
    "PTP": Ether(src=MAC_A, dst="01:1b:19:00:00:00", type=0x88F7) / Raw(bytes(44)),
    "ICMPv6 NS": Ether(src=MAC_A) / IPv6(src="fe80::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::2"),
    "VRRP": Ether(src=MAC_A) / IP(src="10.0.0.2", dst="224.0.0.18", ttl=255) / VRRP(vrid=1, addrlist=["10.0.0.1"]),
    "IGMP": Ether(src=MAC_A) / IP(src="10.0.0.5", dst="224.0.0.22", proto=2)
    / Raw(bytes.fromhex("2200f9020000000104000000efc00001")),
}
#: frames that carry at least one field, among them ones whose fields are mostly 0
WITH_FIELDS: dict[str, Packet] = {
    "TCP NULL scan": Ether() / IP(src="10.0.0.9", dst="10.0.0.5") / TCP(sport=40000, dport=502, flags=0),
    "TCP SYN": Ether() / IP(src="10.0.0.9", dst="10.0.0.5") / TCP(sport=40001, dport=80, flags="S"),
    "UDP": Ether() / IP(src="10.0.0.9", dst="10.0.0.5") / UDP(sport=5000, dport=2222) / Raw(b"\x00" * 8),
    "ICMP echo": Ether() / IP(src="10.0.0.9", dst="10.0.0.5") / ICMP(),
    "ARP request": Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.9", pdst="10.0.0.5"),
}


def rows_of(packets: list[Packet]) -> list[list[object]]:
    ext = EdgeIIoTsetExtractor()
    frames = []
    for i, p in enumerate(packets):
        data = bytes(p)
        frames.append(Frame(T0 + i * 0.01, data, 1, len(data)))
    return list(ext.rows(frames))


@pytest.mark.parametrize("name", list(NO_FIELDS))
def test_frames_without_a_dataset_field_are_not_kept(name: str) -> None:
    (row,) = rows_of([NO_FIELDS[name]])
    assert row[0] != 0  # frame.time is always there
    assert not carries_protocol_field(row)


@pytest.mark.parametrize("name", list(WITH_FIELDS))
def test_frames_with_a_dataset_field_are_kept(name: str) -> None:
    (row,) = rows_of([WITH_FIELDS[name]])
    assert carries_protocol_field(row)


def test_record_filters_by_name() -> None:
    assert record_filter("all") is None
    assert record_filter("protocol-fields") is carries_protocol_field
    with pytest.raises(KeyError, match="unknown record filter 'nope'"):
        record_filter("nope")


def test_a_can_bundle_cannot_ask_for_the_ethernet_filter() -> None:
    can = load_bundle(REPO / "models" / "ciciov2024-lab").manifest
    data = {**dataclasses.asdict(can), "window": {**dataclasses.asdict(can.window), "records": "protocol-fields"}}
    with pytest.raises(BundleError, match=r"window\.records: 'protocol-fields' applies to feature kinds"):
        parse_manifest(data, "m.json")
    data["window"]["records"] = "some"
    with pytest.raises(BundleError, match="window"):
        parse_manifest(data, "m.json")


def industrial_l2_with_modbus(path: Path, polls: int = 16) -> tuple[int, int]:
    """A PROFINET RT cycle every 4 ms with LLDP and STP, and a Modbus/TCP poll (request, response)
    every 100 ms (``polls`` of them): (frames without fields, Modbus frames)."""
    frames: list[Packet] = []
    for i in range(400):
        cycle = bytes.fromhex("8000") + bytes(40) + (i % 65536).to_bytes(2, "big")
        rt = Ether(src=MAC_A, dst=MAC_B, type=0x8892) / Raw(cycle)
        rt.time = T0 + i * 0.004
        frames.append(rt)
    for name in ("LLDP", "STP"):
        p = NO_FIELDS[name].copy()
        p.time = T0 + 0.5
        frames.append(p)
    n_l2 = len(frames)
    for i in range(polls):
        req = (Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.9", dst="10.0.0.5")
               / TCP(sport=50200, dport=502, flags="PA", seq=1000 + 12 * i, ack=1)
               / Raw(bytes.fromhex(f"{i:04x}000000060103000a0004")))
        req.time = T0 + 0.1 * i + 0.001
        resp = (Ether(src=MAC_B, dst=MAC_A) / IP(src="10.0.0.5", dst="10.0.0.9")
                / TCP(sport=502, dport=50200, flags="PA", seq=1, ack=1012 + 12 * i)
                / Raw(bytes.fromhex(f"{i:04x}0000000b010308000100020003000400")))
        resp.time = T0 + 0.1 * i + 0.003
        frames += [req, resp]
    frames.sort(key=lambda f: float(f.time))
    wrpcap(str(path), frames)
    return n_l2, 2 * polls


@pytest.mark.parametrize("records", ["all", "protocol-fields"])
def test_the_agent_windows_only_the_rows_the_bundle_names(tmp_path: Path, records: str) -> None:
    """The same capture through the same model: with ``protocol-fields`` the PROFINET, LLDP and STP
    frames are counted as not scored and the windows hold the Modbus frames only."""
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    plan = PLANS["ethernet"]
    shipped = load_bundle(REPO / "models" / plan.name)
    m = shipped.manifest
    m.window = dataclasses.replace(m.window, records=records)
    bundle = tmp_path / "bundle"
    write_bundle(bundle, m, shipped.model_bytes)
    capture = tmp_path / "plant.pcap"
    n_l2, n_modbus = industrial_l2_with_modbus(capture)
    _, stats = replay_alerts(plan, bundle, capture)
    size, stride = m.window.size, m.window.stride
    assert stats["records_in"] == n_l2 + n_modbus
    if records == "all":
        assert stats["records_unscored"] == 0
        assert stats["windows_scored"] == (n_l2 + n_modbus - size) // stride + 1
    else:
        assert stats["records_unscored"] == n_l2
        assert stats["records_scored"] == n_modbus
        assert stats["windows_scored"] == (n_modbus - size) // stride + 1


def test_the_trainer_marks_the_rows_the_agent_would_skip(tmp_path: Path) -> None:
    """The lab build's rows keep every frame (replays are scored against the whole capture) and mark
    which ones a ``protocol-fields`` model's windows are cut from, with the agent's own filter."""
    from trainer.lab.sessions import PLANS, extract_rows

    capture = tmp_path / "plant.pcap"
    n_l2, n_modbus = industrial_l2_with_modbus(capture)
    plan = PLANS["ethernet"]
    rows, ts, scored = extract_rows(capture, plan, records="protocol-fields")
    assert len(rows) == len(ts) == len(scored) == n_l2 + n_modbus
    assert int(scored.sum()) == n_modbus
    assert (rows.loc[scored, "tcp.len"].astype(float) > 0).all()  # the Modbus requests and responses
    _, _, everything = extract_rows(capture, plan, records="all")
    assert everything.all()


def test_a_window_of_frames_without_fields_is_answered_benign_without_the_model() -> None:
    """Every link-layer frame of NO_FIELDS makes the same model input; the scorer answers a window of
    them benign (whatever the model would say) and counts it, and scores every other window with the
    model. Frames with an IP layer are not blank for this feature kind: the context columns count
    their hosts' rates."""
    bundle = load_bundle(REPO / "models" / "edge-iiotset-lab")
    m = bundle.manifest
    ext = HostContextExtractor()
    pre = Preprocessor.from_manifest(m, list(ext.columns))
    data = [bytes(p) for p in NO_FIELDS.values()]
    rows = list(ext.rows(Frame(T0 + i, d, 1, len(d)) for i, d in enumerate(data)))
    scorer = Scorer(bundle)
    blank = scorer.blank_input
    assert blank is not None and blank.shape == tuple(m.input_shape)
    is_blank = (pre.transform(rows) == blank[0]).all(axis=1)
    assert dict(zip(NO_FIELDS, is_blank.tolist(), strict=True)) == {
        "LLDP": True, "STP": True, "PROFINET RT": True, "GOOSE": True, "PTP": True,
        "ICMPv6 NS": False, "VRRP": False, "IGMP": False}
    syn = bytes(WITH_FIELDS["TCP SYN"])
    mixed = blank.copy()
    mixed[-1] = pre.transform(list(ext.rows([Frame(T0 + 20, syn, 1, len(syn))])))[0]
    proba = scorer.predict_proba(np.stack([blank, mixed]))
    benign = m.classes.index(m.benign_class)
    assert proba[0, benign] == 1.0 and proba[0].sum() == 1.0
    assert np.array_equal(proba[1], scorer.predict_proba(mixed[None])[0])  # the model's answer
    assert scorer.stats()["blank_inputs"] == 1
    assert Scorer(load_bundle(REPO / "models" / "ciciov2024-lab")).blank_input is None  # a CAN row is a frame


def test_an_industrial_l2_cycle_raises_nothing_through_the_shipped_bundle(tmp_path: Path) -> None:
    """PROFINET RT every 4 ms with LLDP and STP, scored by the shipped bundle with every record in its
    windows: each window is answered benign without the model; with Modbus polls among them, the
    windows holding a poll are scored by the model."""
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    plan = PLANS["ethernet"]
    bundle = REPO / "models" / plan.name
    capture = tmp_path / "plant.pcap"
    industrial_l2_with_modbus(capture, polls=0)
    alerts, stats = replay_alerts(plan, bundle, capture)
    assert alerts == []
    assert stats["scorer"]["blank_inputs"] == stats["windows_scored"] > 0
    industrial_l2_with_modbus(capture)
    _, stats = replay_alerts(plan, bundle, capture)
    assert 0 < stats["scorer"]["blank_inputs"] < stats["windows_scored"]
