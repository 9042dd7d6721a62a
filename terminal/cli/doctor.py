"""``club-terminal config check|apply`` and ``club-terminal doctor``: field set-up and diagnosis."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from terminal.bootstrap import bootstrap
from terminal.cli.base import cli, emit_json, handle_errors
from terminal.config import CONFIG_ENV, apply_config, config_path, describe, load_config
from terminal.doctor import Check, Context, run_checks

__all__ = ["config_apply", "config_check", "config_group", "doctor_command"]

_CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The configuration file [env {CONFIG_ENV}; default: terminal.toml in the data dir].",
)


@cli.group("config")
def config_group() -> None:
    """The terminal's configuration file (terminal.toml): check it, apply it."""


@config_group.command("check")
@_CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the validated configuration as JSON.")
@click.pass_context
@handle_errors
def config_check(ctx: click.Context, config_file: Path | None, as_json: bool) -> None:
    """Validate the configuration file; exit 1 naming the first bad key."""
    path = config_path(ctx.obj["data_dir"], config_file)
    config = load_config(path)
    if as_json:
        emit_json({"file": str(path), "config": describe(config), "settings": config.settings()})
        return
    click.echo(f"{path}: ok")
    for key, value in config.settings().items():
        click.echo(f"  {key} = {value}")


@config_group.command("apply")
@_CONFIG_OPTION
@click.pass_context
@handle_errors
def config_apply(ctx: click.Context, config_file: Path | None) -> None:
    """Validate the configuration file, then write its settings in one transaction."""
    path = config_path(ctx.obj["data_dir"], config_file)
    config = load_config(path)
    terminal = bootstrap(ctx.obj["data_dir"])
    try:
        written = apply_config(terminal.db, config)
    finally:
        terminal.close()
    click.echo(f"{path}: applied {len(written)} setting(s)")
    for key, value in written.items():
        click.echo(f"  {key} = {value}")


def _line(check: Check) -> str:
    label = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}[check.status]
    text = f"{label} {check.name}: {check.detail}"
    return f"{text}\n     hint: {check.hint}" if check.hint and check.status != "ok" else text


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool) -> None:
    """Check this terminal: readers, server, TLS, clock, credential, data, outbox, disk.

    Exit 0 when no check failed (warnings allowed), 1 otherwise. Writes nothing.
    """
    checks = run_checks(Context(data_dir=Path(ctx.obj["data_dir"])))
    failed = [check.name for check in checks if not check.ok]
    if as_json:
        emit_json({"ok": not failed, "checks": [check.as_dict() for check in checks]})
    else:
        for check in checks:
            click.echo(_line(check))
        click.echo(f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "all ok")
    sys.exit(1 if failed else 0)
