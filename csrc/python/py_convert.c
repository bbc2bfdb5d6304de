/* py_convert.c -- Python <-> JSON conversion and Python-backed values. */
#include "py_convert.h"

#include "py_llm_request.h"

#include "nr_registry.h"

#include "exact_json.h"

#include <datetime.h>
#include <math.h>
#include <string.h>

#define MAX_DEPTH 1000
#define EXACT_INT_LIMIT 9007199254740992LL /* 2**53 */

static int json_error(const char *fmt, PyObject *arg)
{
    PyObject *msg = arg != NULL ? PyUnicode_FromFormat(fmt, arg) : PyUnicode_FromString(fmt);
    if (msg != NULL) {
        PyErr_Format(PyExc_ValueError, "Failed to convert to JSON: %U", msg);
        Py_DECREF(msg);
    }
    return -1;
}

static int type_error_json(PyObject *obj)
{
    PyObject *name = PyType_GetQualName(Py_TYPE(obj));
    if (name == NULL)
        return -1;
    json_error("unsupported type '%U'", name);
    Py_DECREF(name);
    return -1;
}

/* ---- Python -> cJSON ------------------------------------------------------ */

static cJSON *int_to_cjson(PyObject *obj)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (!overflow && v > -EXACT_INT_LIMIT && v < EXACT_INT_LIMIT)
        return cJSON_CreateNumber((double)v);
    /* beyond 2**53 a double is not exact: the number keeps every digit as its
     * text (int's own repr: a subclass's __str__ could put anything there) */
    PyObject *text = PyLong_Type.tp_repr(obj);
    if (text == NULL)
        return NULL;
    const char *digits = PyUnicode_AsUTF8(text);
    cJSON *j = digits != NULL ? ej_number_with_text(strtod(digits, NULL), digits) : NULL;
    Py_DECREF(text);
    if (j == NULL && !PyErr_Occurred())
        PyErr_NoMemory();
    return j;
}

static cJSON *str_to_cjson(PyObject *obj)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (s == NULL) {
        PyErr_Clear();
        json_error("str is not valid UTF-8", NULL);
        return NULL;
    }
    if ((size_t)n != strlen(s)) {
        json_error("strings containing NUL characters are not supported", NULL);
        return NULL;
    }
    return cJSON_CreateString(s);
}

static cJSON *to_cjson(PyObject *obj, int depth);

