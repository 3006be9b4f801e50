"""Webhook signature checks against the providers' documented vectors and keys made here."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from services.gateway import signatures as sig
from services.gateway.signatures import GhlKeys, SignatureError

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
TWILIO = json.loads((VECTORS / "twilio_signature.json").read_text())["vectors"]
SENDGRID = json.loads((VECTORS / "sendgrid_signed_webhook.json").read_text())
GHL = json.loads((VECTORS / "ghl_signed_webhook.json").read_text())


# --- HighLevel -------------------------------------------------------------------------------------


def ghl_keys(allow_legacy: bool = True) -> GhlKeys:
    return GhlKeys(
        ed25519=[sig.load_ed25519_key(GHL["ed25519"]["public_key_pem"])],
        rsa=[sig.load_rsa_key(GHL["rsa"]["public_key_pem"])],
        allow_legacy=allow_legacy,
    )


def test_ghl_ed25519_vector_verifies() -> None:
    raw = GHL["ed25519"]["payload"].encode()
    assert sig.verify_ghl(raw, GHL["ed25519"]["signature_base64"], None, ghl_keys()) == "ed25519"


def test_ghl_key_loads_from_raw_base64_too() -> None:
    raw_key = base64.b64encode(bytes.fromhex(GHL["ed25519"]["public_key_raw_hex"])).decode()
    keys = GhlKeys(ed25519=[sig.load_ed25519_key(raw_key)], rsa=[])
    sig.verify_ghl(GHL["ed25519"]["payload"].encode(), GHL["ed25519"]["signature_base64"], None, keys)


def test_ghl_legacy_rsa_vector_verifies_only_when_allowed() -> None:
    raw = GHL["rsa"]["payload"].encode()
    assert sig.verify_ghl(raw, None, GHL["rsa"]["signature_base64"], ghl_keys()) == "rsa"
    with pytest.raises(SignatureError, match="disabled"):
        sig.verify_ghl(raw, None, GHL["rsa"]["signature_base64"], ghl_keys(allow_legacy=False))


def test_ghl_published_default_keys_load() -> None:
    sig.load_ed25519_key(sig.GHL_ED25519_PUBLIC_KEY)
    assert sig.load_rsa_key(sig.GHL_RSA_PUBLIC_KEY).key_size == 4096


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw.replace(b"Jordan", b"Jordon"),  # one byte changed
        lambda raw: json.dumps(json.loads(raw), indent=2).encode(),  # re-serialised: same JSON, other bytes
        lambda raw: raw + b" ",
    ],
)
def test_ghl_tampered_body_is_rejected(mutate) -> None:
    raw = GHL["ed25519"]["payload"].encode()
    with pytest.raises(SignatureError):
        sig.verify_ghl(mutate(raw), GHL["ed25519"]["signature_base64"], None, ghl_keys())


def test_ghl_present_signature_never_falls_back_to_legacy() -> None:
    raw = GHL["rsa"]["payload"].encode()
    with pytest.raises(SignatureError):
        sig.verify_ghl(raw, base64.b64encode(b"x" * 64).decode(), GHL["rsa"]["signature_base64"], ghl_keys())


def test_ghl_wrong_key_and_missing_header_are_rejected() -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    raw = b'{"type":"ContactCreate"}'
    forged = base64.b64encode(other.sign(raw)).decode()
    with pytest.raises(SignatureError):
        sig.verify_ghl(raw, forged, None, ghl_keys())
    with pytest.raises(SignatureError, match="missing"):
        sig.verify_ghl(raw, None, None, ghl_keys())
    with pytest.raises(SignatureError, match="base64"):
        sig.verify_ghl(raw, "%%%not-base64", None, ghl_keys())


def test_ghl_generated_rsa_key_round_trip() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    raw = b'{"type":"ContactUpdate"}'
    signature = base64.b64encode(private.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
    keys = GhlKeys(ed25519=[], rsa=[sig.load_rsa_key(pem.decode())])
    assert sig.verify_ghl(raw, None, signature, keys) == "rsa"


def test_bad_configured_keys_fail_at_load() -> None:
    with pytest.raises(sig.KeyError_):
        sig.load_ed25519_key("not a key")
    with pytest.raises(sig.KeyError_):
        sig.load_ed25519_key(sig.GHL_RSA_PUBLIC_KEY)  # an RSA key where Ed25519 is wanted
    with pytest.raises(sig.KeyError_):
        sig.load_ecdsa_key(base64.b64encode(b"junk").decode())


# --- Twilio ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", [v for v in TWILIO if v["params"]], ids=lambda v: v["name"])
def test_twilio_documented_vectors(vector) -> None:
    sig.verify_twilio(
        vector["url"], vector["params"].items(), vector["expected_signature"], vector["auth_token"]
    )


def test_twilio_port_443_form_matches_either_url() -> None:
    vector = next(v for v in TWILIO if v["name"] == "twilio_python_sdk_port_443_variant")
    sig.verify_twilio(
        "https://mycompany.com/myapp.php?foo=1&bar=2",
        vector["params"].items(),
        vector["expected_signature"],
        vector["auth_token"],
    )


def test_twilio_behind_a_proxy_needs_the_public_url() -> None:
    vector = next(v for v in TWILIO if v["name"] == "made_up_token_inbound_sms")
    internal = vector["url"].replace("https://", "http://")
    with pytest.raises(SignatureError):
        sig.verify_twilio(
            internal, vector["params"].items(), vector["expected_signature"], vector["auth_token"]
        )


def test_twilio_tampered_param_wrong_token_missing_header() -> None:
    vector = TWILIO[0]
    params = dict(vector["params"], Digits="9999")
    with pytest.raises(SignatureError):
        sig.verify_twilio(vector["url"], params.items(), vector["expected_signature"], vector["auth_token"])
    with pytest.raises(SignatureError):
        sig.verify_twilio(
            vector["url"], vector["params"].items(), vector["expected_signature"], "other-token"
        )
    with pytest.raises(SignatureError, match="missing"):
        sig.verify_twilio(vector["url"], vector["params"].items(), None, vector["auth_token"])


def test_twilio_repeated_names_each_count() -> None:
    params = [("MediaUrl0", "b"), ("MediaUrl0", "a"), ("Body", "hi")]
    good = sig.twilio_signature("https://x.test/h", params, "tok")
    sig.verify_twilio("https://x.test/h", list(reversed(params)), good, "tok")
    with pytest.raises(SignatureError):
        sig.verify_twilio("https://x.test/h", params[1:], good, "tok")


# --- SendGrid --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["official", "generated"])
def test_sendgrid_vectors_verify(name: str) -> None:
    v = SENDGRID[name]
    key = sig.load_ecdsa_key(v["public_key_base64_der"])
    sig.verify_sendgrid(
        v["payload"].encode(), v["signature_base64_der"], v["timestamp"], key, now=float(v["timestamp"]) + 10
    )


def test_sendgrid_body_without_trailing_crlf_is_rejected() -> None:
    v = SENDGRID["official"]
    key = sig.load_ecdsa_key(v["public_key_base64_der"])
    with pytest.raises(SignatureError):
        sig.verify_sendgrid(
            v["payload"].rstrip("\r\n").encode(),
            v["signature_base64_der"],
            v["timestamp"],
            key,
            now=1600112502,
        )


def test_sendgrid_replayed_timestamp_is_rejected() -> None:
    v = SENDGRID["official"]
    key = sig.load_ecdsa_key(v["public_key_base64_der"])
    with pytest.raises(SignatureError, match="replay"):
        sig.verify_sendgrid(
            v["payload"].encode(),
            v["signature_base64_der"],
            v["timestamp"],
            key,
            now=float(v["timestamp"]) + 3600,
        )


def test_sendgrid_generated_key_wrong_key_and_changed_timestamp() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = sig.load_ecdsa_key(base64.b64encode(der).decode())
    raw, ts = b'[{"event":"open"}]\r\n', "1700000000"
    good = base64.b64encode(private.sign(ts.encode() + raw, ec.ECDSA(hashes.SHA256()))).decode()
    sig.verify_sendgrid(raw, good, ts, key, now=1700000000)
    with pytest.raises(SignatureError):
        sig.verify_sendgrid(raw, good, "1700000001", key, now=1700000000)
    other = sig.load_ecdsa_key(SENDGRID["official"]["public_key_base64_der"])
    with pytest.raises(SignatureError):
        sig.verify_sendgrid(raw, good, ts, other, now=1700000000)
    with pytest.raises(SignatureError, match="missing"):
        sig.verify_sendgrid(raw, None, ts, key, now=1700000000)
