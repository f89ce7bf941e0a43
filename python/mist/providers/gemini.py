"""Google Gemini (``google-genai``): traced methods, the usage reader, the stream accumulator, content.

Responses are ``GenerateContentResponse`` objects (snake_case) or their REST JSON (camelCase).
``usage_metadata.prompt_token_count`` includes ``cached_content_token_count``;
``candidates_token_count`` excludes ``thoughts_token_count``, which is added for ``tokens_out``.
A stream repeats the running usage on its chunks: the last one that carries it wins.
Request parameters are in ``config`` (a ``GenerateContentConfig`` or a dict), not in the kwargs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .common import StreamAccumulator, count, plain, text, view

# (resource path, method, span operation, handling): ``client.aio.models`` is the async twin;
# "stream" methods always return a stream.
METHODS = (
    (("models",), "generate_content", "generate_content", "plain"),
    (("models",), "generate_content_stream", "generate_content", "stream"),
    (("aio", "models"), "generate_content", "generate_content", "plain"),
    (("aio", "models"), "generate_content_stream", "generate_content", "stream"),
)

#: ``GenerateContentConfig`` fields under the kwarg names ``mist.instrument`` records
_CONFIG_PARAMS = ("temperature", "top_p", "top_k", "max_output_tokens", "seed", "candidate_count",
                  "stop_sequences", "presence_penalty", "frequency_penalty")


def is_client(client: Any) -> bool:
    """A ``google.genai`` client (``Client``, or the ``AsyncClient`` at ``client.aio``)."""
    for klass in type(client).__mro__:
        if (getattr(klass, "__module__", "") or "").startswith("google.genai") and klass.__name__ in ("Client", "AsyncClient"):
            return True
    return False


def client_provider(client: Any) -> str:
    """``gcp.vertex_ai`` for a Vertex AI client, else ``gcp.gemini``."""
    try:
        api = getattr(client, "_api_client", None)
        return "gcp.vertex_ai" if getattr(api, "vertexai", False) is True else "gcp.gemini"
    except Exception:
        return "gcp.gemini"


def request_model(kwargs: Dict[str, Any]) -> Any:
    """The requested model without its ``models/`` resource prefix."""
    model = kwargs.get("model")
    return model.rsplit("/", 1)[-1] if isinstance(model, str) else model


def request_options(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The sampling parameters of ``config``, as the kwargs ``request_params`` reads."""
    config = view(kwargs.get("config"))
    return {name: config.get(name) for name in _CONFIG_PARAMS}


def _either(fields: Any, snake: str, camel: str) -> Any:
    value = fields.get(snake)
    return fields.get(camel) if value is None else value


def read(o: Any) -> Optional[Dict[str, Any]]:
    """Attrs of a Gemini response (a view of it); None when it is not one (no usage metadata)."""
    meta = _either(o, "usage_metadata", "usageMetadata")
    if meta is None:
        return None
    meta = view(meta)
    attrs: Dict[str, Any] = {}
    model = text(_either(o, "model_version", "modelVersion")) or text(o.get("model"))
    if model:
        attrs["model"] = model
    attrs["provider"] = "gcp.gemini"
    prompt = count(_either(meta, "prompt_token_count", "promptTokenCount"))
    candidates = count(_either(meta, "candidates_token_count", "candidatesTokenCount"))
    thoughts = count(_either(meta, "thoughts_token_count", "thoughtsTokenCount"))
    if prompt is not None or candidates is not None or thoughts is not None:
        if prompt is not None:
            attrs["tokens_in"] = prompt
        if candidates is not None or thoughts is not None:
            attrs["tokens_out"] = (candidates or 0) + (thoughts or 0)
        cached = count(_either(meta, "cached_content_token_count", "cachedContentTokenCount"))
        if cached:
            attrs["tokens_cache_read"] = cached
        if thoughts:
            attrs["tokens_reasoning"] = thoughts
    candidates_list = o.get("candidates")
    if isinstance(candidates_list, (list, tuple)) and candidates_list:
        finish = text(_either(view(candidates_list[0]), "finish_reason", "finishReason"))
        if finish:
            attrs["finish_reason"] = finish
    return attrs


def _text(o: Any) -> Optional[str]:
    """The first candidate's text parts, joined."""
    candidates = o.get("candidates")
    if not isinstance(candidates, (list, tuple)) or not candidates:
        return None
    parts = view(view(candidates[0]).get("content")).get("parts")
    texts = [t for t in (view(p).get("text") for p in parts or ()) if isinstance(t, str)]
    return "".join(texts) if texts else None


class Accumulator(StreamAccumulator):
    """Usage (the last chunk's running totals), model, finish reason and text of a Gemini stream."""

    def feed(self, event: Any) -> bool:
        self.events += 1
        try:
            c = view(event)
            found = read(c)
            if found:
                self.merge(found)
            elif c.get("candidates") is not None:
                finish = self._finish(c)
                if finish:
                    self.found["finish_reason"] = finish
            if self.keep_text:
                self.add_text(_text(c))
        except Exception:
            pass
        return False

    @staticmethod
    def _finish(c: Any) -> Optional[str]:
        return text(_either(view(c.get("candidates")[0]), "finish_reason", "finishReason"))


def request_content(op: str, kwargs: Dict[str, Any]) -> Any:
    """The prompt as captured ``input``: ``contents`` (a string, parts or messages)."""
    return plain(kwargs.get("contents"))


def response_content(op: str, response: Any) -> Any:
    """The answer as captured ``output``: its text, or its function calls when it has no text."""
    r = view(response)
    answer = _text(r)
    if answer:
        return answer
    candidates = r.get("candidates")
    if not isinstance(candidates, (list, tuple)) or not candidates:
        return None
    calls: List[Any] = [view(view(p).get("function_call")) for p in
                        view(view(candidates[0]).get("content")).get("parts") or ()]
    return [{"name": f.get("name"), "arguments": plain(f.get("args"))} for f in calls if f.get("name")] or None
