"""Interop tests: the real `rampart` binary driven by real clients (Python smtplib, swaks).

The binary comes from $RAMPART_BIN, or target/debug/rampart (built by .ci/run).
Servers bind to 127.0.0.1 only.
"""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("RAMPART_BIN", str(ROOT / "target" / "debug" / "rampart"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rampart:
    """One data directory and, when started, one `rampart serve` process on it."""

    def __init__(self, tmp: Path):
        self.data = tmp / "data"
        self.port = free_port()
        self.submission_port = free_port()
        self.submission_tls_port = free_port()
        self.http_port = free_port()
        self.imap_port = free_port()
        self.imap_tls_port = free_port()
        self.config = tmp / "rampart.toml"
        self.config.write_text(
            'hostname = "mx.interop.test"\n'
            f'[smtp]\nlisten = "127.0.0.1:{self.port}"\nshutdown_grace_secs = 20\n'
            f'[submission]\nlisten = "127.0.0.1:{self.submission_port}"\n'
            f'listen_tls = "127.0.0.1:{self.submission_tls_port}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.http_port}"\n'
            f'[imap]\nlisten = "127.0.0.1:{self.imap_port}"\n'
            f'listen_tls = "127.0.0.1:{self.imap_tls_port}"\n'
            # Tests never reach a DNS server (SPF/DKIM/DMARC lookups would leave the machine).
            '[scan.dns]\nenabled = false\n'
            '[log]\nlevel = "warn"\n'
        )
        self.log = tmp / "serve.log"
        self.proc = None

    def cli(self, *args, stdin=None, check=True):
        cmd = [BIN, "--data", str(self.data), "--config", str(self.config), *args]
        r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd} failed: {r.stderr.decode()}")
        return r

    def json(self, *args):
        return json.loads(self.cli("--json", *args).stdout)

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [BIN, "--data", str(self.data), "--config", str(self.config), "serve"],
            stdout=logf,
            stderr=logf,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rampart serve exited: " + self.log.read_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.recv(100)
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("rampart serve did not start listening")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def rampart(tmp_path):
    r = Rampart(tmp_path)
    r.cli("domain", "add", "example.com")
    for user in ("alice", "bob", "carol"):
        r.cli("user", "add", f"{user}@example.com", "--name", user.title())
    yield r
    r.stop()
