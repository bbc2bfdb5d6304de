/*
 * py_convert.h -- Python objects <-> JSON, and Python payloads as nr_values.
 *
 * JSON-compatible Python values are: None, bool, int, float (finite), str,
 * list/tuple, and dict with str keys, nested up to 1000 levels.  Anything
 * else raises ValueError("Failed to convert to JSON: ...").
 *
 * Numbers round-trip (plugins/common/exact_json.h): integers beyond 2**53
 * keep their digits and integral floats their ".0" as the number's text;
 * JSON numbers read back become int when written as integers (any size),
 * else float.
 */
#ifndef NR_PY_CONVERT_H
#define NR_PY_CONVERT_H

#include "py_state.h"

#include "nr_clock.h"
#include "nr_value.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* New cJSON tree for obj (caller owns), or NULL with ValueError set. */
cJSON *nr_py_to_cjson(PyObject *obj);

/* New Python object for j (NULL j -> None). */
PyObject *nr_py_from_cjson(const cJSON *j);

/* 0 if obj is JSON-compatible, else -1 with ValueError set. */
int nr_py_check_json(PyObject *obj);

/* A deep copy of a JSON-compatible obj (dicts and lists copied, scalars
 * shared), or NULL with ValueError set.  Used so a guardrail can never change
 * what the function receives. */
PyObject *nr_py_json_copy(PyObject *obj);

/* Operations for values that wrap a Python object. */
extern const nr_foreign_ops nr_py_value_ops;

/* A value wrapping obj (a new reference to obj is taken); converted to JSON
 * only if something needs JSON.  NULL with MemoryError set. */
nr_value *nr_py_value_wrap(PyObject *obj);

/* obj as a value for the runtime, checked to be JSON in one walk: when
 * native middleware exists (it reads JSON, without the GIL) it is converted
 * now, while this thread holds the GIL, the conversion being the check;
 * otherwise nr_py_check_json, then a wrap.  The value wraps obj either way;
 * JSON types that cannot be converted (NUL, lone surrogate, huge int) pass.
 * NULL with ValueError (or MemoryError) set. */
nr_value *nr_py_value_checked(PyObject *obj);

/* A value converted now (NULL with ValueError/MemoryError set). */
nr_value *nr_py_value_convert(PyObject *obj);

/* Optional payload argument: NULL -> *out NULL; None -> JSON null value;
 * anything else converted now.  -1 with an exception set on failure. */
int nr_py_opt_value(PyObject *obj, nr_value **out);

/* The Python object for v (NULL v -> None): the wrapped object itself, or a
 * fresh conversion of the JSON.  New reference. */
PyObject *nr_py_value_to_py(nr_value *v);

/* Timestamp argument: NULL/None -> *present false.  A timezone-aware
 * datetime -> microseconds since the epoch.  A naive one -> ValueError; any
 * other type -> TypeError. */
int nr_py_timestamp(PyObject *obj, int64_t *out, bool *present);

/* datetime for microseconds since the epoch (UTC, aware). */
PyObject *nr_py_datetime_from_us(int64_t us);

/* The hyphenated lowercase form of a uuid, as str. */
PyObject *nr_py_uuid_str(const nr_uuid *u);

int nr_py_convert_init(nr_py_state *st);

#endif /* NR_PY_CONVERT_H */
