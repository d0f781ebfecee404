"""Building and starting the app: a server that opens its own ledger tunes the interpreter
for serving; an app given a ledger (tests, embedding) leaves the process as it is."""

from __future__ import annotations

import gc
import sys

import pytest
from fastapi.testclient import TestClient

from api import app as app_module
from api.app import create_app
from api.serving import tune_for_serving
from ledger.app import Ledger
from ledger.settings import Settings


def test_only_a_server_opening_its_own_ledger_tunes_the_interpreter(
        ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    tuned: list[bool] = []
    monkeypatch.setattr(app_module, "tune_for_serving", lambda: tuned.append(True))
    with TestClient(create_app(ledger=ledger)) as client:
        assert client.get("/healthz").status_code == 200
    assert tuned == []
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
    assert tuned == [True]


def test_tuning_shortens_the_switch_interval_and_freezes_startup_objects() -> None:
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        tune_for_serving()
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        assert gc.get_threshold()[0] >= 10_000
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
