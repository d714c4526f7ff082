"""`make run`: the whole API on 127.0.0.1 with DynamoDB Local, localstripe and demo data.

Starts, in order: DynamoDB Local (data under `.local/dynamodb`), the table, dev signing
keys, localstripe with the webhook registered, `chalice local`; then seeds the demo
network through the API and prints demo tokens. Ctrl-C or SIGTERM stops everything it
started. Environment: PORT, DDB_PORT, STRIPE_PORT, RELAIS_TABLE, AUTH_JWKS_FILE,
AUTH_ISSUER, AUTH_AUDIENCE, STRIPE_WEBHOOK_SECRET, HOLD_SECONDS, CANCEL_FREE_HOURS,
SEED_DEMO (0 = empty network), RELAIS_LOCAL_DIR (default `.local`), WEB_PORT (the
reference page `web/`, default 8003; its origin is always added to ALLOWED_ORIGINS).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from tools.dev_auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER, ensure_dev_keys, mint_token
from tools.local_stack import (
    LocalProcess,
    LocalStackError,
    PortInUseError,
    aws_env,
    free_port,
    port_is_free,
    spawn,
    start_dynamodb_local,
    wait_for_http,
)
from tools.web_server import local_origins, page_config, start_web_server

ROOT = Path(__file__).resolve().parents[1]
HEALTH_TIMEOUT = 90.0
DEMO_NEAR = ("Melun", "48.5421,2.6554")
MANAGED_RELAY = "Gare de Melun"


class Stoppable(Protocol):
    def stop(self) -> None: ...

    def running(self) -> bool: ...


class StopRequested(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived."""


@dataclass(frozen=True)
class Settings:
    port: int
    ddb_port: int
    stripe_port: int
    s3_port: int
    table: str
    local_dir: Path
    jwks_file: Path | None
    issuer: str
    audience: str
    webhook_secret: str
    seed: bool
    web_port: int = 8003
    allowed_origins: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        local = Path(env.get("RELAIS_LOCAL_DIR") or ".local")
        jwks = env.get("AUTH_JWKS_FILE")
        return cls(
            port=int(env.get("PORT") or 8000),
            ddb_port=int(env.get("DDB_PORT") or 8001),
            stripe_port=int(env.get("STRIPE_PORT") or 8002),
            s3_port=int(env.get("S3_PORT") or 8004),
            table=env.get("RELAIS_TABLE") or "relais",
            local_dir=local if local.is_absolute() else ROOT / local,
            jwks_file=Path(jwks).resolve() if jwks else None,
            issuer=env.get("AUTH_ISSUER") or DEFAULT_ISSUER,
            audience=env.get("AUTH_AUDIENCE") or DEFAULT_AUDIENCE,
            webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or "whsec_relais_local",
            seed=(env.get("SEED_DEMO") or "1").strip().lower() not in {"0", "false", "no", "off"},
            web_port=int(env.get("WEB_PORT") or 8003),
            allowed_origins=env.get("ALLOWED_ORIGINS") or "",
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, name: str) -> Path:
        return self.local_dir / "logs" / f"{name}.log"


def say(message: str) -> None:
    print(message, flush=True)


def chalice_local() -> None:
    """`chalice local`, except that the environment wins over .chalice/config.json.

    Chalice copies the config's environment_variables over os.environ; locally the
    variables `make run` was given (HOLD_SECONDS=30 ...) must win, as they do on Lambda.
    """
    from chalice.cli import factory, main

    from tools.local_gateway import install as install_local_gateway

    install_local_gateway()  # unknown routes: the deployed gateway's 404 problem
    given = dict(os.environ)
    load = factory.CLIFactory.load_chalice_app

    def load_with_env(self: Any, environment_variables: Any = None, *args: Any) -> Any:
        return load(self, {**(environment_variables or {}), **given}, *args)

    factory.CLIFactory.load_chalice_app = load_with_env  # type: ignore[method-assign,assignment]
    sys.argv[0] = "chalice"
    sys.exit(main())


def dev_jwks(settings: Settings) -> tuple[Path, Path]:
    """(dev private key, JWKS file for the app). A given AUTH_JWKS_FILE is merged with
    the dev key, so its tokens are accepted and the demo tokens still work."""
    private_key, jwks = ensure_dev_keys(settings.local_dir / "dev-keys")
    if settings.jwks_file is None:
        return private_key, jwks
    keys = json.loads(settings.jwks_file.read_text())["keys"]
    keys += json.loads(jwks.read_text())["keys"]
    merged = settings.local_dir / "dev-keys" / "jwks-merged.json"
    merged.write_text(json.dumps({"keys": keys}, indent=2))
    say(f"AUTH_JWKS_FILE={settings.jwks_file} is trusted, plus the dev key for demo tokens")
    return private_key, merged


