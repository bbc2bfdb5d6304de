/* test_codecs.c -- the built-in codecs, stream aggregation and pricing in C,
 * without Python: round trips keep every byte, edits land where they should,
 * malformed payloads name the field, costs follow the catalog. */
#include "nr_codec.h"
#include "nr_json.h"
#include "nr_pricing.h"
#include "nr_test.h"

#include <stdlib.h>

static cJSON *parse(const char *text)
{
    return nr_json_parse(text, strlen(text), "test JSON", NULL);
}

/* decode then encode (no edits) gives back exactly the original text */
static void check_round_trip(nr_codec_id id, const char *text)
{
    cJSON *orig = parse(text);
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = nr_codec_decode(id, orig, &err);
    CHECK(ann != NULL);
    cJSON *back = ann != NULL ? nr_codec_encode(id, ann, orig, orig, &err) : NULL;
    CHECK(back != NULL);
    char *a = nr_json_print(orig), *b = back != NULL ? nr_json_print(back) : NULL;
    CHECK_STR(a, b);
    free(a);
    free(b);
    cJSON_Delete(back);
    cJSON_Delete(ann);
    cJSON_Delete(orig);
    nr_error_clear(&err);
}

static void test_round_trips(void)
{
    check_round_trip(NR_CODEC_OPENAI_CHAT,
                     "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":"
                     "\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}],\"x\":1}],"
                     "\"max_completion_tokens\":5,\"stop\":\"END\",\"seed\":3,\"stream\":true}");
    check_round_trip(NR_CODEC_ANTHROPIC_MESSAGES,
                     "{\"model\":\"claude\",\"max_tokens\":10,\"system\":[{\"type\":\"text\",\"text\":"
                     "\"s\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"hi\"}],\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],"
                     "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"}}");
    check_round_trip(NR_CODEC_OPENAI_RESPONSES,
                     "{\"model\":\"gpt-4.1\",\"instructions\":\"be brief\",\"input\":[{\"role\":\"user\","
                     "\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]},{\"type\":\"reasoning\","
                     "\"id\":\"r\"}],\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"strict\":true}]}");
}

static void test_edits_and_errors(void)
{
    cJSON *orig = parse("{\"model\":\"m\",\"system\":\"old\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                        "\"top_k\":4}");
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = nr_codec_decode(NR_CODEC_ANTHROPIC_MESSAGES, orig, &err);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ann, "messages"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(first, "content", cJSON_CreateString("new"));
    cJSON *out = nr_codec_encode(NR_CODEC_ANTHROPIC_MESSAGES, ann, orig, orig, &err);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(out, "system")->valuestring, "new");
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(out, "top_k")->valueint, 4);
    cJSON_Delete(out);
    cJSON_Delete(ann);
    cJSON_Delete(orig);

    cJSON *bad = parse("{\"messages\":{}}");
    CHECK(nr_codec_decode(NR_CODEC_OPENAI_CHAT, bad, &err) == NULL);
    CHECK(err.kind == NR_E_INVALID_JSON);
    CHECK_STR(nr_error_message(&err), "OpenAIChatCodec request: 'messages' must be an array");
    nr_error_clear(&err);
    cJSON_Delete(bad);
}

static void test_stream_and_pricing(void)
{
    nr_stream_agg *agg = nr_stream_agg_new(NR_CODEC_OPENAI_CHAT);
    const char *chunks[] = {
        "{\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hel\"}}]}",
        "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}",
        "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":10,"
        "\"prompt_tokens_details\":{\"cached_tokens\":800}}}",
    };
    for (size_t i = 0; i < 3; i++) {
        cJSON *c = parse(chunks[i]);
        nr_stream_agg_observe(agg, c);
        cJSON_Delete(c);
    }
    CHECK(nr_stream_agg_seen(agg));
    cJSON *full = nr_stream_agg_result(agg);
    nr_stream_agg_free(agg);

    nr_error err = NR_ERROR_INIT;
    cJSON *config = parse("{\"sources\":[{\"type\":\"inline\",\"catalog\":{\"version\":1,\"entries\":[{"
                          "\"provider\":\"openai\",\"model_id\":\"GPT-4o\",\"pricing_as_of\":\"d\","
                          "\"pricing_source\":\"s\",\"rates\":{\"input_per_million\":2.5,"
                          "\"output_per_million\":10,\"cache_read_per_million\":1.25},"
                          "\"prompt_cache\":{\"read_accounting\":\"included_in_prompt_tokens\"}}]}}]}");
    cJSON *catalogs = nr_pricing_catalogs_from_config(config, &err);
    CHECK(catalogs != NULL);
    nr_pricing_set_active(catalogs);
    cJSON *ann = nr_codec_decode_response(NR_CODEC_OPENAI_CHAT, full, &err);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(ann, "message")->valuestring, "Hello");
    const cJSON *cost = nr_json_get(nr_json_get(ann, "usage"), "cost");
    /* 200 billable input tokens at 2.5, 10 output at 10, 800 cached at 1.25 (per million) */
    CHECK(cost != NULL && nr_json_get(cost, "total")->valuedouble > 0.0015999 &&
          nr_json_get(cost, "total")->valuedouble < 0.0016001);
    nr_pricing_set_active(NULL);
    CHECK(!nr_pricing_active());

    cJSON *neg = parse("{\"version\":1,\"entries\":[{\"provider\":\"p\",\"model_id\":\"m\","
                       "\"pricing_as_of\":\"d\",\"pricing_source\":\"s\",\"rates\":{"
                       "\"input_per_million\":-1,\"output_per_million\":1}}]}");
    CHECK(!nr_pricing_check_catalog(neg, &err));
    CHECK(strstr(nr_error_message(&err), "pricing entry 0 has invalid rates.input_per_million") != NULL);
    nr_error_clear(&err);
    cJSON_Delete(neg);
    cJSON_Delete(ann);
    cJSON_Delete(config);
    cJSON_Delete(full);
}

int main(void)
{
    NR_RUN(test_round_trips);
    NR_RUN(test_edits_and_errors);
    NR_RUN(test_stream_and_pricing);
    return nr_test_failures != 0;
}
