"""Does the default Ethernet model detect attacks made by real attack tools, and stay quiet on benign traffic?

Why this exists: the lab captures the model is trained and tested on were all produced by the
project's own traffic generator, so a good score there says little about traffic it never made.
Real tools (hping3, nmap, arpspoof) choose their own ports, flags, options, timings and packet
sizes, and the kernels that answer them add their own replies. The held-out judgement of the
product is therefore made here, on real captures: every scenario is one real tool run against a
small simulated plant network, captured with tcpdump on the victim's interface while benign
background traffic flows, then scored by ``python -m agent replay`` exactly as a user would score a
capture, with the shipped ``configs/ethernet.yaml`` (MQTT off, state in a temporary directory).

The network lives in four network namespaces and disappears when the script ends (also on Ctrl-C
or SIGTERM):

* ``lan``: a Linux bridge joining the three hosts below (nothing leaves it; IPv6 is off everywhere)
* attacker ``10.77.0.1``: runs the tools (IP forwarding on, as arpspoof is normally used)
* victim ``10.77.0.2``: a small web HMI on 80 (``web_hmi.py``), a Mosquitto broker on 1883
  when ``mosquitto`` is installed, and a Modbus/TCP-like server on 502 that answers every request;
  the capture is taken on its interface
* gateway ``10.77.0.254``: the benign client: an HTTP GET every 0.5 s, a Modbus read every second,
  an MQTT publish every second and a standing MQTT subscription (MQTT when mosquitto-clients is
  installed)

Scenarios (one pcap each; benign traffic runs throughout, with ``--settle`` seconds of it alone
before and after the tool): ``syn_flood``, ``udp_flood``, ``icmp_flood`` (hping3 ``--flood
--rand-source`` for ``--flood-seconds``; expected family DoS), ``nmap_syn_scan``,
``nmap_connect_scan``, ``nmap_os_detect``, ``nmap_udp_scan`` (``-T4``; information gathering; ``-n``
because the namespaces have no resolver and nmap would first wait on reverse DNS),
``arp_spoof`` (arpspoof poisoning the victim's entry for the gateway for 20 s; MITM) and
``benign_only`` (60 s of the background alone; expects no alert). Modes and tools the lab does
not imitate run when installed (skipped, and listed as such, when not): ``syn_flood_one_source``
(hping3 without spoofing), ``syn_flood_many_ports`` (spoofed, destination port incremented),
``udp_flood_one_port`` (one source port, destination port incremented) and ``ack_flood``,
``nmap_xmas_scan``, ``nmap_fin_scan``, ``nmap_ack_scan``, ``nmap_version_scan`` (``-sV``),
``nmap_ping_sweep`` (``-sn`` of the /24: ARP requests on a LAN), ``masscan_scan``, ``ettercap_arp``
(ARP poisoning both ways), ``arp_request_poison`` (scapy's ``arpcachepoison``: forged requests, not
replies), ``slowloris`` (slowhttptest), ``http_flood`` (ApacheBench), and ``hydra_ssh``,
``hydra_http_form`` and ``hydra_http_basic`` (THC Hydra guessing root's SSH password, an HMI's login
form and a page behind HTTP basic authentication, from a list of 600; expected family malware, where
the dataset files password attacks); ``nmap_fin_scan_filtered``, ``nmap_null_scan_filtered`` and
``nmap_syn_scan_filtered`` (the victim's nftables firewall drops every TCP segment but to the
background's services, so no probe is answered); ``ping6_flood`` (``ping -6 -f``) and ``ra_flood6``
(THC-IPv6's ``atk6-flood_router6``), with IPv6 turned on for the two hosts (``fd77::1``, ``fd77::2``)
while they run.
Everyday programs run the same way, from the attacker's host as a second client against a server the
victim starts for that scenario only, and must raise nothing (:func:`everyday_scenarios`):
``ssh_scp`` (OpenSSH), ``http_download`` and ``https_download`` (curl fetching a 4 MB random file),
``snmp_polling`` (net-snmp against snmpd), ``syslog_udp`` (logger), ``dns_lookups`` (dig against
dnsmasq), ``smb_copy`` (smbclient against Samba) and ``ntp_queries`` (ntpdate against chrony). Web
attacks on the HMI (sqlmap, wapiti, dirb, gobuster, nmap's HTTP scripts, XSS payloads, a web shell
upload, a netcat reverse shell) and benign web clients are in ``web_scenarios.py``. A full run takes
about eighteen minutes, the web scenarios twenty more. ``--install`` apt-installs what is missing.

Each capture is replayed twice: as captured, and with the background filtered out (``attack
only``: every frame to or from the gateway's address dropped, ARP kept for the MITM scenarios), which
is what a capture of the tool on an otherwise quiet wire holds; both verdicts are reported. The result
is a measurement, not a gate: the exit status is 0 whenever the run completed, 2 when not root or a
required tool is missing.

The table has one row per scenario: frames captured, alert records the agent wrote, incidents
(distinct ``edge_ids.incident_id``), the classes raised (incidents per class), the expected family
and the verdict: ``hit`` when any alert of the expected family was raised (DDoS_* -> DoS;
Port_Scanning, Fingerprinting, Vulnerability_scanner -> information gathering; MITM -> MITM; XSS,
SQL_injection, Uploading -> injection; Backdoor, Password, Ransomware -> malware), ``miss`` when
none was (``miss (other family)`` when only others were), ``quiet`` or ``FALSE ALERTS`` for
``benign_only``. Alerts of other families in an attack capture are listed, not judged: they may
come from the benign background around the tool. ``--out`` writes the rows, with per-class record
counts, tcpdump's kernel drops and the tool's exit status and run time, as JSON; ``--keep`` keeps
the pcaps, the alerts and the logs, and ``--rescore DIR`` replays the captures such a run kept with
the agent and config as they are now, running no tool (no root needed), to show what a change does
to the same traffic.

Needs root, iproute2 and (Debian/Ubuntu packages)::

    apt-get install nmap hping3 dsniff tcpdump          # required
    apt-get install mosquitto mosquitto-clients         # optional: MQTT in the benign background
    apt-get install masscan ettercap-text-only slowhttptest apache2-utils hydra \
        nftables iputils-ping thc-ipv6                  # optional: more tools
    apt-get install openssh-server curl snmp snmpd dnsutils dnsmasq-base samba smbclient \
        ntpsec-ntpdate chrony                           # optional: the everyday programs
    apt-get install sqlmap wapiti dirb gobuster netcat-openbsd wget   # optional: the web scenarios

Run from anywhere::

    sudo .venv/bin/python bench/detect_real_tools.py [--out result.json] [--keep DIR]
        [--scenario NAME ...] [--install] [--config configs/ethernet.yaml] [--set KEY=VALUE ...]
    .venv/bin/python bench/detect_real_tools.py --rescore DIR [--scenario NAME ...] [--out result.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from tool_scenarios import (
    ATTACKER_IP,
    FAMILY,
    GATEWAY_IP,
    HOSTS,
    MITM,
    PREFIX_LEN,
    PROGRAMS,
    VICTIM_IP,
    Scenario,
    attack_scenarios,
    everyday_scenarios,
)
from web_scenarios import held_back_scenarios, web_scenarios

REPO = Path(__file__).resolve().parent.parent
APT_HINT = "apt-get install nmap hping3 dsniff tcpdump"
REQUIRED_TOOLS = {"ip": "iproute2", "nmap": "nmap", "hping3": "hping3", "arpspoof": "dsniff", "tcpdump": "tcpdump"}

MOSQUITTO_CONF = "listener 1883 0.0.0.0\nallow_anonymous true\npersistence false\nlog_dest stderr\n"


# Password guesses: 600 words as people choose them (a word, a year or a count after it).
PASSWORD_WORDS = ("admin", "plant", "line1", "scada", "welcome", "operator", "siemens", "modbus", "pump",
                  "factory", "summer", "winter", "dragon", "monkey", "letmein", "qwerty", "master", "shadow",
                  "service", "control")


def scenarios(flood_s: float, benign_s: float) -> list[Scenario]:
    """Every scenario: the attack tools, everyday programs, and the web tools (with the held-back runs)."""
    return [*attack_scenarios(flood_s, benign_s), *everyday_scenarios(), *web_scenarios(), *held_back_scenarios()]


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait_s: float = 5) -> int | None:
    """Signal ``proc``'s process group (each child here has its own session) and wait; SIGKILL if it lingers."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=10)


