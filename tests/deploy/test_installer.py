"""The terminal installer, run for real into a throwaway root filesystem.

``deploy/install-terminal.sh --root DIR`` installs every file, directory and
unit symlink under DIR; system packages and the venv cannot be installed into
a bare directory here, so those steps are covered by ``--dry-run``, whose
output is checked. When the tests run as root and ``useradd`` is present, the
``clubterm`` user is created for real in the root's own /etc/passwd
(``useradd --root``); otherwise ``--skip-user``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALLER = DEPLOY / "install-terminal.sh"

CAN_MAKE_USERS = (
    os.geteuid() == 0
    and shutil.which("useradd") is not None
    and shutil.which("usermod") is not None
)

# (path in the root, source in deploy/, mode)
FILES = [
    ("etc/systemd/system/club-terminal.service", "systemd/club-terminal.service", 0o644),
    ("etc/systemd/system/club-terminal-sync.service", "systemd/club-terminal-sync.service", 0o644),
    ("etc/pam.d/club-terminal", "pam/club-terminal", 0o644),
    ("etc/udev/rules.d/60-club-terminal-nfc.rules", "udev/60-club-terminal-nfc.rules", 0o644),
    (
        "etc/modprobe.d/blacklist-club-terminal-nfc.conf",
        "modprobe/blacklist-club-terminal-nfc.conf",
        0o644,
    ),
    ("etc/logrotate.d/club-terminal", "logrotate/club-terminal", 0o644),
    ("var/lib/club-terminal-kivy/config.ini", "kivy/config.ini", 0o644),
    ("usr/local/bin/club-terminal", "bin/club-terminal", 0o755),
]
DIRS = [
    ("opt/club-terminal", 0o755, False),
    ("var/lib/club-terminal", 0o700, True),
    ("var/lib/club-terminal-kivy", 0o755, True),
    ("var/log/club-terminal", 0o750, True),
]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", str(INSTALLER), *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"installer failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_root(tmp_path: Path) -> Path:
    """A root filesystem with this system's accounts files and the groups the user joins."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        src = Path("/etc") / name
        if src.exists():
            shutil.copy(src, root / "etc" / name)
    group = root / "etc" / "group"
    if not group.exists():
        group.write_text("root:x:0:\n")
    have = {line.split(":", 1)[0] for line in group.read_text().splitlines() if line}
    with group.open("a") as f:
        for gid, name in enumerate(("plugdev", "input", "video", "render"), start=4600):
            if name not in have:
                f.write(f"{name}:x:{gid}:\n")
    if not (root / "etc" / "passwd").exists():
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    return root


