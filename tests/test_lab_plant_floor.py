"""Plant-floor traffic of the lab: other control protocols, cyclic I/O, GOOSE/PTP, SNMP and syslog.

Why: these frames teach a model trained on the lab (``generate --plant-floor``) that a plant's own
chatter is benign (the default model, trained without them, scores S7comm polling as an HTTP flood and
PROFINET cycles as a UDP flood). tshark must dissect them as those protocols, well-formed, and the
agent's extractor must give tshark's values on them, or the model learns from rows serving never sees.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from support.lab_capture import T0, new_capture, write_capture
from test_edge_iiotset_parity import compare, ours_for, tshark_rows

from trainer.lab import plant_floor
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.session import generate_session


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    cap, site = new_capture(21)
    t0 = T0
    plant_floor.normal_ot_polling(cap, site, t0, t0 + 30, protocols=sorted(plant_floor.OT_TCP))
    for kind in ("profinet", "ethercat", "enip_io"):
        plant_floor.normal_cyclic_io(cap, site, t0, t0 + 30, kind=kind)
    plant_floor.normal_substation(cap, site, t0, t0 + 600, ptp=True)
    for func in (plant_floor.normal_monitoring, plant_floor.discovery_bursts):
        func(cap, site, t0, t0 + 600)
    return write_capture(cap, tmp_path_factory.mktemp("plant_floor") / "plant_floor.pcap")


def test_everything_is_labelled_normal_and_within_the_frame_budget(capture: tuple[Path, list[str]]) -> None:
    _, labels = capture
    assert set(labels) == {NORMAL}
    # cyclic I/O at up to 8 frames a millisecond is held to a stretch of the session
    assert 2000 < len(labels) < 30 * plant_floor.FRAME_BUDGET_PER_S * 12 + 20_000


def test_tshark_sees_the_protocols_well_formed(tshark: str, capture: tuple[Path, list[str]]) -> None:
    path, _ = capture
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-e", "frame.protocols",
                          "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
                          "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                          "-o", "tcp.check_checksum:TRUE", "-d", "tcp.port==20000,dnp3", "-d", "tcp.port==4840,opcua"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    protos = Counter(p for r in rows for p in r[0].split(":"))
    for p in ("s7comm", "enip", "cip", "dnp3", "opcua", "iec60870_104", "pn_rt", "ecat", "goose", "ptp", "snmp",
              "syslog", "mdns", "ssdp", "llmnr", "nbns"):
        assert protos[p], f"no {p} frames (protocols seen: {sorted(protos)})"
    malformed = [r[0] for r in rows if "_ws.malformed" in r[0]]
    assert not malformed, Counter(malformed).most_common(3)
    assert not [r for r in rows if "2" in r[1:4]], "bad checksums"


def test_extractor_matches_tshark(tshark: str, capture: tuple[Path, list[str]]) -> None:
    path, _ = capture
    ref = tshark_rows(tshark, path)
    ours = ours_for(path)
    assert len(ours) == len(ref)
    assert compare(ours, ref) == []


def test_a_session_with_plant_floor_holds_the_same_session_plus_benign_plant_traffic() -> None:
    """``plant_floor`` draws from its own random stream: the attack episodes, their frames and labels
    are those of the session without it (the default models are trained without it), and every
    frame it adds is benign."""
    for index in range(3):
        plain = generate_session(5, index, 0.02)
        plant = generate_session(5, index, 0.02, plant_floor=True)
        assert plain.episodes == plant.episodes
        extra = Counter(zip(plant.frames, plant.labels, strict=True))
        extra.subtract(Counter(zip(plain.frames, plain.labels, strict=True)))
        assert min(extra.values()) >= 0, "a frame of the plain session is missing"
        added = [label for (_, label), n in extra.items() for _ in range(n)]
        assert added and set(added) == {NORMAL}