@dataclass
class Lab:
    """The four namespaces, the processes started in them, and where their logs go."""

    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)
    mqtt: bool = False

    def ns(self, role: str) -> str:
        return f"eids-{self.tag}-{role}"

    def spawn(self, role: str, argv: list[str], log: str) -> subprocess.Popen[Any]:
        """Start ``argv`` inside ``role``'s namespace in a session of its own, output to ``workdir/log``;
        ``{work}`` in an argument is the work directory."""
        out: IO[Any] = open(self.workdir / log, "ab")  # noqa: SIM115 - the child keeps it
        argv = [a.replace("{work}", str(self.workdir)) for a in argv]
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def setup(self) -> None:
        for role in ("lan", *HOSTS):
            name = self.ns(role)
            run("ip", "netns", "add", name)
            self.namespaces.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
            run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv6.conf.all.disable_ipv6=1")
        lan = self.ns("lan")
        run("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", lan, "link", "set", "br0", "up")
        for role, addr in HOSTS.items():
            host = self.ns(role)
            run("ip", "-n", lan, "link", "add", f"l-{role}", "type", "veth", "peer", "name", f"{role}0",
                "netns", host)
            run("ip", "-n", lan, "link", "set", f"l-{role}", "master", "br0", "up")
            run("ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            run("ip", "-n", host, "addr", "add", f"{addr}/{PREFIX_LEN}", "dev", f"{role}0")
            run("ip", "-n", host, "link", "set", f"{role}0", "up")
        run("ip", "-n", self.ns("vic"), "route", "add", "default", "via", GATEWAY_IP)
        run("ip", "netns", "exec", self.ns("atk"), "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def start_services(self) -> list[str]:
        """The victim's servers and the gateway's benign client; returns the victim's listening ports."""
        www = self.workdir / "www"
        www.mkdir()
        (www / "index.html").write_text("<html><body><h1>line 1 HMI</h1><p>all pumps running</p></body></html>\n")
        py = sys.executable
        hmi = str(Path(__file__).with_name("web_hmi.py"))
        self.spawn("vic", [py, hmi, "--bind", VICTIM_IP, "--port", "80", "--directory", str(www)], "http.log")
        self.spawn("vic", [py, str(PROGRAMS / "modbus_server.py"), VICTIM_IP], "modbus.log")
        ports = ["80", "502"]
        mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file()
                                                   else None)
        if mosquitto:
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(MOSQUITTO_CONF)
            self.spawn("vic", [mosquitto, "-c", str(conf)], "mosquitto.log")
            ports.append("1883")
        deadline = time.monotonic() + 15
        while True:
            listening = run("ip", "netns", "exec", self.ns("vic"), "ss", "-Hltn", check=False).stdout
            missing = [p for p in ports if f"{VICTIM_IP}:{p} " not in listening and f"0.0.0.0:{p} " not in listening
                       and f"*:{p} " not in listening]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"victim services did not start listening on {missing} (logs in {self.workdir})")
            time.sleep(0.2)
        self.prepare_everyday()
        self.mqtt = bool(mosquitto and shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub"))
        self.spawn("gw", [py, str(PROGRAMS / "benign_client.py"), VICTIM_IP, "1" if self.mqtt else "0"], "benign.log")
        return ports

    def prepare_everyday(self) -> None:
        """What the everyday scenarios' servers and clients read: a 4 MB random file to transfer, SSH
        and TLS keys, and the servers' configurations, all in the work directory."""
        work = self.workdir
        (work / "www" / "firmware.bin").write_bytes(os.urandom(4 << 20))
        if shutil.which("ssh-keygen"):
            for key in ("ssh_host_ed25519_key", "id_ed25519"):
                run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key))
            shutil.copy(work / "id_ed25519.pub", work / "authorized_keys")
            Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
            server = (f"ListenAddress {VICTIM_IP}\nHostKey {work}/ssh_host_ed25519_key\nPidFile {work}/sshd.pid\n"
                      f"AuthorizedKeysFile {work}/authorized_keys\nUsePAM no\nStrictModes no\n")
            (work / "sshd_config").write_text(server + "PermitRootLogin prohibit-password\nPasswordAuthentication no\n")
            # the same server for password guessing: passwords allowed (root's is locked: none is right)
            (work / "sshd_password_config").write_text(
                server + "PermitRootLogin yes\nPasswordAuthentication yes\nMaxStartups 64\n")
        suffixes = ("", "1", "123", "2023", "2024", "!", *map(str, range(1990, 2020)))
        guesses = [f"{w}{suffix}" for suffix in suffixes for w in PASSWORD_WORDS][:600]
        (work / "passwords.txt").write_text("\n".join(guesses) + "\n")
        if shutil.which("openssl"):
            run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=hmi.plant.local", "-keyout", str(work / "tls.key"), "-out", str(work / "tls.crt"))
        (work / "snmpd.conf").write_text("rocommunity public\nsysLocation line 1\nsysContact plant engineer\n")
        samba = work / "samba"
        for sub in ("share", "private", "lock", "state", "cache", "pid"):
            (samba / sub).mkdir(parents=True, exist_ok=True)
        (work / "smb.conf").write_text(
            f"[global]\nworkgroup = PLANT\nserver role = standalone server\nmap to guest = Bad User\n"
            f"interfaces = {VICTIM_IP}\nbind interfaces only = yes\nsmb ports = 445\ndisable netbios = yes\n"
            f"private dir = {samba}/private\nlock directory = {samba}/lock\nstate directory = {samba}/state\n"
            f"cache directory = {samba}/cache\npid directory = {samba}/pid\nlog file = {samba}/log\n"
            f"[share]\npath = {samba}/share\nread only = no\nguest ok = yes\nforce user = root\n")
        (work / "chrony.conf").write_text(f"local stratum 8\nallow all\nbindaddress {VICTIM_IP}\n"
                                          f"pidfile {work}/chronyd.pid\ncmdport 0\n")

    def teardown(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                stop(proc)
        self.procs.clear()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30, check=False)
        self.namespaces.clear()


