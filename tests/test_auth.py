"""login, whoami, logout: the token store, Gancio's answers, and no secret in any output."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from fake_gancio import FakeGancio

from gancio_site import auth
from gancio_site.api import GancioClient
from gancio_site.cli import main
from gancio_site.errors import AuthError, DataError

PASSWORD = "admin-pass"


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), input=input, env=env)


def login(fake: FakeGancio, email: str = "admin@example.org", password: str = PASSWORD):
    return run(
        "login", "--instance", fake.url, "-u", email, "--password-stdin", input=password + "\n"
    )


def stored() -> dict:
    return json.loads(auth.store_path().read_text())["tokens"]


# ---------------------------------------------------------------- the token store


def test_token_file_is_private_in_a_private_folder(monkeypatch):
    os.umask(0o000)  # even a careless umask gives nobody else access
    try:
        path = auth.save_token("https://G.example.org/", "t" * 32, "me@example.org")
    finally:
        os.umask(0o022)
    assert path == Path(os.environ["XDG_CONFIG_HOME"]) / "gancio-site" / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temporary left
    credentials = auth.load_credentials("https://g.example.org")
    assert credentials is not None and credentials.token == "t" * 32
    assert credentials.source == str(path) and "t" * 32 not in repr(credentials)


def test_store_without_xdg_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert auth.store_path() == tmp_path / ".config" / "gancio-site" / "tokens.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")  # the XDG spec says so
    assert auth.store_path() == tmp_path / ".config" / "gancio-site" / "tokens.json"


def test_tokens_are_kept_per_instance_and_gancio_token_wins(monkeypatch):
    auth.save_token("https://a.example.org", "token-a", "a@example.org")
    auth.save_token("https://b.example.org", "token-b", "b@example.org")
    assert auth.load_credentials("https://a.example.org").token == "token-a"
    assert auth.load_credentials("https://c.example.org") is None
    monkeypatch.setenv("GANCIO_TOKEN", "from-ci")
    credentials = auth.load_credentials("https://a.example.org")
    assert (credentials.token, credentials.source) == ("from-ci", "GANCIO_TOKEN")
    assert auth.forget_token("https://a.example.org") is not None
    assert auth.forget_token("https://a.example.org") is None
    assert list(stored()) == ["https://b.example.org"]


def test_a_broken_store_is_reported(tmp_path):
    path = auth.store_path()
    path.parent.mkdir(parents=True)
    path.write_text("{nope")
    with pytest.raises(DataError, match=r"cannot read the token store .*tokens\.json"):
        auth.load_credentials("https://a.example.org")


# ---------------------------------------------------------------- login


def test_login_stores_the_token(gancio):
    result = login(gancio)
    assert result.exit_code == 0, result.output
    path = auth.store_path()
    assert result.stdout == (
        f"Logged in to {gancio.url} as admin@example.org (admin).\nToken saved in {path}\n"
    )
    token = stored()[gancio.url]["token"]
    assert gancio.tokens[token] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    form = gancio.requests[0]
    assert (form.method, form.path) == ("POST", "/oauth/login")
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form.body == (
        b"username=admin%40example.org&password=admin-pass&client_id=self&grant_type=password"
    )
    assert "Authorization" not in form.headers


def test_login_asks_for_email_and_hidden_password_on_a_terminal(gancio):
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "gancio_site.cli", "login", "--instance", gancio.url],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    for prompt, answer in ((b"Email: ", b"alice@example.org\n"), (b"Password: ", b"alice-pass\n")):
        while prompt not in seen:
            seen += os.read(primary, 1024)
        os.write(primary, answer)
    assert process.wait(timeout=60) == 0
    with contextlib.suppress(OSError):  # the terminal is gone once the process is
        while chunk := os.read(primary, 1024):
            seen += chunk
    os.close(primary)
    assert b"alice@example.org" in seen and b"Logged in to" in seen
    assert b"alice-pass" not in seen  # the terminal did not echo it
    assert stored()[gancio.url]["email"] == "alice@example.org"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "username: no terminal to ask it on; give it with -u or GANCIO_USERNAME"),
        (
            ["-u", "alice@example.org"],
            "password: no terminal to ask it on; give it with --password-stdin or GANCIO_PASSWORD",
        ),
    ],
)
def test_login_without_a_terminal_says_how_to_give_what_it_would_ask(gancio, args, message):
    result = run("login", "--instance", gancio.url, *args, input="")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert gancio.requests == []


def test_login_from_environment_variables(gancio):
    env = {"GANCIO_USERNAME": "alice@example.org", "GANCIO_PASSWORD": "alice-pass"}
    result = run("login", "--instance", gancio.url, env=env)
    assert result.exit_code == 0, result.output
    assert "as alice@example.org (user)" in result.stdout


def test_password_is_never_an_argument(gancio):
    result = run("login", "--instance", gancio.url, "--password", PASSWORD)
    assert result.exit_code == 2
    assert "No such option '--password'" in result.stderr


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("admin@example.org", "wrong"),
        ("nobody@example.org", "x"),
        ("carol@example.org", "carol-pass"),  # registered, never enabled (a14)
    ],
)
def test_a_rejected_login_is_one_line_and_exit_1(gancio, email, password):
    result = login(gancio, email, password)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {gancio.url} rejected the email or password (or the account is not active yet)\n"
    )
    assert not auth.store_path().exists()


def test_login_falls_back_to_gancio_2_login(gancio):
    gancio.login_api = "2.0"
    result = login(gancio)
    assert result.exit_code == 0, result.output
    first, second = gancio.requests[0], gancio.requests[1]
    assert (first.path, second.path) == ("/oauth/login", "/api/login/token")
    assert second.headers["Content-Type"] == "application/json"
    assert json.loads(second.body) == {"email": "admin@example.org", "password": PASSWORD}
    assert gancio.tokens[stored()[gancio.url]["token"]] == 1


def test_login_needs_an_instance(tmp_path):
    result = run("login", "-u", "a@example.org", "--password-stdin", input="x\n")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: instance: missing; set it in gancio-site.toml, GANCIO_INSTANCE or --instance\n"
    )


# ---------------------------------------------------------------- whoami and logout


def test_whoami_without_a_token_says_to_log_in(gancio):
    result = run("whoami", "--instance", gancio.url)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: not logged in to {gancio.url}; run `gancio-site login` (or set GANCIO_TOKEN)\n"
    )
    assert gancio.requests == []


def test_whoami_shows_the_account(gancio):
    login(gancio, "alice@example.org", "alice-pass")
    result = run("whoami", "--instance", gancio.url)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"alice@example.org on {gancio.url}: user, active (token from {auth.store_path()})\n"
    )
    assert gancio.requests[-1].headers["Authorization"].startswith("Bearer ")


def test_whoami_with_a_rejected_token_says_to_log_in_again(gancio):
    login(gancio)
    gancio.users[0]["is_active"] = False  # a disabled account's token: 403 like anonymous
    result = run("whoami", "--instance", gancio.url)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {gancio.url} rejected the token from {auth.store_path()} (Gancio answers 403 to "
        "unknown tokens and disabled accounts); run `gancio-site login` (or set GANCIO_TOKEN)\n"
    )


def test_whoami_with_gancio_token(gancio):
    token = gancio.token_for("admin@example.org")
    result = run("whoami", "--instance", gancio.url, env={"GANCIO_TOKEN": token})
    assert (
        result.stdout
        == f"admin@example.org on {gancio.url}: admin, active (token from GANCIO_TOKEN)\n"
    )
    result = run("whoami", "--instance", gancio.url, env={"GANCIO_TOKEN": "garbage"})
    assert result.exit_code == 1 and "rejected the token from GANCIO_TOKEN" in result.stderr
    # Logging in would change nothing while the variable is set: the hint says so.
    assert result.stderr.endswith("; check GANCIO_TOKEN, or unset it to use the stored token\n")


def test_logout_forgets_the_token(gancio):
    login(gancio)
    result = run("logout", "--instance", gancio.url)
    assert result.stdout == f"Logged out of {gancio.url}: token removed from {auth.store_path()}.\n"
    assert stored() == {}
    result = run("logout", "--instance", gancio.url)
    assert result.stdout == f"Not logged in to {gancio.url}; nothing to forget.\n"
    assert run("whoami", "--instance", gancio.url).exit_code == 1


def test_instance_from_the_config_file(gancio, tmp_path):
    (tmp_path / "gancio-site.toml").write_text(f'instance = "{gancio.url}/"\n')
    result = run("login", "-u", "admin@example.org", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert run("whoami").stdout.startswith(f"admin@example.org on {gancio.url}: admin")


# ---------------------------------------------------------------- no secret anywhere


def test_no_password_or_token_in_any_output_or_log(gancio, caplog):
    caplog.set_level(logging.DEBUG)
    gancio.fail("/api/user", status=503, body="busy")  # a retry warning is logged too
    outputs = []
    for result in (
        login(gancio),
        run("whoami", "--instance", gancio.url),
        login(gancio, password="wrong-secret-pw"),
        run("logout", "--instance", gancio.url),
        run("whoami", "--instance", gancio.url),
    ):
        outputs += [result.stdout, result.stderr]
    token = next(iter(gancio.tokens))
    text = "\n".join(outputs) + "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying" in text  # the warning was there to be checked
    for secret in (PASSWORD, "wrong-secret-pw", token):
        assert secret not in text


def test_client_errors_carry_no_secret(gancio):
    client = GancioClient(gancio.url, retries=0)
    with pytest.raises(AuthError) as caught:
        client.login("admin@example.org", "s3cret-typo")
    assert "s3cret-typo" not in str(caught.value) and "admin@example.org" not in str(caught.value)
    client.token = "deadbeef" * 4
    with pytest.raises(AuthError) as caught:
        client.user()
    assert "deadbeef" not in str(caught.value)
    assert "run `gancio-site login`" in str(caught.value)


# ---------------------------------------------------------------- the fake, as captured


def test_fake_oauth_login_answers_like_gancio(gancio):
    url = gancio.url + "/oauth/login"
    good = {"username": "admin@example.org", "password": PASSWORD, "client_id": "self"}
    ok = requests.post(url, data={**good, "grant_type": "password"}, timeout=5)
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"  # a04
    assert set(ok.json()) == {"access_token", "refresh_token", "username", "token_type"}
    assert len(ok.json()["access_token"]) == 32
    as_json = requests.post(url, json={**good, "grant_type": "password"}, timeout=5)  # a03d
    assert (as_json.status_code, as_json.text) == (401, "Unauthorized")
    assert "Content-Type" not in as_json.headers
    no_client = requests.post(url, data={"username": "a", "password": "b"}, timeout=5)  # a03c
    assert no_client.status_code == 401
    wrong = requests.post(url, data={**good, "password": "x", "grant_type": "password"}, timeout=5)
    assert wrong.status_code == 403 and wrong.json() == {  # a03
        "error": "invalid_grant",
        "error_description": "Invalid resource owner credentials",
    }
    assert requests.post(gancio.url + "/api/login/token", json={}, timeout=5).status_code == 404


def test_fake_treats_unknown_tokens_as_anonymous(gancio):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Token abc"}):
        answer = requests.get(gancio.url + "/api/user", headers=headers, timeout=5)
        assert (answer.status_code, answer.text) == (403, "Forbidden")  # a06, a07, a07b
        mine = requests.get(gancio.url + "/api/events/mine", headers=headers, timeout=5)
        assert mine.status_code == 403
    token = gancio.token_for("alice@example.org")
    me = requests.get(gancio.url + "/api/user", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "user" and me.json()["is_admin"] is False  # a16
    assert "password" not in me.json()
