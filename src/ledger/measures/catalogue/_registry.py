"""The payloads of the key-registry stream (docs/design.md §5, Key registry).

These events are signed by the admin root key. A signature is valid iff its key was registered
at or before the entry's ``recorded_at`` and the entry is recorded before any ``revoked_from``.
"""

from __future__ import annotations

import base64
from typing import Literal

from ledger.measures.catalogue._types import (
    Base64Std,
    Identifier,
    Known,
    Payload,
    Problem,
    Rfc3339Utc,
    ShortText,
    Text,
)
from ledger.measures.roles import Role

SignatureSuiteName = Literal["ed25519", "sm2-sm3"]
"""The signature suites a key may belong to (``ledger.crypto.suites``)."""

KeyPurpose = Literal["filing", "witness", "log", "root"]
"""What a key may sign (密钥用途): only a ``filing`` key signs filings. ``witness`` keys cosign
checkpoints (the Audit Branch's witness), ``log`` and ``root`` name the ledger's own keys if an
administrator records them. A ``KeyRegistered`` without ``purpose`` (the form before purposes)
registers a filing key, so old registries mean what they meant."""

_ED25519_PUBLIC_KEY_BYTES = 32
_SM2_PUBLIC_KEY_BYTES = 65


def _unit_iff_unit_role(known: Known) -> list[Problem]:
    """A ``unit`` actor names its unit; no other role has one."""
    role = known.get("role", Role)
    if role is None or not known.has("unit"):
        return []
    unit = known.get("unit", str)
    if role is Role.UNIT and unit is None:
        return [Problem("unit", "required when the role is 'unit' (项目建设单位)")]
    if role is not Role.UNIT and unit is not None:
        return [Problem("unit", f"must be absent for role {role.value!r}: only a unit has one")]
    return []


class ActorRegistered(Payload):
    """登记用户: the administrator registers an actor (a person or service) with one role.

    ``unit`` is the construction unit's id, required iff ``role`` is ``unit`` and otherwise
    absent; it is what binds a unit's filings to its own projects (docs/design.md §3).
    """

    actor: Identifier
    role: Role
    unit: Identifier | None = None
    display_name: ShortText  # 显示名称 (e.g. 区大数据中心项目专员)

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """``unit`` iff the role is ``unit``."""
        return _unit_iff_unit_role(known)


class KeyRegistered(Payload):
    """登记密钥: the administrator registers an actor's public key.

    ``role`` and ``unit`` repeat the actor's so that a verifier can check a filing's authority
    from the key alone. ``public_key`` is standard base64 of the raw key: an ``ed25519`` key is
    32 bytes, an ``sm2-sm3`` key the 65-byte uncompressed point 04‖X‖Y (GB/T 32918).
    ``purpose`` (:data:`KeyPurpose`) is absent for a filing key; any other purpose never signs
    a filing.
    """

    key_id: Identifier
    actor: Identifier
    role: Role
    unit: Identifier | None = None
    suite: SignatureSuiteName
    public_key: Base64Std
    purpose: KeyPurpose | None = None

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """``unit`` iff the role is ``unit``; keys have their suite's size and form."""
        problems = _unit_iff_unit_role(known)
        key = known.get("public_key", str)
        suite = known.get("suite", str)
        if key is not None:
            raw = base64.b64decode(key)
            if suite == "ed25519" and len(raw) != _ED25519_PUBLIC_KEY_BYTES:
                problems.append(Problem("public_key",
                                        f"an ed25519 public key is 32 bytes, got {len(raw)}"))
            if suite == "sm2-sm3" and (len(raw) != _SM2_PUBLIC_KEY_BYTES or raw[:1] != b"\x04"):
                problems.append(Problem("public_key", "an sm2-sm3 public key is the 65-byte"
                                        " uncompressed point 04‖X‖Y"))
        return problems


class KeyRevoked(Payload):
    """吊销密钥: a key stops being valid for entries recorded at or after ``revoked_from``.

    ``revoked_from`` may lie in the past (a compromised key: entries recorded since then no
    longer verify) and is an RFC 3339 UTC time with microseconds, as the ledger stamps.
    """

    key_id: Identifier
    revoked_from: Rfc3339Utc
    reason: Text  # e.g. 密钥轮换, 私钥泄露, 人员调离
