/* py_llm_request.h -- LLMRequest: an immutable {headers, content} pair. */
#ifndef NR_PY_LLM_REQUEST_H
#define NR_PY_LLM_REQUEST_H

#include "py_state.h"

#include "nr_value.h"

/* Whether obj is an LLMRequest. */
int nr_py_is_llm_request(PyObject *obj);

/* Borrowed parts of an LLMRequest (obj must be one). */
void nr_py_llm_request_parts(PyObject *obj, PyObject **headers, PyObject **content);

/* A new LLMRequest from JSON-compatible headers (a dict) and content; both
 * are copied.  NULL with TypeError/ValueError. */
PyObject *nr_py_llm_request_new(PyObject *headers, PyObject *content);

/* The LLMRequest a value holds: the wrapped object, or one built from the
 * JSON {"headers": {...}, "content": ...} (ValueError "... was not an LLM
 * request" otherwise).  New reference. */
PyObject *nr_py_llm_request_from_value(nr_value *v, const char *what);

/* The content as JSON, converted once and kept (borrowed: valid while obj
 * lives).  NULL with ValueError. */
const cJSON *nr_py_llm_request_content_json(PyObject *obj);

/* A new LLMRequest that takes over headers (a dict), content and its JSON
 * (may be NULL) without copying: the caller hands over fresh objects nobody
 * else holds.  NULL with an exception (everything released). */
PyObject *nr_py_llm_request_adopt(PyObject *headers, PyObject *content, cJSON *content_json);

int nr_py_llm_request_init(PyObject *module, nr_py_state *st);

#endif /* NR_PY_LLM_REQUEST_H */
