"""``edge-ids-agent install-service``: install the systemd unit, a config, the user and directories.

Why a command and not a shell script: it knows where the running agent is installed (ExecStart= and
WorkingDirectory= are rewritten to it), it can be pointed at a scratch root for tests
(``--root DIR``), it is idempotent (a second run changes nothing and never overwrites an edited
config), and ``--dry-run`` shows every action first, which an integrator wants before touching a
gateway's /etc.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import load_config
from agent.errors import EdgeIdsError

HELP = "install the systemd unit edge-ids-agent@NAME, /etc/edge-ids/NAME.yaml, the service user and directories"

REPO = Path(__file__).resolve().parent.parent.parent
UNIT_NAME = "edge-ids-agent@.service"
SHIPPED_AGENT = "/opt/edge-ids/.venv/bin/edge-ids-agent"
SHIPPED_HOME = "/opt/edge-ids"
#: what the unit's PrivateTmp=yes hides from the service (it gets empty directories of its own)
PRIVATE_TMP = ("/tmp/", "/var/tmp/")
SERVICE_USER = "edge-ids"
#: lets the scapy backend get its configured socket buffer without CAP_NET_ADMIN (64 MiB)
SYSCTL_TEXT = (
    "# edge-ids: live capture asks for socket buffers of up to 64 MiB (source.buffer_size_mb);\n"
    "# without this, the kernel caps them at net.core.rmem_max unless the agent has CAP_NET_ADMIN.\n"
    "net.core.rmem_max = 67108864\n"
)


class InstallError(EdgeIdsError):
    """The installation cannot proceed (missing files, not root for a real install)."""


@dataclass
class Plan:
    """Actions to take, printed in order; ``changed`` counts those that modify the system."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    changed: int = 0

    def note(self, text: str) -> None:
        self.lines.append(text)
        print(text)

    def write(self, path: Path, text: str, mode: int, overwrite: bool = True) -> None:
        """Write ``text`` unless ``path`` already holds it (or exists and ``overwrite`` is off)."""
        if path.exists():
            if not overwrite:
                self.note(f"keep      {path} (exists; not overwritten)")
                return
            if path.read_text(encoding="utf-8") == text:
                self.note(f"unchanged {path}")
                return
        self.changed += 1
        self.note(f"write     {path} (mode {mode:04o})")
        if not self.dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, mode)
            os.replace(tmp, path)

    def mkdir(self, path: Path, mode: int, owner: str | None = None, group: str | None = None) -> None:
        if path.is_dir():
            self.note(f"unchanged {path}/")
        else:
            self.changed += 1
            self.note(f"mkdir     {path}/ (mode {mode:04o})")
            if not self.dry_run:
                path.mkdir(parents=True, exist_ok=True)
                os.chmod(path, mode)
        if (owner or group) and not self.dry_run and path.is_dir():
            _chown(path, owner, group)


def _chown(path: Path, owner: str | None, group: str | None) -> None:
    try:
        uid = pwd.getpwnam(owner).pw_uid if owner else -1
        gid = grp.getgrnam(group).gr_gid if group else -1
    except KeyError:
        return  # the user exists only after a real install; a --root test install has none
    os.chown(path, uid, gid)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-name", default="ethernet",
                        help="instance: /etc/edge-ids/NAME.yaml for edge-ids-agent@NAME (default ethernet)")
    parser.add_argument("--example", default=None,
                        help="shipped config to start from: ethernet, can, demo, fleet-example "
                             "(default: NAME if such a config exists, else ethernet)")
    parser.add_argument("--root", default="/", help="install below this directory instead of / (for tests, images)")
    parser.add_argument("--agent", default=None,
                        help="edge-ids-agent executable for ExecStart= (default: the one running now)")
    parser.add_argument("--home", default=None,
                        help="WorkingDirectory= of the service, where models/ lives (default: this checkout)")
    parser.add_argument("--net-admin", action="store_true",
                        help="also grant CAP_NET_ADMIN to this instance (socket buffers beyond net.core.rmem_max)")
    parser.add_argument("--dry-run", action="store_true", help="print the actions without doing them")


def _agent_path() -> str:
    exe = Path(sys.executable).parent / "edge-ids-agent"
    if exe.exists():
        return str(exe)
    found = shutil.which("edge-ids-agent")
    return found or SHIPPED_AGENT


