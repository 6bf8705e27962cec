"""Agent configuration: YAML validated into typed objects at load time.

Why this shape: an integrator edits YAML on a gateway and must learn of a typo before the daemon
starts, not hours later when a code path first reads the key. So every section is a dataclass,
every key is checked against its type hint, unknown keys are errors naming the key path and the
file, and ``--set dotted.key=value`` overrides go through the same validation. Each field carries a
``doc`` in its metadata, from which the configuration reference is generated (docs cannot drift).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from agent.errors import ConfigError
from agent.profile_files import read_profile

# the schema machinery, where the agent's modules and the trainer have always imported it from
from agent.schema import apply_overrides as apply_overrides
from agent.schema import build as build
from agent.schema import deep_merge as deep_merge
from agent.schema import describe as _describe
from agent.schema import doc as doc
from agent.schema import parse_override as parse_override
from agent.schema import read_yaml as read_yaml
from agent.schema import to_dict as to_dict

# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


@dataclass
class SourceConfig:
    """Where records come from."""

    backend: str = doc(
        "capture backend: pcap (file), scapy (live Ethernet), pyshark (live via tshark), "
        "canbus (live python-can bus), canlog (CAN log file)",
        "pcap",
    )
    path: str | None = doc("capture or log file for the pcap/canlog backends", None)
    interface: str | None = doc("network interface for live Ethernet capture (eth0)", None)
    bpf_filter: str | None = doc("BPF capture filter for live Ethernet capture", None)
    promiscuous: bool = doc("promiscuous mode (a packet-socket membership: CAP_NET_RAW suffices)", False)
    buffer_size_mb: int = doc("kernel socket receive buffer for live capture, MiB", 8)
    snaplen: int = doc("bytes captured per frame on live Ethernet", 65535)
    can: dict[str, Any] = doc(
        "python-can Bus arguments, with python-can's own keys (interface, channel, bitrate, fd, "
        "data_bitrate, can_filters, ...)",
        factory=dict,
    )
    nominal_rate_hz: float = doc(
        "frames/s assumed when replaying files without timestamps (CICIoV2024 CSV)", 2000.0
    )
    on_malformed: Literal["error", "skip"] = doc(
        "malformed log line: stop with an error naming file and line, or skip and count it", "error"
    )
    reconnect_min_s: float = doc("first back-off after a CAN bus error or bus-off", 0.5)
    reconnect_max_s: float = doc("longest back-off between CAN bus reconnect attempts", 30.0)


@dataclass
class FeaturesConfig:
    """How records become feature rows, and how much state that may hold."""

    kind: Literal["edge-iiotset", "edge-iiotset-context", "ciciov2024", "can-temporal"] = doc(
        "feature kind; must match the model bundle's feature kind (its manifest's feature_kind)",
        "edge-iiotset-context",
    )
    max_tcp_streams: int = doc("TCP streams tracked at once; oldest evicted beyond", 65536)
    max_udp_streams: int = doc("UDP streams tracked at once; oldest evicted beyond", 65536)
    max_dns_transactions: int = doc("DNS queries remembered for retransmission tracking", 65536)
    stream_idle_timeout_s: float = doc("a stream idle this long is evicted", 300.0)
    max_hosts: int = doc(
        "addresses edge-iiotset-context keeps peer counts and rates for, per table; least recently seen evicted",
        16384,
    )
    context_horizon_s: float = doc(
        "edge-iiotset-context counts the distinct endpoints a host tried and the sources that tried it "
        "over this many seconds", 10.0,
    )
    can_max_ids: int = doc("CAN ids tracked by can-temporal; new ids beyond are pooled", 4096)
    can_window_s: float = doc("sliding window for CAN rates and id entropy, seconds", 1.0)
    can_warmup_s: float = doc("ids first seen after this long are flagged as new", 10.0)


#: One class's evidence floors: numeric feature columns with the least raw value some record of a
#: window must reach, all of them; or a list of such sets, of which one suffices (see
#: :mod:`agent.evidence`).
EvidenceSpec: TypeAlias = dict[str, float] | list[dict[str, float]]


@dataclass
class ModelConfig:
    """The model bundle and how it is run."""

    bundle: str = doc(
        "model bundle directory (model.tflite + manifest.json), or a bundled model's name; a relative path is "
        "looked up beside the config file, then in the working directory, then among the bundled models",
        "models/edge-iiotset-lab",
    )
    threads: int = doc("LiteRT interpreter threads", 1)
    batch_size: int = doc("largest batch scored at once", 64)
    max_wait_ms: float = doc("longest a record waits for its batch to fill", 20.0)
    window_stride: int | None = doc(
        "records between scored windows of a stream; null = the bundle's stride. A larger stride cuts "
        "scoring CPU on small boards at the cost of detection latency; the window size is fixed by the model",
        None,
    )
    thresholds: dict[str, float] = doc(
        "per-class alert thresholds on the class probability; override the bundle's", factory=dict
    )
    evidence: dict[str, EvidenceSpec] = doc(
        "per-class evidence floors, {class: {numeric feature column: least raw value some record of a "
        "window must reach}}, or {class: [{...}, {...}]} where meeting one set suffices; a class named "
        "here replaces the bundle's floors for it ({} removes them). A window that misses its class's "
        "floors counts as benign for that class",
        factory=dict,
    )


@dataclass
class AlertsConfig:
    """What is worth telling a plant engineer."""

    realert_interval_s: float = doc(
        "an ongoing attack from the same key is re-announced at most this often", 60.0
    )
    merge_gap_s: float = doc("windows of the same class and key closer than this merge into one alert", 5.0)
    linger_s: float = doc(
        "an announced incident stays open this long after its last window, so its class coming back from "
        "its key (a poller misread every cycle, a flood that pauses) continues it instead of raising a new "
        "alert; its end record waits as long",
        60.0,
    )
    confirm_windows: int | None = doc(
        "windows of one class from one key (within merge_gap_s) before its alert is sent; none: the bundle's",
        None,
    )
    confirm_span_windows: int | None = doc(
        "the confirm_windows windows must lie within this many consecutive windows of their key "
        "(scattered misreads never confirm); 0: anywhere within merge_gap_s; none: the bundle's",
        None,
    )
    rate_limit_per_min: int = doc("most alerts per class per minute; beyond are counted, not sent; 0 = no limit", 60)
    severity: dict[str, int] = doc("severity per class (1 = highest), overriding the defaults", factory=dict)
    unknown_enabled: bool = doc("raise 'Unknown' alerts for low-confidence, non-benign windows", False)
    unknown_max_probability: float = doc("below this top-class probability a window counts as unknown", 0.5)


@dataclass
class ArpPoisoningConfig:
    """The ARP poisoning rule: repeated ARP replies nobody asked for, or repeated requests claiming an
    address that meanwhile sends from another MAC address (see agent/rules/arp_poisoning.py)."""

    enabled: bool = doc("run the rule (needs features.kind edge-iiotset-context)", True)
    min_replies: int = doc(
        "unasked replies claiming one address to one host, or requests from one MAC address claiming an address "
        "another MAC address sends from, before it alerts (poisoners repeat every 1-10 s)", 3
    )
    window_s: float = doc("those replies or requests must fall within this many seconds", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for the same attack, so incidents merge", "MITM")
    max_pairs: int = doc("(claimed address, target) pairs tracked at once; least recently seen dropped beyond", 4096)


@dataclass
class TcpFloodConfig:
    """The TCP flood rule: one service hit by data-less segments from very many source ports
    (see agent/rules/tcp_flood.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds)", True)
    min_sources: int = doc(
        "(source address, port) pairs that send one address and port segments without data within "
        "window_s before it alerts (hping3 --flood sends tens of thousands a second)", 256
    )
    window_s: float = doc("the interval those pairs must fall in", 1.0)
    min_syns: int = doc(
        "SYNs without ACK that one address receives within window_s, over any ports and from any sources, "
        "before it alerts: a SYN flood to random ports (Mirai, hping3 -p ++1), which no one port counts; "
        "0 turns this count off, else at least min_sources", 10000
    )
    class_name: str = doc("class its alerts carry; the model's class for TCP floods, so incidents merge", "DDoS_TCP")
    max_targets: int = doc(
        "(address, port) targets, and addresses for min_syns, tracked at once; least recently seen dropped beyond",
        256)


