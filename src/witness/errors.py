"""What the witness refuses, one type per answer of c2sp.org/tlog-witness (§add-checkpoint).

Every refusal of ``add-checkpoint`` is an :class:`AddCheckpointError` whose ``status`` is the HTTP
status the specification prescribes; the ASGI application maps them in one place. Problems with
the witness's own files are :class:`WitnessSetupError`: ``serve`` refuses to start on them.
"""

from __future__ import annotations

from typing import ClassVar

from ledger.errors import LedgerError


class WitnessError(LedgerError):
    """Root of the witness service's errors."""


class WitnessSetupError(WitnessError):
    """Raised when the state file or the key file is missing, malformed, unsafe or mismatched."""


class AddCheckpointError(WitnessError):
    """A refused ``add-checkpoint`` request; ``status`` is the HTTP status to answer with."""

    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class MalformedRequestError(AddCheckpointError):
    """400: the body is not ``old N``, proof lines, an empty line and a checkpoint; or the old
    size exceeds the checkpoint's size; or a size is beyond 2^63-1."""

    status = 400


class UnknownOriginError(AddCheckpointError):
    """404: no log key is configured for the checkpoint's origin."""

    status = 404


class LogSignatureError(AddCheckpointError):
    """403: no valid signature by a configured log key, or one of them fails to verify."""

    status = 403


class OldSizeMismatchError(AddCheckpointError):
    """409: ``old`` is not the size this witness last cosigned; the answer names that size.

    The body is ``SIZE\\n`` with ``Content-Type: text/x.tlog.size``.
    """

    status = 409

    def __init__(self, size: int, old: int) -> None:
        self.size = size
        self.old = old
        super().__init__(f"old size {old} is not the size this witness last cosigned: {size}")


class InconsistentCheckpointError(AddCheckpointError):
    """422: the checkpoint is not consistent with what this witness cosigned.

    A failed consistency proof, a proof sent from size 0, a size-0 checkpoint without the
    empty tree's root, the cosigned size with another root, or — this witness's own rule, in
    the specification's spirit — the cosigned size and root under another note body (other
    extension lines): a second view of the same tree. Never cosigned; kept as evidence.
    """

    status = 422


class ClockBehindError(AddCheckpointError):
    """503: the clock reads earlier than this witness's last cosignature of the log.

    A cosignature/v1 timestamp states that the tree is the largest seen *as of* that time, so
    the witness never dates a cosignature before the previous one.
    """

    status = 503


__all__ = [
    "AddCheckpointError",
    "ClockBehindError",
    "InconsistentCheckpointError",
    "LogSignatureError",
    "MalformedRequestError",
    "OldSizeMismatchError",
    "UnknownOriginError",
    "WitnessError",
    "WitnessSetupError",
]
