"""Integration fixtures: a real Request Tracker 5 on 127.0.0.1 (deploy/rt/setup_rt.sh into a temporary
RT_STATE_DIR on a free port, stopped after the session) and a stand-in for POST /v1/classify.

Without RT installed (``/usr/share/request-tracker5/libexec/rt-server``) the tests are skipped, unless
``FEEDBACK_REQUIRE_RT=1``, where they fail: CI installs RT first (.ci/setup_integration.sh).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
SETUP = REPO / "deploy" / "rt" / "setup_rt.sh"
STOP = REPO / "deploy" / "rt" / "stop_rt.sh"
SETUP_TIMEOUT_S = 300  # the packages are installed; init + seed + start take ~25 s
STOP_TIMEOUT_S = 60
CLASSIFY_API_KEY = "fbk_itrt0001_5f1cJ3kq9PzX2mWvB7tL"  # our key format, so the real API can accept it


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RTInstance:
    url: str  # http://127.0.0.1:<port>/rt
    token: str
    state_dir: Path
    classify_port: int  # where the classify scrip posts (the stand-in binds it while a test needs it)
    classify_api_key: str

    @property
    def log(self) -> Path:
        return self.state_dir / "rt-server.log"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/REST/2.0", headers={"Authorization": f"token {self.token}"},
                            timeout=30.0)


def _require_rt() -> None:
    if RT_SERVER.exists():
        return
    reason = (f"Request Tracker 5 is not installed ({RT_SERVER} missing): run .ci/setup_integration.sh "
              f"or deploy/rt/setup_rt.sh as root")
    if os.environ.get("FEEDBACK_REQUIRE_RT") == "1":
        pytest.fail(f"FEEDBACK_REQUIRE_RT=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


@pytest.fixture(scope="session")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTInstance]:
    _require_rt()
    state = tmp_path_factory.mktemp("rt-state")
    port, classify_port = free_port(), free_port()
    env = {**os.environ, "RT_STATE_DIR": str(state), "RT_PORT": str(port), "RT_START_TIMEOUT": "120",
           "FEEDBACK_CLASSIFY_URL": f"http://127.0.0.1:{classify_port}/v1/classify",
           "FEEDBACK_RT_API_KEY": CLASSIFY_API_KEY, "FEEDBACK_CLASSIFY_TIMEOUT": "5"}
    try:
        try:
            done = subprocess.run(["bash", str(SETUP)], env=env, capture_output=True, text=True,
                                  timeout=SETUP_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"setup_rt.sh took longer than {SETUP_TIMEOUT_S}s; setup.log:\n"
                        f"{_tail(state / 'setup.log')}", pytrace=False)
        if done.returncode != 0:
            pytest.fail(f"setup_rt.sh failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                        f"\nsetup.log:\n{_tail(state / 'setup.log')}", pytrace=False)
        token = (state / "feedback-bot.token").read_text().strip()
        yield RTInstance(url=f"http://127.0.0.1:{port}/rt", token=token, state_dir=state,
                         classify_port=classify_port, classify_api_key=CLASSIFY_API_KEY)
    finally:
        subprocess.run(["bash", str(STOP)], env=env, capture_output=True, text=True, timeout=STOP_TIMEOUT_S,
                       stdin=subprocess.DEVNULL)


@pytest.fixture
def rt_api(rt: RTInstance) -> Iterator[httpx.Client]:
    with rt.client() as client:
        yield client


# -- stand-in for the feedback-ml service's POST /v1/classify -----------------------------------------------

@dataclass
class ClassifyStandIn:
    url: str
    requests: list[dict] = field(default_factory=list)  # {"path", "headers", "body"}
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies_for(self, item_id: str) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests
                    if any(i.get("id") == item_id for i in (r["body"] or {}).get("items", []))]


def classify_answer(items: list[dict]) -> dict:
    """What the real service answers (inference/schemas.py ClassifyResponse), one result per item."""
    return {
        "model_version": "42",
        "results": [{
            "id": item["id"],
            "priority": "P1",
            "issue_types": [
                {"label": "product_quality", "name": "商品质量", "score": 0.93},
                {"label": "safety_hazard", "name": "安全隐患", "score": 0.88},
            ],
            "sentiment": {"label": "negative", "score": -0.86},
            "urgency": {"level": "critical", "score": 0.91},
            "reasons": ["提到“冒烟”“鼓包”: 安全隐患关键词", "情绪强烈负面 (-0.86)"],
        } for item in items],
    }


class _StandInServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


@pytest.fixture
def classify_standin(rt: RTInstance) -> Iterator[ClassifyStandIn]:
    standin = ClassifyStandIn(url=f"http://127.0.0.1:{rt.classify_port}/v1/classify")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = None
            with standin.lock:
                standin.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            if self.path != "/v1/classify" or not isinstance(body, dict):
                self.send_response(404 if self.path != "/v1/classify" else 422)
                self.end_headers()
                return
            answer = json.dumps(classify_answer(body.get("items") or []), ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (keep pytest output clean)
            pass

    server = _StandInServer(("127.0.0.1", rt.classify_port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
