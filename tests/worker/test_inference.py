"""ocr_worker.inference: every call on the one thread that loaded the engine, in order, and freed
heap handed back once that thread falls idle, never between calls already waiting."""

import threading
import time

import pytest
from ocr_worker import inference
from ocr_worker.inference import Busy, InferenceThread


@pytest.fixture
def trims(monkeypatch):
    calls = []
    monkeypatch.setattr(inference, "release_memory", lambda: calls.append(threading.current_thread().name))
    return calls


def test_calls_run_in_order_on_the_thread_that_loaded_the_engine(trims):
    loaded_on = []
    thread = InferenceThread(lambda: loaded_on.append(threading.current_thread().name) or "engine")
    futures = [thread.submit(lambda engine, n=n: (n, engine, threading.current_thread().name)) for n in range(5)]
    assert [f.result(30) for f in futures] == [(n, "engine", "inference") for n in range(5)]
    assert loaded_on == ["inference"]


def test_memory_is_released_once_idle_and_not_between_waiting_calls(trims):
    thread = InferenceThread(lambda: "engine", idle_trim_seconds=0.05)
    assert thread.trimmed.wait(30) and trims == ["inference"]  # loading freed memory too
    started, gate = threading.Event(), threading.Event()
    first = thread.submit(lambda engine: started.set() or gate.wait(30))
    assert started.wait(30) and not thread.trimmed.is_set()  # cleared as the call was taken
    rest = [thread.submit(lambda engine, n=n: n) for n in range(3)]
    gate.set()
    assert first.result(30) is True and [f.result(30) for f in rest] == [0, 1, 2]
    assert thread.trimmed.wait(30)
    assert trims == ["inference", "inference"]  # once after loading, once after the four calls
    time.sleep(0.3)  # idle for six times the delay: no trim until work comes again
    assert len(trims) == 2


def test_a_full_queue_is_busy_at_once(trims):
    gate = threading.Event()
    thread = InferenceThread(lambda: "engine", max_waiting=1)
    started = threading.Event()
    thread.submit(lambda engine: started.set() or gate.wait(30))
    assert started.wait(30)
    thread.submit(lambda engine: None)
    with pytest.raises(Busy, match="1 requests are already waiting"):
        thread.submit(lambda engine: None)
    gate.set()
