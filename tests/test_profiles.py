"""Firmware profiles: all validate, detect() recognises each board, a config overrides its profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_config
from agent.errors import ConfigError
from agent.profiles import detect, list_profiles, load_profile

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "firmware_profiles").glob("*.yaml"))
EXPECTED = {"raspberry-pi-4", "raspberry-pi-5", "jetson-orin-nano", "generic-x86_64", "imx8-telematics"}

PI4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08
Hardware\t: BCM2835
Revision\t: c03114
Serial\t\t: 10000000abcdef01
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""
GENERIC_ARM_CPUINFO = "processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n"
X86_CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Celeron(R) J6412\n"

#: board -> (device-tree model bytes or None when absent, cpuinfo, uname -m)
BOARDS: dict[str, tuple[bytes | None, str, str]] = {
    "raspberry-pi-4": (b"Raspberry Pi 4 Model B Rev 1.4\0", PI4_CPUINFO, "aarch64"),
    "raspberry-pi-5": (b"Raspberry Pi 5 Model B Rev 1.0\0", GENERIC_ARM_CPUINFO, "aarch64"),
    "jetson-orin-nano": (b"NVIDIA Jetson Orin Nano Developer Kit\0", GENERIC_ARM_CPUINFO, "aarch64"),
    "imx8-telematics": (b"NXP i.MX8MPlus EVK board\0", GENERIC_ARM_CPUINFO, "aarch64"),
    "generic-x86_64": (None, X86_CPUINFO, "x86_64"),
}


def fake_proc(tmp_path: Path, model: bytes | None, cpuinfo: str) -> tuple[Path, Path]:
    dt = tmp_path / "device-tree-model"
    if model is not None:
        dt.write_bytes(model)
    cpu = tmp_path / "cpuinfo"
    cpu.write_text(cpuinfo)
    return dt, cpu


def test_all_expected_profiles_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= EXPECTED
    assert set(list_profiles()) >= EXPECTED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_profile_validates_and_is_honest(path: Path) -> None:
    prof = load_profile(str(path))
    assert prof.meta.name == path.stem
    assert prof.meta.tuned_for and prof.meta.description
    assert prof.meta.assumed, "a profile must say what it assumes"
    text = path.read_text()
    assert text.startswith("#"), "a profile starts with a header comment saying what it was tuned for"
    # as the base of an empty config, the profile's values come through validated
    cfg = load_config(None, [f"profile={path}"])
    assert cfg.model.threads == prof.values["model"]["threads"]
    assert cfg.runtime.queue_size == prof.values["runtime"]["queue_size"]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_detect_each_board(board: str, tmp_path: Path) -> None:
    model, cpuinfo, machine = BOARDS[board]
    dt, cpu = fake_proc(tmp_path, model, cpuinfo)
    found = detect(dt, cpu, machine)
    assert found is not None and found.name == board, found


def test_detect_pi4_from_cpuinfo_when_device_tree_is_hidden(tmp_path: Path) -> None:
    # containers often hide /proc/device-tree; Raspberry Pi kernels repeat the model in cpuinfo
    dt, cpu = fake_proc(tmp_path, None, PI4_CPUINFO)
    found = detect(dt, cpu, "aarch64")
    assert found is not None and found.name == "raspberry-pi-4"
    assert "cpuinfo" not in found.reason and "Raspberry Pi 4" in found.reason


def test_detect_pi400_is_a_pi4_and_pi5_is_not(tmp_path: Path) -> None:
    dt, cpu = fake_proc(tmp_path, b"Raspberry Pi 400 Rev 1.0\0", GENERIC_ARM_CPUINFO)
    assert (found := detect(dt, cpu, "aarch64")) is not None and found.name == "raspberry-pi-4"


def test_detect_unknown_arm_board_is_none(tmp_path: Path) -> None:
    dt, cpu = fake_proc(tmp_path, b"Pine64 RockPro64\0", GENERIC_ARM_CPUINFO)
    assert detect(dt, cpu, "aarch64") is None


def test_board_beats_architecture_catch_all(tmp_path: Path) -> None:
    # an x86 profile must not win over a board match even if the machine string says x86_64
    dt, cpu = fake_proc(tmp_path, b"NXP i.MX8MPlus EVK board\0", GENERIC_ARM_CPUINFO)
    assert (found := detect(dt, cpu, "x86_64")) is not None and found.name == "imx8-telematics"


def test_config_overrides_profile(tmp_path: Path) -> None:
    cfg_file = tmp_path / "gw.yaml"
    cfg_file.write_text(
        "profile: raspberry-pi-4\n"
        "model:\n  threads: 3\n"
        "source:\n  interface: eth1\n"
    )
    cfg = load_config(cfg_file)
    assert cfg.model.threads == 3  # the config wins
    assert cfg.model.batch_size == 64  # the profile's value
    assert cfg.runtime.cpu_affinity == [1, 2, 3]
    assert cfg.source.interface == "eth1" and cfg.source.buffer_size_mb == 16
    # --set beats both, and can switch the profile
    cfg = load_config(cfg_file, ["model.threads=1", "profile=generic-x86_64"])
    assert cfg.model.threads == 1 and cfg.model.batch_size == 256 and cfg.runtime.cpu_affinity is None


def test_can_profile_merges_bus_arguments(tmp_path: Path) -> None:
    cfg_file = tmp_path / "can.yaml"
    cfg_file.write_text("profile: imx8-telematics\nsource:\n  can:\n    channel: can1\n")
    cfg = load_config(cfg_file)
    assert cfg.source.backend == "canbus"
    assert cfg.source.can == {"interface": "socketcan", "channel": "can1", "bitrate": 500000}


def test_profile_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("meta:\n  name: mine\n  description: d\nmodel:\n  threads: 7\n")
    cfg_file = tmp_path / "gw.yaml"
    cfg_file.write_text("profile: ./mine.yaml\n")
    assert load_config(cfg_file).model.threads == 7


def test_bad_profiles_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no-such-board.*known profiles: .*raspberry-pi-4"):
        load_config(None, ["profile=no-such-board"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  thread: 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: model\.thread: unknown key"):
        load_profile(str(bad))
    nested = tmp_path / "nested.yaml"
    nested.write_text("profile: raspberry-pi-4\n")
    with pytest.raises(ConfigError, match="cannot name another profile"):
        load_profile(str(nested))


def test_profile_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPECTED)
    assert main(["profile", "show", "jetson-orin-nano"]) == 0
    out = capsys.readouterr().out
    assert "threads: 3" in out and "# assumed:" in out
    dt, cpu = fake_proc(tmp_path, b"Raspberry Pi 5 Model B Rev 1.0\0", GENERIC_ARM_CPUINFO)
    assert main(["profile", "detect", "--device-tree-model", str(dt), "--cpuinfo", str(cpu),
                 "--machine", "aarch64"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "raspberry-pi-5"


def test_detect_says_when_the_machine_is_below_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "detect", "--device-tree-model", "/nonexistent", "--cpuinfo", "/nonexistent",
            "--machine", "x86_64"]
    assert main([*args, "--cores", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("generic-x86_64\n")
    assert ("# below this profile's assumptions: this machine has 2 usable core(s), the profile assumes at "
            "least 4; set model.threads: 1 in your config (the profile sets 2)") in out
    assert main([*args, "--cores", "8"]) == 0
    assert "below this profile's assumptions" not in capsys.readouterr().out


def test_shortfalls_name_pinned_cores_the_machine_lacks() -> None:
    from agent.profiles import shortfalls

    pi = load_profile("raspberry-pi-4")
    assert shortfalls(pi, 4) == []
    problems = shortfalls(pi, 2)
    assert any("at least 4" in p for p in problems)
    assert any(p.startswith("runtime.cpu_affinity names core(s) 2, 3") for p in problems)
