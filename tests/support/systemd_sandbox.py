"""A real systemd as PID 1 of private namespaces, on a throw-away overlay of the host's root.

Why: ``systemd-analyze verify`` and ``security --offline`` read the unit, but only a running manager
shows whether the agent survives its own hardening: ``Type=notify`` start-up, the watchdog, SIGHUP
reloads, ambient capabilities, ``ProtectSystem=strict`` with the state directory as the one writable
place. The test machines do not run systemd as PID 1 (and where they do, the tests must not touch
the host's manager), so the manager is booted here, isolated so that nothing it or the code under
test does reaches the host:

* namespaces: PID (systemd is PID 1; SIGKILL to it from outside ends everything inside), mount
  (private propagation: no mount leaks either way), UTS (systemd sets the hostname from
  /etc/hostname) and IPC. The network namespace is the host's, on purpose: the agent captures on a
  veth interface the test creates there.
* root: an overlay with the host's ``/`` as its read-only lower layer and a tmpfs as the upper one,
  so useradd, ``/etc/systemd/system``, ``/var/lib/edge-ids`` and ``/etc/sysctl.d`` are written into
  memory that disappears with the namespace. The host's ``/etc/systemd/system`` is emptied in the
  overlay (nothing the host enabled is pulled in), ``/run`` and ``/tmp`` are fresh tmpfs, ``/dev``
  is a tmpfs with the few pseudo devices a service needs (no disks, no watchdog device, no RTC),
  ``/proc`` is the new PID namespace's, with ``/proc/sys`` read-only (no sysctl, core_pattern or
  other kernel tunable reaches the host), and ``/sys`` is read-only except the cgroup hierarchies.
* units: ``SYSTEMD_UNIT_PATH`` names only ``/etc/systemd/system`` (empty until the test installs
  into it) and a directory of stub targets with ``DefaultDependencies=no``, so sysinit.target and
  friends pull in nothing (no systemd-tmpfiles, udev, timesyncd, sysctl or remount service exists
  here); generators are pointed at an empty directory. The boot is checked against that before
  anything else runs (:meth:`Sandbox.check_isolated`).
* privileges: the manager starts without CAP_SYS_MODULE, CAP_SYS_TIME and CAP_WAKE_ALARM in its
  bounding set, so neither it nor anything it starts can load kernel modules or set the clock.
* cgroups: the manager gets its own cgroup below the caller's (``.../edge-ids-sandbox-TAG``), so it
  never takes over the host's root cgroup; the directories made there are removed on teardown.

Teardown always runs (context manager): SIGKILL to the namespace's PID 1 (the kernel then kills every
process in the namespace), wait for it, remove the cgroups and the scratch directory. Should the test
process itself be killed before that, a parent-death signal takes the namespace down with it (the
empty cgroup directories and the scratch directory under /var/tmp are then left behind).
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SYSTEMD = "/lib/systemd/systemd"
#: stub units, sandbox-side; the only unit directory besides /etc/systemd/system
UNITS_DIR = "/run/edge-ids-sandbox/units"
GENERATORS_DIR = "/run/edge-ids-sandbox/generators"
BOOT_TARGET = "edge-ids-sandbox.target"
#: targets units refer to through default or declared dependencies; each a stub with no dependencies
STUB_TARGETS = ("sysinit", "basic", "network", "network-online", "shutdown", "multi-user")
#: what exists at boot: the stubs, the boot target and the slice services land in
STUB_UNITS = frozenset({*(f"{t}.target" for t in STUB_TARGETS), BOOT_TARGET, "system.slice"})
#: capabilities the sandboxed manager and everything below it never get
DROPPED_CAPS = ("sys_module", "sys_time", "wake_alarm")
HOSTNAME = "edge-ids-sandbox"
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLS = ("unshare", "nsenter", "pivot_root", "setpriv", "mount", "umount", "systemctl")

# PID 1 of the new namespaces runs this with sh before it execs systemd. $1: scratch directory on the
# host's filesystem, $2: the cgroup path to move into, $3..: HOST=SANDBOX directories to bind in
# (read-only), such as a checkout on another mount or one mapped to where the unit can see it.
INIT_SCRIPT = r"""
set -eu
S="$1"; CG="$2"; shift 2
for h in $CGROUP_MOUNTS; do echo $$ > "$h$CG/cgroup.procs"; done
mount -t tmpfs -o mode=0700,size=2g edge-ids-sandbox "$S/layer"
mkdir "$S/layer/upper" "$S/layer/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/layer/upper,workdir=$S/layer/work" "$S/root"
N="$S/root"
mount -t proc -o nosuid,nodev,noexec proc "$N/proc"
mount --bind "$N/proc/sys" "$N/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$N/proc/sys"
if [ -e "$N/proc/sysrq-trigger" ]; then
  mount --bind "$N/proc/sysrq-trigger" "$N/proc/sysrq-trigger"
  mount -o remount,bind,ro "$N/proc/sysrq-trigger"
