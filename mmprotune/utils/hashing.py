"""The checksum that identifies a file (a checkpoint, downloaded weights)."""
import hashlib


def file_sha256(path: str) -> str:
    """The sha256 (hex) of the bytes of the file ``path``, read in 1 MiB
    blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
