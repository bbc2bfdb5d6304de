/* py_args.c -- a small parser for vectorcall arguments. */
#include "py_state.h"

#include <string.h>

int nr_py_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int npos, int nreq,
                     PyObject **out)
{
    int n = 0;
    while (names[n] != NULL)
        n++;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)",
                     fname, npos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        const char *kname = PyUnicode_AsUTF8(key);
        if (kname == NULL)
            return -1;
        int slot = -1;
        for (int i = 0; i < n; i++) {
            if (strcmp(names[i], kname) == 0) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", fname,
                         kname);
            return -1;
        }
        if (out[slot] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         kname);
            return -1;
        }
        out[slot] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    }
    return 0;
}

int nr_py_req_str(PyObject *obj, const char *what, const char **out)
{
    *out = NULL;
    if (obj == NULL || !PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what,
                     obj != NULL ? Py_TYPE(obj)->tp_name : "nothing");
        return -1;
    }
    Py_ssize_t n;
    *out = PyUnicode_AsUTF8AndSize(obj, &n);
    if (*out == NULL)
        return -1;
    if (strlen(*out) != (size_t)n) {
        /* C would cut the text at the NUL ("a\0b" and "a\0c" would collide) */
        *out = NULL;
        PyErr_Format(PyExc_ValueError, "%s must not contain a NUL character", what);
        return -1;
    }
    return 0;
}

int nr_py_opt_str(PyObject *obj, const char *what, const char **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None)
        return 0;
    return nr_py_req_str(obj, what, out);
}
