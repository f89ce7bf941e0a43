"""Redaction of secrets and size caps on captured content."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from mist.errors import ConfigError
from mist.redact import BUILTIN_KINDS, Redactor

OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-" * 4
OPENAI_LEGACY_KEY = "sk-" + "T3BlbkFJ" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"
OPENAI_SVC_KEY = "sk-svcacct-" + "x1Y2z3W4v5U6t7S8r9Q0p1O2n3M4l5K6"
ANTHROPIC_KEY = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe_-" * 3 + "AA"
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_TEMP_ID = "ASIAY34FZKBOKMUTVV7A"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GH_PAT = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
GH_OAUTH = "gho_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GH_APP = "ghs_" + "Aa0Bb1Cc2Dd3Ee4Ff5Gg6Hh7Ii8Jj9Kk0Ll1M"
GH_FINE = "github_pat_11ABCDEFG0" + "123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
GOOGLE_KEY = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
SLACK = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOp"

SECRETS = [OPENAI_KEY, OPENAI_LEGACY_KEY, OPENAI_SVC_KEY, ANTHROPIC_KEY, AWS_ID, AWS_TEMP_ID, GH_PAT, GH_OAUTH,
           GH_APP, GH_FINE, GOOGLE_KEY, SLACK, "alice.smith+llm@example.co.uk"]
# Secrets recognisable only by what precedes them (a bare 40-character AWS secret or JWT is just text).
IN_CONTEXT = {AWS_SECRET: f"aws_secret_access_key={AWS_SECRET}", JWT: f"Authorization: Bearer {JWT}"}


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor()


BUILTIN_CASES = [
    (f"use {OPENAI_KEY} here", "use [REDACTED:openai-key] here"),
    (f"OPENAI_API_KEY={OPENAI_LEGACY_KEY}", "OPENAI_API_KEY=[REDACTED:openai-key]"),
    (f"svc {OPENAI_SVC_KEY}.", "svc [REDACTED:openai-key]."),
    (f"anthropic: {ANTHROPIC_KEY}", "anthropic: [REDACTED:anthropic-key]"),
    (f"id {AWS_ID} temp {AWS_TEMP_ID}", "id [REDACTED:aws-access-key-id] temp [REDACTED:aws-access-key-id]"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [REDACTED:aws-secret-key]"),
    (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', '{"SecretAccessKey": "[REDACTED:aws-secret-key]"}'),
    (f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n", "export AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]\n"),
    (f"tokens {GH_PAT} {GH_OAUTH} {GH_APP}", "tokens [REDACTED:github-token] [REDACTED:github-token] [REDACTED:github-token]"),
    (f"pat={GH_FINE}", "pat=[REDACTED:github-token]"),
    (f"curl -H 'Authorization: Bearer {JWT}' https://api.x", "curl -H 'Authorization: [REDACTED:authorization]' https://api.x"),
    (f'{{"authorization": "Basic dXNlcjpwYXNz"}}', '{"authorization": "[REDACTED:authorization]"}'),
    (f"x-api-key: {ANTHROPIC_KEY}", "x-api-key: [REDACTED:anthropic-key]"),
    ("x-api-key: 0123abcd-plain-value", "x-api-key: [REDACTED:authorization]"),
    (f"Authorization: Bearer {OPENAI_KEY}", "Authorization: Bearer [REDACTED:openai-key]"),
    ("MY_SERVICE_API_KEY=plainvalue", "MY_SERVICE_API_KEY=[REDACTED:authorization]"),
    ("?api_key=abc123def456&q=1", "?api_key=[REDACTED:authorization]&q=1"),
    (f"send Bearer {JWT} now", "send Bearer [REDACTED:bearer-token] now"),
    (f"token bearer abcdef1234567890XYZ", "token bearer [REDACTED:bearer-token]"),
    (f"google {GOOGLE_KEY}", "google [REDACTED:google-api-key]"),
    (f"slack {SLACK}", "slack [REDACTED:slack-token]"),
    ("write to alice.smith+llm@example.co.uk or bob@test.io.", "write to [REDACTED:email] or [REDACTED:email]."),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----\nafter",
        "key:\n[REDACTED:private-key]\nafter",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (cut off)", "[REDACTED:private-key]"),
]


@pytest.mark.parametrize("text,expected", BUILTIN_CASES)
def test_builtin_patterns(r: Redactor, text: str, expected: str) -> None:
    assert r.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the bearer of bad news",
        "Bearer tokens are described in RFC 6750",
        "use sk-learn for that; task-force-alpha",
        "model claude-3-5-sonnet-v2@20241022 on vertex",
        "max_tokens=100, temperature=0.2",
        "AKIA is a prefix, AKIAshort is not a key",
        "Authorization required before use",
        "email me at support (at) example dot com",
        "ghp_short",
        "",
    ],
)
def test_ordinary_text_is_untouched(r: Redactor, text: str) -> None:
    assert r.redact(text) == text


def test_every_secret_kind_is_covered() -> None:
    # Each builtin kind appears in at least one case above; keep the list and the patterns in step.
    cases = json.dumps(BUILTIN_CASES)
    for kind in BUILTIN_KINDS:
        if kind != "secret-field":
            assert f"[REDACTED:{kind}]" in cases, kind


def test_nested_structures_redact_values_not_keys(r: Redactor) -> None:
    value = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": f"You may use {OPENAI_KEY}."},
            {"role": "user", "content": ["mail bob@example.com", ("tuple", AWS_ID)]},
        ],
        "headers": {"Authorization": f"Bearer {JWT}", "X-Trace": "abc"},
        "api_key": "totally-not-shaped-like-a-key",
        "password": "hunter2",
        "max_tokens": 100,
        "temperature": 0.2,
        "stream": True,
        "stop": None,
        OPENAI_KEY[:10]: "keys are kept as written",
    }
    original = json.loads(json.dumps(value, default=list))
    out = r.redact(value)
    assert out == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You may use [REDACTED:openai-key]."},
            {"role": "user", "content": ["mail [REDACTED:email]", ["tuple", "[REDACTED:aws-access-key-id]"]]},
        ],
        "headers": {"Authorization": "[REDACTED:secret-field]", "X-Trace": "abc"},
        "api_key": "[REDACTED:secret-field]",
        "password": "[REDACTED:secret-field]",
        "max_tokens": 100,
        "temperature": 0.2,
        "stream": True,
        "stop": None,
        OPENAI_KEY[:10]: "keys are kept as written",
    }
    assert json.loads(json.dumps(value, default=list)) == original  # input not mutated
    json.dumps(out)  # JSON-able


def test_no_secret_survives_anywhere(r: Redactor) -> None:
    texts = SECRETS + list(IN_CONTEXT.values())
    payload = {"a": [{"b": s, "c": f"prefix {s} suffix"} for s in texts], "t": tuple(texts), "s": " | ".join(texts)}
    dumped = json.dumps(r.redact(payload))
    for secret in SECRETS + list(IN_CONTEXT):
        assert secret not in dumped
        assert secret[-12:] not in dumped  # no tail of it either


def test_strings_are_capped_with_an_exact_marker() -> None:
    r = Redactor(max_chars=100)
    assert r.redact("x" * 100) == "x" * 100
    assert r.redact("x" * 101) == "x" * 100 + "…[truncated 1 chars]"
    assert r.redact("y" * 10_000) == "y" * 100 + "…[truncated 9900 chars]"
    assert r.redact(["z" * 150]) == ["z" * 100 + "…[truncated 50 chars]"]
    long_key = "k" * 150
    assert list(r.redact({long_key: 1})) == ["k" * 100 + "…[truncated 50 chars]"]


def test_a_secret_cut_at_the_cap_leaks_nothing() -> None:
    r = Redactor(max_chars=50)
    for offset in range(0, 60, 3):
        text = "a" * offset + " " + OPENAI_KEY + " tail"
        out = r.redact(text)
        body = OPENAI_KEY[len("sk-proj-"):]
        leaks = [body[i:i + 6] for i in range(len(body) - 6) if body[i:i + 6] in out]
        assert leaks == [], (offset, out)
        assert len(out.split("…")[0]) <= 50


def test_huge_inputs_are_bounded() -> None:
    r = Redactor(max_chars=1000, max_items=50, max_depth=8, max_total_chars=5000)
    big = "q" * 5_000_000 + "@" + "w" * 5_000_000  # also no quadratic email scan
    out = r.redact(big)
    assert out == "q" * 1000 + f"…[truncated {10_000_001 - 1000} chars]"
    assert r.redact(set(range(1000)))[-1] == "…[truncated 950 items]"
    assert r.redact(set(range(10))) == list(range(10))
    many = r.redact(list(range(1_000_000)))
    assert many[:50] == list(range(50)) and many[50] == "…[truncated 999950 items]" and len(many) == 51
    wide = r.redact({f"k{i}": i for i in range(1000)})
    assert len(wide) == 51 and wide["…"] == "[truncated 950 items]"
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    out = r.redact(deep)
    depth = 0
    while isinstance(out, list):
        out, depth = out[0], depth + 1
    assert depth == 8 and out == "…[truncated: nested too deep]"
    # The total character budget: 20 strings of 1000 chars, only 5000 chars kept in all.
    total = r.redact(["s" * 1000] * 20)
    kept = sum(len(x.split("…")[0]) for x in total)
    assert kept == 5000
    assert total[-1] == "…[truncated 1000 chars]"


def test_extra_patterns_and_callable() -> None:
    r = Redactor(extra=[r"ACME-\d{6}", re.compile(r"(?i)project\s+falcon"), lambda s: s.replace("internal", "[internal]")])
    assert r.redact("ticket ACME-123456 for Project Falcon, internal only, key " + OPENAI_KEY) == (
        "ticket [REDACTED:custom] for [REDACTED:custom], [internal] only, key [REDACTED:openai-key]"
    )
    single = Redactor(extra=r"\bSECRET\b")
    assert single.redact({"x": ["a SECRET b"]}) == {"x": ["a [REDACTED:custom] b"]}
    only_callable = Redactor(extra=str.upper)
    assert only_callable.redact("abc") == "ABC"


def test_callable_output_is_capped() -> None:
    r = Redactor(extra=lambda s: s * 100, max_chars=10)
    assert r.redact("abc") == "abcabcabca…[truncated 290 chars]"


def test_a_raising_or_misbehaving_callable_is_isolated() -> None:
    def boom(s: str) -> str:
        raise ValueError("bad redactor")

    r = Redactor(extra=boom)
    assert r.redact({"content": "hello", "n": 3}) == {"content": "[REDACTED:redactor-error]", "n": 3}
    assert r.redact_text("hello") == "[REDACTED:redactor-error]"
    assert Redactor(extra=lambda s: None).redact("x") == "[REDACTED:redactor-error]"  # type: ignore[return-value]


@pytest.mark.parametrize(
    "extra,message",
    [("(unclosed", "invalid regular expression"), (42, "expected a regex"), ([r"ok", 3.5], "each entry must be"),
     (re.compile(rb"bytes"), "str pattern")],
)
def test_bad_extra_is_a_config_error(extra: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Redactor(extra=extra)
    assert str(info.value).startswith("redact: ")
    with pytest.raises(ConfigError, match="max_chars"):
        Redactor(max_chars=0)


def test_other_values_become_json_able(r: Redactor) -> None:
    class Dumpable:
        def model_dump(self) -> dict:
            return {"role": "user", "content": f"key {ANTHROPIC_KEY}"}

    class BadStr:
        def __str__(self) -> str:
            raise RuntimeError("no")

    class BadDump:
        def model_dump(self) -> dict:
            raise RuntimeError("no")

        def __str__(self) -> str:
            return "BadDump()"

    out = r.redact(
        {
            1: "int key",
            ("a", 1): "tuple key",
            "bytes": f"raw {OPENAI_KEY}".encode(),
            "nan": float("nan"),
            "inf": float("inf"),
            "set": {3, 1, 2},
            "obj": Dumpable(),
            "bad": BadStr(),
            "baddump": BadDump(),
            "ns": SimpleNamespace(x=1),
            "gen": (i for i in range(3)),
        }
    )
    assert out["1"] == "int key" and out["('a', 1)"] == "tuple key"
    assert out["bytes"] == "raw [REDACTED:openai-key]"
    assert out["nan"] == "nan" and out["inf"] == "inf"
    assert out["set"] == [1, 2, 3]
    assert out["obj"] == {"role": "user", "content": "key [REDACTED:anthropic-key]"}
    assert out["bad"] == "[REDACTED:redactor-error]"
    assert out["baddump"] == "BadDump()"
    assert out["ns"] == "namespace(x=1)"
    assert out["gen"].startswith("<generator object")
    json.dumps(out, allow_nan=False)


def test_upstream_truncation_marker_is_folded_in() -> None:
    r = Redactor(max_chars=5)
    assert r.redact("abcdefgh…[truncated 10 chars]") == "abcde…[truncated 13 chars]"
    assert Redactor(max_chars=100).redact("abc…[truncated 7 chars]") == "abc…[truncated 7 chars]"


def test_redactor_is_callable_and_never_raises() -> None:
    r = Redactor()
    assert r("mail x@y.io") == "mail [REDACTED:email]"

    class Evil(dict):
        def items(self) -> Any:  # type: ignore[override]
            raise RuntimeError("no items")

    assert r.redact(Evil(a=1)) == "[REDACTED:redactor-error]"
