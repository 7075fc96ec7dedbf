"""Issue 11 item 5: no plaintext on other interfaces without an explicit choice.

`share --listen 0.0.0.0:0` without TLS used to bind every interface and print the URL.
Now a non-loopback address needs --tls-cert/--tls-key or --insecure (with a warning);
TLS with a self-signed certificate works with `join --cafile`."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gotui.backends.model import GotuiError, UsageError
from gotui.backends.remote.client import join
from gotui.tui.cli import build_parser

from tests import gofixtures

from .conftest import GOTUI, headless_share, run_gotui, stop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made by the openssl command, and its key."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def share(request: pytest.FixtureRequest, target: gofixtures.Target
          ) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([GOTUI, "share", str(target.pid), "--headless", *request.param],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    try:
        yield proc
    finally:
        stop(proc)


@pytest.mark.parametrize("share", [["--listen", "0.0.0.0:0"]], indirect=True)
def test_share_on_every_interface_without_tls_is_refused(
        share: subprocess.Popen[str]) -> None:
    try:
        out, err = share.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("it serves in clear text on every interface")
    assert share.returncode == 2, err
    assert out == "" and err.startswith("gotui: refusing to share on 0.0.0.0:0 without TLS")
    assert len(err.strip().splitlines()) == 1


def test_attach_share_on_every_interface_without_tls_is_refused_before_attaching(
        target: gofixtures.Target) -> None:
    res = run_gotui("attach", str(target.pid), "--share", "0.0.0.0:0", timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("gotui: refusing to share on 0.0.0.0:0 without TLS")
    assert gofixtures.tracer_pid(target.pid) == 0


@pytest.mark.parametrize("share", [["--listen", "0.0.0.0:0", "--insecure"]], indirect=True)
def test_insecure_serves_with_a_warning(share: subprocess.Popen[str]) -> None:
    assert share.stdout is not None and share.stderr is not None
    info = json.loads(share.stdout.readline())
    assert info["url"].startswith("ws://0.0.0.0:")
    share.send_signal(signal.SIGTERM)
    _, err = share.communicate(timeout=30)
    assert "warning: sharing on 0.0.0.0:0 without TLS (--insecure)" in err


@pytest.fixture
def tls_share(self_signed: tuple[Path, Path], target: gofixtures.Target
              ) -> Iterator[dict[str, str]]:
    cert, key = self_signed
    with headless_share(target.pid, "--tls-cert", str(cert), "--tls-key", str(key)
                        ) as (_, info):
        yield info


async def test_tls_with_a_self_signed_certificate_and_cafile(
        tls_share: dict[str, str], self_signed: tuple[Path, Path],
        target: gofixtures.Target) -> None:
    url = tls_share["url"]
    assert url.startswith("wss://127.0.0.1:")
    with pytest.raises(GotuiError, match="CERTIFICATE_VERIFY_FAILED"):
        await join(url, tls_share["viewer_token"])  # not trusted without --cafile
    session = await join(url, tls_share["viewer_token"], cafile=str(self_signed[0]))
    try:
        snap = await session.snapshot()
        assert snap.pid == target.pid and len(snap.goroutines) >= 10
    finally:
        await session.close()


async def test_join_refuses_clear_text_to_another_machine() -> None:
    with pytest.raises(UsageError, match="clear text"):
        await join("ws://192.0.2.1:4242", "x" * 43)


def test_cli_has_the_tls_options() -> None:
    p = build_parser()
    args = p.parse_args(["attach", "1", "--share", "0.0.0.0:9", "--tls-cert", "c",
                         "--tls-key", "k"])
    assert (args.tls_cert, args.tls_key, args.insecure) == ("c", "k", False)
    args = p.parse_args(["join", "wss://h:1", "--cafile", "ca.pem", "--token-file", "-"])
    assert (args.cafile, args.token_file) == ("ca.pem", "-")
