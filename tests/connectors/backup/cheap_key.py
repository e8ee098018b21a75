"""Re-key a test repository with cheap scrypt parameters, so each restic run costs milliseconds.

``restic init`` calibrates its key derivation to take about half a second, and every restic
run pays it once: a test making a year of snapshots would spend minutes in scrypt. This helper
rewrites the repository's key file the way restic's design document describes it (scrypt →
AES-256-CTR + Poly1305-AES over the master key), with N=2**10, r=8, p=1. The repository,
its data and the master key are untouched; restic itself opens it afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305


def _user_key(password: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**28, dklen=64)
    return derived[:32], derived[32:48], derived[48:64]  # encryption key, MAC k, MAC r


def _mac(k: bytes, r: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()  # one block: Poly1305-AES
    s = encryptor.update(iv) + encryptor.finalize()
    return Poly1305.generate_tag(r + s, ciphertext)  # Poly1305 clamps r as restic's maskKey does


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def cheapen_key(repository: Path, password: str) -> None:
    (key_file,) = (repository / "keys").iterdir()
    key = json.loads(key_file.read_bytes())
    enc, mac_k, mac_r = _user_key(password, base64.b64decode(key["salt"]), key["N"], key["r"], key["p"])
    data = base64.b64decode(key["data"])
    iv, ciphertext, tag = data[:16], data[16:-16], data[-16:]
    if _mac(mac_k, mac_r, iv, ciphertext) != tag:
        raise ValueError("the key file does not open with this password")
    master = _ctr(enc, iv, ciphertext)

    salt, iv = os.urandom(64), os.urandom(16)
    enc, mac_k, mac_r = _user_key(password, salt, 1024, 8, 1)
    ciphertext = _ctr(enc, iv, master)
    key.update(N=1024, r=8, p=1, salt=base64.b64encode(salt).decode(),
               data=base64.b64encode(iv + ciphertext + _mac(mac_k, mac_r, iv, ciphertext)).decode())
    raw = json.dumps(key).encode()
    target = repository / "keys" / hashlib.sha256(raw).hexdigest()
    target.write_bytes(raw)
    target.chmod(0o400)
    key_file.chmod(0o600)
    key_file.unlink()
