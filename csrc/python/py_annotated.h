/* py_annotated.h -- AnnotatedLLMRequest and AnnotatedLLMResponse: Python
 * views over the annotated JSON of csrc/codecs (nr_codec.h describes it).
 * An AnnotatedLLMRequest is mutable (setters, as upstream); an
 * AnnotatedLLMResponse is not.  Both hold one cJSON tree. */
#ifndef NR_PY_ANNOTATED_H
#define NR_PY_ANNOTATED_H

#include "py_state.h"

#include <cjson/cJSON.h>

/* A new AnnotatedLLMRequest / AnnotatedLLMResponse owning json (taken in
 * every case).  NULL with an exception. */
PyObject *nr_py_annotated_request_wrap(cJSON *json);
PyObject *nr_py_annotated_response_wrap(cJSON *json);

int nr_py_is_annotated_request(PyObject *obj);
int nr_py_is_annotated_response(PyObject *obj);

/* The tree of an annotated object (borrowed; valid while obj lives and,
 * for a request, until a setter runs). */
const cJSON *nr_py_annotated_json(PyObject *obj);

/* A new tree for an annotated response given as an AnnotatedLLMResponse or
 * a JSON mapping of that shape; NULL with TypeError/ValueError. */
cJSON *nr_py_annotated_response_tree(PyObject *obj, const char *what);

/* A new tree for an annotated request given as an AnnotatedLLMRequest or a
 * JSON mapping of that shape; NULL with TypeError/ValueError. */
cJSON *nr_py_annotated_request_tree(PyObject *obj, const char *what);

int nr_py_annotated_init(PyObject *module, nr_py_state *st);

#endif /* NR_PY_ANNOTATED_H */