def create_table(settings: Settings, endpoint: str) -> None:
    import boto3

    from infra.table import create_table as create

    env = aws_env()
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    create(client, settings.table, exist_ok=True)


def app_env(settings: Settings, ddb_url: str, stripe_url: str, jwks: Path) -> dict[str, str]:
    env = aws_env()
    env.update(
        RELAIS_TABLE=settings.table,
        DYNAMODB_ENDPOINT_URL=ddb_url,
        AUTH_JWKS_FILE=str(jwks),
        AUTH_ISSUER=settings.issuer,
        AUTH_AUDIENCE=settings.audience,
        STRIPE_API_BASE=stripe_url,
        STRIPE_WEBHOOK_SECRET=settings.webhook_secret,
        ALLOWED_ORIGINS=allowed_origins(settings),
        PYTHONUNBUFFERED="1",
    )
    return env


# The fake accredited platform's registration number in the e-reports' header (scheme 0238).
LOCAL_PLATFORM_ID = "9999"


def platform_env(url: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Point every operator without a platform of its own at the fake one (the
    deployment-wide platform settings), unless the caller named a platform already."""
    from tools.fake_pa import CLIENT_ID, CLIENT_SECRET

    given = os.environ if environ is None else environ
    wanted = {
        "EREPORTING_PLATFORM_URL": url,
        "EREPORTING_PLATFORM_TOKEN_URL": f"{url}/token",
        "EREPORTING_PLATFORM_CLIENT_ID": CLIENT_ID,
        "EREPORTING_PLATFORM_CLIENT_SECRET": CLIENT_SECRET,
        "EREPORTING_PLATFORM_ID": LOCAL_PLATFORM_ID,
        "EREPORTING_PLATFORM_NAME": "Plateforme agréée locale (fausse)",
    }
    if given.get("EREPORTING_PLATFORM_URL"):
        return {}
    return wanted


def allowed_origins(settings: Settings) -> str:
    """The user's ALLOWED_ORIGINS plus the web page's own origins."""
    given = [origin.strip() for origin in settings.allowed_origins.split(",")]
    origins = [origin for origin in given if origin] + local_origins(settings.web_port)
    return ",".join(dict.fromkeys(origins))


def start_app(settings: Settings, env: dict[str, str]) -> LocalProcess:
    boot = "from tools.run_local import chalice_local; chalice_local()"
    args = ["local", "--host", "127.0.0.1", "--port", str(settings.port), "--stage", "dev"]
    # No autoreload: its watcher polls every file under the project, .venv and the
    # DynamoDB files in .local included, and would restart on every write.
    cmd = [sys.executable, "-c", boot, *args, "--no-autoreload"]
    log = settings.log("chalice")
    app = spawn("chalice local", cmd, url=settings.api_url, env=env, cwd=ROOT, log_path=log)
    try:
        status = wait_for_http(f"{settings.api_url}/v1/health", HEALTH_TIMEOUT, process=app)
        if status != 200:
            raise LocalStackError(f"GET /v1/health answered {status}:\n{app.log_tail()}")
    except BaseException:
        app.stop()
        raise
    return app


def demo_tokens(settings: Settings, private_key: Path, relay_id: str | None) -> dict[str, str]:
    people: dict[str, tuple[str, str, list[str]]] = {
        "MEMBER": ("demo-member", "Camille Martin", [])
    }
    if relay_id:
        people["MANAGER"] = ("demo-manager", "Sacha Bernard", [f"manager:{relay_id}"])
    people["ACCOUNTANT"] = ("demo-accountant", "Dominique Leroy", ["accountant"])
    people["ADMIN"] = ("demo-admin", "Alex Morel", ["admin"])
    return {
        role: mint_token(
            private_key,
            sub=sub,
            email=f"{sub}@example.org",
            name=name,
            groups=groups,
            issuer=settings.issuer,
            audience=settings.audience,
        )
        for role, (sub, name, groups) in people.items()
    }


def managed_relay(settings: Settings, seeded: dict[str, Any] | None) -> str | None:
    """The relay the demo manager runs: Gare de Melun when seeded, else the first relay."""
    if seeded and seeded["relays"]:
        return str(seeded["relays"].get(MANAGED_RELAY) or next(iter(seeded["relays"].values())))
    import requests

    relays = requests.get(f"{settings.api_url}/v1/relays", timeout=30).json().get("items", [])
    named = [relay["id"] for relay in relays if relay.get("name") == MANAGED_RELAY]
    return (named or [relay["id"] for relay in relays] or [None])[0]


def next_weekday(today: dt.date) -> dt.date:
    day = today + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def print_summary(
    settings: Settings,
    backend: str,
    seeded: dict[str, Any] | None,
    tokens: dict[str, str],
    platform_url: str | None = None,
) -> None:
    data = settings.local_dir
    say(f"\nRelais API   {settings.api_url}/v1   (Ctrl-C stops everything)")
    say(f"  {backend:<14} http://127.0.0.1:{settings.ddb_port}  table {settings.table}")
    stripe = f"http://127.0.0.1:{settings.stripe_port}"
    say(f"  localstripe    {stripe}  webhook -> {settings.api_url}/v1/webhooks/stripe")
    say(f"  booking page   http://127.0.0.1:{settings.web_port}/  (demo tokens one click away)")
    if platform_url:
        say(f"  e-invoicing    {platform_url}  fake accredited platform (route_einvoices)")
    say(f"  data, logs     {data}/dynamodb, {data}/logs/*.log")
    if seeded is None:
        say("  demo network   not seeded (SEED_DEMO=0)")
    elif not seeded["seeded"]:
        say("  demo network   skipped: the network already has operators of its own")
    else:
        ops, relays, products = (len(seeded[key]) for key in ("operators", "relays", "products"))
        say(f"  demo network   {ops} operators, {relays} relays, {products} products")
    say(f"\nDemo tokens (30 days), also in {settings.local_dir}/tokens.env (`source` it):")
    for role, token in tokens.items():
        say(f"  export RELAIS_{role}_TOKEN={token}")
    exports = "".join(f"export RELAIS_{role}_TOKEN={token}\n" for role, token in tokens.items())
    (settings.local_dir / "tokens.env").write_text(exports)
    date = next_weekday(dt.date.today()).isoformat()
    say("\nTry:")
    query = f"date={date}&near={DEMO_NEAR[1]}&kind=hot_desk"
    say(f'  curl -s "{settings.api_url}/v1/availability?{query}"   # near {DEMO_NEAR[0]}')
    auth = '-H "Authorization: Bearer $RELAIS_MEMBER_TOKEN"'
    say(f"  curl -s {auth} {settings.api_url}/v1/bookings\n")


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    say(f"[relais] {what} ready ({time.monotonic() - began:.1f} s)")


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


@contextlib.contextmanager
def stopping(started: list[Stoppable]) -> Iterator[None]:
    """Stop whatever was started, last first, whatever happens (signals held meanwhile)."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal closed
    previous = {sig: signal.signal(sig, _raise_stop) for sig in signals}
    try:
        yield
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for service in reversed(started):
            try:
                service.stop()
            except Exception as exc:  # report it, and still stop the others
                print(f"could not stop {service}: {exc}", file=sys.stderr)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_ports(settings: Settings) -> None:
    ports = {"PORT": settings.port, "DDB_PORT": settings.ddb_port}
    ports["STRIPE_PORT"] = settings.stripe_port
    ports["WEB_PORT"] = settings.web_port
    ports["S3_PORT"] = settings.s3_port
    if len(set(ports.values())) < len(ports):
        raise PortInUseError(
            f"PORT, DDB_PORT, STRIPE_PORT, WEB_PORT and S3_PORT must differ: {ports}"
        )
    for name, port in ports.items():
        if not port_is_free(port):
            raise PortInUseError(
                f"{name}={port} is already in use on 127.0.0.1 (another `make run`?); "
                f"stop it or choose another port, e.g. {name}={free_port()}"
            )


def serve(settings: Settings) -> None:
    from tools.fake_pa import FakePlatform
    from tools.local_s3 import start_local_s3
    from tools.localstripe_server import register_webhook, start_localstripe
    from tools.seed_demo import seed

    check_ports(settings)
    check_clock_offset()
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    (settings.local_dir / ".gitignore").write_text("*\n")
    began = time.monotonic()
    started: list[Stoppable] = []
    with stopping(started):
        with step("DynamoDB"):
            data, log = settings.local_dir / "dynamodb", settings.log("dynamodb")
            ddb = start_dynamodb_local(settings.ddb_port, data, log_path=log)
            started.append(ddb)
            create_table(settings, ddb.url)
        private_key, jwks = dev_jwks(settings)
        with step("localstripe"):
            stripe = start_localstripe(
                settings.stripe_port,
                log_path=settings.log("localstripe"),
                state_path=settings.local_dir / "localstripe" / "state.pickle",
            )
            started.append(stripe)
            webhook = f"{settings.api_url}/v1/webhooks/stripe"
            register_webhook(stripe.base_url, "relais", webhook, settings.webhook_secret)
        with step("S3"):
            s3 = start_local_s3(settings.s3_port, log_path=settings.log("s3"))
            started.append(s3)
        with step("fake platform"):
            platform = FakePlatform(auto_statuses=("201", "202"))  # a free loopback port
            started.append(platform)
        with step("chalice local"):
            env = {**app_env(settings, ddb.url, stripe.base_url, jwks), "S3_ENDPOINT_URL": s3.url}
            env.update(platform_env(platform.url))
            started.append(start_app(settings, env))
        admin = demo_tokens(settings, private_key, None)["ADMIN"]
        with step("demo network" if settings.seed else "catalogue"):
            seeded = seed(settings.api_url, admin) if settings.seed else None
            relay_id = managed_relay(settings, seeded)
        tokens = demo_tokens(settings, private_key, relay_id)
        with step("booking page"):
            demo = {role.lower(): tokens[role] for role in ("MEMBER", "ACCOUNTANT")}
            page = page_config(settings.api_url, stripe.base_url, demo)
            started.append(start_web_server(settings.web_port, page))
        print_summary(settings, ddb.name, seeded, tokens, platform.url)
        jobs = job_scheduler(settings, tokens["ADMIN"])  # its clock set before "Ready"
        say(f"Ready in {time.monotonic() - began:.1f} s.")
        while all(service.running() for service in started):
            jobs.tick()
            time.sleep(0.5)
        dead = next(service for service in started if not service.running())
        name = getattr(dead, "name", "localstripe")
        raise LocalStackError(f"{name} stopped unexpectedly; see {settings.local_dir}/logs/")


def check_clock_offset() -> None:
    from tools.local_scheduler import parse_duration

    try:
        parse_duration(os.environ.get("CLOCK_OFFSET") or "0s")
    except ValueError as exc:
        raise LocalStackError(f"CLOCK_OFFSET: {exc}") from exc


def job_scheduler(settings: Settings, admin_token: str) -> Any:
    """Every scheduled job on its real schedule (tools/local_scheduler.py), on the jobs'
    clock: real time plus CLOCK_OFFSET (e.g. `3d`), movable while running."""
    from chalicelib.jobs import SCHEDULES
    from tools.local_scheduler import (
        LocalScheduler,
        ShiftedClock,
        calendar_jobs,
        http_runner,
        offset_file,
        parse_duration,
    )

    clock = ShiftedClock(offset_file(settings.local_dir))
    clock.set_offset(parse_duration(os.environ.get("CLOCK_OFFSET") or "0s"))
    say(f"Jobs' clock {clock.now():%Y-%m-%d %H:%M} UTC; move it with")
    say("  .venv/bin/python -m tools.local_scheduler advance 1d")
    run = http_runner(settings.api_url, admin_token, calendar_jobs(SCHEDULES))
    return LocalScheduler(SCHEDULES, clock, run)


PORT_VARIABLES = ("PORT", "DDB_PORT", "STRIPE_PORT", "WEB_PORT", "S3_PORT")
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
SEED_VALUES = {"0", "1", "true", "false", "yes", "no", "on", "off"}


def stack_problems(env: dict[str, str]) -> list[str]:
    """What is wrong with the settings `make run` reads itself (the app checks its own):
    one line per variable, naming it, before anything starts."""
    problems = []
    for name in PORT_VARIABLES:
        value = env.get(name)
        if value and not (value.isdigit() and 1 <= int(value) <= 65535):
            problems.append(f"{name}={value!r}: must be a port number, 1 to 65535")
    table = env.get("RELAIS_TABLE")
    if table and not TABLE_NAME.fullmatch(table):
        problems.append(f"RELAIS_TABLE={table!r}: must be 3 to 255 of A-Z, a-z, 0-9, '_', '-', '.'")
    seed = env.get("SEED_DEMO")
    if seed and seed.strip().lower() not in SEED_VALUES:
        problems.append(f"SEED_DEMO={seed!r}: must be 1 (seed the demo network) or 0")
    jwks = env.get("AUTH_JWKS_FILE")
    if jwks and not Path(jwks).is_file():
        problems.append(f"AUTH_JWKS_FILE={jwks!r}: no such file")
    return problems


def main() -> int:
    from chalicelib.config import ConfigurationError, load_settings

    problems = stack_problems(dict(os.environ))
    try:  # the app's own settings, checked before anything starts
        load_settings()
    except ConfigurationError as exc:
        problems = [*exc.problems, *problems]
    if problems:
        print("make run: invalid configuration:", *problems, sep="\n  ", file=sys.stderr)
        return 2
    settings = Settings.from_env(dict(os.environ))
    try:
        serve(settings)
    except StopRequested as stop:
        say(f"\n{stop} received: everything stopped.")
        return 0
    except (RuntimeError, TimeoutError, OSError) as exc:  # our errors, told plainly
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
