"""The shipped unit under a real systemd running as PID 1: install, start, capture, reload, watchdog, stop.

tests/test_systemd.py reads the unit offline; only a running manager shows that the agent survives
its own hardening. Here systemd boots as PID 1 of a sandbox (tests/support/systemd_sandbox.py: private PID,
mount, UTS and IPC namespaces on a tmpfs overlay of the host's root, stub targets only), which
shares the host's network, where a veth pair carries the test's traffic. In that sandbox:

1. ``edge-ids-agent install-service --config-name NAME --example ethernet`` runs for real (useradd,
   /etc/systemd/system, daemon-reload); the test points the installed config at the veth and keeps
   alerts in a JSONL file under the instance's state directory, the one writable place.
2. ``systemctl start`` returns only once the agent sent READY=1: the unit is active (running) with
   the agent's status line, and its main process runs as ``edge-ids`` with CAP_NET_RAW only.
3. A SYN flood on the veth becomes alerts in the state directory: AF_PACKET capture works under the
   hardening, with the capability as an ambient one.
4. ``systemctl reload`` (SIGHUP): a good config is taken, a broken one refused while the old keeps
   running, with the same main process throughout.
5. The watchdog: with a test-only drop-in shortening WatchdogSec=, an idle agent keeps pinging, a
   stopped (SIGSTOP) one is killed with result ``watchdog`` and restarted (Restart=on-failure).
6. ``systemctl stop``: the agent exits 0 within its stop budget.

The tests share one sandbox and one installed instance and run in file order, each going on from the
state the previous one left, as an operator would on a gateway. The host is compared before and after.

The checkout may sit under /tmp, /home or /root, and the venv's interpreter under /root (pyenv): the
unit's PrivateTmp= and ProtectHome= hide those from the service, as ``install-service`` warns. So the
sandbox gets what a gateway has: the checkout bound (read-only) at /opt/edge-ids/src, the service's
home, and a venv at /opt/edge-ids/.venv (the unit's shipped ExecStart= path) made by the system's
Python of the same minor version, seeing the checkout and its venv's packages.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.live_agent import VethPair, assert_valid_alerts, read_jsonl, summary, veth_pair
from support.live_traffic import DOS_FAMILY, FLOOD_PORT, VICTIM, interleave, normal_mqtt, syn_flood
from support.systemd_sandbox import STUB_UNITS, Sandbox, SandboxError, sandbox, unavailable
from support.waiting import wait_for
from test_systemd import MAX_EXPOSURE

from agent.runtime.daemon import STOP_BUDGET_S

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "models" / "edge-iiotset-lab"
NAME = "vethlab"
UNIT = f"edge-ids-agent@{NAME}.service"
TEMPLATE = "edge-ids-agent@.service"
CONFIG = f"/etc/edge-ids/{NAME}.yaml"
STATE_DIR = f"/var/lib/edge-ids/{NAME}"
JSONL = f"{STATE_DIR}/alerts.jsonl"
DROPIN_DIR = f"/etc/systemd/system/{UNIT}.d"
#: where the sandbox-only drop-in sends the agent's output (no journald runs in the sandbox)
AGENT_LOG = "/run/edge-ids-sandbox/agent.log"
#: the status line the agent sends with READY=1 (agent/runtime/daemon.py)
STATUS_TEXT = "scoring"
CAP_NET_RAW = 13
VENV = "/opt/edge-ids/.venv"
#: where the checkout is bound in the sandbox: the service's home (WorkingDirectory=, models/)
HOME = "/opt/edge-ids/src"
#: what the unit hides from the service (ProtectHome=, PrivateTmp=) or the sandbox replaces (/run)
HIDDEN = ("/home/", "/root/", "/run/", "/tmp/", "/var/tmp/")
ALERT_TIMEOUT_S = 15.0
#: the test-only watchdog: short enough to see a hang in seconds, long enough for a busy 2-core runner
WATCHDOG_S = 3
RESTART_S = 2
#: host paths install-service would write on a real install; the sandbox must leave them as they were
HOST_PATHS = ("/etc/edge-ids", f"/etc/systemd/system/{TEMPLATE}", "/etc/sysctl.d/60-edge-ids.conf",
              "/opt/edge-ids", "/usr/share/edge-ids", f"/var/lib/edge-ids/{NAME}")


@dataclass(frozen=True)
class HostState:
    """What a leak from the sandbox would change on the host."""

    hostname: str
    has_user: bool
    paths: tuple[bool, ...]
    rmem_max: str
    core_pattern: str

    @classmethod
    def now(cls) -> HostState:
        try:
            pwd.getpwnam("edge-ids")
            has_user = True
        except KeyError:
            has_user = False
        return cls(
            hostname=socket.gethostname(),
            has_user=has_user,
            paths=tuple(os.path.lexists(p) for p in HOST_PATHS),
            rmem_max=Path("/proc/sys/net/core/rmem_max").read_text().strip(),
            core_pattern=Path("/proc/sys/kernel/core_pattern").read_text().strip(),
        )


@dataclass
class Deployment:
    """The sandbox, the veth the agent captures on, and what install-service did."""

    sb: Sandbox
    veth: VethPair
    agent: str
    install_output: str
    host_before: HostState
    installed: dict[str, Any]
    cfg: dict[str, Any]

    def show(self, *props: str) -> dict[str, str]:
        return self.sb.show(UNIT, *props)

    def ensure_started(self) -> None:
        """Start the unit unless it runs: each test can run alone (``-k``), and after a failed start
        the tests that need the agent fail at once with its log instead of timing out one by one."""
        if self.show("ActiveState")["ActiveState"] == "active":
            return
        self.sb.systemctl("enable", UNIT)  # keeps the unit loaded after a stop (see the start test)
        self.sb.systemctl("reset-failed", UNIT, check=False)
        start = self.sb.systemctl("start", UNIT, check=False, timeout=150)
        if start.returncode != 0:
            pytest.fail(f"{UNIT} does not start: {start.stderr.strip()}\n{self.context()}")

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"])

    def write_config(self, cfg: dict[str, Any] | None = None, text: str | None = None) -> None:
        """Rewrite the instance's config in place (owner root:edge-ids and mode 0640 are kept)."""
        if cfg is not None:
            self.cfg = cfg
        body = text if text is not None else yaml.safe_dump(self.cfg, sort_keys=False)
        with self.sb.path(CONFIG).open("w", encoding="utf-8") as f:
            f.write(body)

    def alerts(self) -> list[dict[str, Any]]:
        return read_jsonl(self.sb.path(JSONL))

    def agent_log(self) -> str:
        p = self.sb.path(AGENT_LOG)
        return p.read_text(errors="replace") if p.exists() else ""

    def context(self) -> str:
        """The unit's state, the agent's log and the manager's console, for assertion messages."""
        status = self.sb.systemctl("status", UNIT, check=False).stdout
        return f"{status}\n--- agent log ---\n{self.agent_log()[-4000:]}\n--- manager ---\n{self.sb.console_text(3000)}"