@dataclass
class UdpFloodConfig:
    """The UDP flood rule: one host sent datagrams from very many source ports and answering none
    (see agent/rules/udp_flood.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds)", True)
    min_sources: int = doc(
        "(source address, port) pairs that send one address datagrams it neither asked for nor answers "
        "within window_s before it alerts (floods and reflection attacks: thousands a second)", 256
    )
    window_s: float = doc("the interval those pairs must fall in", 1.0)
    min_datagrams: int = doc(
        "datagrams one address neither asked for nor answers, from however few pairs, within window_s "
        "before it alerts: a flood from one source port (hping3 -k); 0 turns this count off, else at "
        "least min_sources", 10000
    )
    class_name: str = doc("class its alerts carry; the model's class for UDP floods, so incidents merge", "DDoS_UDP")
    max_targets: int = doc("addresses tracked at once; least recently seen dropped beyond", 256)


@dataclass
class IcmpFloodConfig:
    """The ICMP flood rule: one address sent ICMP or ICMPv6 requests or announcements at flood rates
    (see agent/rules/icmp_flood.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds)", True)
    min_messages: int = doc(
        "ICMP/ICMPv6 messages that are neither errors nor replies (echo requests, router advertisements, "
        "neighbour solicitations, ...) sent to one address within window_s before it alerts (ping -f sends at "
        "least 100 a second, hping3 --icmp --flood tens of thousands); 0 turns this count off, else at least "
        "min_sources", 500
    )
    min_sources: int = doc(
        "source addresses sending such messages to one address within window_s before it alerts (a flood "
        "with spoofed sources)", 256
    )
    window_s: float = doc("the interval those messages must fall in", 1.0)
    class_name: str = doc("class its alerts carry; the model's class for ICMP floods, so incidents merge", "DDoS_ICMP")
    max_targets: int = doc("addresses tracked at once; least recently seen dropped beyond", 256)


