"""Settings refuse insecure secrets and carry every credential and TLS option (issue 9, items 3 and 4)."""

from __future__ import annotations

import ssl

import psycopg
import pytest
from pydantic import ValidationError

from config.settings import PUBLIC_DEV_JWT_SECRET, Settings
from storage.cassandra import auth_provider, build_cluster, ssl_context
from storage.redis_store import FailFastSSLConnection, build_redis, build_sync_redis, connection_kwargs

GOOD_SECRET = "f" * 64


@pytest.fixture()
def no_jwt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STRIDE_JWT_SECRET", "STRIDE_DEV_INSECURE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "secret, reason",
    [
        (None, "is not set"),
        ("", "is not set"),
        (PUBLIC_DEV_JWT_SECRET, "publicly known"),  # the default Stride used to fall back to silently
        ("0123456789abcdef0123456789abcde", "too short"),  # 31 characters
    ],
)
def test_settings_refuse_a_missing_public_or_short_jwt_secret(
    no_jwt_env: None, secret: str | None, reason: str
) -> None:
    kwargs = {} if secret is None else {"jwt_secret": secret}
    with pytest.raises(ValidationError) as err:
        Settings(**kwargs)
    assert "STRIDE_JWT_SECRET" in str(err.value) and reason in str(err.value)
    assert "STRIDE_DEV_INSECURE" in str(err.value)  # the message names the way out


def test_settings_refuse_the_public_default_from_the_environment(
    no_jwt_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIDE_JWT_SECRET", PUBLIC_DEV_JWT_SECRET)
    with pytest.raises(ValidationError, match="publicly known"):
        Settings()


def test_development_flag_allows_an_insecure_secret_loudly(no_jwt_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIDE_DEV_INSECURE", "1")
    with pytest.warns(UserWarning, match="STRIDE_DEV_INSECURE"):
        settings = Settings()
    assert settings.jwt_secret.get_secret_value() == PUBLIC_DEV_JWT_SECRET
    with pytest.warns(UserWarning):
        assert Settings(jwt_secret="short").jwt_secret.get_secret_value() == "short"


def test_a_long_random_secret_is_accepted_silently(no_jwt_env: None, recwarn: pytest.WarningsRecorder) -> None:
    assert Settings(jwt_secret=GOOD_SECRET).jwt_secret.get_secret_value() == GOOD_SECRET
    assert not [w for w in recwarn if "JWT" in str(w.message)]


def test_no_credential_has_a_public_default(no_jwt_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PG_PASSWORD",
        "PG_MIGRATION_PASSWORD",
        "REDIS_PASSWORD",
        "CASSANDRA_PASSWORD",
        "CASSANDRA_MIGRATION_PASSWORD",
    ):
        monkeypatch.delenv(f"STRIDE_{name}", raising=False)
    settings = Settings(jwt_secret=GOOD_SECRET)
    for field in (
        "pg_password",
        "pg_migration_password",
        "redis_password",
        "cassandra_password",
        "cassandra_migration_password",
    ):
        assert getattr(settings, field).get_secret_value() == "", field
    # the app's roles are not the schema owners
    assert settings.pg_user != settings.pg_migration_user
    assert settings.cassandra_username != settings.cassandra_migration_username


def test_postgres_dsn_carries_role_password_and_tls_and_quotes_safely() -> None:
    settings = Settings(
        jwt_secret=GOOD_SECRET,
        pg_password="p a'ss\\word",
        pg_sslmode="verify-full",
        pg_sslrootcert="/etc/ssl/pg-ca.pem",
        pg_migration_password="owner pw",
    )
    app = psycopg.conninfo.conninfo_to_dict(settings.pg_dsn("db1"))
    assert app == {
        "host": "127.0.0.1",
        "port": "55432",
        "user": "stride_app",
        "password": "p a'ss\\word",
        "dbname": "db1",
        "connect_timeout": "2",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/pg-ca.pem",
    }
    owner = psycopg.conninfo.conninfo_to_dict(settings.pg_dsn(owner=True))
    assert (owner["user"], owner["password"], owner["dbname"]) == ("stride", "owner pw", "stride")
    with pytest.raises(ValidationError, match="STRIDE_PG_SSLMODE"):
        Settings(jwt_secret=GOOD_SECRET, pg_sslmode="verify")


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert [str(n) for n in Settings(jwt_secret=GOOD_SECRET).trusted_proxy_networks()] == ["127.0.0.1/32", "::1/128"]
    assert Settings(jwt_secret=GOOD_SECRET, trusted_proxies="").trusted_proxy_networks() == []
    with pytest.raises(ValidationError, match="STRIDE_TRUSTED_PROXIES"):
        Settings(jwt_secret=GOOD_SECRET, trusted_proxies="127.0.0.1,ingress.internal")


def test_redis_clients_log_in_and_verify_tls_from_settings(tmp_path) -> None:
    plain = Settings(jwt_secret=GOOD_SECRET, redis_username="stride", redis_password="pw")
    kwargs = connection_kwargs(plain)
    assert (kwargs["username"], kwargs["password"]) == ("stride", "pw")
    assert not any(k.startswith("ssl") for k in kwargs)
    tls = Settings(
        jwt_secret=GOOD_SECRET,
        redis_ssl=True,
        redis_ssl_ca_path=str(tmp_path / "ca.pem"),
        redis_username="",
        redis_password="pw",
    )
    client = build_redis(tls)
    pool_kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is FailFastSSLConnection
    assert pool_kwargs["username"] is None  # Redis's default user (requirepass)
    assert (pool_kwargs["ssl_ca_certs"], pool_kwargs["ssl_cert_reqs"], pool_kwargs["ssl_check_hostname"]) == (
        str(tmp_path / "ca.pem"),
        "required",
        True,
    )
    sync = build_sync_redis(tls).connection_pool
    assert sync.connection_kwargs["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert sync.connection_class.__name__ == "SSLConnection"


def test_cassandra_logs_in_as_app_or_owner_and_verifies_tls() -> None:
    settings = Settings(jwt_secret=GOOD_SECRET, cassandra_password="app-pw", cassandra_migration_password="own-pw")
    app, owner = auth_provider(settings), auth_provider(settings, owner=True)
    assert (app.username, app.password) == ("stride_app", "app-pw")
    assert (owner.username, owner.password) == ("stride_owner", "own-pw")
    assert ssl_context(settings) is None and build_cluster(settings).ssl_context is None
    tls = settings.model_copy(update={"cassandra_ssl": True})
    context = ssl_context(tls)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    cluster = build_cluster(tls, owner=True)
    assert cluster.ssl_context is not None and cluster.auth_provider.username == "stride_owner"
