"""Ransomware encrypting files over SMB."""

from __future__ import annotations

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.payloads.smb import smb2, smb_read, smb_session, smb_write
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Site


def atk_ransomware(cap: Capture, site: Site, t: float, n: int, label: str = "Ransomware") -> None:
    """An infected host reads files over SMB and writes them back encrypted: bulk high-entropy reads and
    writes of each file in turn (a benign copy moves bytes one way), acknowledged as TCP does."""
    rng = cap.rng
    victim = rng.choice([site.hmi, *site.clients, site.web])
    infected = site.attacker if rng.random() < 0.7 else rng.choice(site.clients)
    if infected is victim:
        infected = site.attacker
    c = Tcp(cap, label, infected, victim, 445, t, site.rtt_lan)
    c.open()
    mid, tree, sess = smb_session(c, rng, "\\\\srv\\share", 200)
    count = len(cap.frames)
    ext = rng.choice([".locked", ".enc", ".crypt", ".WNCRY", ".lockbit"])
    while len(cap.frames) - count < n:
        mid += 1
        name = f"{rng.choice(['report', 'plc_backup', 'recipe', 'config', 'log', 'hist'])}{rng.randrange(999)}"
        c.exchange(smb2(5, b"\x39\x00" + rng.randbytes(54) + (name + ".xlsx").encode("utf-16-le"), mid, tree, sess,
                        False), smb2(5, b"\x59\x00" + rng.randbytes(86), mid, tree, sess, True), 0.001)
        size = rng.choice([4096, 16384, 65536, 131072])
        mid += 1
        smb_read(c, rng, (mid, tree, sess), size, entropy_text, think=0.002)
        mid += 1
        smb_write(c, rng, (mid, tree, sess), size + 16, think=0.002)
        mid += 1
        c.exchange(smb2(5, b"\x39\x00" + rng.randbytes(54) + (name + ext).encode("utf-16-le"), mid, tree, sess,
                        False), smb2(5, b"\x59\x00" + rng.randbytes(86), mid, tree, sess, True), 0.001)
        c.t += rng.uniform(0.001, 0.05)
    c.close(True)
