"""End to end through mist.configure: spans reach a loopback MIST receiver unchanged."""
import mist
from mist.sinks.memory import MemorySink
from receivers import Receiver


def test_batch_none_delivers_every_envelope_byte_for_byte(tmp_path):
    local = MemorySink()
    with Receiver() as rx:
        mist.configure([f"{rx.url}?batch=none&spool={tmp_path}", local], flush_interval=0.05)
        try:
            for i in range(300):
                mist.emit_span("chat", i, i + 1, model="gpt-4o-mini", tokens_in=i, tokens_out=1)
            assert mist.flush(15)
            assert rx.wait_items(300, timeout=15)
            assert sorted(rx.lines()) == sorted(local.lines())
            per = mist.stats()["sinks"]
            assert all(v["dropped"] == 0 for v in per.values()), per
        finally:
            mist.configure("memory://")