static cJSON *seq_to_cjson(PyObject *obj, int depth)
{
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return (cJSON *)PyErr_NoMemory();
    Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
    PyObject **items = PySequence_Fast_ITEMS(obj);
    for (Py_ssize_t i = 0; i < n; i++) {
        cJSON *item = to_cjson(items[i], depth + 1);
        if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *dict_to_cjson(PyObject *obj, int depth)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return (cJSON *)PyErr_NoMemory();
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        if (!PyUnicode_Check(k)) {
            cJSON_Delete(o);
            json_error("dict keys must be str, not %R", (PyObject *)Py_TYPE(k));
            return NULL;
        }
        Py_ssize_t klen;
        const char *key = PyUnicode_AsUTF8AndSize(k, &klen);
        if (key == NULL || (size_t)klen != strlen(key)) {
            PyErr_Clear();
            cJSON_Delete(o);
            json_error("dict key is not a valid JSON string", NULL);
            return NULL;
        }
        cJSON *item = to_cjson(v, depth + 1);
        if (item == NULL || !cJSON_AddItemToObject(o, key, item)) {
            cJSON_Delete(item);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *to_cjson(PyObject *obj, int depth)
{
    if (depth > MAX_DEPTH) {
        json_error("nesting deeper than 1000 levels", NULL);
        return NULL;
    }
    cJSON *j = NULL;
    if (obj == Py_None)
        j = cJSON_CreateNull();
    else if (obj == Py_True)
        j = cJSON_CreateTrue();
    else if (obj == Py_False)
        j = cJSON_CreateFalse();
    else if (PyUnicode_Check(obj))
        return str_to_cjson(obj);
    else if (PyLong_Check(obj))
        return int_to_cjson(obj);
    else if (PyFloat_Check(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        if (!isfinite(d)) {
            json_error("float %R is not a finite number", obj);
            return NULL;
        }
        j = ej_float(d); /* 1.0 stays a float */
    } else if (PyDict_Check(obj)) {
        return dict_to_cjson(obj, depth);
    } else if (PyList_Check(obj) || PyTuple_Check(obj)) {
        return seq_to_cjson(obj, depth);
    } else {
        if (nr_py_is_llm_request(obj)) {
            /* an LLMRequest travels as {"headers": ..., "content": ...} */
            PyObject *h, *c;
            nr_py_llm_request_parts(obj, &h, &c);
            cJSON *o = cJSON_CreateObject();
            if (o == NULL)
                return (cJSON *)PyErr_NoMemory();
            cJSON *hj = to_cjson(h, depth + 1);
            cJSON *cj = hj != NULL ? to_cjson(c, depth + 1) : NULL;
            if (cj == NULL || !cJSON_AddItemToObject(o, "headers", hj)) {
                cJSON_Delete(hj);
                cJSON_Delete(cj);
                cJSON_Delete(o);
                return NULL;
            }
            if (!cJSON_AddItemToObject(o, "content", cj)) {
                cJSON_Delete(cj);
                cJSON_Delete(o);
                return (cJSON *)PyErr_NoMemory();
            }
            return o;
        }
        type_error_json(obj);
        return NULL;
    }
    if (j == NULL)
        PyErr_NoMemory();
    return j;
}

cJSON *nr_py_to_cjson(PyObject *obj)
{
    return to_cjson(obj, 0);
}

/* ---- validation and copies ------------------------------------------------ */

static int check_json(PyObject *obj, int depth)
{
    if (depth > MAX_DEPTH)
        return json_error("nesting deeper than 1000 levels", NULL);
    if (obj == Py_None || PyBool_Check(obj) || PyLong_Check(obj) || PyUnicode_Check(obj))
        return 0;
    if (PyFloat_Check(obj)) {
        if (!isfinite(PyFloat_AS_DOUBLE(obj)))
            return json_error("float %R is not a finite number", obj);
        return 0;
    }
    if (PyDict_Check(obj)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (!PyUnicode_Check(k))
                return json_error("dict keys must be str, not %R", (PyObject *)Py_TYPE(k));
            if (check_json(v, depth + 1) < 0)
                return -1;
        }
        return 0;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        PyObject **items = PySequence_Fast_ITEMS(obj);
        for (Py_ssize_t i = 0; i < n; i++)
            if (check_json(items[i], depth + 1) < 0)
                return -1;
        return 0;
    }
    if (nr_py_is_llm_request(obj))
        return 0;
    return type_error_json(obj);
}

int nr_py_check_json(PyObject *obj)
{
    return check_json(obj, 0);
}

static PyObject *json_copy(PyObject *obj, int depth)
{
    if (depth > MAX_DEPTH) {
        json_error("nesting deeper than 1000 levels", NULL);
        return NULL;
    }
    if (PyDict_Check(obj)) {
        PyObject *d = PyDict_New();
        if (d == NULL)
            return NULL;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (!PyUnicode_Check(k)) {
                Py_DECREF(d);
                json_error("dict keys must be str, not %R", (PyObject *)Py_TYPE(k));
                return NULL;
            }
            PyObject *c = json_copy(v, depth + 1);
            if (c == NULL || PyDict_SetItem(d, k, c) < 0) {
                Py_XDECREF(c);
                Py_DECREF(d);
                return NULL;
            }
            Py_DECREF(c);
        }
        return d;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        PyObject **items = PySequence_Fast_ITEMS(obj);
        PyObject *l = PyList_New(n);
        if (l == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *c = json_copy(items[i], depth + 1);
            if (c == NULL) {
                Py_DECREF(l);
                return NULL;
            }
            PyList_SET_ITEM(l, i, c);
        }
        return l;
    }
    if (check_json(obj, depth) < 0)
        return NULL;
    return Py_NewRef(obj);
}

PyObject *nr_py_json_copy(PyObject *obj)
{
    return json_copy(obj, 0);
}

/* ---- cJSON -> Python ------------------------------------------------------ */

/* A number: an integer text exactly (any size); a fraction or an exponent
 * (kept as text, exact_json.h) a float; else int when integral below 2**53. */
static PyObject *number_from_cjson(const cJSON *j)
{
    double d = j->valuedouble;
    if (j->valuestring != NULL) {
        if (strpbrk(j->valuestring, ".eE") == NULL)
            return PyLong_FromString(j->valuestring, NULL, 10);
        return PyFloat_FromDouble(d); /* cJSON's strtod rounds correctly */
    }
    if (d == floor(d) && fabs(d) < (double)EXACT_INT_LIMIT)
        return PyLong_FromLongLong((long long)d);
    return PyFloat_FromDouble(d);
}

PyObject *nr_py_from_cjson(const cJSON *j)
{
    if (j == NULL || cJSON_IsNull(j))
        Py_RETURN_NONE;
    if (cJSON_IsTrue(j))
        Py_RETURN_TRUE;
    if (cJSON_IsFalse(j))
        Py_RETURN_FALSE;
    if (cJSON_IsNumber(j))
        return number_from_cjson(j);
    if (cJSON_IsString(j))
        return PyUnicode_FromString(j->valuestring);
    if (cJSON_IsArray(j)) {
        PyObject *l = PyList_New(cJSON_GetArraySize(j));
        if (l == NULL)
            return NULL;
        Py_ssize_t i = 0;
        for (const cJSON *it = j->child; it != NULL; it = it->next) {
            PyObject *v = nr_py_from_cjson(it);
            if (v == NULL) {
                Py_DECREF(l);
                return NULL;
            }
            PyList_SET_ITEM(l, i++, v);
        }
        return l;
    }
    if (cJSON_IsObject(j)) {
        PyObject *d = PyDict_New();
        if (d == NULL)
            return NULL;
        for (const cJSON *it = j->child; it != NULL; it = it->next) {
            PyObject *v = nr_py_from_cjson(it);
            if (v == NULL || PyDict_SetItemString(d, it->string, v) < 0) {
                Py_XDECREF(v);
                Py_DECREF(d);
                return NULL;
            }
            Py_DECREF(v);
        }
        return d;
    }
    Py_RETURN_NONE;
}

/* ---- values backed by Python objects -------------------------------------- */

static NemoRelayStatus pyvalue_to_json(void *obj, cJSON **out, nr_error *err)
{
    if (!nr_py_alive())
        return nr_error_set(err, NR_E_INTERNAL, "the Python interpreter is shutting down");
    PyGILState_STATE g = PyGILState_Ensure();
    *out = nr_py_to_cjson((PyObject *)obj);
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    if (*out == NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *s;
        st = nr_error_set(err, NR_E_INVALID_JSON, "%s", nr_py_exc_text(value, &s));
        Py_XDECREF(s);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    PyGILState_Release(g);
    return st;
}

static void pyvalue_release(void *obj)
{
    if (!nr_py_alive())
        return; /* at exit: leave the object to the interpreter's teardown */
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)obj);
    PyGILState_Release(g);
}

const nr_foreign_ops nr_py_value_ops = {pyvalue_to_json, pyvalue_release};

nr_value *nr_py_value_wrap(PyObject *obj)
{
    nr_value *v = nr_value_from_foreign(Py_NewRef(obj), &nr_py_value_ops);
    if (v == NULL)
        PyErr_NoMemory();
    return v;
}

nr_value *nr_py_value_checked(PyObject *obj)
{
    if (nr_registry_native_count() == 0)
        return nr_py_check_json(obj) < 0 ? NULL : nr_py_value_wrap(obj);
    nr_value *v = nr_py_value_wrap(obj);
    nr_error err = NR_ERROR_INIT;
    if (v != NULL && nr_value_json(v, &err) == NULL) {
        nr_error_clear(&err);
        /* Not convertible: a wrong type fails here, as with no native
         * plugin; JSON types that still cannot be converted (NUL, a lone
         * surrogate, a huge int) go on unchanged, their record null with a
         * warning. */
        if (nr_py_check_json(obj) < 0) {
            nr_value_release(v);
            v = NULL;
        }
    }
    return v;
}

nr_value *nr_py_value_convert(PyObject *obj)
{
    cJSON *j = nr_py_to_cjson(obj);
    if (j == NULL)
        return NULL;
    nr_value *v = nr_value_from_json(j);
    if (v == NULL)
        PyErr_NoMemory();
    return v;
}

int nr_py_opt_value(PyObject *obj, nr_value **out)
{
    *out = NULL;
    if (obj == NULL)
        return 0;
    *out = nr_py_value_convert(obj);
    return *out == NULL ? -1 : 0;
}

PyObject *nr_py_value_to_py(nr_value *v)
{
    if (v == NULL)
        Py_RETURN_NONE;
    PyObject *obj = nr_value_foreign(v, &nr_py_value_ops);
    if (obj != NULL)
        return Py_NewRef(obj);
    nr_error err = NR_ERROR_INIT;
    const cJSON *j = nr_value_json(v, &err);
    if (j == NULL)
        return nr_py_raise(&err);
    return nr_py_from_cjson(j);
}

PyObject *nr_py_uuid_str(const nr_uuid *u)
{
    char buf[NR_UUID_STR_LEN];
    nr_uuid_format(u, buf);
    return PyUnicode_FromStringAndSize(buf, NR_UUID_STR_LEN - 1);
}

/* ---- timestamps ----------------------------------------------------------- */

int nr_py_timestamp(PyObject *obj, int64_t *out, bool *present)
{
    *present = false;
    if (obj == NULL || obj == Py_None)
        return 0;
    if (!PyDateTime_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "timestamp must be a datetime.datetime object");
        return -1;
    }
    PyObject *offset = PyObject_CallMethod(obj, "utcoffset", NULL);
    if (offset == NULL)
        return -1;
    int naive = offset == Py_None;
    Py_DECREF(offset);
    if (naive) {
        PyErr_SetString(PyExc_ValueError, "timestamp datetime must be timezone-aware");
        return -1;
    }
    nr_py_state *st = nr_py_get_state();
    PyObject *delta = PyNumber_Subtract(obj, st->epoch_utc);
    if (delta == NULL)
        return -1;
    int64_t days = PyDateTime_DELTA_GET_DAYS(delta);
    int64_t secs = PyDateTime_DELTA_GET_SECONDS(delta);
    int64_t us = PyDateTime_DELTA_GET_MICROSECONDS(delta);
    Py_DECREF(delta);
    *out = (days * 86400 + secs) * 1000000 + us;
    *present = true;
    return 0;
}

PyObject *nr_py_datetime_from_us(int64_t us)
{
    nr_py_state *st = nr_py_get_state();
    int64_t days = us / 86400000000LL;
    int64_t rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days -= 1;
    }
    PyObject *delta = PyDelta_FromDSU((int)days, (int)(rem / 1000000), (int)(rem % 1000000));
    if (delta == NULL)
        return NULL;
    PyObject *dt = PyNumber_Add(st->epoch_utc, delta);
    Py_DECREF(delta);
    return dt;
}

int nr_py_convert_init(nr_py_state *st)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return -1;
    st->epoch_utc = PyDateTimeAPI->DateTime_FromDateAndTime(
        1970, 1, 1, 0, 0, 0, 0, PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
    return st->epoch_utc == NULL ? -1 : 0;
}
