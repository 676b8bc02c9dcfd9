from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text

from fireline.vault.sealing import Place, Vault, VaultError
from tests.vault.conftest import SealedRows, new_key, vault_of

HERE = Place("connections", "PAAAA", "api_key")


@pytest.fixture
def vault() -> Vault:
    return vault_of(new_key())


def _forms(plaintext: bytes) -> list[bytes]:
    text_form = plaintext.decode()
    return [
        plaintext,
        base64.b64encode(plaintext).rstrip(b"="),
        base64.urlsafe_b64encode(plaintext).rstrip(b"="),
        binascii.hexlify(plaintext),
        binascii.hexlify(plaintext).upper(),
        quote(text_form, safe="").encode(),
        quote_plus(text_form).encode(),
    ]


async def test_cry1_raw_row_holds_no_plaintext_nor_its_encodings(
    sealed_rows: SealedRows,
) -> None:
    vault = vault_of(new_key())
    await sealed_rows.insert(vault, 3)
    async with sealed_rows.database.session() as session:
        rows = (await session.execute(text("SELECT * FROM vault_test_rows"))).all()
    dump = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for row in rows for value in row
    )
    dump += repr(rows).encode()
    assert len(rows) == 3
    for plaintext in sealed_rows.plaintexts.values():
        for form in _forms(plaintext):
            assert form not in dump
    assert await sealed_rows.read_all(vault) == sealed_rows.plaintexts


def test_cry1_blob_layout_has_version_key_id_and_nonce(vault: Vault) -> None:
    wrapped = vault.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = vault.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    assert blob[0] == 1 and wrapped[0] == 1
    assert wrapped[1:9] == vault.active_key.key_id.encode()
    # version + key id + 96-bit nonce + ciphertext + 128-bit tag
    assert len(blob) == 1 + 8 + 12 + len(b"s3cret-value") + 16
    assert len(wrapped) == 1 + 8 + 12 + 32 + 16


def test_cry2_flipping_any_byte_of_the_blob_fails_loudly(vault: Vault) -> None:
    wrapped = vault.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = vault.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(VaultError):
            vault.unseal(bytes(tampered), wrapped_key=wrapped, place=HERE)
    for broken in (b"", blob[:1], blob[:21], blob[:-1], blob + b"\x00"):
        with pytest.raises(VaultError):
            vault.unseal(broken, wrapped_key=wrapped, place=HERE)
    assert vault.unseal(blob, wrapped_key=wrapped, place=HERE) == b"s3cret-value"


def test_cry2_flipping_any_byte_of_the_wrapped_key_fails_loudly(vault: Vault) -> None:
    wrapped = vault.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = vault.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    for index in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[index] ^= 0x80
        with pytest.raises(VaultError):
            vault.unseal(blob, wrapped_key=bytes(tampered), place=HERE)
        with pytest.raises(VaultError):
            vault.rewrap(bytes(tampered), table=HERE.table, row_id=HERE.row_id)


def test_cry3_blob_moved_to_another_row_fails(vault: Vault) -> None:
    key_a = vault.new_data_key(table="connections", row_id="PA")
    key_b = vault.new_data_key(table="connections", row_id="PB")
    at_a = Place("connections", "PA", "api_key")
    blob = vault.seal(b"secret-of-a", wrapped_key=key_a, place=at_a)
    with pytest.raises(VaultError):  # A's blob copied into B
        vault.unseal(blob, wrapped_key=key_b, place=Place("connections", "PB", "api_key"))
    with pytest.raises(VaultError):  # A's blob and A's data key both copied into B
        vault.unseal(blob, wrapped_key=key_a, place=Place("connections", "PB", "api_key"))


