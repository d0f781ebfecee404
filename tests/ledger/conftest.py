"""tests/ledger: the shared helpers here (``tampering``) import by name from every sub-folder.

Pytest puts this folder on ``sys.path`` when it loads this file (``prepend`` import mode), so the
tests in ``crypto/``, ``log/``, ``measures/``, ``store/`` and ``evidence/`` — which mirror
``src/ledger/`` — can ``import tampering`` as the tests here do.
"""
