"""Small CSVs in exactly the published schemas, with the messy values the real files have.

The real datasets cannot be downloaded in CI, so tests write their own: the Edge-IIoTset 63-column
header (61 tshark fields, Attack_label, Attack_type) and the CICIoV2024 decimal/binary folders. Each
class gets a learnable signature in a few numeric fields plus noise, so a 1-2 epoch model learns it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from trainer.data import CIC_COLUMNS, edge_columns

EDGE_TEST_CLASSES = ["Normal", "DDoS_UDP", "Port_Scanning", "MITM"]


def write_edge_csv(path: Path, n: int = 400, seed: int = 0, messy: bool = True) -> Path:
    """An Edge-IIoTset DNN-style CSV with ``n`` rows over four classes."""
    rng = np.random.default_rng(seed)
    cols = edge_columns()
    rows = []
    for i in range(n):
        cls = EDGE_TEST_CLASSES[i % len(EDGE_TEST_CLASSES)] if i % 5 else "Normal"
        k = EDGE_TEST_CLASSES.index(cls)
        r: dict[str, str] = {c: "0" for c in cols}
        r["frame.time"] = f" 2021 11:{i % 60:02d}:00.{i:06d} "
        r["ip.src_host"] = f"192.168.0.{rng.integers(1, 250)}"
        r["ip.dst_host"] = "192.168.0.128"
        r["tcp.srcport"] = str(rng.integers(1024, 65000))
        r["tcp.flags"] = ["24.0", "0x00000002", "2.0", "0x0018"][k] if messy else ["24", "2", "2", "24"][k]
        r["tcp.len"] = f"{max(0.0, rng.normal([60, 0, 0, 30][k], 5)):.1f}"
        r["udp.time_delta"] = f"{abs(rng.normal([0.5, 0.0001, 0.2, 0.3][k], 0.02)):.6f}"
        r["tcp.ack"] = str(int(rng.integers(0, 10)) + [100, 0, 1, 50][k] * 10)
        r["http.request.method"] = ["GET", "0", "0", "0.0"][k] if messy else ["GET", "0", "0", "0"][k]
        r["mqtt.topic"] = ["Temperature_and_Humidity", "0", "0", "0"][k]
        r["dns.qry.name.len"] = ["0", "0", "0", "example.com"][k]
        r["arp.opcode"] = ["0", "0", "0", "2.0"][k]
        r["mqtt.conflag.cleansess"] = "true" if k == 0 and messy else "0"
        if messy and i % 7 == 3:
            r["http.content_length"] = ""  # empty cell
        if messy and i % 11 == 4:
            r["mbtcp.len"] = " 0.0 "  # stray spaces
        r["Attack_label"] = "0" if cls == "Normal" else "1"
        r["Attack_type"] = cls
        rows.append(r)
    return _write_edge_rows(path, cols, rows)


def _write_edge_rows(path: Path, cols: list[str], rows: list[dict[str, str]]) -> Path:
    """Rows in the Edge-IIoTset CSV layout: the feature columns, then Attack_label and Attack_type."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*cols, "Attack_label", "Attack_type"])
        w.writeheader()
        w.writerows(rows)
    return path


CIC_FILES = {"benign": "BENIGN", "DoS": "DoS", "spoofing-GAS": "GAS", "spoofing-RPM": "RPM"}


def write_cic_folder(root: Path, n_per_file: int = 120, seed: int = 0, binary: bool = False) -> Path:
    """A CICIoV2024 ``decimal/`` (or ``binary/``) folder with four of the six files."""
    rng = np.random.default_rng(seed)
    folder = root / ("binary" if binary else "decimal")
    folder.mkdir(parents=True, exist_ok=True)
    for stem, cls in CIC_FILES.items():
        rows = []
        for _ in range(n_per_file):
            if cls == "DoS":
                can_id, data = 0, [0] * 8
            elif cls == "BENIGN":
                can_id = int(rng.choice([344, 357, 512, 768]))
                data = [int(v) for v in rng.integers(0, 256, 8)]
            else:
                can_id = {"GAS": 513, "RPM": 516}[cls]
                data = [255, 255, *[int(v) for v in rng.integers(0, 4, 6)]]
            label = "BENIGN" if cls == "BENIGN" else "ATTACK"
            category = {"BENIGN": "BENIGN", "DoS": "DoS"}.get(cls, "SPOOFING")
            rows.append((can_id, data, label, category, cls))
        path = folder / f"{'binary' if binary else 'decimal'}_{stem}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            if binary:
                w.writerow(["ID", *[f"DATA_{i}" for i in range(8)], "label", "category", "specific_class"])
                for can_id, data, label, cat, cls in rows:
                    w.writerow([format(can_id, "011b"), *[format(d, "08b") for d in data], label, cat, cls])
            else:
                w.writerow([*CIC_COLUMNS, "label", "category", "specific_class"])
                for can_id, data, label, cat, cls in rows:
                    w.writerow([can_id, *data, label, cat, cls])
    return folder


def write_edge_shortcut_csv(path: Path, n: int = 600, seed: int = 0, shortcut: str = "mqtt.topic",
                            noise: str = "tcp.checksum") -> Path:
    """An Edge-IIoTset CSV whose only near-perfect single field is ``shortcut``.

    The classes differ weakly (overlapping Gaussians, half a standard deviation apart) in a few
    numeric fields, ``shortcut`` holds one value per class (as mqtt.topic does per capture in the
    real file) and ``noise`` is independent of the label: the audit must name the first and not
    the second.
    """
    rng = np.random.default_rng(seed)
    cols = edge_columns()
    weak = ["tcp.len", "udp.time_delta", "tcp.ack", "mqtt.len"]
    rows = []
    for i in range(n):
        k = i % len(EDGE_TEST_CLASSES)
        r: dict[str, str] = {c: "0" for c in cols}
        r["frame.time"] = f" 2021 11:{i % 60:02d}:00.{i:06d} "  # the published files always hold a capture time
        for j, c in enumerate(weak):
            r[c] = f"{abs(rng.normal(10 + 0.5 * ((k + j) % 4), 1.0)):.4f}"
        r[shortcut] = f"topic_{EDGE_TEST_CLASSES[k].lower()}" if shortcut == "mqtt.topic" else str(7 * k + 3)
        r[noise] = str(int(rng.integers(0, 65536)))
        r["Attack_label"] = "0" if k == 0 else "1"
        r["Attack_type"] = EDGE_TEST_CLASSES[k]
        rows.append(r)
    return _write_edge_rows(path, cols, rows)
