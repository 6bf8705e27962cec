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
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from agent.errors import ConfigError
from agent.profile_files import read_profile
from agent.rules import rules_section
from agent.rules.can_baseline import CanBaselineConfig
from agent.rules.ethernet_baseline import EthernetBaselineConfig

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
    max_tcp_streams: int = doc(
        "TCP streams tracked at once; oldest evicted beyond (a plant network keeps hundreds open; each "
        "stream costs about 400 bytes with its key, and a spoofed SYN flood fills the table)", 32768,
    )
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


#: the ``rules`` section: one subsection per registered rule, each declared in its module
#: (see :mod:`agent.rules`)
if TYPE_CHECKING:
    RulesConfig = Any
else:
    RulesConfig = rules_section()


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
