"""The command line people use: `kefu --help` and each command's own help."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kefu.cli import main

COMMANDS = ("demo", "serve", "gen", "import", "export", "report", "shop-secret")


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert f"  {command} " in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert f"Usage: main {command}" in result.output or f"Usage: kefu {command}" in result.output


def test_import_of_a_missing_folder_exits_2(tmp_path):
    result = CliRunner().invoke(
        main, ["import", str(tmp_path / "nothing"), "--db", f"sqlite:///{tmp_path}/k.db"]
    )
    assert result.exit_code == 2
    assert "is not a folder" in result.output


def test_gen_then_import_then_export(tmp_path):
    db = f"sqlite:///{tmp_path}/k.db"
    runner = CliRunner()
    assert (
        runner.invoke(main, ["gen", str(tmp_path / "ds"), "--seed", "3", "--conversations", "120"]).exit_code
        == 0
    )
    imported = runner.invoke(main, ["import", str(tmp_path / "ds"), "--db", db])
    assert imported.exit_code == 0, imported.output
    assert "messages" in imported.output
    exported = runner.invoke(main, ["export", str(tmp_path / "out"), "--db", db, "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "out" / "messages.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_shop_secret_is_made_once_and_then_kept(tmp_path):
    db = f"sqlite:///{tmp_path}/k.db"
    runner = CliRunner()
    runner.invoke(main, ["gen", str(tmp_path / "ds"), "--seed", "3", "--conversations", "60"])
    assert runner.invoke(main, ["import", str(tmp_path / "ds"), "--db", db]).exit_code == 0
    shop_id = (
        (tmp_path / "ds" / "shops.jsonl").read_text(encoding="utf-8").split('"shop_id": "')[1].split('"')[0]
    )
    first = runner.invoke(main, ["shop-secret", shop_id, "--db", db])
    again = runner.invoke(main, ["shop-secret", shop_id, "--db", db])
    assert first.exit_code == 0 and len(first.output.strip()) >= 40
    assert again.output == first.output
    missing = runner.invoke(main, ["shop-secret", "no-such-shop", "--db", db])
    assert missing.exit_code == 1 and "no shop 'no-such-shop'" in missing.output


def test_api_keys_are_shown_once_listed_without_the_key_and_revoked(tmp_path):
    db = f"sqlite:///{tmp_path}/k.db"
    runner = CliRunner()
    runner.invoke(main, ["gen", str(tmp_path / "ds"), "--seed", "3", "--conversations", "60"])
    assert runner.invoke(main, ["import", str(tmp_path / "ds"), "--db", db]).exit_code == 0
    shop_id = (
        (tmp_path / "ds" / "shops.jsonl").read_text(encoding="utf-8").split('"shop_id": "')[1].split('"')[0]
    )
    made = runner.invoke(main, ["api-key", "create", shop_id, "淘宝连接器", "--db", db])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    listed = runner.invoke(main, ["api-key", "list", shop_id, "--db", db])
    assert "淘宝连接器" in listed.output and key not in listed.output
    key_id = listed.output.split("\t")[0]
    assert runner.invoke(main, ["api-key", "revoke", shop_id, key_id, "--db", db]).exit_code == 0
    assert runner.invoke(main, ["api-key", "list", shop_id, "--db", db]).output == ""
    assert runner.invoke(main, ["api-key", "create", "no-such-shop", "x", "--db", db]).exit_code == 1
