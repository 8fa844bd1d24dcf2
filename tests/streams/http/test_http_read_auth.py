"""Reads can require CRMKPI_READ_TOKEN or a user of CRMKPI_READ_USERS_FILE."""

from __future__ import annotations

import base64
from pathlib import Path

import bcrypt
import pytest

from streams.errors import ConfigError
from streams.http import auth
from streams.http.auth import read_users
from tests.http_servers import AT_RISK, READ_PATHS, fetch, listening, settings_with

TOKEN = "read-token-0123456789"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", [p for p in READ_PATHS if p != "/readyz"])
async def test_reads_without_credentials_get_401_with_a_basic_challenge(path: str) -> None:
    settings = settings_with(read_token=TOKEN)
    async with listening(settings):
        status, headers, body = await fetch(f"http://127.0.0.1:{settings.http_port}{path}")
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Basic")
        assert AT_RISK.encode() not in body


@pytest.mark.parametrize(
    "credentials",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        basic("prometheus", TOKEN),
        basic("anyone", TOKEN),
        {"Cookie": f"crmkpi_read_token={TOKEN}"},
    ],
)
async def test_the_token_opens_reads_as_bearer_basic_password_or_cookie(
    credentials: dict[str, str],
) -> None:
    settings = settings_with(read_token=TOKEN)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}"
        for path in ("/kpis", "/metrics", "/"):
            assert (await fetch(url + path, headers=credentials))[0] == 200
        status, _, body = await fetch(f"{url}/kpis", headers=credentials)
        assert status == 200 and AT_RISK.encode() in body  # churn-risk ids: authorised only


@pytest.mark.parametrize(
    "credentials",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        basic("prometheus", "wrong"),
        {"Authorization": "Basic !!!not-base64"},
        {"Cookie": "crmkpi_read_token=wrong"},
        {"Authorization": f"Token {TOKEN}"},
    ],
)
async def test_wrong_credentials_get_401(credentials: dict[str, str]) -> None:
    settings = settings_with(read_token=TOKEN)
    async with listening(settings):
        status, _, body = await fetch(
            f"http://127.0.0.1:{settings.http_port}/kpis", headers=credentials
        )
        assert status == 401 and AT_RISK.encode() not in body


def bcrypt_hash(password: str) -> str:
    """What `htpasswd -nbB` writes (at the lowest cost, to keep the tests fast)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


async def test_users_of_the_users_file_read_with_their_own_password(tmp_path: Path) -> None:
    users = tmp_path / "readers"
    alice = bcrypt_hash("alice-password")
    users.write_text(f"# who may read\nalice:{alice}\n\nbob:bob:with:colons\n")
    settings = settings_with(read_users_file=users)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}/kpis"
        assert (await fetch(url, headers=basic("alice", "alice-password")))[0] == 200
        assert (await fetch(url, headers=basic("alice", "alice-password")))[0] == 200
        assert (await fetch(url, headers=basic("alice", alice)))[0] == 401  # not the hash itself
        assert (await fetch(url, headers=basic("bob", "bob:with:colons")))[0] == 200
        assert (await fetch(url, headers=basic("alice", "bob:with:colons")))[0] == 401
        assert (await fetch(url, headers=basic("carol", "alice-password")))[0] == 401
        assert (await fetch(url))[0] == 401


async def test_a_user_s_password_is_checked_by_bcrypt_once_while_it_stays_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real_check = auth._bcrypt_matches

    def counted(password: str, hashed: str) -> bool:
        checks.append(password)
        return real_check(password, hashed)

    monkeypatch.setattr(auth, "_bcrypt_matches", counted)
    users = tmp_path / "readers"
    users.write_text(f"alice:{bcrypt_hash('alice-password')}\n")
    settings = settings_with(read_users_file=users)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}/kpis"
        for _ in range(3):
            assert (await fetch(url, headers=basic("alice", "alice-password")))[0] == 200
        assert (await fetch(url, headers=basic("alice", "guess")))[0] == 401
        assert (await fetch(url, headers=basic("alice", "alice-password")))[0] == 200
    assert checks == ["alice-password", "guess"]


def test_a_users_file_with_another_hash_scheme_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "readers"
    users.write_text("alice:$apr1$salt$hash\n")  # htpasswd's default MD5: too weak
    with pytest.raises(ConfigError, match="line 1: only bcrypt hashes are supported"):
        read_users(users)


async def test_probes_stay_open_and_say_no_more_than_what_is_wrong() -> None:
    settings = settings_with(read_token=TOKEN)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}"
        assert (await fetch(f"{url}/healthz"))[0] == 200
        status, _, body = await fetch(f"{url}/readyz")
        assert status == 503
        assert body == b'{"status":"not ready","problems":["broker unreachable"]}'


async def test_the_page_s_event_stream_carries_the_browser_s_basic_credentials() -> None:
    settings = settings_with(read_token=TOKEN)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}/events"
        status, headers, first = await fetch(url, headers=basic("viewer", TOKEN))
        assert status == 200 and headers["Content-Type"] == "text/event-stream"
        assert first.startswith(b"retry:")
