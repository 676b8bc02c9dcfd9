from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from fireline.core.errors import SettingsError
from fireline.settings import Settings
from fireline.vault.keyring import load_keyring


def _key(length: int) -> str:
    return base64.b64encode(os.urandom(length)).decode()


@pytest.mark.parametrize("length", [16, 31, 33])
def test_cry6_wrong_key_length_is_rejected(length: int) -> None:
    settings = Settings.from_env({"FIRELINE_MASTER_KEY": _key(length)})
    with pytest.raises(SettingsError, match="32 bytes"):
        load_keyring(settings)


def test_cry6_non_base64_key_is_rejected() -> None:
    settings = Settings.from_env({"FIRELINE_MASTER_KEY": "not base64!!"})
    with pytest.raises(SettingsError, match="base64"):
        load_keyring(settings)


def test_cry5_keys_from_env_newest_first() -> None:
    newest, older = _key(32), _key(32)
    keyring = load_keyring(Settings.from_env({"FIRELINE_MASTER_KEY": f"{newest},{older}"}))
    assert keyring.active.material == base64.b64decode(newest)
    assert len(keyring.keys) == 2
    assert keyring.get(keyring.keys[1].key_id) == keyring.keys[1]
    assert base64.b64decode(newest).hex() not in repr(keyring)


def test_cry5_key_file_created_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path)})
    keyring = load_keyring(settings, create=True)
    path = tmp_path / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(settings).active == keyring.active


def test_cry5_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="No master key"):
        load_keyring(Settings.from_env({"FIRELINE_HOME": str(tmp_path)}))


def test_cry5_refuses_a_key_file_readable_by_others(tmp_path: Path) -> None:
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path)})
    load_keyring(settings, create=True)
    (tmp_path / "master.key").chmod(0o644)
    with pytest.raises(SettingsError, match="0600"):
        load_keyring(settings)