@dataclass
class PortScanConfig:
    """The port scan rule: one source probed many ports of one host with segments that never carried
    data, answered or not (see agent/rules/port_scan.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds)", True)
    min_ports: int = doc(
        "ports of one address that one source sent segments without ACK and RST (SYN, FIN, NULL, Xmas probes) "
        "within window_s, none of which carried data, before it alerts (nmap scans 1,000 by default)", 32
    )
    window_s: float = doc("the interval those ports must fall in", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for port scans, so incidents merge",
                          "Port_Scanning")
    max_pairs: int = doc("(source, address) pairs tracked at once; least recently seen dropped beyond", 4096)


@dataclass
class SshGuessingConfig:
    """The SSH password guessing rule: connections in which the server refuses login after login, told
    by the sizes of its encrypted replies (see agent/rules/ssh_guessing.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds)", True)
    min_failures: int = doc(
        "same-size server replies in a row, each to a client message, that open a connection's authentication "
        "before it counts as guessing (the refusal of the 'none' probe included: hydra gets 7 from OpenSSH's "
        "default MaxAuthTries 6; a person gets at most 3 password prompts from the OpenSSH client)", 6
    )
    min_connections: int = doc("such connections from one client to one server within window_s before it alerts",
                               3)
    window_s: float = doc("the interval those connections must fall in", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for password attacks, so incidents merge",
                          "Password")
    max_connections: int = doc("SSH connections followed at once; least recently seen dropped beyond", 4096)


@dataclass
class WebAttackConfig:
    """Web attacks read from what each client sends: SQL injection, XSS, uploads of scripts or
    executables, scanners (see agent/rules/web_attack.py)."""

    enabled: bool = doc("run the rule (Ethernet feature kinds; cleartext HTTP)", True)
    window_s: float = doc("a client's requests are counted over intervals this long", 60.0)
    min_requests: int = doc("requests of one payload family from one client before it is reported", 3)
    scan_min_families: int = doc("payload families (SQL, script, traversal, command), two requests each, "
                                 "that make a scanner", 3)
    scan_min_paths: int = doc("distinct paths from one client that make a scanner when most are refused", 20)
    scan_refused_share: float = doc("share of a client's requests refused (HTTP 4xx) for its paths to make a scanner",
                                    0.5)
    max_clients: int = doc("clients followed at once; least recently seen dropped beyond", 4096)
    sql_class: str = doc("class of SQL injection", "SQL_injection")
    xss_class: str = doc("class of cross-site scripting", "XSS")
    upload_class: str = doc("class of an upload of a script or an executable", "Uploading")
    scanner_class: str = doc("class of a scanner", "Vulnerability_scanner")
    overrules: list[str] = doc(
        "model classes that a window ending with a frame to or from an attacking client is counted as the "
        "client's class instead of (a burst of injections looks like a flood to the model)",
        factory=lambda: ["DDoS_HTTP", "Password"],
    )
    vouches: list[str] = doc(
        "model classes a window ending with a frame to or from a client is not counted as when the rule read "
        "that client's requests and found them clean (what it sent says otherwise)",
        factory=lambda: ["SQL_injection", "XSS", "Uploading", "Vulnerability_scanner"],
    )
    slow_vouches: list[str] = doc(
        "model classes such a window is not counted as either when the clean client also sent fewer than 10 "
        "requests a second (too few to flood)", factory=lambda: ["DDoS_HTTP"],
    )


