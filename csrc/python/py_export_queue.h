/* py_export_queue.h -- nemo_relay._native.EventQueue (the exporters' queue). */
#ifndef NR_PY_EXPORT_QUEUE_H
#define NR_PY_EXPORT_QUEUE_H

#include "py_state.h"

/* Adds the EventQueue type to module; -1 with an exception set on failure. */
int nr_py_export_queue_init(PyObject *module);

#endif /* NR_PY_EXPORT_QUEUE_H */
