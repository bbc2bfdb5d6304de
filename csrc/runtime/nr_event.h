/*
 * nr_event.h -- lifecycle events in ATOF 0.1 form.
 *
 * An event is an immutable, reference-counted record built only when some
 * subscriber will receive it.  Its payloads are frozen JSON (the event keeps
 * references to the values it was built from, converted at build time), so an
 * event shows what was true when it was emitted.  The JSON text is produced on
 * first request and cached.
 *
 * Wire form (SPEC §1.3): kind, atof_version "0.1", uuid, parent_uuid,
 * timestamp (RFC 3339 UTC, microseconds, "+00:00"), name, data, data_schema
 * (null), metadata; scope events add scope_category, attributes (sorted
 * strings), category and category_profile; marks add category and
 * category_profile.  Absent optionals are null.
 */
#ifndef NR_EVENT_H
#define NR_EVENT_H

#include "nr_scope.h"

#include <cjson/cJSON.h>

typedef enum nr_event_kind { NR_EVENT_SCOPE = 0, NR_EVENT_MARK = 1 } nr_event_kind;
typedef enum nr_phase { NR_PHASE_START = 0, NR_PHASE_END = 1 } nr_phase;

typedef struct nr_event {
    nr_refcount refs;
    nr_event_kind kind;
    nr_phase phase;          /* scope events */
    nr_uuid uuid;
    nr_uuid parent_uuid;
    bool has_parent;
    int64_t ts_us;
    char *name;              /* owned */
    int32_t category;        /* scope type, or -1 for a null category (marks) */
    nr_family family;        /* vocabulary of `attributes` */
    uint32_t attributes;
    cJSON *profile;          /* owned category_profile, or NULL for null */
    nr_value *data;          /* owned reference (frozen), or NULL for null */
    nr_value *metadata;      /* owned reference (frozen), or NULL for null */
    _Atomic(char *) json;    /* cached wire text (malloc'd) */
} nr_event;

/* A scope start/end event for node.  data, metadata: borrowed values, frozen
 * to JSON here (a conversion failure fails the build).  profile: taken (may
 * be NULL).  Returns a new event or NULL with err set. */
nr_event *nr_event_new_scope(nr_phase phase, const nr_scope *node, int64_t ts_us, nr_value *data,
                             nr_value *metadata, cJSON *profile, nr_error *err);

/* A mark (category and category_profile null) parented to parent (may be
 * NULL).  name is copied; data, metadata: borrowed values, frozen to JSON
 * here.  Returns a new event or NULL with err set. */
nr_event *nr_event_new_mark(const char *name, const nr_uuid *parent, int64_t ts_us,
                            nr_value *data, nr_value *metadata, nr_error *err);

nr_event *nr_event_ref(nr_event *ev);
void nr_event_release(nr_event *ev);

/* Wire JSON text (borrowed, cached for the event's life); NULL on allocation
 * failure. */
const char *nr_event_json(nr_event *ev);

/* The attribute strings of a family's bits, sorted; returns how many were
 * written to out (at most 2). */
int nr_attribute_names(nr_family family, uint32_t bits, const char *out[2]);

/* Frozen payloads (borrowed; NULL means JSON null). */
const cJSON *nr_event_data(const nr_event *ev);
const cJSON *nr_event_metadata(const nr_event *ev);

#endif /* NR_EVENT_H */
