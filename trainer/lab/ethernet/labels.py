"""The 15 Edge-IIoTset classes the lab labels frames with."""

from __future__ import annotations

NORMAL = "Normal"
ATTACKS = (
    "Backdoor", "DDoS_HTTP", "DDoS_ICMP", "DDoS_TCP", "DDoS_UDP", "Fingerprinting", "MITM", "Password",
    "Port_Scanning", "Ransomware", "SQL_injection", "Uploading", "Vulnerability_scanner", "XSS",
)
CLASSES = (NORMAL, *ATTACKS)