def tree(root: Path) -> dict[str, tuple[int, bytes | str]]:
    out: dict[str, tuple[int, bytes | str]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        body: bytes | str = (
            os.readlink(p) if p.is_symlink() else (p.read_bytes() if p.is_file() else b"")
        )
        out[str(p.relative_to(root))] = (st.st_mode, body)
    return out


def user_flags() -> list[str]:
    return [] if CAN_MAKE_USERS else ["--skip-user"]


def test_install_into_a_root_then_rerun_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    first = run("--root", str(root), "--skip-packages", "--skip-venv", *user_flags())
    assert "[change]" in first.stdout

    uid = gid = None
    if CAN_MAKE_USERS:
        entry = next(
            line
            for line in (root / "etc/passwd").read_text().splitlines()
            if line.startswith("clubterm:")
        )
        fields = entry.split(":")
        uid, gid = int(fields[2]), int(fields[3])
        assert fields[5] == "/var/lib/club-terminal" and fields[6].endswith("nologin")
        groups = (root / "etc/group").read_text().splitlines()
        for g in ("plugdev", "input", "video", "render"):
            line = next(x for x in groups if x.startswith(g + ":"))
            assert "clubterm" in line.split(":")[3].split(","), line

    for rel, src, mode in FILES:
        p = root / rel
        assert p.is_file(), rel
        assert p.read_bytes() == (DEPLOY / src).read_bytes(), rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, (rel, oct(p.stat().st_mode))
    for rel, mode, owned in DIRS:
        p = root / rel
        assert p.is_dir(), rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, (rel, oct(p.stat().st_mode))
        if owned and uid is not None:
            assert (p.stat().st_uid, p.stat().st_gid) == (uid, gid), rel

    if shutil.which("systemctl"):
        wants = root / "etc/systemd/system"
        assert (wants / "graphical.target.wants/club-terminal.service").is_symlink()
        assert (wants / "multi-user.target.wants/club-terminal-sync.service").is_symlink()

    before = tree(root)
    second = run("--root", str(root), "--skip-packages", "--skip-venv", *user_flags())
    assert "[change]" not in second.stdout, second.stdout
    assert second.stdout.rstrip().endswith("0 changes"), second.stdout
    assert tree(root) == before


def test_rerun_repairs_drift_and_only_that(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    run("--root", str(root), "--skip-packages", "--skip-venv", *user_flags())
    (root / "var/lib/club-terminal").chmod(0o755)
    unit = root / "etc/systemd/system/club-terminal.service"
    unit.write_text(unit.read_text() + "\n# local edit\n")

    proc = run("--root", str(root), "--skip-packages", "--skip-venv", *user_flags())
    changes = [line for line in proc.stdout.splitlines() if line.startswith("[change]")]
    assert len(changes) == 2, proc.stdout
    assert any("chmod 0700 /var/lib/club-terminal" in c for c in changes)
    assert any("update /etc/systemd/system/club-terminal.service" in c for c in changes)
    assert stat.S_IMODE((root / "var/lib/club-terminal").stat().st_mode) == 0o700
    assert unit.read_bytes() == (DEPLOY / "systemd/club-terminal.service").read_bytes()


def test_dry_run_lists_every_action_and_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = tree(root)
    proc = run("--root", str(root), "--dry-run", "--source", str(REPO))
    out = proc.stdout
    assert tree(root) == before, "the dry run changed the root"
    assert "[change]" not in out

    would = [line for line in out.splitlines() if line.startswith("[would]")]
    expected = [
        "apt-get update",
        "apt-get install ",
        "create system user clubterm",
        "add clubterm to group plugdev",
        "add clubterm to group input",
        "add clubterm to group video",
        "add clubterm to group render",
        "create venv /opt/club-terminal/venv",
        f"pip install {REPO}[ui] into /opt/club-terminal/venv",
        "create directory /var/lib/club-terminal (mode 0700, owner clubterm:clubterm)",
        "create directory /var/lib/club-terminal-kivy (mode 0755, owner clubterm:clubterm)",
        "create directory /var/log/club-terminal (mode 0750, owner clubterm:clubterm)",
        "enable pcscd.socket",
        "enable club-terminal.service",
        "enable club-terminal-sync.service",
        "set the default target to graphical.target",
    ]
    expected += [f"install /{rel} (mode {mode:04o})" for rel, _, mode in FILES]
    for text in expected:
        assert any(text in line for line in would), f"missing from the dry run: {text!r}\n{out}"

    install_line = next(line for line in would if "apt-get install " in line)
    for pkg in [*setup_sh_packages(), "pcscd", "cage", "xwayland", "logrotate"]:
        assert pkg in install_line.split(), pkg
    assert re.search(rf"{len(would)} changes would be made\s*$", out), out


def setup_sh_packages() -> list[str]:
    text = (REPO / "scripts/setup.sh").read_text()
    block = re.search(r"APT_PACKAGES=\((.*?)\n\)", text, re.S)
    assert block, "APT_PACKAGES not found in scripts/setup.sh"
    words: list[str] = []
    for line in block.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return words


def test_dry_run_after_install_would_change_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    run("--root", str(root), "--skip-packages", "--skip-venv", *user_flags())
    proc = run("--root", str(root), "--dry-run", "--skip-packages", "--skip-venv", *user_flags())
    assert "[would]" not in proc.stdout, proc.stdout
    assert "0 changes would be made" in proc.stdout


def test_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    proc = run("--root", str(root), "--skip-packages", "--skip-user", check=False)
    assert proc.returncode != 0 and "--skip-venv" in proc.stderr
    proc = run("--bogus", check=False)
    assert proc.returncode == 2 and "unknown option" in proc.stderr
    proc = run("--root", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 2 and "no such directory" in proc.stderr
    if os.geteuid() != 0:
        proc = run(check=False)
        assert proc.returncode == 2 and "run as root" in proc.stderr


def test_help() -> None:
    proc = run("--help")
    for opt in (
        "--dry-run",
        "--root",
        "--prefix",
        "--source",
        "--skip-packages",
        "--skip-user",
        "--skip-venv",
    ):
        assert opt in proc.stdout


@pytest.mark.parametrize(
    "script", ["install-terminal.sh", "server/backup-club-server.sh", "bin/club-terminal"]
)
def test_shellcheck_clean(script: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    proc = subprocess.run(
        ["shellcheck", "--severity=style", str(DEPLOY / script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_script_in_deploy_is_shellchecked() -> None:
    listed = {"install-terminal.sh", "server/backup-club-server.sh", "bin/club-terminal"}
    scripts = {
        str(p.relative_to(DEPLOY))
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.read_bytes()[:2] == b"#!"
    }
    assert scripts == listed
    for s in scripts:
        assert os.access(DEPLOY / s, os.X_OK), f"{s} is not executable"