def in_sandbox(path: str) -> str:
    """Where a host path of this checkout (or its venv) is seen inside the sandbox."""
    real = Path(path).resolve()
    return str(Path(HOME) / real.relative_to(REPO)) if real.is_relative_to(REPO) else path


def site_dirs() -> list[str]:
    """This venv's package directories, as the sandbox sees them."""
    return list(dict.fromkeys(in_sandbox(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")))


def provide_agent(sb: Sandbox) -> str:
    """The edge-ids-agent executable the unit will run, as a path inside the sandbox (see module docstring)."""
    hidden = [d for d in site_dirs() if d.startswith(HIDDEN)]
    if hidden:
        pytest.skip(f"this venv's packages ({hidden[0]}) are outside the checkout, where the unit cannot see them")
    system_python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not Path(system_python).exists():
        pytest.skip(f"no {system_python} to run the agent from /opt/edge-ids/.venv (the venv's own Python, "
                    f"{sys.base_prefix}, may be hidden from the service)")
    made = sb.run(system_python, "-m", "venv", "--without-pip", VENV, check=False)
    if made.returncode != 0:
        pytest.skip(f"{system_python} -m venv failed (python3-venv missing?): {made.stderr.strip()[-300:]}")
    site_dir = sb.run(f"{VENV}/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # the checkout first: the editable install's finder maps the packages to the host path, which
    # the service may not see; a path on sys.path wins over that finder
    sb.path(site_dir.stdout.strip()).joinpath("edge_ids_checkout.pth").write_text(
        f"{HOME}\n" + "".join(f"import site; site.addsitedir({p!r})\n" for p in site_dirs())
    )
    script = sb.path(f"{VENV}/bin/edge-ids-agent")
    script.write_text(f"#!{VENV}/bin/python\nimport sys\nfrom agent.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return f"{VENV}/bin/edge-ids-agent"


def lab_config(installed: dict[str, Any], interface: str) -> dict[str, Any]:
    """The installed ethernet example, edited as an integrator would for the veth lab."""
    cfg = json.loads(json.dumps(installed))
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    cfg["source"]["interface"] = interface
    cfg["features"]["kind"] = manifest["feature_kind"]
    cfg["mqtt"]["enabled"] = False  # no broker here: the JSONL sink in the state directory is the record
    cfg["model"]["max_wait_ms"] = 20
    cfg["alerts"].update(realert_interval_s=0.5, merge_gap_s=0.3)
    cfg["logging"] = {"level": "INFO", "json": True}
    return cfg


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("scapy")
    if not (BUNDLE / "manifest.json").is_file():
        pytest.skip(f"{BUNDLE.relative_to(REPO)} is not built (make models)")
    host_before = HostState.now()
    with ExitStack() as stack:
        veth = stack.enter_context(veth_pair(tmp_path_factory.mktemp("sandbox-veth")))
        try:
            sb = stack.enter_context(sandbox(binds=[(REPO, HOME), Path(sys.prefix), Path(sys.base_prefix)]))
        except SandboxError as exc:
            pytest.fail(f"the systemd sandbox could not be set up: {exc}")
        stack.callback(sb.systemctl, "stop", UNIT, check=False, timeout=40)
        agent = provide_agent(sb)
        install = sb.run(agent, "install-service", "--config-name", NAME, "--example", "ethernet", cwd=HOME)
        installed = yaml.safe_load(sb.path(CONFIG).read_text())
        dep = Deployment(sb, veth, agent, install.stdout + install.stderr, host_before, installed, installed)
        dep.write_config(lab_config(installed, veth.host))
        sb.run(agent, "check-config", "--quiet", CONFIG, cwd=HOME)
        sb.run("mkdir", "-p", DROPIN_DIR)
        sb.path(f"{DROPIN_DIR}/sandbox-log.conf").write_text(
            "# sandbox only: no journald runs in the test sandbox, so the agent's output goes to a file\n"
            f"[Service]\nStandardOutput=append:{AGENT_LOG}\nStandardError=append:{AGENT_LOG}\n"
        )
        sb.systemctl("daemon-reload")
        yield dep


def test_install_service_installs_for_real_inside_the_sandbox(deployed: Deployment) -> None:
    sb, out = deployed.sb, deployed.install_output
    assert deployed.host_before.has_user or "run       useradd --system" in out, out
    assert "ran       systemctl daemon-reload" in out, out  # it found a running manager
    user = sb.run("getent", "passwd", "edge-ids").stdout.strip().split(":")
    assert user[5:] == ["/var/lib/edge-ids", "/usr/sbin/nologin"], user
    # the manager loaded the installed template; no unit file besides it and the stubs exists
    assert sb.unit_files() == STUB_UNITS | {TEMPLATE}
    s = deployed.show("LoadState", "FragmentPath", "ExecStart", "WorkingDirectory", "DropInPaths")
    assert s["LoadState"] == "loaded" and s["FragmentPath"] == f"/etc/systemd/system/{TEMPLATE}", s
    assert f"path={deployed.agent} " in s["ExecStart"] and f"/etc/edge-ids/{NAME}.yaml" in s["ExecStart"], s
    assert s["WorkingDirectory"] == HOME, s
    # the example was renamed into the instance's state directory, which ProtectSystem=strict leaves writable
    assert deployed.installed["state_dir"] == STATE_DIR and deployed.installed["sinks"]["jsonl"]["path"] == JSONL
    cfg_stat = sb.path(CONFIG).stat()
    assert cfg_stat.st_mode & 0o777 == 0o640 and cfg_stat.st_uid == 0
    assert sb.path("/etc/sysctl.d/60-edge-ids.conf").is_file()
    # its `sysctl -p` met the sandbox's read-only /proc/sys: the host's value is as it was
    assert Path("/proc/sys/net/core/rmem_max").read_text().strip() == deployed.host_before.rmem_max


def test_start_returns_after_ready_with_the_agents_status(deployed: Deployment) -> None:
    sb = deployed.sb
    # enabled as on a gateway; also keeps the unit loaded after a stop, so its results stay readable
    sb.systemctl("enable", UNIT)
    t0 = time.monotonic()
    start = sb.systemctl("start", UNIT, check=False, timeout=150)
    returned = time.monotonic()
    assert start.returncode == 0, f"{start.stderr}\n{deployed.context()}"
    s = deployed.show("ActiveState", "SubState", "StatusText", "MainPID", "Type", "NotifyAccess",
                      "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    assert (s["ActiveState"], s["SubState"]) == ("active", "running"), deployed.context()
    assert (s["Type"], s["NotifyAccess"]) == ("notify", "main"), s
    # the status line travels in the same datagram as READY=1, so it is there as soon as start returns
    assert s["StatusText"] == STATUS_TEXT, deployed.context()
    started = int(s["ExecMainStartTimestampMonotonic"]) / 1e6
    ready = int(s["ActiveEnterTimestampMonotonic"]) / 1e6  # CLOCK_MONOTONIC: the host's and the sandbox's
    assert t0 <= started < ready <= returned, (t0, started, ready, returned)
    status = sb.systemctl("status", UNIT).stdout
    assert "Active: active (running)" in status and f'Status: "{STATUS_TEXT}"' in status, status
    assert "pipeline started" in deployed.agent_log()
    print(f"systemctl start: {returned - t0:.2f}s, READY=1 {ready - started:.2f}s after exec")


def _proc_status(sb: Sandbox, pid: int) -> dict[str, str]:
    text = sb.run("cat", f"/proc/{pid}/status").stdout
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_main_process_runs_as_edge_ids_with_cap_net_raw_only(deployed: Deployment) -> None:
    deployed.ensure_started()
    sb = deployed.sb
    pid = deployed.main_pid()
    st = _proc_status(sb, pid)
    uid, gid = sb.run("id", "-u", "edge-ids").stdout.strip(), sb.run("id", "-g", "edge-ids").stdout.strip()
    assert st["Uid"].split() == [uid] * 4 and st["Gid"].split() == [gid] * 4, st
    net_raw = 1 << CAP_NET_RAW
    caps = {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    assert caps["CapEff"] == net_raw and caps["CapAmb"] == net_raw, caps
    assert all(v & ~net_raw == 0 for v in caps.values()), f"capabilities besides CAP_NET_RAW: {caps}"
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st


def test_security_exposure_online(deployed: Deployment) -> None:
    out = deployed.sb.run("systemd-analyze", "security", "--no-pager", UNIT, check=False)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout + out.stderr)
    assert m, out.stdout + out.stderr
    score = float(m.group(1))
    print(f"systemd-analyze security {UNIT} (online, sandboxed manager): {score}")
    assert score <= MAX_EXPOSURE, out.stdout


def _flood_until(dep: Deployment, done: Callable[[list[dict[str, Any]]], object], what: str) -> list[dict[str, Any]]:
    """Send a SYN flood (with a sensor's MQTT session in it) until ``done(new_alerts)`` or a timeout."""
    before = len(dep.alerts())
    frames = interleave(syn_flood(3000), normal_mqtt(40)[60:])
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while True:
        assert dep.veth.send(frames, rate=3000.0) == len(frames)
        if wait_for(lambda: bool(done(dep.alerts()[before:])), timeout=3.0, step=0.1):
            return dep.alerts()[before:]
        assert time.monotonic() < deadline, f"{what}: {summary(dep.alerts()[before:])}\n{dep.context()}"


def test_attack_on_the_veth_raises_alerts_in_the_state_directory(deployed: Deployment) -> None:
    deployed.ensure_started()
    dep = deployed
    pid = dep.main_pid()
    # a quiet start: the sensor's session alone must not alert
    dep.veth.send(normal_mqtt(40)[:60], rate=200)
    time.sleep(0.5)
    assert not dep.alerts(), f"alerts on the sensor's session alone: {summary(dep.alerts())}"
    alerts = _flood_until(dep, lambda new: [a for a in new if a["edge_ids"]["class"] in DOS_FAMILY],
                          "no DoS alert for a SYN flood on the veth")
    assert_valid_alerts(alerts)
    hits = [a for a in alerts if a["edge_ids"]["class"] in DOS_FAMILY]
    assert any(a["dest_ip"] == VICTIM and a.get("dest_port") == FLOOD_PORT for a in hits), summary(hits)
    # written by the service user, private to it (UMask=0077), where the sandbox's overlay holds it
    st = dep.sb.path(JSONL).stat()
    assert str(st.st_uid) == dep.sb.run("id", "-u", "edge-ids").stdout.strip()
    assert st.st_mode & 0o077 == 0, oct(st.st_mode)
    assert dep.main_pid() == pid
    print(f"alerts in {JSONL}: {summary(hits)[:3]}")


def _assert_running_as(dep: Deployment, pid: int) -> None:
    """The unit is back to active (running), READY=1 sent again, with the same main process."""
    want = {"ActiveState": "active", "SubState": "running", "MainPID": str(pid), "StatusText": STATUS_TEXT}
    seen: dict[str, str] = {}

    def settled() -> bool:  # RELOADING=1 shows as SubState=reload until the agent's READY=1
        seen.update(dep.show(*want))
        return seen == want

    assert wait_for(settled, timeout=5, step=0.1), f"{seen}\n{dep.context()}"


def test_reload_takes_a_good_config_and_refuses_a_broken_one(deployed: Deployment) -> None:
    deployed.ensure_started()
    dep, sb = deployed, deployed.sb
    pid = dep.main_pid()
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    classes = [c for c in manifest["classes"] if c != manifest["benign_class"]]

    good = json.loads(json.dumps(dep.cfg))
    good["alerts"]["severity"] = dict.fromkeys(classes, 4)
    dep.write_config(good)
    accepted = dep.agent_log().count("reload accepted")
    sb.systemctl("reload", UNIT)
    assert wait_for(lambda: dep.agent_log().count("reload accepted") > accepted, timeout=10), dep.context()
    _assert_running_as(dep, pid)
    _flood_until(dep, lambda new: [a for a in new if a["alert"]["severity"] == 4],
                 "no alert with the reloaded severity")

    refused = dep.agent_log().count("reload refused")
    dep.write_config(text="alerts:\n  realert_interval: 5\n")  # unknown key
    # systemctl cannot tell (ExecReload= only sends SIGHUP); the agent refuses and says so
    sb.systemctl("reload", UNIT)
    assert wait_for(lambda: dep.agent_log().count("reload refused") > refused, timeout=10), dep.context()
    assert "alerts.realert_interval: unknown key" in dep.agent_log()
    _assert_running_as(dep, pid)
    # the running config (severity 4) keeps scoring
    new = _flood_until(dep, lambda new: new, "no alert after the refused reload")
    assert {a["alert"]["severity"] for a in new} == {4}, summary(new)
    assert dep.main_pid() == pid
    dep.write_config(good)  # a valid file again, for the restarts to come


def test_watchdog_restarts_a_hung_agent(deployed: Deployment) -> None:
    deployed.ensure_started()
    dep, sb = deployed, deployed.sb
    dropin = sb.path(f"{DROPIN_DIR}/test.conf")
    dropin.write_text(
        "# test only: a hang must be seen in seconds, not the shipped 30 s\n"
        f"[Service]\nWatchdogSec={WATCHDOG_S}s\nRestartSec={RESTART_S}s\n"
    )
    try:
        sb.systemctl("daemon-reload")
        sb.systemctl("restart", UNIT, timeout=150)  # WATCHDOG_USEC reaches the agent at exec only
        s = dep.show("WatchdogUSec", "MainPID", "NRestarts", "WatchdogTimestampMonotonic")
        pid, restarts = int(s["MainPID"]), int(s["NRestarts"])
        assert s["WatchdogUSec"] == f"{WATCHDOG_S}s", s
        env = sb.run("cat", f"/proc/{pid}/environ").stdout.split("\0")
        assert f"WATCHDOG_USEC={WATCHDOG_S * 1_000_000}" in env, env

        # idle for twice the limit: the scoring loop's pings keep it alive
        time.sleep(2 * WATCHDOG_S)
        idle = dep.show("MainPID", "NRestarts", "Result", "WatchdogTimestampMonotonic")
        assert (idle["MainPID"], idle["NRestarts"], idle["Result"]) == (str(pid), str(restarts), "success"), (
            dep.context()
        )
        assert int(idle["WatchdogTimestampMonotonic"]) > int(s["WatchdogTimestampMonotonic"]), "no watchdog ping"

        sb.run("kill", "-STOP", str(pid))
        t0 = time.monotonic()
        seen: dict[str, str] = {}

        def tripped() -> bool:
            seen.update(dep.show("Result", "SubState", "ActiveState", "MainPID", "NRestarts"))
            return seen["Result"] == "watchdog"

        # systemd reports the result while it waits RestartSec= before starting the agent again
        assert wait_for(tripped, timeout=WATCHDOG_S + RESTART_S + 5, step=0.1), f"{seen}\n{dep.context()}"
        tripped_after = time.monotonic() - t0
        assert seen["SubState"] in ("stop-watchdog", "stop-sigterm", "stop-sigkill", "auto-restart"), seen

        def restarted() -> bool:
            seen.update(dep.show("ActiveState", "SubState", "MainPID", "NRestarts", "StatusText"))
            return seen["ActiveState"] == "active" and seen["MainPID"] not in ("0", str(pid))

        assert wait_for(restarted, timeout=RESTART_S + 60, step=0.2), f"{seen}\n{dep.context()}"
        assert int(seen["NRestarts"]) == restarts + 1 and seen["StatusText"] == STATUS_TEXT, seen
        assert sb.run("kill", "-0", str(pid), check=False).returncode != 0, "the hung agent survived"
        assert "Watchdog timeout" in sb.console_text(20000)
        print(f"watchdog: tripped {tripped_after:.1f}s after SIGSTOP (limit {WATCHDOG_S}s), "
              f"restarted as PID {seen['MainPID']}")
    finally:
        dropin.unlink(missing_ok=True)
        sb.systemctl("daemon-reload", check=False)


def test_stop_exits_cleanly_within_the_budget(deployed: Deployment) -> None:
    deployed.ensure_started()
    dep, sb = deployed, deployed.sb
    t0 = time.monotonic()
    sb.systemctl("stop", UNIT, timeout=60)
    took = time.monotonic() - t0
    s = dep.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus",
                 "ActiveExitTimestampMonotonic", "InactiveEnterTimestampMonotonic")
    assert s["ActiveState"] == "inactive" and s["Result"] == "success", f"{s}\n{dep.context()}"
    assert (s["ExecMainCode"], s["ExecMainStatus"]) == ("1", "0"), s  # CLD_EXITED, status 0
    stopping = (int(s["InactiveEnterTimestampMonotonic"]) - int(s["ActiveExitTimestampMonotonic"])) / 1e6
    assert 0 <= stopping < STOP_BUDGET_S, f"stop took {stopping:.2f}s"
    assert '"signal": "SIGTERM"' in dep.agent_log().rsplit("pipeline started", 1)[-1], dep.agent_log()[-2000:]
    procs = sb.run("ps", "-e", "-o", "comm=").stdout.split()
    assert set(procs) <= {"systemd", "ps"}, procs
    print(f"systemctl stop: {took:.2f}s (SIGTERM to exit {stopping:.2f}s)")


def test_the_host_is_untouched(deployed: Deployment) -> None:
    assert HostState.now() == deployed.host_before
