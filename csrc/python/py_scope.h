/* py_scope.h -- scope functions of the module, and helpers shared with the
 * tool and LLM bindings. */
#ifndef NR_PY_SCOPE_H
#define NR_PY_SCOPE_H

#include "py_state.h"

extern PyMethodDef nr_py_scope_methods[];

/* Drops the GIL around a runtime call when native callbacks exist. */
PyThreadState *nr_py_native_begin(void);
void nr_py_native_end(PyThreadState *ts);

/* attributes argument: None, an int, or a flags object with .value, whose
 * bits must all be known to the family (ValueError otherwise: 2**70 or -1
 * are refused, not masked). */
int nr_py_flags(PyObject *obj, nr_family family, uint32_t *out);

/* An optional handle argument (handle=, scope_handle): NULL/None -> NULL, a
 * handle -> its uuid (borrowed from the node); else TypeError naming what. */
int nr_py_opt_parent(PyObject *obj, const char *what, const nr_uuid **out);

#endif /* NR_PY_SCOPE_H */