def render_unit(template: str, agent: str, home: str) -> str:
    """The shipped unit with ExecStart= and WorkingDirectory= pointing at this installation."""
    if SHIPPED_AGENT not in template or f"WorkingDirectory={SHIPPED_HOME}" not in template:
        raise InstallError(f"{REPO / 'systemd' / UNIT_NAME}: ExecStart/WorkingDirectory placeholders not found")
    return template.replace(SHIPPED_AGENT, agent).replace(
        f"WorkingDirectory={SHIPPED_HOME}", f"WorkingDirectory={home}"
    )


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    real = root.resolve() == Path("/")
    if real and os.geteuid() != 0 and not args.dry_run:
        raise InstallError("installing into / needs root (sudo), or use --dry-run / --root DIR")
    name: str = args.config_name
    if not name or "/" in name or name.startswith("."):
        raise InstallError(f"--config-name {name!r}: expected a plain name such as ethernet")
    example = args.example or (name if (REPO / "configs" / f"{name}.yaml").is_file() else "ethernet")
    example_path = REPO / "configs" / f"{example}.yaml"
    unit_src = REPO / "systemd" / UNIT_NAME
    for p in (example_path, unit_src):
        if not p.is_file():
            raise InstallError(f"{p}: not found (install-service runs from an edge-ids checkout or sdist)")
    load_config(example_path)  # never install a config that would not start
    plan = Plan(dry_run=args.dry_run)
    agent = args.agent or _agent_path()
    home = args.home or str(REPO)

    def at(path: str) -> Path:
        return root / path.lstrip("/")

    plan.note(f"# edge-ids-agent@{name}: {'dry run, ' if args.dry_run else ''}installing into {root}")
    hidden = ("/home/", "/root/", "/run/user/")
    for what in (agent, home, str(Path(sys.executable).resolve())):
        if what.startswith(hidden):
            plan.note(f"warning   {what} is under /home, /root or /run/user, which the unit's ProtectHome=yes "
                      "hides from the service: install Python and the agent under /usr or /opt/edge-ids")
        if what.startswith(PRIVATE_TMP):
            plan.note(f"warning   {what} is under /tmp or /var/tmp, which the unit's PrivateTmp=yes replaces with "
                      "an empty directory for the service: it would not find the agent or its models; install "
                      "under /opt/edge-ids (and /tmp is emptied at boot)")

    # the service user first, so directories can be given to it
    if real:
        try:
            pwd.getpwnam(SERVICE_USER)
            plan.note(f"unchanged user {SERVICE_USER}")
        except KeyError:
            plan.changed += 1
            cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/var/lib/edge-ids",
                   "--shell", "/usr/sbin/nologin", "--comment", "edge-ids agent", SERVICE_USER]
            plan.note("run       " + " ".join(cmd))
            if not args.dry_run:
                subprocess.run(cmd, check=True)
    else:
        plan.note(f"skip      system user {SERVICE_USER} (created only when installing into /)")

    unit_text = render_unit(unit_src.read_text(encoding="utf-8"), agent, home)
    plan.write(at("/etc/systemd/system") / UNIT_NAME, unit_text, 0o644)
    dropin = at("/etc/systemd/system") / f"edge-ids-agent@{name}.service.d" / "net-admin.conf"
    if args.net_admin:
        plan.write(dropin, (REPO / "systemd" / "net-admin.conf").read_text(encoding="utf-8"), 0o644)
    elif dropin.exists():
        plan.note(f"keep      {dropin} (exists; remove it by hand to drop CAP_NET_ADMIN)")

    plan.mkdir(at("/etc/edge-ids"), 0o750, "root", SERVICE_USER)
    # the instance may only write below its own StateDirectory (ProtectSystem=strict)
    config_text = example_path.read_text(encoding="utf-8").replace(
        f"/var/lib/edge-ids/{example}", f"/var/lib/edge-ids/{name}"
    )
    plan.write(at("/etc/edge-ids") / f"{name}.yaml", config_text, 0o640, overwrite=False)
    if not args.dry_run and real:
        _chown(at("/etc/edge-ids") / f"{name}.yaml", "root", SERVICE_USER)
    plan.mkdir(at("/var/lib/edge-ids"), 0o750, SERVICE_USER, SERVICE_USER)
    plan.mkdir(at("/var/lib/edge-ids") / name, 0o750, SERVICE_USER, SERVICE_USER)
    plan.write(at("/etc/sysctl.d/60-edge-ids.conf"), SYSCTL_TEXT, 0o644)
    profiles = REPO / "firmware_profiles"
    if profiles.is_dir():
        for p in sorted(profiles.glob("*.yaml")):
            plan.write(at("/usr/share/edge-ids/firmware_profiles") / p.name, p.read_text(encoding="utf-8"), 0o644)

    if real and not args.dry_run and plan.changed and Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        subprocess.run(["sysctl", "-q", "-p", str(at("/etc/sysctl.d/60-edge-ids.conf"))], check=False)
        plan.note("ran       systemctl daemon-reload; sysctl -p /etc/sysctl.d/60-edge-ids.conf")
    plan.note(f"# {plan.changed} change(s){' planned' if args.dry_run else ''}. Next: edit /etc/edge-ids/{name}.yaml "
              f"(interface, broker, site, gateway_id), then: systemctl enable --now edge-ids-agent@{name}")
    return 0