# --------------------------------------------------------------------------------------------------
# one scenario: capture while the tool runs, then replay through the agent


@dataclass
class Capture:
    pcap: Path
    kernel_dropped: int | None
    tool_rc: int | None
    tool_stopped: bool
    tool_s: float


def capture(lab: Lab, sc: Scenario, pcap: Path, settle_s: float) -> Capture:
    service = None
    if sc.service:
        service = lab.spawn("vic", list(sc.service), f"service-{sc.name}.log")
        time.sleep(2)  # listening before the capture starts
        if service.poll() is not None:
            raise RuntimeError(f"{sc.service[0]} for {sc.name} exited {service.returncode} "
                               f"(log: {lab.workdir / f'service-{sc.name}.log'})")
    try:
        return _capture(lab, sc, pcap, settle_s)
    finally:
        if service is not None:
            stop(service)


def _capture(lab: Lab, sc: Scenario, pcap: Path, settle_s: float) -> Capture:
    err = lab.workdir / f"tcpdump-{sc.name}.log"
    dump = lab.spawn("vic", ["tcpdump", "-i", "vic0", "-n", "-U", "-B", "32768", "-Z", "root", "-w", str(pcap)],
                     err.name)
    deadline = time.monotonic() + 10
    while "listening on" not in err.read_text(errors="replace"):
        if dump.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"tcpdump did not start: {err.read_text(errors='replace')[-500:]}")
        time.sleep(0.1)
    rc: int | None = None
    stopped = False
    try:
        if sc.argv is None:
            t0 = time.monotonic()
            time.sleep(sc.limit_s)
            tool_s = time.monotonic() - t0
        else:
            time.sleep(settle_s)
            t0 = time.monotonic()
            tool = lab.spawn("atk", list(sc.argv), f"tool-{sc.name}.log")
            try:
                rc = tool.wait(timeout=sc.limit_s)
            except subprocess.TimeoutExpired:
                stopped = True
                rc = stop(tool, signal.SIGINT, wait_s=20)
            tool_s = time.monotonic() - t0
            time.sleep(settle_s)
    finally:
        stop(dump, signal.SIGINT, wait_s=20)
    dropped = None
    for line in err.read_text(errors="replace").splitlines():
        if line.endswith("packets dropped by kernel"):
            dropped = int(line.split()[0])
    return Capture(pcap, dropped, rc, stopped, tool_s)


