"""Price table: bundled data, name resolution, cost arithmetic, overrides."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from mist.costs import table as pricing
from mist.errors import ConfigError
from mist.costs.table import PriceTable

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "python" / "mist" / "costs" / "prices.json"
SCHEMA = ROOT / "schema" / "prices.schema.json"


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable()


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=0)


# ---------------------------------------------------------------------- the bundled file


def test_bundled_table_validates_against_its_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(PRICES.read_text(encoding="utf-8"))
    errors = sorted(str(e.message) for e in jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert errors == []


def test_schema_rejects_a_bad_entry() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    bad = {
        "version": "2026-01-01",
        "models": {"m": {"provider": "x", "input": -1, "output": 1, "as_of": "2026-01-01", "source": "https://x"}},
    }
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    no_source = {"version": "2026-01-01", "models": {"m": {"provider": "x", "input": 1, "output": 1, "as_of": "2026-01-01"}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(no_source))


def test_bundled_table_covers_the_models_people_run() -> None:
    doc = json.loads(PRICES.read_text(encoding="utf-8"))
    models = doc["models"]
    assert len(models) >= 45
    for name, entry in models.items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["as_of"]), name
        assert entry["source"].startswith("https://"), name
        assert entry["input"] >= 0 and entry["output"] >= 0, name
        assert name == name.strip().lower(), name
    providers = {e["provider"] for e in models.values()}
    for needed in ("openai", "anthropic", "gcp.gemini", "mistral_ai", "deepseek", "x_ai", "groq", "together", "fireworks"):
        assert needed in providers, needed
    for target in doc["aliases"].values():
        assert target in models
    for required in (
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
        "gpt-5", "gpt-5-mini", "gpt-5-nano", "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet",
        "claude-sonnet-4", "claude-sonnet-4-5", "claude-opus-4", "claude-opus-4-1", "claude-haiku-4-5",
        "gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro",
        "deepseek-chat", "deepseek-reasoner", "grok-4",
    ):
        assert required in models, required


def test_table_loads_lazily_and_reports_version() -> None:
    t = PriceTable()
    assert t._loaded is False
    assert len(t) >= 45
    assert t._loaded is True
    assert t.version == json.loads(PRICES.read_text(encoding="utf-8"))["version"]


# ---------------------------------------------------------------------- name resolution

RESOLUTION = [
    # dated snapshots and channels
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    ("o3-mini-2025-01-31", "o3-mini"),
    ("o1-preview-2024-09-12", "o1"),
    ("gpt-5-2025-08-07", "gpt-5"),
    ("gpt-5-chat-latest", "gpt-5"),
    ("gpt-4-0613", "gpt-4"),
    ("gpt-4-1106-preview", "gpt-4-turbo"),
    ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("claude-sonnet-4-0", "claude-sonnet-4"),
    ("claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("claude-opus-4-20250514", "claude-opus-4"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
    ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
    ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
    ("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"),
    ("gemini-1.5-pro-002", "gemini-1.5-pro"),
    ("gemini-3-pro-preview", "gemini-3-pro"),
    ("grok-4-0709", "grok-4"),
    ("grok-3-mini-beta", "grok-3-mini"),
    ("mistral-large-2407", "mistral-large-2411"),
    ("codestral-2501", "codestral"),
    ("codestral-latest", "codestral"),
    ("ministral-8b-latest", "ministral-8b"),
    ("open-mistral-nemo-2407", "open-mistral-nemo"),
    ("command-r-plus-08-2024", "command-r-plus"),
    # case and whitespace
    ("GPT-4o", "gpt-4o"),
    ("  Claude-3-5-Sonnet-20241022 ", "claude-3-5-sonnet"),
    # provider and path prefixes
    ("openai/gpt-4o", "gpt-4o"),
    ("openai/gpt-oss-120b", "gpt-oss-120b"),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
    ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("google/gemini-2.5-flash", "gemini-2.5-flash"),
    ("projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("accounts/fireworks/models/llama-v3p1-8b-instruct", "llama-v3p1-8b-instruct"),
    ("accounts/fireworks/models/llama-v3p3-70b-instruct", "llama-v3p3-70b-instruct"),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama-3.3-70b-instruct-turbo"),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "meta-llama-3.1-8b-instruct-turbo"),
    ("Qwen/Qwen2.5-72B-Instruct-Turbo", "qwen2.5-72b-instruct-turbo"),
    ("deepseek-ai/DeepSeek-V3", "deepseek-v3"),
    ("qwen/qwen3-32b", "qwen3-32b"),
    ("moonshotai/kimi-k2-instruct-0905", "kimi-k2-instruct"),
    ("x-ai/grok-4.1-fast", "grok-4-1-fast-reasoning"),
    ("mistralai/mistral-large-2411", "mistral-large-2411"),
    # Bedrock and Vertex ids
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("amazon.nova-pro-v1:0", "nova-pro"),
    ("openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
    ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
    ("claude-sonnet-4@20250514", "claude-sonnet-4"),
    ("claude-opus-4-1@20250805", "claude-opus-4-1"),
    # longest prefix wins
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ("o4-mini-2025-04-16", "o4-mini"),
    ("claude-opus-4-5-20251101", "claude-opus-4-5"),
    ("claude-sonnet-5-5", "claude-sonnet-5-5"),
    ("claude-sonnet-5", "claude-sonnet-5"),
    ("claude-opus-5-5", "claude-opus-5-5"),
    ("gpt-5.5-2026-04-23", "gpt-5.5"),
    ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
    ("gpt-5.4-nano-2026-03-17", "gpt-5.4-nano"),
    ("gpt-6-sol", "gpt-6-sol"),
    ("openai/gpt-6.1-sol", "gpt-6.1-sol"),
]


@pytest.mark.parametrize("name,expected", RESOLUTION)
def test_resolution(table: PriceTable, name: str, expected: str) -> None:
    entry = table.resolve(name)
    assert entry is not None, name
    assert entry["model"] == expected


@pytest.mark.parametrize(
    "name",
    [
        "my-fine-tuned-model",
        "gpt-4o-audio-preview",  # a different product with different prices
        "gemini-2.5-flash-image-preview",
        "claude-opus-4-9",  # a future version must not borrow claude-opus-4's price
        "claude-sonnet-4-7",
        "gpt-5.2",
        "gpt-4o-mini-tts",
        "grok-4-1",
        "ft:gpt-4o-mini:org::abc123",
        "",
        "   ",
        "gpt",
        "-",
    ],
)
def test_unknown_models_resolve_to_none(table: PriceTable, name: str) -> None:
    assert table.resolve(name) is None
    assert table.cost(name, 1000, 1000) is None


def test_non_string_models_are_unpriced_not_errors(table: PriceTable) -> None:
    assert table.resolve(None) is None
    assert table.cost(None, 10, 10) is None
    assert table.cost(["gpt-4o"], 10, 10) is None  # unhashable
    assert table.cost(123, 10, 10) is None  # type: ignore[arg-type]


def test_resolve_fills_defaults_and_metadata(table: PriceTable) -> None:
    e = table.resolve("gpt-4o-2024-11-20")
    assert e == {
        "model": "gpt-4o",
        "provider": "openai",
        "input": 2.5,
        "output": 10.0,
        "cache_read": 1.25,
        "cache_write": 2.5,  # default: input
        "reasoning": 10.0,  # default: output
        "cache_write_1h": 2.5,  # default: cache_write
        "as_of": e["as_of"],
        "source": e["source"],
    }
    e["input"] = 99.0  # a copy: the table is unaffected
    assert table.resolve("gpt-4o")["input"] == 2.5


# ---------------------------------------------------------------------- cost arithmetic
# Each expected value is worked out by hand from the documented prices (USD per million tokens).


def test_cost_openai_chat_with_cached_and_reasoning_tokens(table: PriceTable) -> None:
    # o4-mini: input 1.10, cached input 0.275, output 4.40 (reasoning billed as output).
    # prompt_tokens=2006 of which cached_tokens=1920; completion_tokens=300 of which reasoning 192.
    # (2006-1920)*1.10 + 1920*0.275 + (300-192)*4.40 + 192*4.40 = 94.6 + 528 + 475.2 + 844.8 = 1942.6
    assert table.cost("o4-mini-2025-04-16", 2006, 300, cache_read=1920, reasoning=192) == approx(1942.6e-6)


def test_cost_gpt4o_mini_documented_snapshot(table: PriceTable) -> None:
    # gpt-4o-mini: 0.15 in, 0.075 cached, 0.60 out. 1117 prompt (1024 cached), 46 completion.
    # 93*0.15 + 1024*0.075 + 46*0.60 = 13.95 + 76.8 + 27.6 = 118.35
    assert table.cost("gpt-4o-mini-2024-07-18", 1117, 46, cache_read=1024) == approx(118.35e-6)


def test_cost_gpt5_family(table: PriceTable) -> None:
    # gpt-5: 1.25 in, 0.125 cached, 10 out. 50_000 in (40_000 cached), 8_000 out (6_000 reasoning).
    # 10_000*1.25 + 40_000*0.125 + 8_000*10 = 12_500 + 5_000 + 80_000 = 97_500
    assert table.cost("gpt-5", 50_000, 8_000, cache_read=40_000, reasoning=6_000) == approx(0.0975)
    # gpt-5-nano: 0.05 in, 0.005 cached, 0.40 out. 1M in (half cached), 1M out.
    # 500_000*0.05 + 500_000*0.005 + 1_000_000*0.40 = 25_000 + 2_500 + 400_000 = 427_500
    assert table.cost("gpt-5-nano", 1_000_000, 1_000_000, cache_read=500_000) == approx(0.4275)


def test_cost_openai_with_priced_cache_writes(table: PriceTable) -> None:
    # gpt-6-sol: 2 in, 0.20 cached, 2.50 cache write, 10 out. prompt 10_000 = 1_000 fresh + 6_000 read
    # + 3_000 written; 2_000 out of which 1_500 reasoning.
    # 1_000*2 + 6_000*0.20 + 3_000*2.50 + 2_000*10 = 2_000 + 1_200 + 7_500 + 20_000 = 30_700
    assert table.cost("gpt-6-sol", 10_000, 2_000, cache_read=6_000, cache_write=3_000, reasoning=1_500) == approx(0.0307)


def test_cost_anthropic_cache_write_then_read(table: PriceTable) -> None:
    # Anthropic's prompt caching example: input_tokens=21 (uncached), cache_creation=188086, output 393.
    # In OTel terms tokens_in = 21 + 188086 = 188107. Sonnet 4.5: 3 in, 3.75 cache write, 0.30 hit, 15 out.
    # 21*3 + 188086*3.75 + 393*15 = 63 + 705322.5 + 5895 = 711280.5
    assert table.cost("claude-sonnet-4-5-20250929", 188107, 393, cache_write=188086) == approx(0.7112805)
    # Second call reads the cache: 21*3 + 188086*0.30 + 393*15 = 63 + 56425.8 + 5895 = 62383.8
    assert table.cost("claude-sonnet-4-5-20250929", 188107, 393, cache_read=188086) == approx(0.0623838)


def test_cost_anthropic_one_hour_cache_writes_are_twice_input(table: PriceTable) -> None:
    # Sonnet 4.5: 3 in, 5-minute writes 3.75 (1.25x), 1-hour writes 6.00 (2x), 15 out.
    # 10_000 in: 1_000 fresh, 9_000 written, 4_000 of them for an hour; 100 out.
    # 1_000*3 + 5_000*3.75 + 4_000*6 + 100*15 = 3_000 + 18_750 + 24_000 + 1_500 = 47_250
    assert table.cost("claude-sonnet-4-5", 10_000, 100, cache_write=9_000, cache_write_1h=4_000) == approx(0.04725)
    assert table.resolve("claude-opus-4-5")["cache_write_1h"] == 10.0  # 2x its $5 input
    # all written for an hour; a 1h count above the total is capped at it
    assert table.cost("claude-sonnet-4-5", 9_000, 0, cache_write=9_000, cache_write_1h=99_999) == approx(0.054)
    # no 1h count: exactly the old price, bit for bit
    assert table.cost("claude-sonnet-4-5", 10_000, 100, cache_write=9_000, cache_write_1h=0) == \
        table.cost("claude-sonnet-4-5", 10_000, 100, cache_write=9_000)
    for name, entry in table.models().items():
        if entry.get("provider") == "anthropic":
            assert entry["cache_write_1h"] == approx(2 * entry["input"]), name


def test_span_cost_prices_one_hour_cache_writes(traced) -> None:
    import mist

    with mist.span("messages", model="claude-sonnet-4-5") as s:
        s.usage(tokens_in=10_000, tokens_out=100, cache_write=9_000, cache_write_1h=4_000)
    assert traced.spans()[0]["attrs"]["cost_usd"] == approx(0.04725)
    mist.emit_span("messages", 1, 2, model="claude-sonnet-4-5", tokens_in=10_000, tokens_out=100,
                   attrs={"tokens_cache_write": 9_000, "tokens_cache_write_1h": 4_000})
    assert traced.spans()[1]["attrs"]["cost_usd"] == approx(0.04725)


def test_cost_anthropic_haiku_and_opus(table: PriceTable) -> None:
    # Haiku 4.5: 1 in, 1.25 write, 0.10 hit, 5 out. 2095 in of which 2051 written, 503 out.
    # 44*1 + 2051*1.25 + 503*5 = 44 + 2563.75 + 2515 = 5122.75
    assert table.cost("claude-haiku-4-5", 2095, 503, cache_write=2051) == approx(5122.75e-6)
    # Opus 4.1: 15 in, 18.75 write, 1.50 hit, 75 out. 10_000 in: 6_000 read, 3_000 written; 1_000 out.
    # 1_000*15 + 6_000*1.5 + 3_000*18.75 + 1_000*75 = 15_000 + 9_000 + 56_250 + 75_000 = 155_250
    assert table.cost("claude-opus-4-1-20250805", 10_000, 1_000, cache_read=6_000, cache_write=3_000) == approx(0.15525)


def test_cost_gemini_with_cached_and_thinking_tokens(table: PriceTable) -> None:
    # gemini-2.5-flash: 0.30 in, 0.03 cached, 2.50 out (thinking billed as output).
    # promptTokenCount=12000 (10000 cached), candidates 500 + thoughts 1200 = 1700 out.
    # 2000*0.30 + 10000*0.03 + 1700*2.50 = 600 + 300 + 4250 = 5150
    assert table.cost("models/gemini-2.5-flash", 12_000, 1_700, cache_read=10_000, reasoning=1_200) == approx(5150e-6)
    # gemini-2.5-pro: 1.25 in, 0.125 cached, 10 out. 100_000 in, 50_000 out: 125_000 + 500_000
    assert table.cost("gemini-2.5-pro", 100_000, 50_000) == approx(0.625)


def test_cost_deepseek_cache_hit_and_miss(table: PriceTable) -> None:
    # deepseek-reasoner: miss 0.28, hit 0.028, out 0.42. 1500 prompt (1200 hit, 300 miss), 800 out.
    # 300*0.28 + 1200*0.028 + 800*0.42 = 84 + 33.6 + 336 = 453.6
    assert table.cost("deepseek-reasoner", 1500, 800, cache_read=1200, reasoning=600) == approx(453.6e-6)


def test_cost_open_weight_hosts_and_xai(table: PriceTable) -> None:
    # Groq llama-3.3-70b-versatile: 0.59 in, 0.79 out. 3000*0.59 + 1000*0.79 = 1770 + 790 = 2560
    assert table.cost("llama-3.3-70b-versatile", 3000, 1000) == approx(2560e-6)
    # Together Llama 3.3 70B Turbo: 0.88 both ways. 4000 * 0.88 = 3520
    assert table.cost("meta-llama/Llama-3.3-70B-Instruct-Turbo", 3000, 1000) == approx(3520e-6)
    # grok-4: 3 in, 0.75 cached, 15 out. 1000 in (800 cached), 100 out: 600 + 600 + 1500 = 2700
    assert table.cost("grok-4-0709", 1000, 100, cache_read=800) == approx(2700e-6)


def test_cost_without_cache_or_reasoning_is_plain_in_plus_out(table: PriceTable) -> None:
    # gpt-4.1: 2 in, 8 out. 1234*2 + 567*8 = 2468 + 4536 = 7004
    assert table.cost("gpt-4.1", 1234, 567) == approx(7004e-6)
    assert table.cost("gpt-4.1", 1234, 567, 0, 0, 0) == table.cost("gpt-4.1", 1234, 567)
    assert table.cost("gpt-4.1", 0, 0) == 0.0


def test_cost_none_counts_are_zero_and_inconsistent_subsets_clamp(table: PriceTable) -> None:
    # text-embedding-3-small: 0.02 in, no output. 10_000 * 0.02 = 200
    assert table.cost("text-embedding-3-small", 10_000, None) == approx(200e-6)
    assert table.cost("gpt-4.1", None, None) == 0.0
    # Anthropic-style exclusive counts passed by mistake: input 21 < cache read 1000. The uncached
    # part clamps to 0 instead of going negative: 1000*0.30 (sonnet-4 hit) = 300
    assert table.cost("claude-sonnet-4", 21, 0, cache_read=1000) == approx(300e-6)
    assert table.cost("o3", 0, 10, reasoning=50) == approx(50 * 8e-6)


def test_cost_is_cached_per_model_name(table: PriceTable) -> None:
    t = PriceTable()
    assert t.cost("gpt-4o-mini-2024-07-18", 1, 1) is not None
    assert "gpt-4o-mini-2024-07-18" in t._state[1]
    assert t.cost("no-such-model", 1, 1) is None
    assert t._state[1]["no-such-model"] is None  # misses are cached too


def test_module_level_helpers_use_default_table() -> None:
    pricing.set_default_table(None)
    try:
        t = pricing.default_table()
        assert pricing.default_table() is t
        assert pricing.cost("gpt-4.1", 1234, 567) == approx(7004e-6)
        assert pricing.resolve("gpt-4.1-2025-04-14")["model"] == "gpt-4.1"
        custom = PriceTable(bundled=False)
        custom.update({"only-model": {"input": 1, "output": 2}})
        pricing.set_default_table(custom)
        assert pricing.cost("gpt-4.1", 1, 1) is None
        assert pricing.cost("only-model", 1_000_000, 0) == approx(1.0)
    finally:
        pricing.set_default_table(None)


# ---------------------------------------------------------------------- overrides


def test_update_with_dict_adds_and_overrides() -> None:
    t = PriceTable()
    t.update(
        {
            "gpt-4o": {"input": 2.0},  # partial override keeps the rest
            "acme-large": {"input": 1.0, "output": 4.0, "reasoning": 6.0, "provider": "acme"},
            "my-azure-deployment": "gpt-4.1",  # alias
        }
    )
    e = t.resolve("gpt-4o-2024-08-06")
    assert (e["input"], e["output"], e["cache_read"]) == (2.0, 10.0, 1.25)
    assert e["source"] == "prices" and "as_of" not in e  # the bundled date no longer applies
    # acme-large with a distinct reasoning price: (1000-0)*1 + (500-300)*4 + 300*6 = 1000+800+1800 = 3600
    assert t.cost("acme-large", 1000, 500, reasoning=300) == approx(3600e-6)
    assert t.resolve("my-azure-deployment")["model"] == "gpt-4.1"
    assert t.cost("my-azure-deployment", 1234, 567) == approx(7004e-6)
    # the alias follows later overrides of its target
    t.update({"gpt-4.1": {"input": 1.0, "output": 1.0}})
    assert t.cost("my-azure-deployment", 1000, 1000) == approx(2000e-6)


def test_update_invalidates_the_cost_cache() -> None:
    t = PriceTable()
    assert t.cost("newco-1", 1, 1) is None
    t.update({"newco-1": {"input": 1, "output": 1}})
    assert t.cost("newco-1", 1_000_000, 0) == approx(1.0)
    assert t.cost("newco-1-2026-01-01", 1_000_000, 0) == approx(1.0)


def test_update_from_file_in_bundled_shape(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "version": "2030-01-01",
                "models": {"Internal-LLM": {"input": 0.5, "output": 1.5, "cache_read": 0.05}},
                "aliases": {"internal-llm-prod": "internal-llm"},
            }
        ),
        encoding="utf-8",
    )
    t = PriceTable()
    t.update(str(path))
    assert t.version == "2030-01-01"
    # 1000 in (800 cached), 100 out: 200*0.5 + 800*0.05 + 100*1.5 = 100 + 40 + 150 = 290
    assert t.cost("internal-llm-prod", 1000, 100, cache_read=800) == approx(290e-6)
    assert t.cost("gpt-4.1", 1234, 567) == approx(7004e-6)  # bundled entries kept


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"m": {"input": "cheap", "output": 1}}', "'input' must be a number"),
        ('{"m": {"input": -1, "output": 1}}', "non-negative"),
        ('{"m": {"input": 1}}', "'output' price is required"),
        ('{"m": {"input": 1, "output": 1, "ouput": 2}}', "unknown field"),
        ('{"m": 5}', "expected an object"),
        ('{"models": {}, "aliases": {"a": "no-such-model"}}', "does not know"),
        ('{"models": {}, "extra": 1}', "unknown top-level"),
    ],
)
def test_bad_price_file_raises_one_line_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    t = PriceTable()
    before = t.cost("gpt-4.1", 1234, 567)
    with pytest.raises(ConfigError) as info:
        t.update(path, option="MIST_PRICES")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("MIST_PRICES file ") and "bad.json" in text
    assert message in text
    assert t.cost("gpt-4.1", 1234, 567) == before  # table unchanged after a failed update


def test_bad_update_argument_and_unreadable_file(tmp_path: Path) -> None:
    t = PriceTable()
    with pytest.raises(ConfigError, match=r"^prices: expected a dict"):
        t.update(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^prices file .*nope\.json.*cannot read"):
        t.update(str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="'input' must be a finite"):
        t.update({"m": {"input": float("nan"), "output": 1}})
    with pytest.raises(ConfigError, match="must be a number"):
        t.update({"m": {"input": True, "output": 1}})


def test_alias_to_an_alias_and_an_alias_replacing_a_model() -> None:
    t = PriceTable()
    t.update({"prod-chat": "my-deploy", "my-deploy": "gpt-4.1"})
    assert t.resolve("prod-chat")["model"] == "gpt-4.1"
    t.update({"gpt-4o": "gpt-4.1"})  # a user may redirect a known name
    assert t.resolve("gpt-4o-2024-08-06")["model"] == "gpt-4.1"


def test_provider_specific_override() -> None:
    t = PriceTable()
    t.update({"together/gpt-oss-120b": {"input": 0.15, "output": 0.60}})
    groq = t.resolve("openai/gpt-oss-120b")
    assert groq["model"] == "gpt-oss-120b"
    assert t.resolve("openai/gpt-oss-120b", provider="together")["model"] == "together/gpt-oss-120b"
    assert t.resolve("openai/gpt-oss-120b", provider="fireworks")["model"] == "gpt-oss-120b"
    assert t.cost("openai/gpt-oss-120b", 1_000_000, 0, provider="together") == approx(0.15)


def test_concurrent_cost_and_update_never_raise() -> None:
    t = PriceTable()
    errors: list = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                v = t.cost("gpt-4o-mini-2024-07-18", 1000, 100)
                assert v is not None and v > 0
                t.cost("custom-%d" % (len(errors)), 1, 1)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for th in threads:
        th.start()
    for i in range(50):
        t.update({f"custom-{i}": {"input": 1, "output": 1}})
    stop.set()
    for th in threads:
        th.join()
    assert errors == []
    assert t.cost("custom-49", 1_000_000, 0) == approx(1.0)


def test_mist_prices_from_the_environment(tmp_path: Path, monkeypatch, traced) -> None:
    """MIST_PRICES (read by mist.config when configure() is called) adds prices to the table."""
    import mist

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"env-model": {"input": 3, "output": 3}}), encoding="utf-8")
    monkeypatch.setenv("MIST_PRICES", str(path))
    mist.configure(traced.sink)
    with mist.span("chat", model="env-model") as s:
        s.usage(tokens_in=1_000_000, tokens_out=0)
    assert traced.spans()[0]["attrs"]["cost_usd"] == approx(3.0)
    monkeypatch.setenv("MIST_PRICES", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match=r"^MIST_PRICES file .*missing\.json"):
        mist.configure(traced.sink)
    monkeypatch.delenv("MIST_PRICES")  # before the capture restores the previous configuration
