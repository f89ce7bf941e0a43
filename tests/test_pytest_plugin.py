"""The pytest plugin (``mist_pytest``, the ``pytest11`` entry point ``mist``): its fixtures in a
user's test session, run by pytester in a fresh interpreter (so the session imports mist as a
user's would, on the backend this suite runs on: MIST_PURE_PYTHON is inherited)."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "mist_pytest")


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """The inner sessions load no installed plugin but ours (given with -p, as its pytest11 entry
    point does): some peers' plugins take half a minute to import. No MIST_SINK from this suite's
    conftest either: the inner sessions see mist's environment as a user's shell would."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("MIST_SINK", raising=False)


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_mist_spans_sees_the_spans_of_its_own_test_only(pytester):
    result = run(pytester, '''
        import mist

        def traced_work(n):
            for i in range(n):
                with mist.span("chat", model="gpt-4o-mini") as s:
                    s.usage(tokens_in=10 + i, tokens_out=2)
            with mist.span("tool.search"):
                pass

        def test_first(mist_spans):
            assert mist_spans() == []
            traced_work(2)
            spans = mist_spans()
            assert [s["operation"] for s in spans] == ["chat", "chat", "tool.search"]
            assert [s["attrs"]["tokens_in"] for s in mist_spans(operation="chat")] == [10, 11]
            assert "model" not in mist_spans("tool.search")[0].get("attrs", {})

        def test_second_starts_empty(mist_spans):
            assert mist_spans() == []
            traced_work(1)
            assert len(mist_spans("chat")) == 1
    ''')
    result.assert_outcomes(passed=2)


def test_mist_capture_gives_the_captured_object_and_restores_the_sinks(pytester):
    result = run(pytester, '''
        import json
        import mist
        from mist.core import runtime

        SINKS = []

        def test_capture(mist_capture):
            SINKS.append(list(runtime.writer.sinks))
            with mist.span("embed", model="text-embedding-3-small"):
                pass
            (span,) = mist_capture.spans()
            assert span["operation"] == "embed"
            (env,) = mist_capture.messages("trace.span")
            assert env["type"] == "trace.span" and env["payload"] == span
            assert json.loads(mist_capture.lines()[0])["payload"]["span_id"] == span["span_id"]
            assert mist_capture.alerts() == []
            mist_capture.clear()
            assert mist_capture.spans() == []

        def test_without_the_fixture_nothing_changes():
            # the sinks outside a capturing test are the ones configured before it
            assert list(runtime.writer.sinks) != SINKS[0]
    ''')
    result.assert_outcomes(passed=2)


def test_marker_passes_configure_options(pytester):
    result = run(pytester, '''
        import pytest
        import mist
        from mist.core import runtime

        pytestmark = pytest.mark.mist_capture(source="user-tests", capture_content=True)

        def ask():
            with mist.span("chat", model="gpt-4o-mini"):
                pass

        def test_module_marker(mist_capture):
            ask()
            assert runtime.settings.capture_content is True
            assert mist_capture.messages("trace.span")[0]["source"] == "user-tests"

        @pytest.mark.mist_capture(capture_content=False)
        def test_the_closest_marker_wins(mist_capture):
            ask()
            assert runtime.settings.capture_content is False
            assert mist_capture.messages("trace.span")[0]["source"] == "user-tests"

        def test_settings_restored_after_the_test():
            assert runtime.settings.capture_content is False
            assert runtime.settings.source != "user-tests"

        @pytest.mark.mist_capture("oops")
        def test_positional_options_are_an_error(mist_spans):
            pass
    ''', "-rE")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.mist_capture takes keyword options only*"])


def test_marker_is_registered(pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    result = run(pytester, '''
        import pytest

        @pytest.mark.mist_capture(capture_content=True)
        def test_marked(mist_spans):
            assert mist_spans() == []
    ''')
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess(*PLUGIN, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mist_capture(**options):*"])


def test_mist_testing_is_imported_only_when_a_fixture_is_used(pytester):
    result = run(pytester, '''
        import sys

        def test_plain():
            assert "mist.testing" not in sys.modules
            assert sys.modules["mist_pytest"]

        def test_uses_it(mist_spans):
            assert "mist.testing" in sys.modules
    ''')
    result.assert_outcomes(passed=2)


USERS_SETUP = {
    # a user's conftest that sets mist's environment before their code imports mist
    "conftest": "import os\nos.environ['MIST_SINK'] = 'null://'\n",
    "test_user": '''
import mist
from mist.core import runtime

def test_my_code_without_the_fixture():
    assert [type(s).__name__ for s in runtime.writer.sinks] == ["NullSink"]
    with mist.span("chat"):
        pass
    mist.flush()

def test_with_the_fixture(mist_spans):
    with mist.span("chat"):
        pass
    assert [s["operation"] for s in mist_spans()] == ["chat"]
''',
}


def test_the_plugin_leaves_a_users_setup_alone(pytester):
    """A top-level module: pytest loading it imports nothing of mist, so a user's conftest still
    configures mist through the environment, as without the plugin (inside the mist package,
    loading it would import and configure mist first: spans would go to ./mist-traces.jsonl)."""
    pytester.makepyfile(**USERS_SETUP)
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "mist-traces.jsonl").exists()


def test_the_entry_point_is_declared():
    from importlib.metadata import entry_points

    [ep] = [ep for ep in entry_points(group="pytest11") if ep.name == "mist"]
    assert ep.value == "mist_pytest"