def agent_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.is_file() else sys.executable


def replay(pcap: Path, config: Path, overrides: list[str], outdir: Path, workdir: Path) -> dict[str, Any]:
    """``python -m agent replay`` on ``pcap``; returns its stats, the alert records and any error.

    The alerts (JSON lines) and counters go to ``outdir``, the agent's state directory under ``workdir``.
    """
    stem = pcap.name.rsplit(".", 1)[0]
    jsonl, stats, state = outdir / f"{stem}.alerts.jsonl", outdir / f"{stem}.stats.json", workdir / f"state-{stem}"
    cmd = [agent_python(), "-m", "agent", "replay", "--config", str(config), "--input", str(pcap),
           "--jsonl", str(jsonl), "--stats-json", str(stats), "--quiet",
           "--set", "mqtt.enabled=false", "--set", f"state_dir={state}", "--set", "sinks.jsonl.path=null"]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    alerts: list[dict[str, Any]] = []
    if jsonl.is_file():
        for line in jsonl.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("edge_ids"), dict):
                alerts.append(rec)
    result: dict[str, Any] = {"alerts": alerts, "stats": json.loads(stats.read_text()) if stats.is_file() else {}}
    if proc.returncode != 0:
        result["error"] = f"replay exited {proc.returncode}: {proc.stderr.strip()[-800:]}"
    return result


