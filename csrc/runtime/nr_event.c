/* nr_event.c -- building events and their ATOF JSON text. */
#include "nr_event.h"

#include "nr_json.h"

#include <stdlib.h>
#include <string.h>

int nr_attribute_names(nr_family family, uint32_t bits, const char *out[2])
{
    int n = 0;
    switch (family) {
    case NR_FAMILY_SCOPE:
        if (bits & 0x1u) out[n++] = "parallel";
        if (bits & 0x2u) out[n++] = "relocatable";
        break;
    case NR_FAMILY_TOOL:
        if (bits & 0x1u) out[n++] = "remote";
        break;
    case NR_FAMILY_LLM:
        if (bits & 0x1u) out[n++] = "stateful";
        if (bits & 0x2u) out[n++] = "streaming";
        break;
    }
    return n;
}

/* Converts v to JSON now so the event is a snapshot; returns a new reference
 * or NULL (v NULL, or conversion failed with err set and *failed true). */
static nr_value *freeze(nr_value *v, bool *failed, nr_error *err)
{
    if (v == NULL)
        return NULL;
    if (nr_value_json(v, err) == NULL) {
        *failed = true;
        return NULL;
    }
    return nr_value_ref(v);
}

static nr_event *event_alloc(const char *name, nr_value *data, nr_value *metadata, cJSON *profile,
                             nr_error *err)
{
    bool failed = false;
    nr_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL || (ev->name = nr_strdup(name != NULL ? name : "")) == NULL) {
        free(ev);
        cJSON_Delete(profile);
        nr_error_nomem(err);
        return NULL;
    }
    nr_ref_init(&ev->refs);
    atomic_init(&ev->json, NULL);
    ev->profile = profile;
    ev->data = freeze(data, &failed, err);
    if (!failed)
        ev->metadata = freeze(metadata, &failed, err);
    if (failed) {
        nr_event_release(ev);
        return NULL;
    }
    return ev;
}

nr_event *nr_event_new_scope(nr_phase phase, const nr_scope *node, int64_t ts_us, nr_value *data,
                             nr_value *metadata, cJSON *profile, nr_error *err)
{
    nr_event *ev = event_alloc(node->name, data, metadata, profile, err);
    if (ev == NULL)
        return NULL;
    ev->kind = NR_EVENT_SCOPE;
    ev->phase = phase;
    ev->uuid = node->uuid;
    ev->parent_uuid = node->parent_uuid;
    ev->has_parent = node->has_parent;
    ev->ts_us = ts_us;
    ev->category = node->type;
    ev->family = node->family;
    ev->attributes = node->attributes;
    return ev;
}

nr_event *nr_event_new_mark(const char *name, const nr_uuid *parent, int64_t ts_us,
                            nr_value *data, nr_value *metadata, nr_error *err)
{
    nr_event *ev = event_alloc(name, data, metadata, NULL, err);
    if (ev == NULL)
        return NULL;
    ev->kind = NR_EVENT_MARK;
    nr_uuid_v7(&ev->uuid);
    if (parent != NULL) {
        ev->parent_uuid = *parent;
        ev->has_parent = true;
    }
    ev->ts_us = ts_us;
    ev->category = -1;
    return ev;
}

nr_event *nr_event_ref(nr_event *ev)
{
    if (ev != NULL)
        nr_ref_inc(&ev->refs);
    return ev;
}

void nr_event_release(nr_event *ev)
{
    if (ev == NULL || !nr_ref_dec(&ev->refs))
        return;
    free(ev->name);
    cJSON_Delete(ev->profile);
    nr_value_release(ev->data);
    nr_value_release(ev->metadata);
    free(atomic_load(&ev->json));
    free(ev);
}

const cJSON *nr_event_data(const nr_event *ev)
{
    return ev->data != NULL ? nr_value_json_if_ready(ev->data) : NULL;
}

const cJSON *nr_event_metadata(const nr_event *ev)
{
    return ev->metadata != NULL ? nr_value_json_if_ready(ev->metadata) : NULL;
}

/* Adds a borrowed subtree (or null) without copying it. */
static bool add_ref_or_null(cJSON *obj, const char *key, const cJSON *item)
{
    if (item == NULL)
        return nr_json_add(obj, key, cJSON_CreateNull());
    return cJSON_AddItemReferenceToObject(obj, key, (cJSON *)item);
}

static cJSON *build_envelope(const nr_event *ev)
{
    char uuid[NR_UUID_STR_LEN], parent[NR_UUID_STR_LEN], ts[NR_TIMESTAMP_STR_LEN];
    nr_uuid_format(&ev->uuid, uuid);
    nr_time_format(ev->ts_us, ts);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool ok = nr_json_add(o, "kind", cJSON_CreateString(ev->kind == NR_EVENT_SCOPE ? "scope" : "mark"));
    if (ev->kind == NR_EVENT_SCOPE)
        ok = ok && nr_json_add(o, "scope_category",
                               cJSON_CreateString(ev->phase == NR_PHASE_START ? "start" : "end"));
    ok = ok && nr_json_add(o, "atof_version", cJSON_CreateString("0.1"));
    ok = ok && nr_json_add(o, "uuid", cJSON_CreateString(uuid));
    if (ev->has_parent) {
        nr_uuid_format(&ev->parent_uuid, parent);
        ok = ok && nr_json_add(o, "parent_uuid", cJSON_CreateString(parent));
    } else {
        ok = ok && nr_json_add(o, "parent_uuid", cJSON_CreateNull());
    }
    ok = ok && nr_json_add(o, "timestamp", cJSON_CreateString(ts));
    ok = ok && nr_json_add(o, "name", cJSON_CreateString(ev->name));
    if (ev->kind == NR_EVENT_SCOPE) {
        const char *names[2];
        int n = nr_attribute_names(ev->family, ev->attributes, names);
        ok = ok && nr_json_add(o, "attributes", cJSON_CreateStringArray(names, n));
    }
    const char *category = nr_scope_type_name(ev->category);
    ok = ok && nr_json_add(o, "category",
                           category != NULL ? cJSON_CreateString(category) : cJSON_CreateNull());
    ok = ok && add_ref_or_null(o, "category_profile", ev->profile);
    ok = ok && add_ref_or_null(o, "data", nr_event_data(ev));
    ok = ok && nr_json_add(o, "data_schema", cJSON_CreateNull());
    ok = ok && add_ref_or_null(o, "metadata", nr_event_metadata(ev));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

const char *nr_event_json(nr_event *ev)
{
    char *text = atomic_load_explicit(&ev->json, memory_order_acquire);
    if (text != NULL)
        return text;
    cJSON *o = build_envelope(ev);
    if (o == NULL)
        return NULL;
    char *made = nr_json_print(o);
    cJSON_Delete(o); /* references are not freed with it */
    if (made == NULL)
        return NULL;
    char *expected = NULL;
    if (!atomic_compare_exchange_strong(&ev->json, &expected, made)) {
        free(made);
        return expected;
    }
    return made;
}
