-- The numbers of `mist report --by model --format json` ("groups"), from the mist_spans table.
-- Group: the requested model (request_model, else model) without a trailing snapshot date, as the
-- report does (gpt-4o-mini-2024-07-18 -> gpt-4o-mini, claude-3-5-sonnet@20240620 -> claude-3-5-sonnet);
-- calls, errors, retries, tokens, exact cost (each span rounded to 1e-12 USD, as the report sums),
-- priced / unpriced spans, and nearest-rank latency percentiles (latency_ms, else end - start).
WITH
    JSONExtract(payload, 'attrs', 'model', 'Nullable(String)') AS served,
    JSONExtract(payload, 'attrs', 'request_model', 'Nullable(String)') AS requested,
    if(requested != '', requested, nullIf(served, '')) AS name,
    replaceRegexpOne(name, '[-@](20\\d\\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])|20\\d\\d(0[1-9]|1[0-2])(0[1-9]|[12]\\d|3[01]))$', '') AS family,
    JSONHas(payload, 'attrs', 'cost_usd') AS has_cost,
    JSONExtractUInt(payload, 'attrs', 'tokens_in') AS tin,
    JSONExtractUInt(payload, 'attrs', 'tokens_out') AS tout,
    if(JSONHas(payload, 'attrs', 'latency_ms'),
       JSONExtractFloat(payload, 'attrs', 'latency_ms'),
       (JSONExtractUInt(payload, 'end_ns') - JSONExtractUInt(payload, 'start_ns')) / 1e6) AS latency,
    arraySort(groupArray(latency)) AS sorted
SELECT
    if(family != '', family, name)                                                    AS group,
    count()                                                                           AS calls,
    countIf(JSONExtractString(payload, 'status') = 'error')                           AS errors,
    countIf(JSONExtractInt(payload, 'attrs', 'retry') >= 1)                           AS retries,
    sum(tin)                                                                          AS tokens_in,
    sum(tout)                                                                         AS tokens_out,
    sum(JSONExtractUInt(payload, 'attrs', 'tokens_cache_read'))                       AS tokens_cache_read,
    sum(JSONExtractUInt(payload, 'attrs', 'tokens_cache_write'))                      AS tokens_cache_write,
    sum(JSONExtractUInt(payload, 'attrs', 'tokens_reasoning'))                        AS tokens_reasoning,
    sum(toInt64(round(JSONExtractFloat(payload, 'attrs', 'cost_usd') * 1e12))) / 1e12 AS cost_usd,
    countIf(has_cost AND NOT JSONExtractBool(payload, 'attrs', 'unpriced'))           AS priced,
    countIf(JSONExtractBool(payload, 'attrs', 'unpriced') OR (NOT has_cost AND tin + tout > 0)) AS unpriced,
    sorted[toUInt64(greatest(1, ceil(0.50 * length(sorted))))]                        AS latency_ms_p50,
    sorted[toUInt64(greatest(1, ceil(0.95 * length(sorted))))]                        AS latency_ms_p95,
    sorted[toUInt64(greatest(1, ceil(0.99 * length(sorted))))]                        AS latency_ms_p99
FROM mist_spans
WHERE type = 'trace.span'
GROUP BY group
ORDER BY group
