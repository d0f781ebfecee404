"""The exception hierarchy is part of the API (the HTTP layer maps it): pin it."""

from __future__ import annotations

import inspect
import pickle
import uuid

from ledger import errors


def test_every_error_derives_from_ledger_error_and_has_a_docstring() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if c.__module__ == errors.__name__]
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, errors.LedgerError), cls
        assert cls.__doc__, cls


def test_integrity_errors_share_one_base() -> None:
    for cls in (errors.ChainBrokenError, errors.EntryHashMismatchError,
                errors.MalformedEntryError, errors.SignatureInvalidError, errors.ProofError,
                errors.CheckpointError):
        assert issubclass(cls, errors.IntegrityFailedError)


def test_messages_name_where_and_what() -> None:
    error = errors.ChainBrokenError("prev does not match", stream="s-1", seq=7, leaf_index=40)
    assert str(error) == "stream s-1, seq 7, leaf 40: prev does not match"
    rule = errors.RuleViolationError("contract_before_approval", "Art. 9", "no opinion yet",
                                     caused_by=["abc"])
    assert (rule.article, rule.rule, rule.caused_by) == ("Art. 9", "contract_before_approval",
                                                         ("abc",))


def test_errors_pickle_with_their_fields() -> None:
    # A server's writer process sends refusals back to the API process through a pipe.
    samples = [
        errors.RuleViolationError("contract_before_approval", "Art. 9", "no opinion yet",
                                  caused_by=["abc"]),
        errors.ValidationFailedError("ContractFiled", [("amount_fen", "must be > 0")], [19]),
        errors.ConflictError(uuid.uuid4(), 3, 4),
        errors.ChainBrokenError("prev does not match", stream="s-1", seq=7, leaf_index=40),
        errors.KeyNotValidError("k-1", "revoked"),
        errors.ProjectNotFoundError(uuid.uuid4()),
        errors.DuplicateNonceError("n-1"),
        errors.LedgerError("plain"),
    ]
    for error in samples:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert again.args == error.args
        assert vars(again) == vars(error)
