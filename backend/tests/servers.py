"""Real PostgreSQL/PostGIS and Redis servers for the backend tests, on free 127.0.0.1 ports.

Both come from Debian's packages (postgresql-15-postgis-3, redis-server). PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` system user the package creates. The
servers run in their own process groups, so a test can stop, restart, freeze (SIGSTOP) and thaw
(SIGCONT) them, and the fixtures can always kill them, whatever happened in between.

Both speak TLS with a throw-away self-signed certificate, and PostgreSQL refuses plain-text TCP
connections as RDS does with ``rds.force_ssl=1``. Redis's default user needs a password; an ACL user
stands in for an IAM-enabled ElastiCache user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

IS_ROOT = os.geteuid() == 0


class ServerUnavailable(RuntimeError):
    """A required binary or system user is missing (install instructions in the message)."""


_handed_out: set[int] = set()


def free_port() -> int:
    """A free 127.0.0.1 port, never the same one twice in a run."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(interval)


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/N/bin whose server has the PostGIS extension installed."""
    for bin_dir in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    ):
        version = bin_dir.split("/")[-2]
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(bin_dir)
    raise ServerUnavailable(
        "PostgreSQL with PostGIS is not installed: apt-get install -y postgresql-15-postgis-3"
    )


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 (it is its own CA)."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise ServerUnavailable("openssl is not installed: apt-get install -y openssl")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _Server:
    """A server process in its own process group, with stop/start/pause/resume."""

    name = "server"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    def _spawn(self, argv: list[str], **kwargs) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _signal_group(self, sig: int) -> None:
        """Signal the server and every descendant.

        PostgreSQL's backends call setsid(), so a process-group signal would miss them: they are
        found through /proc instead.
        """
        if self.proc is None:
            return
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def pause(self) -> None:
        """Freeze every process of the server: connections stay open and are never answered."""
        assert self.running, f"{self.name} is not running"
        self._signal_group(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)
        self.paused = False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.paused:
            self.resume()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(5)
        self._signal_group(signal.SIGKILL)  # stray children, if any
        self.proc = None

    def kill(self) -> None:
        """Last-resort clean-up: never raises."""
        with contextlib.suppress(Exception):
            if self.paused:
                self.resume()
            self._signal_group(signal.SIGKILL)
            if self.proc is not None:
                self.proc.wait(5)
        self.proc = None


class PostgresServer(_Server):
    name = "postgres"
    SUPERUSER = "postgres"

    def __init__(self, base: Path, cert: Path, key: Path) -> None:
        super().__init__(base / "postgres.log")
        self.bin = postgres_bin_dir()
        self.base, self.data, self.sockets = base, base / "data", base / "sockets"
        self.port = free_port()
        self.host = "127.0.0.1"
        self._user_kwargs: dict = {}
        if IS_ROOT:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable(
                    "the postgres system user is missing (it comes with the postgresql package)"
                ) from None
            self._user_kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            self._uid, self._gid = pw.pw_uid, pw.pw_gid
        self.sockets.mkdir()
        self.ssl_cert, self.ssl_key = base / "pg-server.crt", base / "pg-server.key"
        shutil.copyfile(cert, self.ssl_cert)
        shutil.copyfile(key, self.ssl_key)
        os.chmod(self.ssl_key, 0o600)
        if IS_ROOT:
            for path in (base, self.sockets, self.ssl_cert, self.ssl_key):
                os.chown(path, self._uid, self._gid)
        self.log_path.touch()
        if IS_ROOT:
            os.chown(self.log_path, self._uid, self._gid)

    def _run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=60, **self._user_kwargs, **kwargs, check=False
        )

    def initdb(self) -> None:
        result = self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        # TCP only over TLS, like RDS with rds.force_ssl=1; the superuser uses the Unix socket.
        (self.data / "pg_hba.conf").write_text(
            "local   all  all                 trust\n"
            "hostssl all  all  127.0.0.1/32   scram-sha-256\n"
            "host    all  all  127.0.0.1/32   reject\n"
        )

    def start(self) -> None:
        assert not self.running
        self._spawn(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-h",
                self.host,
                "-k",
                str(self.sockets),
                "-c",
                "ssl=on",
                "-c",
                f"ssl_cert_file={self.ssl_cert}",
                "-c",
                f"ssl_key_file={self.ssl_key}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "max_connections=50",
                "-c",
                "shared_buffers=32MB",
            ],
            **self._user_kwargs,
        )
        try:
            wait_for(self._ready, 30, "PostgreSQL start-up", interval=0.1)
        except TimeoutError:
            raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}") from None

    def _ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"PostgreSQL exited:\n{self.log_tail()}")
        result = self._run(
            [str(self.bin / "pg_isready"), "-q", "-h", str(self.sockets), "-p", str(self.port)]
        )
        return result.returncode == 0

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> None:  # SIGINT: fast shutdown
        super().stop(sig, timeout)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            [
                str(self.bin / "psql"),
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-h",
                str(self.sockets),
                "-p",
                str(self.port),
                "-U",
                self.SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ]
        )
        if result.returncode:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout.strip()


class RedisServer(_Server):
    name = "redis"

    def __init__(self, base: Path, cert: Path, key: Path, password: str, iam_user: str) -> None:
        super().__init__(base / "redis.log")
        binary = shutil.which("redis-server")
        if not binary:
            raise ServerUnavailable("redis-server is not installed: apt-get install -y redis-server")
        self.binary, self.base, self.cert, self.key = binary, base, cert, key
        self.password, self.iam_user = password, iam_user
        self.port, self.tls_port = free_port(), free_port()
        self.host = "127.0.0.1"

    def start(self) -> None:
        assert not self.running
        self._spawn(
            [
                self.binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--tls-port",
                str(self.tls_port),
                "--tls-cert-file",
                str(self.cert),
                "--tls-key-file",
                str(self.key),
                "--tls-ca-cert-file",
                str(self.cert),
                "--tls-auth-clients",
                "no",
                "--requirepass",
                self.password,
                # ElastiCache checks an IAM user's SigV4 token; a local Redis cannot, so this user
                # takes any password, while the default user still needs its own.
                "--user",
                self.iam_user,
                "on",
                "nopass",
                "~*",
                "+@all",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                "",
            ]
        )
        try:
            wait_for(self._ready, 15, "Redis start-up")
        except TimeoutError:
            raise RuntimeError(f"Redis did not start:\n{self.log_tail()}") from None

    def _ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"redis-server exited:\n{self.log_tail()}")
        import redis

        try:
            return self.command("PING") is True
        except (OSError, redis.RedisError):
            return False

    def client(self, timeout: float = 2.0):
        """A synchronous redis-py client on the plain port (for the tests' own checks)."""
        import redis

        return redis.Redis(
            host=self.host,
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
        )

    def command(self, *args: str):
        with self.client() as client:
            return client.execute_command(*args)


class Blackhole:
    """A TCP listener that accepts connections and never answers (a hung dependency)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)  # the kernel completes handshakes; nobody ever reads or writes
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
