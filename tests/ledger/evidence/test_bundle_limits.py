"""Step 1 under hostile input (docs/evidence-format.md, *Limits*): nesting depth, sizes checked
while reading with bounded memory, member count, member names, lying headers. No database:
the corpus's good bundle (tests/vectors/evidence/) and zips written here."""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConfigurationError
from ledger.evidence.bundle import (
    BUNDLE_JSON,
    DEFAULT_LIMITS,
    DOCUMENTS_DIR,
    BundleFormatError,
    BundleLimits,
    BundleReport,
    BundleVerificationError,
    loads_strict,
    verify_bundle,
)
from ledger.evidence.trust import load_trust_file

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "evidence"
GOOD = (VECTORS / "ok_intl.zip").read_bytes()
TRUST = load_trust_file(VECTORS / "trust-intl.json")
MiB = 1024 * 1024


def _verify(data: bytes, **kwargs: Any) -> BundleReport:
    return verify_bundle(data, log_key=TRUST.log_key, root_key=TRUST.root_key,
                         witness_keys=TRUST.witness_keys, quorum=TRUST.quorum, **kwargs)


def _refused(data: bytes, **kwargs: Any) -> str:
    """The message of the one step-1 failure of ``data``."""
    with pytest.raises(BundleVerificationError) as caught:
        _verify(data, **kwargs)
    failures = caught.value.report.failures
    assert [(f.step, f.check) for f in failures] == [(1, "format")], failures
    return failures[0].message


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            archive.writestr(info, content)
    return buffer.getvalue()


