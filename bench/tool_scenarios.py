"""The scenarios of the real-tool bench (``detect_real_tools.py``): the hosts' addresses, the classes'
families, and each tool as it is run from the attacker's host.

Why a module of their own: the web scenarios (``web_scenarios.py``) build on the same hosts and
``Scenario``, and the bench composes them all; kept here, neither imports the other.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

#: the programs the scenarios run on the hosts (servers, the benign client, the firewall), one file each
PROGRAMS = Path(__file__).resolve().parent / "real_tools"

ATTACKER_IP = "10.77.0.1"
VICTIM_IP = "10.77.0.2"
GATEWAY_IP = "10.77.0.254"
PREFIX_LEN = 24
HOSTS = {"atk": ATTACKER_IP, "vic": VICTIM_IP, "gw": GATEWAY_IP}

DOS = "DoS"
INFO = "information gathering"
MITM = "MITM"
MALWARE = "malware"
FAMILY = {
    "DDoS_TCP": DOS, "DDoS_UDP": DOS, "DDoS_ICMP": DOS, "DDoS_HTTP": DOS,
    "Port_Scanning": INFO, "Fingerprinting": INFO, "Vulnerability_scanner": INFO,
    "MITM": MITM,
    "XSS": "injection", "SQL_injection": "injection", "Uploading": "injection",
    "Backdoor": MALWARE, "Password": MALWARE, "Ransomware": MALWARE,
}


#: IPv6 on one host's interface with a unique local address (the bench runs with IPv6 off), and off
#: again when the scenario is stopped; {role} and {addr} filled in per host
IPV6_ON = ("sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.{role}0.disable_ipv6=0 "
           "net.ipv6.conf.{role}0.accept_ra=0; ip -6 addr add {addr}/64 dev {role}0 nodad; "
           "trap 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.{role}0.disable_ipv6=1; exit 0' "
           "TERM INT EXIT; ")
ATTACKER_IP6, VICTIM_IP6 = "fd77::1", "fd77::2"


def with_ipv6(role: str, addr: str, then: str) -> tuple[str, ...]:
    """``sh -c`` turning IPv6 on for ``role``'s interface at ``addr``, then running ``then`` (which
    must end by itself or be stopped), IPv6 off again at the end."""
    return ("sh", "-c", IPV6_ON.format(role=role, addr=addr) + then)


@dataclass(frozen=True)
class Scenario:
    """One real tool run from the attacker's host (``argv`` None: benign background only).

    ``family`` None: the tool is an everyday program, not an attack, and any alert is a false one.
    ``service``: a server the victim runs for this scenario only (stopped after it). ``{work}`` in
    ``argv`` and ``service`` is the run's work directory, where :func:`prepare_everyday` writes keys,
    configurations and the file the transfers carry. ``package`` names the Debian package of an
    optional tool, ``needs`` the programs it takes (default: ``argv[0]``, and ``service[0]``): without
    them the scenario is skipped.
    """

    name: str
    family: str | None
    argv: tuple[str, ...] | None
    limit_s: float
    note: str
    package: str | None = None
    service: tuple[str, ...] | None = None
    needs: tuple[str, ...] = ()

    def programs(self) -> tuple[str, ...]:
        """The programs that must be installed for this scenario to run."""
        if self.needs:
            return self.needs
        return tuple(cmd[0] for cmd in (self.argv, self.service) if cmd)


def attack_scenarios(flood_s: float, benign_s: float) -> list[Scenario]:
    """The attack tools, each a scenario, and the benign background alone (``flood_s``: how long floods run)."""
    v, gw = VICTIM_IP, GATEWAY_IP
    flood = f"hping3 --flood, stopped after {flood_s:g} s"
    return [
        Scenario("syn_flood", DOS, ("hping3", "-S", "--flood", "-p", "80", "--rand-source", v), flood_s, flood),
        Scenario("udp_flood", DOS, ("hping3", "--udp", "--flood", "-p", "53", "--rand-source", v), flood_s, flood),
        Scenario("icmp_flood", DOS, ("hping3", "--icmp", "--flood", "--rand-source", v), flood_s, flood),
        Scenario("nmap_syn_scan", INFO, ("nmap", "-n", "-sS", "-p", "1-2000", "-T4", v), 90, "nmap -sS"),
        Scenario("nmap_connect_scan", INFO, ("nmap", "-n", "-sT", "-p", "1-1000", "-T4", v), 90, "nmap -sT"),
        Scenario("nmap_os_detect", INFO, ("nmap", "-n", "-O", "-T4", v), 90, "nmap -O"),
        Scenario("nmap_udp_scan", INFO, ("nmap", "-n", "-sU", "--top-ports", "100", "-T4", v), 30,
                 "nmap -sU, stopped after 30 s"),
        Scenario("arp_spoof", MITM, ("arpspoof", "-i", "atk0", "-t", v, gw), 20,
                 "arpspoof, stopped after 20 s (it then restores the entry)"),
        # tools and modes the lab never imitated (optional packages)
        Scenario("syn_flood_one_source", DOS, ("hping3", "-S", "--flood", "-p", "502", v), flood_s,
                 flood + ", one unspoofed source"),
        Scenario("syn_flood_many_ports", DOS, ("hping3", "-S", "--flood", "-p", "++1", "--rand-source", v), flood_s,
                 flood + ", destination port incremented per segment"),
        Scenario("udp_flood_one_port", DOS, ("hping3", "--udp", "--flood", "-s", "40000", "-k", "-p", "++1", "-d",
                                             "512", v), flood_s,
                 flood + ", one unspoofed source port, destination port incremented"),
        Scenario("ack_flood", DOS, ("hping3", "-A", "--flood", "-p", "80", "--rand-source", v), flood_s, flood),
        Scenario("nmap_xmas_scan", INFO, ("nmap", "-n", "-sX", "-p", "1-1000", "-T4", v), 90, "nmap -sX"),
        Scenario("nmap_fin_scan", INFO, ("nmap", "-n", "-sF", "-p", "1-1000", "-T4", v), 90, "nmap -sF"),
        Scenario("nmap_ack_scan", INFO, ("nmap", "-n", "-sA", "-p", "1-1000", "-T4", v), 90, "nmap -sA"),
        Scenario("nmap_version_scan", INFO, ("nmap", "-n", "-sV", "-T4", v), 120, "nmap -sV"),
        Scenario("nmap_ping_sweep", INFO, ("nmap", "-n", "-sn", f"{v.rsplit('.', 1)[0]}.0/24"), 60,
                 "nmap -sn of the /24 (ARP requests)"),
        Scenario("masscan_scan", INFO, ("masscan", "-p1-5000", "--rate", "3000", "-e", "atk0", "--router-ip", v, v),
                 60, "masscan at 3,000 packets/s", "masscan"),
        Scenario("ettercap_arp", MITM, ("ettercap", "-T", "-q", "-i", "atk0", "-M", "arp:remote", f"/{v}//",
                                        f"/{gw}//"), 20, "ettercap ARP poisoning, stopped after 20 s",
                 "ettercap-text-only"),
        Scenario("arp_request_poison", MITM, (sys.executable, str(PROGRAMS / "arp_requests.py"), v, gw), 60,
                 "scapy arpcachepoison: forged ARP requests every second for 60 s"),
        Scenario("slowloris", DOS, ("slowhttptest", "-c", "400", "-H", "-i", "5", "-r", "100", "-l", "25", "-u",
                                    f"http://{v}/"), 40, "slowhttptest slow headers, 25 s", "slowhttptest"),
        Scenario("http_flood", DOS, ("ab", "-n", "1000000", "-c", "20", "-s", "2", f"http://{v}/"), 10,
                 "ApacheBench, stopped after 10 s", "apache2-utils"),
        Scenario("hydra_ssh", MALWARE, ("hydra", "-I", "-l", "root", "-P", "{work}/passwords.txt", "-t", "4",
                                        f"ssh://{v}"), 60,
                 "hydra: SSH passwords for root, 4 tasks, stopped after 60 s", "hydra openssh-server",
                 ("/usr/sbin/sshd", "-D", "-e", "-f", "{work}/sshd_password_config"), ("hydra", "/usr/sbin/sshd")),
        Scenario("hydra_http_form", MALWARE, ("hydra", "-I", "-l", "admin", "-P", "{work}/passwords.txt", "-s",
                                              "8080", v, "http-post-form",
                                              "/login:user=^USER^&pass=^PASS^:F=Login failed"), 60,
                 "hydra: an HMI's login form, 16 tasks, stopped after 60 s", "hydra",
                 (sys.executable, str(PROGRAMS / "login_server.py"), v)),
        Scenario("hydra_http_basic", MALWARE, ("hydra", "-I", "-l", "admin", "-P", "{work}/passwords.txt", "-s",
                                               "8080", v, "http-get", "/admin/"), 60,
                 "hydra: HTTP basic authentication, 16 tasks, stopped after 60 s", "hydra",
                 (sys.executable, str(PROGRAMS / "login_server.py"), v)),
        # scans that nothing answers (the victim's firewall drops them) and IPv6 floods
        Scenario("nmap_fin_scan_filtered", INFO, ("nmap", "-n", "-sF", "-p", "1-1000", "-T4", v), 90,
                 "nmap -sF against a host firewall that drops every probe", "nmap nftables",
                 ("sh", str(PROGRAMS / "firewall.sh")), ("nmap", "nft")),
        Scenario("nmap_null_scan_filtered", INFO, ("nmap", "-n", "-sN", "-p", "1-1000", "-T4", v), 90,
                 "nmap -sN against a host firewall that drops every probe", "nmap nftables",
                 ("sh", str(PROGRAMS / "firewall.sh")), ("nmap", "nft")),
        Scenario("nmap_syn_scan_filtered", INFO, ("nmap", "-n", "-sS", "-p", "1-1000", "-T4", v), 90,
                 "nmap -sS against a host firewall that drops every probe", "nmap nftables",
                 ("sh", str(PROGRAMS / "firewall.sh")), ("nmap", "nft")),
        Scenario("ping6_flood", DOS, with_ipv6("atk", ATTACKER_IP6, f"sleep 2; ping -6 -f -q {VICTIM_IP6}"),
                 flood_s + 2, f"ping -6 -f over IPv6, stopped after {flood_s + 2:g} s (2 s of them to bring "
                 "IPv6 up)", "iputils-ping",
                 with_ipv6("vic", VICTIM_IP6, "while :; do sleep 1; done"), ("ping",)),
        Scenario("ra_flood6", DOS, with_ipv6("atk", ATTACKER_IP6, "sleep 2; atk6-flood_router6 atk0"), flood_s + 2,
                 f"THC-IPv6 atk6-flood_router6: router advertisements to all nodes, stopped after {flood_s + 2:g} s",
                 "thc-ipv6", with_ipv6("vic", VICTIM_IP6, "while :; do sleep 1; done"), ("atk6-flood_router6",)),
        Scenario("benign_only", None, None, benign_s, "background only"),
    ]


def loop(body: str, pause_s: float, times: int = 0) -> tuple[str, ...]:
    """``sh -c`` running ``body`` (output discarded, failures ignored) every ``pause_s`` seconds,
    ``times`` times or until the scenario's limit stops it."""
    head = f"for i in $(seq {times}); do" if times else "while :; do"
    return ("sh", "-c", f"{head} {{ {body}; }} >/dev/null 2>&1; sleep {pause_s:g}; done")


