"""The gateway's webhook settings: keys parsed once, bad ones stop start-up with one line."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from services.gateway import signatures
from services.gateway.config import MIB, Config
from shared.config import ConfigError


def ed25519_pem(key: ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ed25519_raw_b64(key: ed25519.Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def signs_with(cfg: Config, key: ed25519.Ed25519PrivateKey) -> bool:
    body = b'{"type":"ContactCreate"}'
    try:
        signatures.verify_ghl(body, base64.b64encode(key.sign(body)).decode(), None, cfg.ghl_keys)
    except signatures.SignatureError:
        return False
    return True


def test_defaults_are_highlevels_published_keys_and_nothing_else_configured() -> None:
    cfg = Config.from_env({})
    published = signatures.load_ed25519_key(signatures.GHL_ED25519_PUBLIC_KEY)
    assert [k.public_bytes_raw() for k in cfg.ghl_keys.ed25519] == [published.public_bytes_raw()]
    assert len(cfg.ghl_keys.rsa) == 1
    assert cfg.ghl_keys.rsa[0].key_size == 4096
    assert cfg.ghl_keys.allow_legacy is True
    assert cfg.ghl_max_age_s == 7200
    assert cfg.max_body_bytes == 2 * MIB
    assert cfg.ingest_timeout_s == 5
    assert cfg.sendgrid_key is None
    assert cfg.sendgrid_max_age_s == 300
    assert cfg.twilio_auth_token == ""
    assert cfg.public_base_url == ""
    assert Config().ghl_keys.ed25519[0].public_bytes_raw() == published.public_bytes_raw()


@pytest.mark.parametrize("separator", ["\n\n", ",", "\n \n", ", "])
def test_several_ghl_keys_for_rotation(separator: str) -> None:
    old, new, stranger = (ed25519.Ed25519PrivateKey.generate() for _ in range(3))
    cfg = Config.from_env({"GHL_WEBHOOK_PUBLIC_KEY": ed25519_pem(old) + separator + ed25519_raw_b64(new)})
    assert len(cfg.ghl_keys.ed25519) == 2
    assert signs_with(cfg, old)
    assert signs_with(cfg, new)
    assert not signs_with(cfg, stranger)


def test_pem_with_escaped_newlines_from_an_env_file() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cfg = Config.from_env({"GHL_WEBHOOK_PUBLIC_KEY": ed25519_pem(key).replace("\n", "\\n")})
    assert signs_with(cfg, key)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"GHL_WEBHOOK_PUBLIC_KEY": "not a key"}, "GHL_WEBHOOK_PUBLIC_KEY"),
        ({"GHL_WEBHOOK_PUBLIC_KEY": signatures.GHL_RSA_PUBLIC_KEY}, "GHL_WEBHOOK_PUBLIC_KEY"),
        (
            {"GHL_WEBHOOK_LEGACY_PUBLIC_KEY": signatures.GHL_ED25519_PUBLIC_KEY},
            "GHL_WEBHOOK_LEGACY_PUBLIC_KEY",
        ),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": "bm90IGEga2V5"}, "SENDGRID_WEBHOOK_PUBLIC_KEY"),
        ({"GHL_WEBHOOK_PUBLIC_KEY": ","}, "GHL_WEBHOOK_PUBLIC_KEY"),
        ({"WEBHOOK_PUBLIC_BASE_URL": "hooks.example.com"}, "WEBHOOK_PUBLIC_BASE_URL"),
        ({"WEBHOOK_PUBLIC_BASE_URL": "https://hooks.example.com/?x=1"}, "WEBHOOK_PUBLIC_BASE_URL"),
        ({"GHL_WEBHOOK_ALLOW_LEGACY": "maybe"}, "GHL_WEBHOOK_ALLOW_LEGACY"),
        ({"GATEWAY_MAX_BODY_BYTES": "10"}, "GATEWAY_MAX_BODY_BYTES"),
        ({"GATEWAY_MAX_BODY_BYTES": str(4 * MIB)}, "GATEWAY_MAX_BODY_BYTES"),  # more than gRPC carries
        ({"GATEWAY_INGEST_TIMEOUT_S": "soon"}, "GATEWAY_INGEST_TIMEOUT_S"),
    ],
)
def test_bad_settings_stop_start_up_with_one_line_naming_the_variable(env, names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    message = str(caught.value)
    assert names in message
    assert "\n" not in message


def test_the_second_of_two_keys_is_named_when_it_is_bad() -> None:
    good = ed25519_pem(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ConfigError, match=r"GHL_WEBHOOK_PUBLIC_KEY \(key 2 of 2\)"):
        Config.from_env({"GHL_WEBHOOK_PUBLIC_KEY": good + "\n\nAAAA"})


def test_sendgrid_key_as_base64_der_or_pem_and_other_settings() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for text in (base64.b64encode(der).decode(), pem.decode()):
        cfg = Config.from_env(
            {
                "SENDGRID_WEBHOOK_PUBLIC_KEY": text,
                "SENDGRID_WEBHOOK_MAX_AGE_S": "60",
                "TWILIO_AUTH_TOKEN": "tok",
                "WEBHOOK_PUBLIC_BASE_URL": "https://hooks.example.com/lead/",
                "GHL_WEBHOOK_ALLOW_LEGACY": "false",
                "GHL_WEBHOOK_MAX_AGE_S": "600",
                "GATEWAY_MAX_BODY_BYTES": "4096",
                "GATEWAY_INGEST_TIMEOUT_S": "0.5",
            }
        )
        assert cfg.sendgrid_key is not None
        assert cfg.sendgrid_key.public_numbers() == public.public_numbers()
        assert cfg.sendgrid_max_age_s == 60
        assert cfg.public_base_url == "https://hooks.example.com/lead"  # trailing slash dropped
        assert cfg.ghl_keys.allow_legacy is False
        assert (cfg.ghl_max_age_s, cfg.max_body_bytes, cfg.ingest_timeout_s) == (600, 4096, 0.5)


def test_the_auth_token_never_shows_in_the_config_repr() -> None:
    assert "s3cret-token" not in repr(Config.from_env({"TWILIO_AUTH_TOKEN": "s3cret-token"}))