def _deflate(chunks: int, chunk: bytes = bytes(MiB)) -> tuple[bytes, int, int]:
    """Raw deflate of ``chunks`` times ``chunk`` without holding it: (data, crc, size)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, parts = 0, []
    for _ in range(chunks):
        parts.append(deflater.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(deflater.flush())
    return b"".join(parts), crc, chunks * len(chunk)


def _hand_zip(members: list[tuple[str, int, int, bytes]]) -> bytes:
    """A zip written by hand from (name, crc32, stated size, deflated bytes): sizes may lie,
    and large members need not be inflated to be written."""
    out, directory = io.BytesIO(), []
    for name, crc, size, data in members:
        offset, raw = out.tell(), name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data),
                              size, len(raw), 0) + raw + data)
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21,
                                     crc, len(data), size, len(raw), 0, 0, 0, 0, 0, offset)
                         + raw)
    start, central = out.tell(), b"".join(directory)
    out.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members),
                                    len(members), len(central), start, 0))
    return out.getvalue()


def _good_json() -> tuple[str, int, int, bytes]:
    content = dict(_members(GOOD))[BUNDLE_JSON]
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return (BUNDLE_JSON, zlib.crc32(content), len(content),
            deflater.compress(content) + deflater.flush())


def test_the_good_bundle_verifies_within_the_default_limits() -> None:
    assert _verify(GOOD).ok
    assert BundleLimits() == DEFAULT_LIMITS
    for name in ("max_members", "max_member_bytes", "max_total_bytes", "max_json_bytes",
                 "max_json_depth"):
        with pytest.raises(ConfigurationError, match=name):
            BundleLimits(**{name: 0})


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "deep"), [
    (b"[" * 64 + b"]" * 64, False),
    (b"[" * 65 + b"]" * 65, True),
    (b"[" * 100_000 + b"]" * 100_000, True),
    (b"[" * 100_000, True),  # unterminated: refused before the parser recurses
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, True),
    (b'["' + b"[" * 100_000 + b'"]', False),  # brackets inside a string do not nest
    (b'["\\"' + b"[" * 100_000 + b'"]', False),  # nor after an escaped quote
    (b'["\\\\"' + b",[" * 65 + b"]" * 66, True),  # an escaped backslash ends no string
])
def test_nesting_is_counted_before_parsing(text: bytes, deep: bool) -> None:
    if deep:
        with pytest.raises(BundleFormatError, match="more than 64 deep"):
            loads_strict(text)
    else:
        loads_strict(text)


def test_a_100000_deep_bundle_json_is_rejected_with_the_limit() -> None:
    deep = _zip([(BUNDLE_JSON, b"[" * 100_000 + b"]" * 100_000)])
    assert "nests arrays and objects more than 64 deep" in _refused(deep)
    assert "more than 3 deep" in _refused(GOOD, limits=BundleLimits(max_json_depth=3))


def _cli(tmp_path: Path, data: bytes, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                            float]:
    """``ledger verify-bundle`` on ``data`` in a fresh process; its result and peak RSS (MiB),
    measured by a parent process of its own (RUSAGE_CHILDREN covers only its children)."""
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(data)
    runner = textwrap.dedent("""
        import resource, subprocess, sys
        result = subprocess.run([sys.executable, "-c", "from api.cli import main; main()",
                                 *sys.argv[1:]], capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        sys.stderr.write(f"\\nPEAK_RSS_KIB={peak}\\n")
        sys.exit(result.returncode)
    """)
    result = subprocess.run([sys.executable, "-c", runner, "verify-bundle", str(bundle),
                             "--log-key", TRUST.log_key, *args],
                            capture_output=True, text=True, timeout=300, check=False)
    peak = int(result.stderr.rsplit("PEAK_RSS_KIB=", 1)[1].strip())
    return result, peak / 1024


def test_cli_rejects_a_deep_bundle_json_without_a_traceback(tmp_path: Path) -> None:
    result, _ = _cli(tmp_path, _zip([(BUNDLE_JSON, b"[" * 100_000 + b"]" * 100_000)]))
    assert result.returncode == 1
    assert "more than 64 deep" in result.stderr
    assert "Traceback" not in result.stderr


# --- sizes, checked while reading, with bounded memory --------------------------------------


def test_a_3_mb_zip_of_zeros_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    data, crc, size = _deflate(256)  # 256 MiB of zeros -> about 250 KB
    bomb = _hand_zip([_good_json()] + [(f"{DOCUMENTS_DIR}{i:064x}", crc, size, data)
                                       for i in range(12)])  # 3 GiB inflated
    assert 2 * MiB < len(bomb) < 4 * MiB
    assert "expands to 3221" in _refused(bomb)  # the stated sizes, before reading
    result, peak = _cli(tmp_path, bomb, "--json")
    assert result.returncode == 1
    assert '"ok": false' in result.stdout
    assert peak < 200, peak
    # Headers that understate: each member says 1 KiB; reading finds the lie.
    lying = _hand_zip([_good_json()] + [(f"{DOCUMENTS_DIR}{i:064x}", crc, 1024, data)
                                        for i in range(12)])
    assert "expands past the 1024 bytes its header states" in _refused(lying)
    result, peak = _cli(tmp_path, lying)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert peak < 200, peak


def test_documents_are_hashed_as_streams(tmp_path: Path) -> None:
    data, crc, size = _deflate(200)  # 200 MiB of zeros, within the 256 MiB member limit
    digest = hashlib.sha256()
    for _ in range(200):
        digest.update(bytes(MiB))
    name = digest.hexdigest()
    big = _hand_zip([_good_json(), *((n, zlib.crc32(c), len(c), _raw_deflate(c))
                                     for n, c in _members(GOOD)[1:]),
                     (DOCUMENTS_DIR + name, crc, size, data)])
    with pytest.raises(BundleVerificationError) as caught:
        _verify(big)
    (failure,) = caught.value.report.failures  # read whole, hashed right, and not referenced
    assert (failure.step, failure.check) == (7, "documents")
    assert f"documents/{name} is shipped but no entry references it" in failure.message
    result, peak = _cli(tmp_path, big)
    assert result.returncode == 1
    assert peak < 200, peak
    assert "expands to 209715200 bytes: at most 104857600" in _refused(
        big, limits=BundleLimits(max_member_bytes=100 * MiB))
    assert "the zip expands to" in _refused(big, limits=BundleLimits(max_total_bytes=150 * MiB))


def _raw_deflate(content: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(content) + deflater.flush()


def test_size_limits_are_parameters() -> None:
    sizes = {name: len(content) for name, content in _members(GOOD)}
    json_size = sizes.pop(BUNDLE_JSON)
    smallest = min(sizes.values())
    message = _refused(GOOD, limits=BundleLimits(max_member_bytes=smallest))
    assert message.endswith(f"bytes: at most {smallest}")
    assert int(message.split(" expands to ")[1].split()[0]) > smallest
    message = _refused(GOOD, limits=BundleLimits(max_json_bytes=json_size - 1))
    assert f"'bundle.json' expands to {json_size} bytes: at most {json_size - 1}" in message
    total = json_size + sum(sizes.values())
    assert f"the zip expands to {total} bytes" in _refused(
        GOOD, limits=BundleLimits(max_total_bytes=total - 1))
    assert _verify(GOOD, limits=BundleLimits(max_total_bytes=total, max_json_bytes=json_size,
                                             max_member_bytes=max(sizes.values()))).ok


def test_damaged_members_are_refused() -> None:
    name, crc, size, data = _good_json()
    assert "CRC-32" in _refused(_hand_zip([(name, crc ^ 1, size, data)]))
    garbage = _hand_zip([(name, crc, size, b"\xff" * len(data))])
    assert "cannot be read" in _refused(garbage)
    trailing = _hand_zip([(name, crc, size, data + b"\x00" * 10)])
    assert "does not end where its compressed bytes do" in _refused(trailing)


# --- member count and names ------------------------------------------------------------------


def test_member_count_is_limited() -> None:
    many = _zip([(f"m{i}", b"") for i in range(DEFAULT_LIMITS.max_members + 1)],
                zipfile.ZIP_STORED)
    assert f"the zip has {DEFAULT_LIMITS.max_members + 1} members: at most" in _refused(many)
    count = len(_members(GOOD))
    assert f"the zip has {count} members: at most 5" in _refused(
        GOOD, limits=BundleLimits(max_members=5))
    # A directory too large for the member limit is refused before zipfile reads it.
    assert "central directory is" in _refused(GOOD, limits=BundleLimits(max_members=1))
    huge = bytearray(GOOD)
    end = huge.rfind(b"PK\x05\x06")
    struct.pack_into("<L", huge, end + 12, 0x7FFFFFFF)  # the stated directory size
    assert "central directory is 2147483647 bytes" in _refused(bytes(huge))


@pytest.mark.parametrize("name", [
    "../bundle.json", "/bundle.json", "documents/../bundle.json", "./bundle.json",
    "documents\\evil", "C:bundle.json", "documents/./" + "a" * 64, "docs/\x01", "",
])
def test_unsafe_member_names_are_refused(name: str) -> None:
    message = _refused(_zip([*_members(GOOD), (name, b"x")]))
    assert f"zip member name {name!r} is unsafe" in message


def test_a_nul_in_a_member_name_is_refused() -> None:
    # zipfile cuts a name at a NUL ("bundle.json\0.txt" reads as "bundle.json"): refused first.
    data = _zip([*_members(GOOD), ("bundle.jsonX.txt", b"{}")])
    patched = data.replace(b"bundle.jsonX.txt", b"bundle.json\x00.txt")
    assert "zip member name 'bundle.json\\x00.txt' is unsafe" in _refused(patched)


def test_duplicate_and_unexpected_members_are_refused() -> None:
    document = next(n for n, _ in _members(GOOD) if n.startswith(DOCUMENTS_DIR))
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = _zip([*_members(GOOD), (document, b"other bytes")])
    assert f"zip member {document!r} appears twice" in _refused(twice)
    for name in ("documents/", "documents/ABC", "Bundle.json", "notes.txt"):
        assert f"unexpected zip member {name!r}" in _refused(_zip([*_members(GOOD),
                                                                   (name, b"")]))


def test_only_stored_and_deflated_members_are_read() -> None:
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        assert f"uses compression method {method}" in _refused(_zip(_members(GOOD), method))
    assert _verify(_zip(_members(GOOD), zipfile.ZIP_STORED)).ok