fi
mount --bind /sys "$N/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$N/sys"
mount --rbind /sys/fs/cgroup "$N/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid,size=16m dev "$N/dev"
for d in null zero full random urandom tty; do
  touch "$N/dev/$d"; mount --bind "/dev/$d" "$N/dev/$d"
done
touch "$N/dev/console"; mount --bind "$(tty)" "$N/dev/console"
mkdir "$N/dev/pts" "$N/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$N/dev/pts"
ln -s pts/ptmx "$N/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m shm "$N/dev/shm"
ln -s /proc/self/fd "$N/dev/fd"
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m run "$N/run"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m tmp "$N/tmp"
for extra in "$@"; do
  src="${extra%%=*}"; dst="${extra#*=}"
  mkdir -p "$N$dst"; mount --rbind "$src" "$N$dst"; mount -o remount,bind,ro "$N$dst"
done
find "$N/etc/systemd/system" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
echo "$SANDBOX_HOSTNAME" > "$N/etc/hostname"
mkdir -p "$N$UNITS_DIR" "$N$GENERATORS_DIR" "$N/run/edge-ids-sandbox/oldroot"
for t in $STUB_TARGETS; do
  printf '[Unit]\nDescription=sandbox stub %s.target\nDefaultDependencies=no\n' "$t" > "$N$UNITS_DIR/$t.target"
done
printf '[Unit]\nDescription=sandbox stub system.slice\nDefaultDependencies=no\n' > "$N$UNITS_DIR/system.slice"
printf '[Unit]\nDescription=edge-ids sandbox boot target\nDefaultDependencies=no\nWants=multi-user.target\n' \
  > "$N$UNITS_DIR/$BOOT_TARGET"
cd "$N"
pivot_root . run/edge-ids-sandbox/oldroot
cd /
umount -l /run/edge-ids-sandbox/oldroot
rmdir /run/edge-ids-sandbox/oldroot
exec env -i container=edge-ids-test PATH="$SANDBOX_PATH" \
  SYSTEMD_UNIT_PATH="/etc/systemd/system:$UNITS_DIR" \
  SYSTEMD_GENERATOR_PATH="$GENERATORS_DIR" SYSTEMD_ENVIRONMENT_GENERATOR_PATH="$GENERATORS_DIR" \
  "$SYSTEMD" --system --unit="$BOOT_TARGET" --log-target=console --log-level=info --show-status=no
"""


class SandboxError(RuntimeError):
    """The sandbox could not be set up, or is not isolated as it must be."""


def unavailable() -> str | None:
    """Why a sandbox cannot be made on this machine (a skip reason), or ``None`` if it can."""
    if os.geteuid() != 0:
        return "needs root (namespaces, overlay and cgroup mounts)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (util-linux, systemd)"
    if not os.access(SYSTEMD, os.X_OK):
        return f"{SYSTEMD} is not installed (apt install systemd)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlay filesystem"
    if not _cgroup_mounts():
        return "no cgroup2 or name=systemd cgroup hierarchy is mounted"
    return None


def _cgroup_mounts() -> list[str]:
    """Mount points of the hierarchies systemd tracks processes in: cgroup2, and v1 name=systemd."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if rfields and (rfields[0] == "cgroup2" or (rfields[0] == "cgroup" and "name=systemd" in rfields[-1])):
            out.append(fields[4])
    return out


def _sandbox_cgroup(tag: str) -> str:
    """A cgroup path below the caller's, deep enough to stay inside every hierarchy it is in.

    The manager uses one path in all hierarchies; the deepest of the caller's keeps, e.g., a v1
    memory controller's accounting of the caller valid for everything the sandbox runs.
    """
    paths = [line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines() if line]
    deepest = max(paths, key=lambda p: p.count("/") if p != "/" else 0)
    return f"{deepest.rstrip('/')}/edge-ids-sandbox-{tag}"


def _bind_args(binds: Sequence[Path | tuple[Path, str]]) -> list[str]:
    """``HOST=SANDBOX`` arguments of the init script: every mapped pair, and those plain paths on
    another filesystem than ``/`` (the overlay shows the rest where they are)."""
    root_dev = os.stat("/").st_dev
    out: dict[str, str] = {}
    for b in binds:
        if isinstance(b, tuple):
            out[f"{b[0]}={b[1]}"] = b[1]
        elif b.exists() and os.stat(b).st_dev != root_dev:
            out[f"{b}={b}"] = str(b)
    return sorted(out)


