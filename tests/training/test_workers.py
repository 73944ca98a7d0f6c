"""SIGTERM stops the worker processes of a fit or a batch score, as Ctrl-C does (training.workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from models.settings import REPO_ROOT

# Each script starts two workers that write their pid and then sleep far longer than the test waits.
LOKY_FIT = """
import os, sys, time
from joblib import Parallel, delayed
from training.workers import sigterm_stops_workers

def work(_i):
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    time.sleep(120)

with sigterm_stops_workers():
    Parallel(n_jobs=2, backend="loky")(delayed(work)(i) for i in range(2))
"""

POOL_SCORE = """
import os, sys, time
from pipelines import score

class SlowModel:
    def predict_items(self, records):
        open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
        time.sleep(120)
        return records

for _ in score._chunks_jsonl(SlowModel(), [[{"text": "a"}], [{"text": "b"}], [{"text": "c"}]], workers=2):
    pass
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def _workers_after_sigterm(script: str, pids_dir: Path) -> tuple[int, list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(pids_dir)], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:  # both workers are running their task
            time.sleep(0.2)
            pids = [int(p.name) for p in pids_dir.iterdir()]
        assert len(pids) == 2, proc.stderr.read().decode() if proc.poll() is not None else "workers did not start"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        return code, [p for p in pids if _alive(p)]
    finally:
        for p in pids:  # never leave sleepers behind, whatever the outcome
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("script", [LOKY_FIT, POOL_SCORE], ids=["loky-fit", "score-pool"])
def test_sigterm_stops_the_workers(tmp_path, script):
    code, alive = _workers_after_sigterm(script, tmp_path)
    assert alive == []
    assert code != 0  # the job reports that it was stopped


def test_the_previous_handler_comes_back_and_other_threads_are_left_alone():
    import threading

    from training.workers import sigterm_stops_workers

    before = signal.getsignal(signal.SIGTERM)
    with sigterm_stops_workers():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
    seen = []

    def in_thread():
        with sigterm_stops_workers():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [before]
