"""`mist bench`'s file row: which of its passes is reported."""
from mist.cli.bench import pick_file_run


def _pass(rate, lines, n=1_000_000, rss=10 << 20):
    return {"spans_per_s": rate, "lines": lines, "n": n, "rss_growth": rss}


def test_a_pass_that_lost_spans_is_listed_not_reported():
    runs = [_pass(700_000, 1_000_000), _pass(800_000, 196_523, rss=68 << 20), _pass(600_000, 1_000_000)]
    r = pick_file_run(runs)
    assert r["file"]["spans_per_s"] == 700_000 and r["file"]["lines"] == 1_000_000
    assert r["file_runs"] == [700_000, 600_000]
    assert r["file_lossy"] == [(196_523, 1_000_000)]
    assert r["file_rss_growth"] == 68 << 20  # the worst pass's memory is still shown


def test_only_lossy_or_failed_passes():
    assert pick_file_run([_pass(5, 1, n=2)])["file"]["lines"] == 1
    failed = {"error": "boom"}
    assert pick_file_run([failed])["file"] is failed
