"""The on-call case: gotui over SSH (a private sshd on loopback), and the connection drops
while the target is halted. The target must be released and run on."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.e2e.terminal import dlv_child, quit_dialog_enter
from tests.gofixtures import Target, making_progress, wait_untraced
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.usefixtures("need_tmux", "need_dlv")]

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Sshd:
    port: int
    client_key: Path

    def command(self, *remote: str) -> list[str]:
        """ssh argv with a tty that runs `remote` on this server as the current user."""
        return ["ssh", "-tt", "-i", str(self.client_key), "-p", str(self.port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "127.0.0.1", *remote]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not SSHD.exists() or shutil.which("ssh") is None:
        pytest.skip("openssh-server/-client are not installed on this machine")
    if not Path("/run/sshd").is_dir():
        pytest.skip("/run/sshd is missing: `make setup` creates it")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True, capture_output=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {d / "host_key"}
PidFile {d / "sshd.pid"}
AuthorizedKeysFile {d / "authorized_keys"}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
""")
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, f"sshd exited: {proc.stderr.read() if proc.stderr else ''}"
                assert time.monotonic() < deadline, "sshd did not listen within 15 s"
                time.sleep(0.1)
        yield Sshd(port, d / "client_key")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def remote_gotui(target_pid: int, ssh_client: int) -> psutil.Process:
    """The gotui process sshd started for us (found by its command line)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if p.pid == ssh_client:
                continue
            if len(cmd) >= 4 and cmd[-4:] == ["attach", str(target_pid), "--delve", "--no-ebpf"] and any(
                    "gotui" in part for part in cmd):
                return p
        time.sleep(0.1)
    raise AssertionError("no remote gotui process")


def test_ssh_drop_while_halted_releases_target(gotui: Path, basic_target: Target,
                                               sshd: Sshd) -> None:
    pid = basic_target.pid
    with TmuxSession(sshd.command(str(gotui), "attach", str(pid), "--delve", "--no-ebpf")) as term:
        term.wait_for("RUNNING", timeout=30)
        term.wait_for("main.receiver")
        term.send_keys("h")
        term.wait_for("HALTED")
        assert not making_progress(pid, within=1.0)
        remote = remote_gotui(pid, term.pid)
        dlv = dlv_child(remote.pid)
        psutil.Process(term.pid).kill()  # the connection drops

        assert wait_untraced(pid, timeout=15), "target still traced after the SSH drop"
        assert making_progress(pid, within=5.0), "target not running after the SSH drop"
        remote.wait(timeout=15)
        dlv.wait(timeout=15)


def test_ssh_quit_exits_cleanly(gotui: Path, basic_target: Target, sshd: Sshd) -> None:
    """Over SSH the TUI draws at 80x24 and q + Enter ends the session with status 0."""
    with TmuxSession(sshd.command(str(gotui), "attach", str(basic_target.pid), "--no-ebpf")) as term:
        term.wait_for("RUNNING", timeout=30)
        term.wait_for("main.receiver")
        quit_dialog_enter(term)
        assert term.wait_exit(timeout=15) == 0
    assert making_progress(basic_target.pid)


MOUSE_FLAGS = "#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag}"
RICH_COLOUR = re.compile(r"\x1b\[[\d;]*[34]8;[25];")  # 256-colour or truecolor SGR


@pytest.mark.parametrize(("term", "no_color"), [("screen", False), ("xterm-256color", True)])
def test_ssh_terminal_modes(gotui: Path, basic_target: Target, sshd: Sshd, term: str,
                            no_color: bool) -> None:
    """Under SSH (sshd sets SSH_CONNECTION) mouse reporting stays off; a 16-colour TERM
    and NO_COLOR get no 256-colour/truecolor escapes; keys work (q + Enter quits)."""
    remote = ["env", "NO_COLOR=1"] if no_color else []
    cmd = sshd.command(*remote, str(gotui), "attach", str(basic_target.pid), "--no-ebpf")
    with TmuxSession(cmd, term=term) as t:
        t.wait_for("RUNNING", timeout=30)
        t.wait_for("main.receiver")
        assert t.display(MOUSE_FLAGS) == "0000", "mouse reporting is on under SSH"
        screen = t.capture(escapes=True)
        assert not RICH_COLOUR.search(screen), \
            f"256-colour/truecolor escapes with TERM={term} NO_COLOR={no_color}"
        quit_dialog_enter(t)
        assert t.wait_exit(timeout=15) == 0
    assert making_progress(basic_target.pid)
