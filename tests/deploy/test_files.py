"""The deployment files: systemd units, udev rule, modprobe blacklist, Kivy
kiosk config, logrotate, and the server's nginx site, env example and backups."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("club-*.service")) + sorted(
    (DEPLOY / "systemd").glob("*.timer")
)


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: sections, Key=Value, keys may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if m := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            current = sections.setdefault(m.group(1), {})
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert m and current is not None, f"{path.name}:{n}: not Key=Value in a section: {raw!r}"
        current.setdefault(m.group(1), []).append(m.group(2))
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, (section, key, values)
    return values[0]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip(
            "systemd-analyze is not installed; the units are still parsed by the tests below"
        )
    proc = subprocess.run(
        ["systemd-analyze", "verify", *map(str, UNITS)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # The programs live on the terminal (/usr/bin/cage, /opt/...), not here: that is the only
    # complaint allowed.
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert not problems, "\n".join(problems)


def test_terminal_unit() -> None:
    u = parse_unit(DEPLOY / "systemd/club-terminal.service")
    s = u["Service"]
    assert one(u, "Service", "User") == "clubterm"
    assert one(u, "Service", "Restart") == "on-failure"
    assert one(u, "Install", "WantedBy") == "graphical.target"
    assert one(u, "Service", "NoNewPrivileges") == "yes"
    assert one(u, "Service", "ProtectSystem") == "full"
    rw = " ".join(s["ReadWritePaths"]).split()
    assert "/var/lib/club-terminal" in rw and "/var/log/club-terminal" in rw
    assert "PrivateDevices" not in s, "the GUI needs /dev/dri and /dev/input"
    assert "MemoryDenyWriteExecute" not in s, "Mesa needs to JIT shaders"
    exec_start = one(u, "Service", "ExecStart")
    assert (
        exec_start.startswith("/usr/bin/cage ") and "club-terminal run --fullscreen" in exec_start
    )
    assert "CLUB_TERMINAL_DATA_DIR=/var/lib/club-terminal" in s["Environment"]
    assert "KIVY_HOME=/var/lib/club-terminal-kivy" in s["Environment"]
    assert one(u, "Service", "PAMName") == "club-terminal"
    assert (DEPLOY / "pam" / "club-terminal").is_file()
    assert "pam_systemd.so" in (DEPLOY / "pam/club-terminal").read_text()


def test_sync_unit() -> None:
    u = parse_unit(DEPLOY / "systemd/club-terminal-sync.service")
    assert one(u, "Service", "User") == "clubterm"
    assert one(u, "Service", "ExecStart").endswith("club-terminal sync")
    assert one(u, "Service", "Restart") == "on-failure"
    assert one(u, "Unit", "StartLimitIntervalSec") == "0"


def test_server_units() -> None:
    u = parse_unit(DEPLOY / "systemd/club-server.service")
    assert one(u, "Service", "User") == "clubserver"
    assert one(u, "Service", "EnvironmentFile") == "/etc/club-server/club-server.env"
    exec_start = one(u, "Service", "ExecStart")
    assert (
        "club-server serve" in exec_start
        and "--host 127.0.0.1" in exec_start
        and "--port 8600" in exec_start
    )
    assert one(u, "Install", "WantedBy") == "multi-user.target"
    b = parse_unit(DEPLOY / "systemd/club-server-backup.service")
    assert one(b, "Service", "Type") == "oneshot"
    assert one(b, "Service", "ExecStart").endswith("backup-club-server.sh")
    t = parse_unit(DEPLOY / "systemd/club-server-backup.timer")
    assert one(t, "Timer", "OnCalendar") and one(t, "Install", "WantedBy") == "timers.target"


UDEV_KEY = re.compile(
    r"^(ACTION|SUBSYSTEM|KERNEL|ENV\{[A-Z_]+\}|ATTRS?\{[A-Za-z_]+\}|MODE|GROUP|OWNER|TAG|GOTO|LABEL)"
    r'(==|!=|\+=|=)"[^"]*"$'
)
MATCH_OPS = ("==", "!=")


def test_udev_rule_parses_and_covers_the_readers() -> None:
    text = (DEPLOY / "udev/60-club-terminal-nfc.rules").read_text()
    labels, gotos, devices = set(), set(), set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = [t.strip() for t in line.split(",")]
        kv: dict[str, str] = {}
        for tok in tokens:
            m = UDEV_KEY.match(tok)
            assert m, f"line {n}: not a valid udev key: {tok!r}"
            key, op = m.group(1), m.group(2)
            if key in ("MODE", "GROUP", "OWNER", "TAG", "GOTO", "LABEL"):
                assert op not in MATCH_OPS, f"line {n}: {key} is an assignment"
            kv[key] = tok[len(key) + len(op) + 1 : -1]
        if "LABEL" in kv:
            labels.add(kv["LABEL"])
        if "GOTO" in kv:
            gotos.add(kv["GOTO"])
        if "ATTR{idVendor}" in kv:
            assert kv.get("MODE") == "0660" and kv.get("GROUP") == "plugdev", f"line {n}"
            devices.add((kv["ATTR{idVendor}"], kv["ATTR{idProduct}"]))
    assert gotos <= labels
    for dev in [
        ("054c", "06c1"),
        ("054c", "06c3"),
        ("072f", "2200"),
        ("04e6", "5591"),
        ("04cc", "0531"),
    ]:
        assert dev in devices, dev


def test_udev_rule_matches_nfcpy_device_table() -> None:
    """Every USB reader nfcpy knows gets the rule (so `nfc:usb` works for all of them)."""
    device = pytest.importorskip("nfc.clf.device")
    text = (DEPLOY / "udev/60-club-terminal-nfc.rules").read_text()
    for vid, pid in device.usb_device_map:
        assert f'ATTR{{idVendor}}=="{vid:04x}", ATTR{{idProduct}}=="{pid:04x}"' in text, (
            hex(vid),
            hex(pid),
        )


def test_modprobe_blacklist() -> None:
    lines = [
        line.split()
        for line in (DEPLOY / "modprobe/blacklist-club-terminal-nfc.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(words[0] in ("blacklist", "install") for words in lines)
    blacklisted = {words[1] for words in lines if words[0] == "blacklist"}
    assert {"pn533_usb", "pn533", "port100", "nfc"} <= blacklisted


def test_kivy_kiosk_config() -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(DEPLOY / "kivy/config.ini")
    assert cfg["graphics"]["fullscreen"] == "auto"
    assert cfg["graphics"]["show_cursor"] == "0"
    assert cfg["kivy"]["exit_on_escape"] == "0"
    assert cfg["kivy"]["keyboard_mode"] in ("systemanddock", "dock")
    assert cfg["input"]["mouse"] == "mouse,disable_multitouch"
    assert not any("probesysfs" in v for v in cfg["input"].values()), (
        "touches would arrive twice under cage"
    )


def test_kivy_reads_the_kiosk_config_without_rewriting_it(tmp_path: Path) -> None:
    """config_version matches the installed Kivy, so Kivy keeps the file as it is."""
    pytest.importorskip("kivy")
    home = tmp_path / "kivy"
    home.mkdir()
    shutil.copy(DEPLOY / "kivy/config.ini", home / "config.ini")
    code = (
        "from kivy.config import Config;"
        "print(Config.get('graphics','show_cursor'), Config.get('input','mouse'),"
        " Config.get('kivy','exit_on_escape'), Config.get('graphics','fullscreen'))"
    )
    proc = subprocess.run(
        [
            str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else "python3",
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "KIVY_HOME": str(home),
            "KIVY_NO_ARGS": "1",
            "KIVY_NO_FILELOG": "1",
            "KIVY_NO_CONSOLELOG": "1",
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "mouse,disable_multitouch", "0", "auto"]
    assert (home / "config.ini").read_bytes() == (DEPLOY / "kivy/config.ini").read_bytes()


def test_logrotate_config() -> None:
    text = (DEPLOY / "logrotate/club-terminal").read_text()
    assert text.lstrip().startswith("# ") and "/var/log/club-terminal/*.log {" in text
    assert "su clubterm clubterm" in text and "missingok" in text
    if shutil.which("logrotate"):
        # no clubterm user on the test machine: check the syntax with root in its place
        conf = Path(os.environ.get("TMPDIR", "/tmp")) / f"club-terminal-logrotate-{os.getpid()}"
        conf.write_text(text.replace("clubterm clubterm", "root root"))
        proc = subprocess.run(
            ["logrotate", "--debug", "--state", str(conf) + ".state", str(conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        conf.unlink()
        assert "error" not in proc.stderr.lower(), proc.stderr


def test_nginx_site() -> None:
    text = (DEPLOY / "server/nginx-club-server.conf").read_text()
    proxy = (DEPLOY / "server/club-server-proxy.conf").read_text()
    assert "server 127.0.0.1:8600" in text and "server 127.0.0.1:8601" in text
    assert "include /etc/nginx/snippets/club-server-proxy.conf;" in text
    assert "proxy_pass http://club_servers;" in proxy
    assert "client_max_body_size 8m;" in proxy
    assert "X-Request-ID $request_id" in proxy
    assert "location = /metrics { return 403; }" in proxy
    assert (
        "listen 443 ssl" in text and "ssl_certificate " in text and "ssl_certificate_key " in text
    )
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "X-Forwarded-Proto" in proxy
    assert text.count("{") == text.count("}")
    assert proxy.count("{") == proxy.count("}")


def test_server_env_example_has_no_secrets() -> None:
    text = (DEPLOY / "server/club-server.env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(values) >= {
        "CLUB_SERVER_DB",
        "CLUB_SERVER_KEYS",
        "CLUB_BACKUP_DIR",
        "CLUB_BACKUP_KEEP_DAYS",
    }
    assert values["CLUB_SERVER_DB"].startswith("postgresql://")
    assert not re.search(r"://[^/@\s]*:[^/@\s]*@", text), "a password in a URL"
    for key, value in values.items():
        assert not re.search(r"pass|secret|token", key, re.I), key
        assert not re.search(r"password=|:[^/@]+@", value), (key, value)


def run_backup(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "server/backup-club-server.sh"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"], "CLUB_BACKUP_DIR": str(tmp_path / "b"), **env},
    )


def test_backup_script_dry_run_and_refusals(tmp_path: Path) -> None:
    proc = run_backup(
        tmp_path, "--dry-run", CLUB_SERVER_DB="postgresql://club@/club", CLUB_BACKUP_KEEP_DAYS="7"
    )
    assert proc.returncode == 0, proc.stderr
    assert "pg_dump --format=custom" in proc.stdout and "older than 7 days" in proc.stdout
    assert not (tmp_path / "b").exists()
    assert run_backup(tmp_path).returncode != 0  # no database named
    proc = run_backup(tmp_path, CLUB_SERVER_DB="sqlite:///x.db")
    assert proc.returncode == 2 and "not a PostgreSQL URL" in proc.stderr
    proc = run_backup(
        tmp_path, CLUB_SERVER_DB="postgresql://club@/club", CLUB_BACKUP_KEEP_DAYS="two"
    )
    assert proc.returncode == 2 and "CLUB_BACKUP_KEEP_DAYS" in proc.stderr


def test_backup_script_retention_with_a_stand_in_pg_dump(tmp_path: Path) -> None:
    """A stand-in pg_dump on PATH: the naming, rename and retention are the script's own."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pg_dump"
    fake.write_text(
        '#!/bin/sh\nfor a; do case "$a" in --file=*) echo dump > "${a#--file=}";; esac; done\n'
        'echo "$@" > "$(dirname "$0")/args"\n'
    )
    fake.chmod(0o755)
    backups = tmp_path / "b"
    backups.mkdir()
    old = backups / "club-server-20000101T000000Z.dump"
    old.write_text("old")
    os.utime(old, (946684800, 946684800))
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "CLUB_BACKUP_DIR": str(backups),
        "CLUB_SERVER_DB": "postgresql+psycopg://club@/club",
        "CLUB_BACKUP_KEEP_DAYS": "14",
    }
    proc = subprocess.run(
        ["bash", str(DEPLOY / "server/backup-club-server.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    dumps = sorted(p.name for p in backups.iterdir())
    assert len(dumps) == 1 and dumps[0] != old.name and dumps[0].endswith(".dump"), dumps
    assert "postgresql://club@/club" in (bindir / "args").read_text()  # driver suffix stripped
    assert oct(backups.stat().st_mode & 0o777) == "0o700"


def test_the_sync_unit_stops_restarting_a_revoked_terminal() -> None:
    from terminal.cli.base import EXIT_REVOKED

    text = (DEPLOY / "systemd/club-terminal-sync.service").read_text()
    assert f"RestartPreventExitStatus={EXIT_REVOKED}" in text
    for unit, log in (("club-terminal", "app.log"), ("club-terminal-sync", "sync.log")):
        body = (DEPLOY / f"systemd/{unit}.service").read_text()
        assert f"Environment=CLUB_TERMINAL_LOG_FILE=/var/log/club-terminal/{log}" in body
        assert "Environment=CLUB_TERMINAL_LOG_LEVEL=INFO" in body
