"""The password hasher of the code: Argon2id at argon2-cffi's defaults (RFC 9106's low-memory
profile), a wrong or malformed hash never raising, and weaker hashes flagged for re-hashing.

The rest of the suite hashes at Argon2's cheapest (tests/conftest.py); these tests put the
code's own hasher back.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from ils.domain import passwords
from ils.domain.passwords import hash_password, needs_rehash, verify_password


@pytest.fixture
def real_hashing(monkeypatch: pytest.MonkeyPatch, real_password_hasher: PasswordHasher) -> None:
    cheap = passwords._hasher
    monkeypatch.setattr(passwords, "_hasher", real_password_hasher)
    assert cheap is not real_password_hasher


@pytest.mark.usefixtures("real_hashing")
def test_passwords_are_hashed_with_argon2id_at_its_default_cost():
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapler")
    assert not verify_password("not a hash", "correct horse battery staple")
    assert not needs_rehash(stored)


@pytest.mark.usefixtures("real_hashing")
def test_a_cheaper_hash_is_flagged_for_rehashing_at_the_next_login():
    weak = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("passphrase " * 2)
    assert verify_password(weak, "passphrase " * 2)
    assert needs_rehash(weak)