def everyday_scenarios() -> list[Scenario]:
    """Everyday programs a plant network carries, run by the attacker's host as a second client: any
    alert on them is a false one. Each brings its own server on the victim, and runs when its Debian
    packages are installed (the optional line of the module docstring)."""
    v = VICTIM_IP
    ssh = "-q -i {work}/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes"
    return [
        Scenario("ssh_scp", None, loop(f"scp {ssh} {{work}}/www/firmware.bin root@{v}:/dev/null; "
                                        f"ssh {ssh} root@{v} uptime", 3, times=6),
                 60, "OpenSSH: 6 rounds of scp of a 4 MB file and a remote command, 3 s apart",
                 "openssh-server", ("/usr/sbin/sshd", "-D", "-e", "-f", "{work}/sshd_config"),
                 ("scp", "ssh", "ssh-keygen", "/usr/sbin/sshd")),
        Scenario("http_download", None, loop(f"curl -s -o /dev/null http://{v}/firmware.bin", 4, times=6), 60,
                 "curl: 6 downloads of a 4 MB random file over HTTP, 4 s apart", "curl"),
        Scenario("https_download", None, loop(f"curl -sk -o /dev/null https://{v}/firmware.bin; "
                                               f"curl -sk -o /dev/null https://{v}/", 4, times=6), 60,
                 "curl: 6 rounds of a 4 MB download and a page over TLS, 4 s apart", "curl",
                 (sys.executable, str(PROGRAMS / "https_server.py"), v, "{work}"), ("curl", "openssl")),
        # numeric OIDs (sysUpTime.0, ifInOctets.1, ifOutOctets.1; the system group): Debian ships no MIBs
        Scenario("snmp_polling", None, loop(f"snmpget -v2c -c public {v} 1.3.6.1.2.1.1.3.0 "
                                             f"1.3.6.1.2.1.2.2.1.10.1 1.3.6.1.2.1.2.2.1.16.1; "
                                             f"snmpwalk -v2c -c public {v} 1.3.6.1.2.1.1", 1), 30,
                 "net-snmp: a get and a walk of the system group every second for 30 s", "snmp snmpd",
                 ("/usr/sbin/snmpd", "-f", "-Lo", "-C", "-c", "{work}/snmpd.conf", "-p", "{work}/snmpd.pid",
                  f"udp:{v}:161"), ("snmpget", "snmpwalk", "/usr/sbin/snmpd")),
        Scenario("syslog_udp", None, loop(f"logger -n {v} -P 514 -d -t pump-ctl line 1 flow ok $i", 0.2), 30,
                 "logger: a syslog message over UDP every 0.2 s for 30 s", "bsdutils",
                 (sys.executable, str(PROGRAMS / "udp_sink.py"), v, "514")),
        Scenario("dns_lookups", None, loop(f"dig +tries=1 +time=1 @{v} hmi.plant.local; "
                                            f"dig +tries=1 +time=1 @{v} historian.plant.local AAAA; "
                                            f"dig +tries=1 +time=1 @{v} update.example.com", 0.5), 30,
                 "dig: three lookups every 0.5 s (one answered, one empty, one refused) for 30 s",
                 "dnsutils dnsmasq-base",
                 ("dnsmasq", "-k", "-C", "/dev/null", "--no-resolv", "--no-hosts", f"--listen-address={v}",
                  "--bind-interfaces", f"--address=/plant.local/{v}", "--pid-file={work}/dnsmasq.pid"),
                 ("dig", "dnsmasq")),
        Scenario("smb_copy", None, loop(f"smbclient //{v}/share -N -m SMB3 "
                                         f"-c 'put {{work}}/www/firmware.bin fw.bin; get fw.bin /dev/null; ls'", 3,
                                         times=5), 60,
                 "smbclient: 5 rounds of an upload and a download of a 4 MB file, 3 s apart", "samba smbclient",
                 ("smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", "{work}/smb.conf"),
                 ("smbclient", "smbd")),
        Scenario("ntp_queries", None, loop(f"ntpdate -q {v}", 2), 30,
                 "ntpdate -q against chrony every 2 s for 30 s", "ntpsec-ntpdate chrony",
                 ("chronyd", "-d", "-x", "-f", "{work}/chrony.conf"), ("ntpdate", "chronyd")),
    ]


# --------------------------------------------------------------------------------------------------
# processes and namespaces