@dataclass
class RulesConfig:
    """Exact detectors that run beside the model on the same feature rows."""

    arp_poisoning: ArpPoisoningConfig = doc("ARP cache poisoning", factory=ArpPoisoningConfig)
    tcp_flood: TcpFloodConfig = doc("TCP floods of any flags", factory=TcpFloodConfig)
    udp_flood: UdpFloodConfig = doc("UDP floods and reflection attacks", factory=UdpFloodConfig)
    icmp_flood: IcmpFloodConfig = doc("ICMP and ICMPv6 floods", factory=IcmpFloodConfig)
    port_scan: PortScanConfig = doc("TCP port scans of any probe flags", factory=PortScanConfig)
    ssh_guessing: SshGuessingConfig = doc("SSH password guessing", factory=SshGuessingConfig)
    web_attack: WebAttackConfig = doc("web attacks read from requests", factory=WebAttackConfig)


@dataclass
class CanBaselineConfig:
    """What the CAN baseline detector reports as a departure from the learned bus (see docs/baseline.md)."""

    enabled: bool = doc("run the CAN baseline detector when a baseline is loaded", True)
    min_frames: int = doc("an id learned from fewer frames is sparse: only its flood check applies", 20)
    rate_factor: float = doc(
        "a periodic id sending more than this multiple of its learned most frames per window is injected "
        "(SPOOFING)", 1.5,
    )
    rate_slack: int = doc("frames per window a periodic id may exceed its learned most by in any case", 2)
    flood_factor: float = doc(
        "a known id sending more than this multiple of its learned most frames per window: injection if "
        "it is not periodic, a flood (DoS) if no learned id has a higher priority",
        6.0,
    )
    unknown_min_ids: int = doc(
        "distinct ids never learned, seen within one second, that make fuzzing (DoS); a lone new id is "
        "counted in health, not alerted", 3,
    )
    flood_hz: float = doc(
        "frames per second of one id never learned (or learned sparse) that make a flood (DoS)", 200.0
    )
    payload_min_bits: int = doc(
        "bits a byte that never changed in learning must differ from its learned value by to break the "
        "payload layout", 6,
    )
    payload_min_frames: int = doc(
        "frames in a row of one id breaking its payload layout (or its learned lengths) that make a "
        "masquerade (SPOOFING)", 3,
    )
    silence_periods: float = doc(
        "report a periodic id silent for this many learned periods while the rest of the bus goes on "
        "(suspension); 0 = off", 0.0,
    )
    dos_class: str = doc("class of flood and fuzzing findings (the model's, so incidents merge)", "DoS")
    spoofing_class: str = doc("class of injection and masquerade findings (the model's)", "SPOOFING")
    suspension_class: str = doc("class of suspension findings", "SPOOFING")


@dataclass
class EthernetBaselineConfig:
    """What the Ethernet baseline detector reports as a departure from the learned plant network."""

    enabled: bool = doc("run the Ethernet baseline detector when a baseline is loaded", True)
    new_conversations: bool = doc(
        "report a connection or datagram exchange between learned hosts, or with a new host, on a service "
        "never learned between them", True,
    )
    new_host_class: str = doc("class of a new conversation with a host never learned", "Backdoor")
    new_service_class: str = doc("class of a new conversation between learned hosts", "Backdoor")
    scan_min_services: int = doc(
        "services never learned that one source tries within a minute to be reported as reconnaissance "
        "instead (a sweep of the plant's devices)", 4,
    )
    scan_class: str = doc("class of reconnaissance across many new services", "Port_Scanning")
    modbus: bool = doc("check Modbus/TCP against the learned masters, units, function codes and registers",
                       True)
    modbus_recon_class: str = doc(
        "class of Modbus requests with function codes or unit ids never learned (reconnaissance)",
        "Fingerprinting",
    )
    modbus_write_class: str = doc(
        "class of Modbus writes from a host that never wrote, or to registers or coils never written "
        "(a forged command)", "Uploading",
    )
    quiet_s: float = doc("a finding's incident stays open this long after its evidence", 60.0)