def attack_only(pcap: Path, sc: Scenario) -> Path:
    """``pcap`` without the benign background: frames to or from the gateway's address dropped (ARP
    kept when the attack is ARP poisoning, whose forged replies name the gateway)."""
    out = pcap.with_name(f"{pcap.stem}.attack_only.pcap")
    bpf = f"arp or not host {GATEWAY_IP}" if sc.family == MITM else f"not host {GATEWAY_IP}"
    run("tcpdump", "-n", "-r", str(pcap), "-Z", "root", "-w", str(out), bpf, timeout=600)
    return out


def tiny_pcap(path: Path) -> None:
    """A pcap holding one ARP request, for checking the replay command works before capturing anything."""
    frame = (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01"
             + b"\x02\x00\x00\x00\x00\x01" + bytes([10, 77, 0, 1]) + b"\x00" * 6 + bytes([10, 77, 0, 2]))
    frame += b"\x00" * (60 - len(frame))
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                     + struct.pack("<IIII", int(time.time()), 0, len(frame), len(frame)) + frame)


# --------------------------------------------------------------------------------------------------
# the report


def skipped_row(sc: Scenario) -> dict[str, Any]:
    """A scenario whose tool is not installed."""
    return {**row_for(sc, None, {}), "verdict": f"skipped (no {sc.package or sc.programs()[0]})"}


def row_for(sc: Scenario, cap: Capture | None, rep: dict[str, Any],
            only: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario's row; ``only`` is the replay of its attack-only capture (nested the same way)."""
    alerts = rep.get("alerts", [])
    stats = rep.get("stats", {})
    incidents: dict[str, str] = {}
    for a in alerts:
        e = a["edge_ids"]
        incidents.setdefault(str(e.get("incident_id") or a.get("alert_id")), str(e.get("class")))
    by_class = Counter(incidents.values())
    records_by_class = Counter(str(a["edge_ids"].get("class")) for a in alerts)
    families = sorted({FAMILY.get(c, "other") for c in by_class})
    frames = int((stats.get("source") or {}).get("frames", stats.get("records_in", 0)) or 0)
    if "error" in rep:
        verdict = "replay failed"
    elif frames == 0:
        verdict = "no packets"
    elif sc.family is None:
        verdict = "quiet" if not alerts else "FALSE ALERTS"
    elif sc.family in families:
        verdict = "hit"
    else:
        verdict = "miss" if not alerts else "miss (other family)"
    return {
        "scenario": sc.name,
        "tool": " ".join(sc.argv) if sc.argv else None,
        "note": sc.note,
        "frames": frames,
        "alert_records": len(alerts),
        "incidents": len(incidents),
        "incidents_by_class": dict(sorted(by_class.items())),
        "records_by_class": dict(sorted(records_by_class.items())),
        "families": families,
        "expected_family": sc.family,
        "verdict": verdict,
        "windows_scored": stats.get("windows_scored"),
        "tcpdump_kernel_dropped": cap.kernel_dropped if cap else None,
        "tool_exit": cap.tool_rc if cap else None,
        "tool_stopped_at_limit": cap.tool_stopped if cap else None,
        "tool_seconds": round(cap.tool_s, 1) if cap else None,
        "error": rep.get("error"),
        "attack_only": None if only is None else {
            k: v for k, v in row_for(sc, None, only).items()
            if k in ("frames", "alert_records", "incidents", "incidents_by_class", "families", "verdict", "error")},
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = ["scenario", "frames", "alert records", "incidents", "classes raised (incidents)", "expected family",
            "verdict", "attack only: frames, classes, verdict"]
    body = []

    def classes_of(r: dict[str, Any]) -> str:
        return ", ".join(f"{c} x{n}" for c, n in r["incidents_by_class"].items()) or "-"

    for r in rows:
        o = r.get("attack_only")
        body.append([r["scenario"], str(r["frames"]), str(r["alert_records"]), str(r["incidents"]), classes_of(r),
                     r["expected_family"] or "none (benign)", r["verdict"],
                     f"{o['frames']}, {classes_of(o)}, {o['verdict']}" if o else "-"])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=False)]
    right = {1, 2, 3}

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                strict=True))).rstrip()

    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *(fmt(b) for b in body)])


