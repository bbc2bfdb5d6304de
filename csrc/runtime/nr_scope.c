/* nr_scope.c -- scope nodes and chains. */
#include "nr_scope.h"

#include "nr_registry.h"

#include <stdlib.h>
#include <string.h>

uint32_t nr_family_mask(nr_family family)
{
    switch (family) {
    case NR_FAMILY_SCOPE: return 0x3u;
    case NR_FAMILY_TOOL: return 0x1u;
    case NR_FAMILY_LLM: return 0x3u;
    }
    return 0;
}

const char *nr_scope_type_name(int32_t type)
{
    static const char *const names[] = {"agent",     "function", "tool",      "llm",
                                        "retriever", "embedder", "reranker",  "guardrail",
                                        "evaluator", "custom",   "unknown"};
    if (type < 0 || type > NEMO_RELAY_SCOPE_TYPE_UNKNOWN)
        return NULL;
    return names[type];
}

nr_scope *nr_scope_new(const nr_scope_init *init, nr_error *err)
{
    nr_scope *s = calloc(1, sizeof *s);
    if (s == NULL)
        goto nomem;
    nr_ref_init(&s->refs);
    atomic_init(&s->popped, false);
    nr_uuid_v7(&s->uuid);
    if (init->parent != NULL) {
        s->parent_uuid = *init->parent;
        s->has_parent = true;
    }
    s->is_root = init->is_root;
    s->family = init->family;
    s->type = init->type;
    s->attributes = init->attributes & nr_family_mask(init->family);
    s->start_us = init->start_us != NULL ? *init->start_us : nr_now_us();
    s->name = nr_strdup(init->name != NULL ? init->name : "");
    if (s->name == NULL)
        goto nomem;
    if (init->tool_call_id != NULL && (s->tool_call_id = nr_strdup(init->tool_call_id)) == NULL)
        goto nomem;
    if (init->model_name != NULL && (s->model_name = nr_strdup(init->model_name)) == NULL)
        goto nomem;
    s->data = nr_value_ref(init->data);
    s->metadata = nr_value_ref(init->metadata);
    s->below = nr_scope_ref(init->below);
    return s;
nomem:
    nr_scope_release(s);
    nr_error_nomem(err);
    return NULL;
}

nr_scope *nr_scope_new_root(nr_error *err)
{
    nr_scope_init init = {.name = "root", .type = NEMO_RELAY_SCOPE_TYPE_AGENT, .is_root = true};
    return nr_scope_new(&init, err);
}

nr_scope *nr_scope_ref(nr_scope *s)
{
    if (s != NULL)
        nr_ref_inc(&s->refs);
    return s;
}

void nr_scope_release(nr_scope *s)
{
    /* Iterative so that dropping a very deep chain cannot overflow the stack. */
    while (s != NULL && nr_ref_dec(&s->refs)) {
        nr_scope *below = s->below;
        if (s->locals != NULL) /* nobody else can reach a dying node */
            nr_registry_drop_locals(s);
        free(s->name);
        free(s->tool_call_id);
        free(s->model_name);
        nr_value_release(s->data);
        nr_value_release(s->metadata);
        free(s);
        s = below;
    }
}

nr_scope *nr_chain_find(nr_scope *top, const nr_uuid *u)
{
    for (nr_scope *s = top; s != NULL; s = s->below)
        if (nr_uuid_eq(&s->uuid, u))
            return s;
    return NULL;
}