@dataclass
class BaselineConfig:
    """The site's learned normal (``edge-ids-agent learn``) and the detectors that read it."""

    path: str | None = doc("baseline directory to detect with; null: none (or the commissioned one)", None)
    commission_s: float = doc(
        "with no baseline, learn the site for this many seconds of traffic, store the baseline under "
        "state_dir/baseline and switch to detection with it; 0 = off", 0.0,
    )
    calibrate_model: bool = doc(
        "mute each model class the site's learned traffic would have raised, and raise a threshold the "
        "learned traffic came within calibration_margin of", True
    )
    calibration_margin: float = doc("how far below a class's threshold the learned traffic must stay", 0.05)
    can: CanBaselineConfig = doc("CAN baseline detector", factory=CanBaselineConfig)
    ethernet: EthernetBaselineConfig = doc("Ethernet baseline detector", factory=EthernetBaselineConfig)


@dataclass
class TlsConfig:
    """TLS towards the broker; verification is on unless switched off explicitly."""

    enabled: bool = doc("connect with TLS", False)
    ca_file: str | None = doc("CA certificate(s) that signed the broker's certificate", None)
    cert_file: str | None = doc("client certificate, for brokers that require one", None)
    key_file: str | None = doc("client private key", None)
    insecure: bool = doc("skip broker certificate verification (testing only)", False)


@dataclass
class MqttConfig:
    """Alert delivery over MQTT."""

    enabled: bool = doc("publish alerts, status and health over MQTT", True)
    host: str = doc("broker host name or address", "localhost")
    port: int = doc("broker port (1883 plain, 8883 TLS)", 1883)
    protocol: Literal["3.1.1", "5"] = doc("MQTT protocol version", "3.1.1")
    qos: Literal[0, 1, 2] = doc("QoS of alert publications", 1)
    client_id: str | None = doc("MQTT client id; default edge-ids-<site>-<gateway_id>", None)
    keepalive_s: int = doc("MQTT keepalive, seconds", 30)
    username: str | None = doc("broker user name", None)
    password_file: str | None = doc("file whose first line is the broker password", None)
    topic_prefix: str = doc("topics are <prefix>/<site>/<gateway>/...", "edge-ids")
    tls: TlsConfig = doc("TLS settings", factory=TlsConfig)
    health_interval_s: float = doc("publish health counters this often", 30.0)
    outbox_max: int = doc("alerts kept in the on-disk outbox; oldest dropped beyond", 100000)
    outbox_synchronous: Literal["NORMAL", "FULL"] = doc(
        "outbox durability: NORMAL survives a crash of the agent; FULL also a power cut (an fsync per alert)",
        "NORMAL",
    )
    reconnect_min_s: float = doc("first reconnect back-off", 1.0)
    reconnect_max_s: float = doc("longest reconnect back-off", 60.0)
    drain_grace_s: float = doc("replay: how long to wait for the outbox to drain at the end", 10.0)


@dataclass
class JsonlSinkConfig:
    """Alerts appended to a rotating JSON-lines file (EVE-style)."""

    path: str | None = doc("file to append alerts to; none disables the sink", None)
    max_bytes: int = doc("rotate when the file exceeds this size", 50_000_000)
    backups: int = doc("rotated files kept", 5)


@dataclass
class SinksConfig:
    """Local alert sinks besides MQTT."""

    console: bool = doc("print alerts to standard output", False)
    jsonl: JsonlSinkConfig = doc("JSON-lines file sink", factory=JsonlSinkConfig)


@dataclass
class RuntimeConfig:
    """The pipeline between capture and scoring."""

    queue_size: int = doc("records buffered between capture and scoring; beyond, dropped and counted", 65536)
    prometheus_port: int | None = doc("serve Prometheus metrics on this port (loopback); none = off", None)
    memory_limit_mb: int | None = doc("warn in health when RSS exceeds this", None)
    cpu_affinity: list[int] | None = doc("pin the agent to these CPU cores", None)