def tool_versions() -> dict[str, str]:
    """Installed versions of the required packages, the background's MQTT ones and each scenario's."""
    packages = dict.fromkeys([*REQUIRED_TOOLS.values(), "mosquitto", "mosquitto-clients",
                              *(p for sc in scenarios(0, 0) for p in (sc.package or "").split())])
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *packages],
                          capture_output=True, text=True, check=False)
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)


# --------------------------------------------------------------------------------------------------


def preflight() -> str | None:
    # packet tools live in sbin, which a plain root shell's PATH may lack
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])
    if sys.platform != "linux":
        return "this needs Linux network namespaces"
    if os.geteuid() != 0:
        return "run as root (it creates network namespaces and runs packet tools): sudo " + " ".join(
            [sys.executable, *sys.argv])
    missing = [f"{tool} (package {pkg})" for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        return f"missing: {', '.join(missing)}\ninstall them with: {APT_HINT}"
    return None


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def rescore(keep: Path, chosen: list[Scenario], config: Path, overrides: list[str]) -> list[dict[str, Any]]:
    """The rows of ``chosen`` from the captures (and attack-only captures) a ``--keep`` run left in
    ``keep``, replayed now; a scenario whose capture is not there is skipped."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eids-rescore-") as tmp:
        work = Path(tmp)
        for sc in chosen:
            pcap, alone = keep / f"{sc.name}.pcap", keep / f"{sc.name}.attack_only.pcap"
            if not pcap.is_file():
                rows.append({**skipped_row(sc), "verdict": "skipped (not kept)"})
                continue
            t0 = time.monotonic()
            rep = replay(pcap, config, overrides, work, work)
            only = replay(alone, config, overrides, work, work) if alone.is_file() else None
            rows.append(row_for(sc, None, rep, only))
            progress(rows[-1], time.monotonic() - t0)
    return rows


def progress(row: dict[str, Any], seconds: float) -> None:
    """One scenario's line while a run goes on."""
    alone = f"; attack only: {row['attack_only']['verdict']}" if row["attack_only"] else ""
    print(f"  {row['scenario']:<20} {row['frames']:>8} frames  {row['alert_records']:>4} alerts  "
          f"{row['verdict']}{alone} ({seconds:.0f} s)", flush=True)


def summarize(rows: list[dict[str, Any]], started: float) -> None:
    """Print the table and the one-line verdict of ``rows``."""
    if not rows:
        return
    print()
    print(table(rows))
    ran = [r for r in rows if r["expected_family"] and not r["verdict"].startswith("skipped")]
    hits = sum(r["verdict"] == "hit" for r in ran)
    hits_alone = sum((r["attack_only"] or {}).get("verdict") == "hit" for r in ran)
    skipped = [r["scenario"] for r in rows if r["verdict"].startswith("skipped")]
    benign = [r for r in rows if not r["expected_family"] and not r["verdict"].startswith("skipped")]
    quiet = sum(r["verdict"] == "quiet" for r in benign)
    frames = sum(r["frames"] for r in benign)
    false = sum(r["incidents"] for r in benign)
    print(f"\nattack scenarios with a family hit: {hits}/{len(ran)} (attack only: {hits_alone}/{len(ran)})"
          + (f"; benign scenarios quiet: {quiet}/{len(benign)} ({false} false incidents in {frames} frames)"
             if benign else "")
          + (f"; skipped: {', '.join(skipped)}" if skipped else "")
          + f"; {time.time() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    all_names = [s.name for s in scenarios(3, 60)]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "ethernet.yaml",
                    help="agent config to replay with")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override passed to the replay (repeatable)")
    ap.add_argument("--scenario", action="append", choices=all_names, help="run only these (repeatable)")
    ap.add_argument("--install", action="store_true",
                    help="apt-get install the required tools and the chosen scenarios' packages that are missing")
    ap.add_argument("--out", type=Path, help="also write the table and details as JSON here")
    ap.add_argument("--keep", type=Path, help="keep the pcaps (and alerts, tool logs) in this directory")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of benign traffic before and after each tool")
    ap.add_argument("--flood-seconds", type=float, default=3.0, help="how long each hping3 flood runs")
    ap.add_argument("--benign-seconds", type=float, default=60.0, help="length of the benign_only capture")
    ap.add_argument("--rescore", type=Path, metavar="DIR",
                    help="replay the captures a --keep run left in DIR with this agent and config, running no "
                         "tool (no root needed): what a change to the agent does to the same traffic")
    args = ap.parse_args(argv)
    if args.rescore:
        chosen = [s for s in scenarios(args.flood_seconds, args.benign_seconds)
                  if not args.scenario or s.name in args.scenario]
        started = time.time()
        rows = rescore(args.rescore.resolve(), chosen, args.config.resolve(), args.overrides)
        summarize(rows, started)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"rescored": str(args.rescore), "config": str(args.config),
                                            "overrides": args.overrides, "scenarios": rows}, indent=2) + "\n")
        return 0

    if args.install:
        from web_scenarios import install_missing

        install_missing([s for s in scenarios(args.flood_seconds, args.benign_seconds)
                         if not args.scenario or s.name in args.scenario], REQUIRED_TOOLS)
    problem = preflight()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    config = args.config.resolve()
    chosen = [s for s in scenarios(args.flood_seconds, args.benign_seconds)
              if not args.scenario or s.name in args.scenario]

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background job starts with it ignored
        signal.signal(sig, _terminate)
    started = time.time()
    rows: list[dict[str, Any]] = []
    tmp = tempfile.TemporaryDirectory(prefix="eids-real-")
    workdir = Path(tmp.name)
    pcap_dir = args.keep.resolve() if args.keep else workdir
    pcap_dir.mkdir(parents=True, exist_ok=True)
    lab = Lab(workdir)
    interrupted = False
    try:
        probe = workdir / "preflight.pcap"
        tiny_pcap(probe)
        check = replay(probe, config, args.overrides, workdir, workdir)
        if "error" in check:
            print(f"the agent cannot replay a capture with {config}:\n{check['error']}", file=sys.stderr)
            return 2
        model = check["stats"].get("model")
        print(f"model {model}, config {config}", flush=True)
        lab.setup()
        ports = lab.start_services()
        print(f"lab {lab.ns('*')}: victim {VICTIM_IP} listening on {', '.join(ports)}; benign client on "
              f"{GATEWAY_IP} (HTTP, Modbus{', MQTT' if lab.mqtt else ''})", flush=True)
        time.sleep(2)
        for sc in chosen:
            if any(shutil.which(prog) is None for prog in sc.programs()):
                rows.append(skipped_row(sc))
                print(f"  {sc.name:<20} {rows[-1]['verdict']}", flush=True)
                continue
            t0 = time.monotonic()
            cap = capture(lab, sc, pcap_dir / f"{sc.name}.pcap", args.settle)
            rep = replay(cap.pcap, config, args.overrides, pcap_dir, workdir)
            only = None if sc.argv is None else replay(attack_only(cap.pcap, sc), config, args.overrides, pcap_dir,
                                                       workdir)
            rows.append(row_for(sc, cap, rep, only))
            progress(rows[-1], time.monotonic() - t0)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: tearing down", file=sys.stderr)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        lab.teardown()
        if args.keep:
            for log in workdir.glob("*.log"):
                shutil.copy2(log, pcap_dir / log.name)
        tmp.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)

    summarize(rows, started)
    if args.out:
        result = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1),
            "interrupted": interrupted,
            "config": str(config),
            "overrides": args.overrides,
            "tools": tool_versions(),
            "network": {"attacker": ATTACKER_IP, "victim": VICTIM_IP, "gateway": GATEWAY_IP,
                        "mqtt_background": lab.mqtt},
            "settle_s": args.settle,
            "scenarios": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
