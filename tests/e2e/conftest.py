"""E2E fixtures: the real `make run` (`python -m tools.run_local`) on free ports.

`start_stack` boots it in a temporary RELAIS_LOCAL_DIR and waits for its "Ready" line;
`e2e_stack` is one seeded stack shared by the session's e2e tests. Every start is bounded
in time and every stack is stopped (SIGINT to its process group, as Ctrl-C does, then
SIGKILL to whatever is left) even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tools.dev_auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER, mint_token
from tools.local_stack import free_ports, port_is_free

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240.0  # cold: DynamoDB Local from the cache, three servers, the seed
STOP_TIMEOUT = 30.0


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    tree, found, todo = _proc_children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Stack:
    """A running `python -m tools.run_local` and what it serves."""

    process: subprocess.Popen[bytes]
    local_dir: Path
    ports: dict[str, int]
    output: Path
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['PORT']}"

    @property
    def web_url(self) -> str:
        """The booking page `make run` serves on its own origin."""
        return f"http://127.0.0.1:{self.ports['WEB_PORT']}/"

    def log(self) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return text[-6000:]

    def token(self, sub: str, *groups: str) -> str:
        return mint_token(
            self.local_dir / "dev-keys" / "private_key.pem",
            sub=sub,
            groups=groups,
            issuer=self.issuer,
            audience=self.audience,
        )

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        url = self.base_url + path
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def stop(self, signum: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> set[int]:
        """Signal the process group as Ctrl-C does; answer the descendants still alive
        `timeout` seconds later (then killed, so nothing outlives the test)."""
        children = descendants(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        deadline = time.monotonic() + timeout
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = {pid for pid in children if alive(pid)}
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.session.close()
        return survivors

    def ports_free(self) -> bool:
        return all(port_is_free(port) for port in self.ports.values())


def start_stack(local_dir: Path, *, seed: bool = True, env: dict[str, str] | None = None) -> Stack:
    """Boot `python -m tools.run_local` in `local_dir` on free ports; wait for "Ready"."""
    local_dir.mkdir(parents=True, exist_ok=True)
    # The API, DynamoDB Local, localstripe, the reference booking page (web/), local S3
    # of closing archives: five distinct ports, none of them started yet.
    names = ("PORT", "DDB_PORT", "STRIPE_PORT", "WEB_PORT", "S3_PORT")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    run_env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "RELAIS_LOCAL_DIR": str(local_dir),
        "RELAIS_TABLE": f"relais-e2e-{uuid.uuid4().hex[:8]}",
        "SEED_DEMO": "1" if seed else "0",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    for name in ("AUTH_JWKS_FILE", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE"):
        if not env or name not in env:
            run_env.pop(name, None)
    output = local_dir / "run_local.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.run_local"],
            cwd=ROOT,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, like a shell job: SIGINT reaches it all
        )
    issuer = run_env.get("AUTH_ISSUER", DEFAULT_ISSUER)
    stack = Stack(
        process, local_dir, ports, output, issuer, run_env.get("AUTH_AUDIENCE", DEFAULT_AUDIENCE)
    )
    deadline = time.monotonic() + START_TIMEOUT
    while "Ready in" not in stack.log():
        if process.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            state = f"exited {process.returncode}" if process.returncode is not None else "hung"
            pytest.fail(f"make run {state} before ready:\n{stack.log()}")
        time.sleep(0.3)
    return stack


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start stacks in this test's tmp dir; all stopped at teardown."""
    stacks: list[Stack] = []

    def start(**kwargs: Any) -> Stack:
        stacks.append(start_stack(tmp_path / f"local-{len(stacks)}", **kwargs))
        return stacks[-1]

    yield start
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One seeded `make run` for the session's e2e tests."""
    stack = start_stack(tmp_path_factory.mktemp("e2e-local"))
    yield stack
    stack.stop()