@dataclass
class LoggingConfig:
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = doc("log level", "INFO")
    json: bool | None = doc("JSON log lines; default: JSON when stderr is not a terminal", None)


@dataclass
class AgentConfig:
    """The whole agent configuration (one YAML file, optionally on top of a firmware profile)."""

    site: str = doc("site name, used in topics and alerts", "site")
    gateway_id: str = doc("this gateway's id, used in topics and alerts", "gateway")
    state_dir: str = doc("writable directory for the outbox and other state", "/var/lib/edge-ids")
    profile: str | None = doc("firmware profile name or file whose values this config overrides", None)
    source: SourceConfig = doc("record source", factory=SourceConfig)
    features: FeaturesConfig = doc("feature extraction", factory=FeaturesConfig)
    model: ModelConfig = doc("model and scoring", factory=ModelConfig)
    alerts: AlertsConfig = doc("alert policy", factory=AlertsConfig)
    rules: RulesConfig = doc("rules beside the model", factory=RulesConfig)
    baseline: BaselineConfig = doc("the site's learned normal", factory=BaselineConfig)
    mqtt: MqttConfig = doc("MQTT delivery", factory=MqttConfig)
    sinks: SinksConfig = doc("local sinks", factory=SinksConfig)
    runtime: RuntimeConfig = doc("pipeline", factory=RuntimeConfig)
    logging: LoggingConfig = doc("logging", factory=LoggingConfig)


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> AgentConfig:
    """Load and validate an agent config.

    :param path: YAML file; ``None`` gives the embedded defaults.
    :param overrides: ``dotted.key=value`` strings, applied after the file.
    :param base: raw values under the file (a firmware profile's), overridden by it. When ``None``
        and the config (or an override) names a ``profile``, that profile's values are the base.
    """
    raw = read_yaml(path) if path is not None else {}
    if base is None:
        named = apply_overrides(raw, overrides).get("profile")
        if isinstance(named, str) and named:
            profile = read_profile(named, relative_to=path)
            build(AgentConfig, profile.values, f"{profile.path}: ")  # validate: same rules as a config
            base = profile.values
    if base:
        raw = deep_merge(base, raw)
    raw = apply_overrides(raw, overrides)
    where = f"{path}: " if path is not None else "config: "
    try:
        cfg = build(AgentConfig, raw, "")
    except ConfigError as exc:
        raise ConfigError(_blame(str(exc), where, overrides)) from None
    cfg.model.bundle = resolve_bundle(cfg.model.bundle, path)
    return cfg


def _blame(message: str, where: str, overrides: Sequence[str]) -> str:
    """``message`` (which starts with a key path) credited to the ``--set`` that gave the key, else to
    the file: a typo on the command line must not send anyone looking in the config file."""
    key = message.split(":", 1)[0]
    for text in reversed(overrides):
        name = text.partition("=")[0].strip()
        if key == name or key.startswith(name + ".") or name.startswith(key + "."):
            return f"--set {text}: {message}"
    return f"{where}{message}"


#: the bundled models: ``models/`` beside the package in a checkout, or /usr/share when installed
MODEL_DIRS: tuple[Path, ...] = (
    Path(__file__).resolve().parent.parent / "models",
    Path("/usr/share/edge-ids/models"),
)


def bundle_candidates(bundle: str, config_path: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where ``model.bundle`` may be, in order: beside the config file, in the working directory, then
    among the bundled models (by the path's own name too, so ``models/edge-iiotset-lab`` and
    ``edge-iiotset-lab`` both find the shipped bundle from any directory)."""
    p = Path(bundle).expanduser()
    if p.is_absolute():
        return [p]
    out: list[Path] = []
    if config_path is not None:
        out.append(Path(config_path).resolve().parent / p)
    out.append(Path.cwd() / p)
    for d in MODEL_DIRS:
        out.extend((d / p, d / p.name))
    return list(dict.fromkeys(out))


def resolve_bundle(bundle: str, config_path: str | os.PathLike[str] | None = None) -> str:
    """The first of :func:`bundle_candidates` that is a directory, as an absolute path; ``bundle``
    unchanged when none is (loading it then says it is missing)."""
    for candidate in bundle_candidates(bundle, config_path):
        if candidate.is_dir():
            return str(candidate)
    return bundle


def describe(cls: type = AgentConfig, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """Every key of a config class, the agent's by default: (dotted key, type, default, doc)."""
    return _describe(cls, prefix)