@pytest.mark.parametrize(
    "elsewhere",
    [Place("connections", "PA", "password"), Place("other_table", "PA", "api_key")],
)
def test_cry3_blob_moved_to_another_field_or_table_fails(
    vault: Vault, elsewhere: Place
) -> None:
    wrapped = vault.new_data_key(table="connections", row_id="PA")
    blob = vault.seal(b"secret-of-a", wrapped_key=wrapped,
                      place=Place("connections", "PA", "api_key"))
    with pytest.raises(VaultError):
        vault.unseal(blob, wrapped_key=wrapped, place=elsewhere)


def test_cry3_place_parts_cannot_be_shifted(vault: Vault) -> None:
    # ("ab", "c") and ("a", "bc") must not share associated data.
    wrapped = vault.new_data_key(table="t", row_id="ab")
    blob = vault.seal(b"secret", wrapped_key=wrapped, place=Place("t", "ab", "c"))
    with pytest.raises(VaultError):
        vault.unseal(blob, wrapped_key=wrapped, place=Place("t", "a", "bc"))


def test_cry4_sealing_the_same_value_twice_differs(vault: Vault) -> None:
    wrapped = vault.new_data_key(table=HERE.table, row_id=HERE.row_id)
    first = vault.seal(b"same-value", wrapped_key=wrapped, place=HERE)
    second = vault.seal(b"same-value", wrapped_key=wrapped, place=HERE)
    assert first != second
    assert first[9:21] != second[9:21]
    assert vault.unseal(first, wrapped_key=wrapped, place=HERE) == b"same-value"
    assert vault.unseal(second, wrapped_key=wrapped, place=HERE) == b"same-value"
    assert vault.new_data_key(table="t", row_id="r") != vault.new_data_key(table="t", row_id="r")


def test_wrong_master_key_fails_loudly() -> None:
    sealer = vault_of(new_key())
    wrapped = sealer.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = sealer.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    stranger = vault_of(new_key())
    with pytest.raises(VaultError, match="unknown master key"):
        stranger.unseal(blob, wrapped_key=wrapped, place=HERE)
    with pytest.raises(VaultError, match="unknown master key"):
        stranger.rewrap(wrapped, table=HERE.table, row_id=HERE.row_id)


def test_forged_key_id_with_another_key_fails_loudly() -> None:
    # Same key id, other material: authentication, not the id, decides.
    real, other = new_key(), new_key()
    sealer = vault_of(real)
    wrapped = sealer.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = sealer.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    impostor = vault_of(type(other)(key_id=real.key_id, material=other.material))
    with pytest.raises(VaultError):
        impostor.unseal(blob, wrapped_key=wrapped, place=HERE)


def test_cry7_rewrap_moves_a_data_key_to_the_active_key() -> None:
    old, new = new_key(), new_key()
    before = vault_of(old)
    wrapped = before.new_data_key(table=HERE.table, row_id=HERE.row_id)
    blob = before.seal(b"s3cret-value", wrapped_key=wrapped, place=HERE)
    during = vault_of(new, old)
    assert during.needs_rewrap(wrapped)
    rewrapped = during.rewrap(wrapped, table=HERE.table, row_id=HERE.row_id)
    assert not during.needs_rewrap(rewrapped)
    assert rewrapped[1:9] == new.key_id.encode()
    after = vault_of(new)
    assert after.unseal(blob, wrapped_key=rewrapped, place=HERE) == b"s3cret-value"
    with pytest.raises(VaultError):  # bound to its row, like the blobs it opens
        during.rewrap(wrapped, table=HERE.table, row_id="POTHER")


def test_unseal_many_rows_beyond_the_cache(vault: Vault) -> None:
    places = [Place("t", f"P{i}", "f") for i in range(5000)]
    sealed = []
    for at in places:
        wrapped = vault.new_data_key(table=at.table, row_id=at.row_id)
        value = secrets.token_bytes(8)
        sealed.append((at, wrapped, vault.seal(value, wrapped_key=wrapped, place=at), value))
    for at, wrapped, blob, value in sealed:
        assert vault.unseal(blob, wrapped_key=wrapped, place=at) == value