@dataclass
class Sandbox:
    """A running sandbox: run commands in it, read its files, ask its manager."""

    scratch: Path
    cgroup: str
    proc: subprocess.Popen[bytes]
    pid: int = 0
    created_cgroups: list[Path] = field(default_factory=list)
    console: Path = field(init=False)

    def __post_init__(self) -> None:
        self.console = self.scratch / "console.log"

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60.0, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` inside the sandbox (its mount, PID, UTS and IPC namespaces, a clean environment)."""
        wd = [f"--chdir={cwd}"] if cwd else []  # env's, not nsenter's --wd: that one is opened on the host
        cmd = ["nsenter", "-t", str(self.pid), "-m", "-p", "-u", "-i", "--",
               "env", "-i", *wd, f"PATH={SANDBOX_PATH}", "LANG=C.UTF-8", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise SandboxError(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def systemctl(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """``systemctl show -p P...`` as a dict."""
        out = self.systemctl("show", unit, *(f"-p{p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def path(self, inside: str) -> Path:
        """A sandbox path as the host reaches it (through ``/proc/PID/root``)."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def console_text(self, last: int = 8000) -> str:
        """What the sandboxed manager logged (its console is a pty read into ``console.log``)."""
        text = self.console.read_text(errors="replace") if self.console.exists() else ""
        return text.replace("\r", "")[-last:]

    def units(self) -> list[tuple[str, str, str, str]]:
        """Every unit the manager knows: (name, load, active, sub)."""
        out = self.systemctl("list-units", "--all", "--plain", "--no-legend").stdout
        rows = []
        for line in out.splitlines():
            parts = line.split(None, 4)
            if len(parts) >= 4:
                rows.append((parts[0], parts[1], parts[2], parts[3]))
        return rows

    def unit_files(self) -> set[str]:
        out = self.systemctl("list-unit-files", "--no-legend", "--plain").stdout
        return {line.split()[0] for line in out.splitlines() if line.strip()}

    def check_isolated(self) -> None:
        """Refuse to go on unless only the stubs exist and nothing but mounts, slices and PID 1 is active."""
        files = self.unit_files()
        if files != STUB_UNITS:
            raise SandboxError(f"unit files other than the stubs are visible: {sorted(files ^ STUB_UNITS)}")
        allowed_active = (".mount", ".slice", ".scope")
        active = [u for u in self.units() if u[2] != "inactive"]
        bad = [u for u in active if not (u[0] in STUB_UNITS or u[0].endswith(allowed_active))]
        if bad:
            raise SandboxError(f"units other than stubs, mounts and slices are active: {bad}")
        ps = self.run("ps", "-e", "-o", "pid=,comm=").stdout.split("\n")
        procs = [line.split(None, 1) for line in ps if line.strip()]
        others = [p for p in procs if p[1] not in ("systemd", "ps")]
        if others:
            raise SandboxError(f"processes besides the manager run in the sandbox: {others}")
        ro = self.run("findmnt", "-n", "-o", "OPTIONS", "/proc/sys").stdout
        if "ro" not in ro.split(","):
            raise SandboxError(f"/proc/sys is writable inside the sandbox: {ro}")


def _read_console(master: int, log: Path) -> None:
    """Copy the manager's console (a pty) into ``log`` until the pty closes."""
    with log.open("ab") as out:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave end closed, the namespace is gone
                return
            if not chunk:
                return
            out.write(chunk)
            out.flush()


def _make_cgroups(path: str, created: list[Path]) -> None:
    """Create ``path`` in every tracking hierarchy, appending each directory made to ``created``."""
    for mount in _cgroup_mounts():
        d = Path(mount)
        for part in path.strip("/").split("/"):
            d = d / part
            if not d.is_dir():
                d.mkdir()
                created.append(d)


def _remove_cgroups(created: list[Path], path: str) -> list[str]:
    """Remove the sandbox's cgroup trees (in every hierarchy), then what :func:`_make_cgroups` made.

    Returns the sandbox cgroups that could not be removed. An intermediate directory that another
    process has meanwhile put cgroups into is left alone: it is no longer only the sandbox's.
    """
    base = Path("/sys/fs/cgroup")
    candidates = [base, *(d for d in base.iterdir() if d.is_dir() and not d.is_symlink())]
    roots = [c / path.lstrip("/") for c in candidates if (c / path.lstrip("/")).is_dir()]
    left = []
    for root in roots:
        dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for d in [*dirs, root]:
            if not _rmdir_cgroup(d):
                left.append(str(d))
    for d in reversed(created):
        if d.is_dir() and not any(p.is_dir() for p in d.iterdir()):
            _rmdir_cgroup(d)
    return left


def _rmdir_cgroup(d: Path) -> bool:
    """rmdir a cgroup, retrying while it is still busy (briefly so after its last process is reaped)."""
    for _ in range(50):
        try:
            d.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def sandbox(boot_timeout: float = 30.0, binds: Sequence[Path | tuple[Path, str]] = ()) -> Iterator[Sandbox]:
    """Boot a sandboxed systemd (see the module docstring) and tear it down whatever happens.

    :param binds: host directories the sandbox needs, bound in read-only: a ``(host, sandbox)`` pair
        at the sandbox path; a plain path where it is, if it is not on the root filesystem (else the
        overlay shows it already).
    """
    reason = unavailable()
    if reason:
        raise SandboxError(reason)
    tag = uuid.uuid4().hex[:8]
    scratch = Path(tempfile.mkdtemp(prefix=f"edge-ids-sandbox-{tag}-", dir="/var/tmp"))
    (scratch / "root").mkdir()
    (scratch / "layer").mkdir()
    cgroup = _sandbox_cgroup(tag)
    created: list[Path] = []
    env = {
        "PATH": SANDBOX_PATH,
        "CGROUP_MOUNTS": " ".join(_cgroup_mounts()),
        "SANDBOX_HOSTNAME": HOSTNAME,
        "UNITS_DIR": UNITS_DIR,
        "GENERATORS_DIR": GENERATORS_DIR,
        "STUB_TARGETS": " ".join(STUB_TARGETS),
        "BOOT_TARGET": BOOT_TARGET,
        "SANDBOX_PATH": SANDBOX_PATH,
        "SYSTEMD": SYSTEMD,
    }
    # --pdeathsig and --kill-child: should this process die without tearing down (SIGKILL, a crash),
    # unshare dies with it and takes the namespace's PID 1, and so everything in the namespace, along
    cmd = ["setpriv", "--pdeathsig", "KILL", "--bounding-set", ",".join(f"-{c}" for c in DROPPED_CAPS),
           "unshare", "--pid", "--kill-child=SIGKILL", "--mount", "--uts", "--ipc", "--propagation", "private",
           "sh", "-c", INIT_SCRIPT, "edge-ids-sandbox-init", str(scratch), cgroup, *_bind_args(binds)]
    master, slave = pty.openpty()
    try:
        _make_cgroups(cgroup, created)
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    except BaseException:
        os.close(master)
        _remove_cgroups(created, cgroup)
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        os.close(slave)
    box = Sandbox(scratch=scratch, cgroup=cgroup, proc=proc, created_cgroups=created)
    reader = threading.Thread(target=_read_console, args=(master, box.console), daemon=True)
    reader.start()
    try:
        box.pid = _wait_for_pid1(proc, boot_timeout)
        _wait_running(box, boot_timeout)
        box.check_isolated()
        yield box
    finally:
        try:
            _teardown(box)
        finally:
            reader.join(timeout=10)
            os.close(master)


def _wait_for_pid1(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """The host PID of the namespace's PID 1: the one child of ``unshare --fork``."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(f"the sandbox exited with {proc.returncode} before systemd started")
        try:
            pids = children.read_text().split()
        except FileNotFoundError:
            pids = []
        if pids:
            return int(pids[0])
        time.sleep(0.02)
    raise SandboxError("unshare started no child")


def _wait_running(box: Sandbox, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        if box.proc.poll() is not None:
            raise SandboxError(f"the sandbox exited with {box.proc.returncode}; console:\n{box.console_text()}")
        state = box.systemctl("is-system-running", check=False, timeout=10).stdout.strip()
        if state == "running":
            return
        if state == "degraded":
            failed = box.systemctl("list-units", "--failed", "--plain", "--no-legend", check=False).stdout
            raise SandboxError(f"sandboxed systemd is degraded: {failed}\n{box.console_text()}")
        time.sleep(0.1)
    raise SandboxError(f"sandboxed systemd not running after {timeout}s ({state!r}); console:\n{box.console_text()}")


def _teardown(box: Sandbox) -> None:
    """SIGKILL the namespace's PID 1, wait, remove cgroups and scratch; raise if anything is left."""
    problems = []
    if box.proc.poll() is None and box.pid:
        # unshare is alive, so box.pid is still its child (PID 1 of the namespace), not a reused PID
        os.kill(box.pid, signal.SIGKILL)
    try:
        box.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        box.proc.kill()
        box.proc.wait(timeout=10)
        problems.append("unshare did not exit after its namespace's PID 1 was killed")
    left = _remove_cgroups(box.created_cgroups, box.cgroup)
    if left:
        problems.append(f"cgroups left behind: {left}")
    mounted = [p for p in (box.scratch / "root", box.scratch / "layer") if os.path.ismount(p)]
    if mounted:  # never delete through a mount: that would reach into the overlay or the host
        problems.append(f"still mounted on the host: {mounted}")
    else:
        shutil.rmtree(box.scratch, ignore_errors=True)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SandboxError("; ".join(problems))
