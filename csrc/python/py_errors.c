/* py_errors.c -- runtime errors as typed Python exceptions (SPEC D7). */
#include "py_state.h"

static PyObject *exception_class(nr_py_state *st, nr_errkind kind)
{
    switch (kind) {
    case NR_E_INVALID_JSON: return PyExc_ValueError;
    case NR_E_INVALID_ARG: return PyExc_ValueError;
    case NR_E_NOT_ON_TOP: return st->NotOnTop;
    case NR_E_SCOPE_NOT_FOUND: return st->ScopeNotFound;
    case NR_E_SCOPE_ROOT: return st->ScopeError;
    case NR_E_ALREADY_EXISTS: return st->AlreadyExists;
    case NR_E_NOT_FOUND: return st->NotFoundError;
    case NR_E_REJECTED: return st->GuardrailRejected;
    case NR_E_INVALID_CONFIG: return st->InvalidConfig;
    case NR_E_REGISTRATION_FAILED: return st->RegistrationFailed;
    case NR_E_PLUGIN_LOAD: return st->PluginLoadError;
    case NR_E_CONFLICT: return st->PluginError;
    default: return st->RelayError;
    }
}

/* Raises a stored foreign exception exactly as it was raised. */
static void reraise_foreign(PyObject *exc)
{
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), Py_NewRef(exc), tb);
}

PyObject *nr_py_raise(nr_error *err)
{
    nr_py_state *st = nr_py_get_state();
    if (err->foreign != NULL && err->foreign_release != NULL) {
        reraise_foreign((PyObject *)err->foreign);
        nr_error_clear(err);
        return NULL;
    }
    if (st == NULL) {
        PyErr_SetString(PyExc_RuntimeError, nr_error_message(err));
        nr_error_clear(err);
        return NULL;
    }
    PyObject *cls = exception_class(st, err->kind);
    PyObject *msg = PyUnicode_FromFormat("%s%s", nr_errkind_prefix(err->kind), nr_error_message(err));
    PyObject *exc = NULL;
    if (msg == NULL)
        goto done;
    if (err->kind == NR_E_REJECTED) {
        exc = PyObject_CallFunction(cls, "Os", msg, err->reason != NULL ? err->reason : "");
    } else if (err->kind == NR_E_PLUGIN_LOAD || err->kind == NR_E_INVALID_CONFIG ||
               err->kind == NR_E_REGISTRATION_FAILED) {
        /* PluginError subclasses carry plugin_id / manifest / check when known */
        PyObject *kw = Py_BuildValue("{s:z,s:z,s:z}", "plugin_id", err->plugin_id, "manifest",
                                     err->manifest, "check", err->reason);
        PyObject *args = kw != NULL ? PyTuple_Pack(1, msg) : NULL;
        if (args != NULL)
            exc = PyObject_Call(cls, args, kw);
        Py_XDECREF(args);
        Py_XDECREF(kw);
    } else {
        exc = PyObject_CallOneArg(cls, msg);
    }
    if (exc != NULL)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
done:
    Py_XDECREF(exc);
    Py_XDECREF(msg);
    nr_error_clear(err);
    return NULL;
}

const char *nr_py_exc_text(PyObject *exc, PyObject **holder)
{
    *holder = NULL;
    if (exc == NULL)
        return "unknown error";
    const char *text = NULL;
    PyObject *s = PyObject_Str(exc);
    if (s != NULL && (text = PyUnicode_AsUTF8(s)) == NULL) {
        /* not encodable (a lone surrogate): keep the text, escaped */
        PyErr_Clear();
        Py_SETREF(s, PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace"));
        text = s != NULL ? PyBytes_AS_STRING(s) : NULL;
    }
    if (text == NULL || text[0] == '\0') {
        PyErr_Clear();
        text = Py_TYPE(exc)->tp_name;
    }
    *holder = s;
    return text;
}

static void release_exception(void *obj)
{
    if (!nr_py_alive())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)obj);
    PyGILState_Release(g);
}

NemoRelayStatus nr_py_capture_exception(nr_error *err, const char *prefix)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value == NULL) {
        Py_XDECREF(type);
        Py_XDECREF(tb);
        return nr_error_set(err, NR_E_CALLBACK, "%s", prefix != NULL ? prefix : "callback failed");
    }
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *s;
    const char *text = nr_py_exc_text(value, &s);
    NemoRelayStatus st;
    if (prefix != NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "%s: %s", prefix, text);
    else
        st = nr_error_set(err, NR_E_CALLBACK, "%s", text);
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (err != NULL) {
        err->foreign = value; /* the error now owns the exception */
        err->foreign_release = release_exception;
        err->interrupted = PyObject_IsInstance(value, PyExc_Exception) != 1;
    } else {
        Py_DECREF(value);
    }
    return st;
}

void nr_py_warn(const char *message)
{
    if (PyErr_WarnEx(PyExc_RuntimeWarning, message, 1) < 0)
        PyErr_WriteUnraisable(NULL);
}
