"""``edge-ids-agent profile detect|show NAME|list``: the firmware profiles and which fits this device."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from agent.errors import ConfigError
from agent.profiles import detect, list_profiles, load_profile, shortfalls, usable_cores

HELP = "firmware profiles: detect the one for this device, list them, or show one's values"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = sub.add_parser("detect", help="pick the profile for this device from /proc/device-tree/model and /proc/cpuinfo")
    d.add_argument("--device-tree-model", default="/proc/device-tree/model", help=argparse.SUPPRESS)
    d.add_argument("--cpuinfo", default="/proc/cpuinfo", help=argparse.SUPPRESS)
    d.add_argument("--machine", default=None, help=argparse.SUPPRESS)
    d.add_argument("--cores", type=int, default=None, help=argparse.SUPPRESS)
    sub.add_parser("list", help="list the profiles found, with what each was tuned for")
    s = sub.add_parser("show", help="print a profile's metadata and values (as YAML)")
    s.add_argument("name", help="profile name or file")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        found = list_profiles()
        if not found:
            raise ConfigError("no firmware profiles found (looked beside the package and in /usr/share/edge-ids)")
        width = max(len(n) for n in found)
        for name, path in found.items():
            print(f"{name:<{width}}  {load_profile(str(path)).meta.description}")
        return 0
    if args.action == "show":
        prof = load_profile(args.name, relative_to=Path.cwd() / "-")
        print(f"# {prof.path}")
        print(f"# tuned for: {prof.meta.tuned_for}")
        for a in prof.meta.assumed:
            print(f"# assumed: {a}")
        for m in prof.meta.measured or ["nothing measured on the device"]:
            print(f"# measured: {m}")
        print(f"# preferred model variant: {prof.meta.preferred_model_variant}")
        print(yaml.safe_dump(prof.values, sort_keys=False), end="")
        return 0
    found_profile = detect(args.device_tree_model, args.cpuinfo, args.machine)
    if found_profile is None:
        print("no firmware profile matches this device; start from generic-x86_64 or raspberry-pi-4 "
              "and set profile: in your config")
        return 1
    print(found_profile.name)
    print(f"# {found_profile.reason} ({found_profile.path})")
    cores = args.cores if args.cores is not None else usable_cores()
    for problem in shortfalls(load_profile(str(found_profile.path)), cores):
        print(f"# below this profile's assumptions: {problem}")
    return 0
