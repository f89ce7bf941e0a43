"""Framework integrations: agent frameworks' own callbacks and tracing hooks turned into mist spans.

Each is a small module that imports its framework, so none is loaded by ``import mist``; import the
one you use:

=====================================  ====================================================
module                                 what it traces
=====================================  ====================================================
:mod:`mist.integrations.langchain`     ``MistCallbackHandler``: chains, chat models and LLMs
                                       (tokens, cost), tools and retrievers, as nested spans
:mod:`mist.integrations.openai_agents` ``MistTracingProcessor`` for the OpenAI Agents SDK:
                                       agent, LLM (generation / response), tool, handoff and
                                       guardrail spans
:mod:`mist.integrations.litellm`       ``MistLogger``, a LiteLLM ``CustomLogger`` callback
=====================================  ====================================================

``google-genai`` clients are traced by :func:`mist.instrument` itself.

The spans they write are ordinary mist spans: LLM steps carry ``model``, ``provider``, token counts
and ``cost_usd`` from the price table, count against the enclosing ``mist.trace``'s budget, feed the
alert engine, and show in ``mist replay`` / ``report`` / ``view``. A framework run started inside a
``mist.trace`` (or any open mist span) becomes part of it; otherwise it is a trace of its own.
"""
