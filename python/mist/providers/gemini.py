"""Gemini ``GenerateContentResponse`` (google-genai objects, snake_case) or its REST JSON (camelCase).

``usage_metadata.prompt_token_count`` includes ``cached_content_token_count``;
``candidates_token_count`` excludes ``thoughts_token_count``, which is added for ``tokens_out``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from .common import count, text, view


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
