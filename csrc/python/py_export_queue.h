/* py_export_queue.h -- nemo_relay._native.EventQueue (the exporters' queue). */
#ifndef NR_PY_EXPORT_QUEUE_H
#define NR_PY_EXPORT_QUEUE_H

#include "py_state.h"

#include "nr_registry.h"

/* Adds the EventQueue type to module; -1 with an exception set on failure. */
int nr_py_export_queue_init(PyObject *module);

/* When obj is an EventQueue, fills spec's subscriber function, user_data (a
 * new registration of the queue, released by spec->free_fn), free_fn, flush
 * and native, and returns 1; returns 0 (spec untouched) for anything else.
 * On a failed registration the caller calls spec->free_fn(spec->user_data). */
int nr_py_export_queue_spec(PyObject *obj, nr_callback_spec *spec);

#endif /* NR_PY_EXPORT_QUEUE_H */
