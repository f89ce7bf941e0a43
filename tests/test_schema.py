import json
import subprocess
import sys

import jsonschema
import pytest

from conftest import ROOT, compat_lines

SCHEMA = json.loads((ROOT / "schema" / "mttp.schema.json").read_text())


def test_schema_passes_the_metaschema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", ["mist-go-canonical.jsonl", "mist-go-vectors.jsonl"])
def test_every_mist_go_line_is_valid(name):
    v = jsonschema.Draft202012Validator(SCHEMA)
    for line in compat_lines(name):
        errors = [e.message for e in v.iter_errors(json.loads(line))]
        assert errors == [], line[:200]


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda m: m["payload"].update(status="maybe"), "status"),
        (lambda m: m["payload"].pop("trace_id"), "trace_id"),
        (lambda m: m.update(id="XYZ"), "id"),
        (lambda m: m["payload"]["attrs"].update(tokens_in=-3), "tokens_in"),
        (lambda m: m["payload"].update(start_ns=2**63), "start_ns"),
    ],
)
def test_schema_rejects_bad_spans(mutate, where):
    msg = next(m for m in map(json.loads, compat_lines()) if m["type"] == "trace.span" and m["payload"].get("attrs"))
    mutate(msg)
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(msg))
    assert errors and any(where in "/".join(map(str, e.absolute_path)) or where in e.message for e in errors)


def test_codegen_is_fresh():
    r = subprocess.run([sys.executable, "-m", "codegen", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_new_field_reaches_both_encoders(tmp_path, monkeypatch):
    """Adding a payload field to the schema changes the generated Python and Rust encoders."""
    sys.path.insert(0, str(ROOT))
    from codegen import model, python_out, rust_out

    schema = json.loads(json.dumps(SCHEMA))
    schema["$defs"]["TraceAlert"]["properties"]["runbook_url"] = {"type": "string", "x-omitempty": "absent"}
    py, rs = python_out.generate(schema), rust_out.generate(schema)
    assert "runbook_url" in py and "runbook_url" in rs
    assert "runbook_url" not in python_out.generate(model.load())
