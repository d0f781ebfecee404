/* ledger verify's first look at an entry's stored bytes, in C: whether they are, beyond doubt,
 * the RFC 8785 (JCS) canonical form of their JSON value, and if so the entry's envelope and its
 * filing's fields, without building the payload.
 *
 * Why: a verify worker used to decode every entry whole (msgspec) and encode it again (orjson)
 * to compare, some 5 µs of an 850-byte entry, most of it making the payload's Python objects,
 * which nothing after the canonical check reads: the author's signature covers the filing's
 * bytes, sliced from the entry's own.
 *
 * scan_entry(data) returns None whenever it is not sure, and the worker then takes its exact
 * path (ledger.log.verify_worker.load_canonical), which decides and says why. It is sure only
 * of bytes that are canonical by construction, every rule checked as it reads:
 *   - an object at the top, nothing before or after it, no whitespace anywhere outside strings;
 *   - object keys plain printable ASCII with no escape, in strictly increasing byte order (for
 *     such keys the order of RFC 8785's UTF-16 code units, and no key twice);
 *   - strings valid UTF-8 (shortest forms, no surrogates), with only JCS's escapes: \" \\ \b
 *     \f \n \r \t, and \u00xx in lower-case hex for the other control characters, which
 *     must be escaped; nothing else escaped (not "/", not DEL, not any non-ASCII character);
 *   - numbers integers written as JCS writes them ("0", or digits with no leading zero, "-"
 *     before a non-zero one) within ±(2^53 - 1): no fraction, no exponent, no "-0";
 *   - true, false, null; arrays; nesting at most MAX_DEPTH deep.
 * tests/ledger/log/test_canonical_scan.py holds it to the exact path on generated values and
 * on edits of canonical entries.
 *
 * What it builds: the top object as a dict, and the objects directly in it (the filing) as
 * dicts, with their strings, numbers and literals; anything nested deeper (the payload) is
 * read and checked, and stands as an empty dict or list of its kind.
 *
 * Optional, as _replay.c: without a compiler the exact path runs for every entry.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 200
#define MAX_SAFE 9007199254740991LL /* 2^53 - 1 */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} Scan;

/* -1: not sure (no Python error set); -2: a Python error (memory). */
enum { NOT_SURE = -1, FAILED = -2 };

static int value(Scan *s, int level, int build, PyObject **out);

/* The length of the valid, shortest UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static int
utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (end - p < n) {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

static int
hex_lower(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Bytes that stand for themselves in a canonical string: printable ASCII and DEL, but the
 * quote and the backslash (set up at import). */
static unsigned char PLAIN[256];

/* A string at s->p (its opening quote): checked, and decoded if `build`. */
static int
string(Scan *s, int build, PyObject **out)
{
    const unsigned char *start = ++s->p, *p = start, *end = s->end;
    int escaped = 0, ascii = 1;
    for (;;) {
        while (p < end && PLAIN[*p]) {
            p++;
        }
        if (p >= end) {
            return NOT_SURE;
        }
        unsigned char c = *p;
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return NOT_SURE; /* a control character must be escaped */
        }
        if (c == '\\') {
            if (s->end - p < 2) {
                return NOT_SURE;
            }
            unsigned char e = p[1];
            if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r'
                || e == 't') {
                p += 2;
            } else if (e == 'u') {
                /* only \u00xx, for a control character without a short escape */
                if (s->end - p < 6 || p[2] != '0' || p[3] != '0') {
                    return NOT_SURE;
                }
                int hi = hex_lower(p[4]), lo = hex_lower(p[5]);
                if (hi < 0 || lo < 0 || hi > 1) {
                    return NOT_SURE;
                }
                int code = hi * 16 + lo;
                if (code == 0x08 || code == 0x09 || code == 0x0A || code == 0x0C
                    || code == 0x0D) {
                    return NOT_SURE; /* JCS writes these short */
                }
                p += 6;
            } else {
                return NOT_SURE;
            }
            escaped = 1;
            continue;
        }
        /* c >= 0x80: a UTF-8 sequence (three bytes, as Chinese text is, checked inline) */
        ascii = 0;
        if ((c & 0xF0) == 0xE0 && end - p >= 3 && (p[1] & 0xC0) == 0x80
            && (p[2] & 0xC0) == 0x80 && (c != 0xE0 || p[1] >= 0xA0)
            && (c != 0xED || p[1] < 0xA0)) { /* not overlong, not a surrogate */
            p += 3;
            continue;
        }
        int n = utf8_sequence(p, end);
        if (n == 0) {
            return NOT_SURE;
        }
        p += n;
    }
    s->p = p + 1;
    if (!build) {
        return 0;
    }
    Py_ssize_t size = p - start;
    if (!escaped) {
        *out = ascii ? PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, start, size)
                     : PyUnicode_DecodeUTF8((const char *)start, size, "strict");
        return *out == NULL ? FAILED : 0;
    }
    char *buffer = PyMem_Malloc((size_t)size + 1);
    if (buffer == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    Py_ssize_t n = 0;
    for (const unsigned char *q = start; q < p;) {
        if (*q != '\\') {
            buffer[n++] = (char)*q++;
            continue;
        }
        unsigned char e = q[1];
        switch (e) {
        case 'b': buffer[n++] = '\b'; break;
        case 'f': buffer[n++] = '\f'; break;
        case 'n': buffer[n++] = '\n'; break;
        case 'r': buffer[n++] = '\r'; break;
        case 't': buffer[n++] = '\t'; break;
        case 'u': buffer[n++] = (char)(hex_lower(q[4]) * 16 + hex_lower(q[5])); break;
        default: buffer[n++] = (char)e; break; /* " or \ */
        }
        q += e == 'u' ? 6 : 2;
    }
    *out = PyUnicode_DecodeUTF8(buffer, n, "strict");
    PyMem_Free(buffer);
    return *out == NULL ? FAILED : 0;
}

/* An integer as JCS writes it, within ±(2^53 - 1). */
static int
number(Scan *s, int build, PyObject **out)
{
    const unsigned char *p = s->p;
    int negative = *p == '-';
    if (negative) {
        p++;
    }
    if (p >= s->end || *p < '0' || *p > '9') {
        return NOT_SURE;
    }
    long long v = 0;
    int digits = 0;
    if (*p == '0') {
        p++;
        digits = 1;
        if (negative) {
            return NOT_SURE; /* "-0" */
        }
    } else {
        while (p < s->end && *p >= '0' && *p <= '9') {
            if (++digits > 16) {
                return NOT_SURE;
            }
            v = v * 10 + (*p++ - '0');
        }
    }
    if (v > MAX_SAFE || (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))) {
        return NOT_SURE; /* beyond 2^53 - 1, or a float */
    }
    s->p = p;
    if (build && (*out = PyLong_FromLongLong(negative ? -v : v)) == NULL) {
        return FAILED;
    }
    return 0;
}

static int
literal(Scan *s, const char *word, PyObject *as, int build, PyObject **out)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return NOT_SURE;
    }
    s->p += n;
    if (build) {
        *out = Py_NewRef(as);
    }
    return 0;
}

/* An object's key: printable ASCII with no escape (others: not sure), after `previous`. */
static int
key(Scan *s, const unsigned char **previous, Py_ssize_t *previous_size)
{
    if (s->p >= s->end || *s->p != '"') {
        return NOT_SURE;
    }
    const unsigned char *start = s->p + 1, *p = start;
    while (p < s->end && *p != '"') {
        if (*p < 0x20 || *p >= 0x7F || *p == '\\') {
            return NOT_SURE;
        }
        p++;
    }
    if (p >= s->end) {
        return NOT_SURE;
    }
    Py_ssize_t size = p - start;
    if (*previous != NULL) { /* strictly after the key before it, byte by byte */
        Py_ssize_t common = size < *previous_size ? size : *previous_size;
        int order = memcmp(*previous, start, (size_t)common);
        if (order > 0 || (order == 0 && *previous_size >= size)) {
            return NOT_SURE;
        }
    }
    *previous = start;
    *previous_size = size;
    s->p = p + 1;
    return 0;
}

/* Keys the entries always have (set by known_keys, from ledger.log.entries): made once, their
 * hashes kept, and handed out again instead of a new string each time. */
#define MAX_KNOWN 32
static PyObject *KNOWN[MAX_KNOWN];
static int N_KNOWN;

static PyObject *
key_object(const unsigned char *name, Py_ssize_t size)
{
    for (int i = 0; i < N_KNOWN; i++) {
        if (PyUnicode_GET_LENGTH(KNOWN[i]) == size
            && memcmp(PyUnicode_1BYTE_DATA(KNOWN[i]), name, (size_t)size) == 0) {
            return Py_NewRef(KNOWN[i]);
        }
    }
    return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, name, size);
}

/* After a container's member: 1 at its close, 0 at a comma (either read), or NOT_SURE. */
static int
next_member(Scan *s, unsigned char close)
{
    if (s->p >= s->end) {
        return NOT_SURE;
    }
    if (*s->p == close) {
        s->p++;
        return 1;
    }
    if (*s->p != ',') {
        return NOT_SURE;
    }
    s->p++;
    return 0;
}

/* A container's end: handed out if it was built and read whole, dropped otherwise. */
static int
finish(int rc, PyObject *container, int build, PyObject **out)
{
    if (rc != 0) {
        Py_XDECREF(container);
        return rc;
    }
    if (build) {
        *out = container;
    }
    return 0;
}

static int
object(Scan *s, int level, int build, PyObject **out)
{
    PyObject *dict = NULL;
    int members = build && level > 0;
    if (build && (dict = PyDict_New()) == NULL) {
        return FAILED;
    }
    s->p++;
    const unsigned char *previous = NULL;
    Py_ssize_t previous_size = 0;
    int rc = 0;
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        goto done;
    }
    for (;;) {
        const unsigned char *name = s->p + 1;
        if ((rc = key(s, &previous, &previous_size)) != 0) {
            goto done;
        }
        Py_ssize_t name_size = s->p - 1 - name;
        if (s->p >= s->end || *s->p != ':') {
            rc = NOT_SURE;
            goto done;
        }
        s->p++;
        PyObject *item = NULL;
        if ((rc = value(s, level - 1, members, &item)) != 0) {
            goto done;
        }
        if (members) {
            PyObject *k = key_object(name, name_size);
            int failed = k == NULL || PyDict_SetItem(dict, k, item);
            Py_XDECREF(k);
            Py_DECREF(item);
            if (failed) {
                rc = FAILED;
                goto done;
            }
        }
        if ((rc = next_member(s, '}')) != 0) {
            rc = rc == 1 ? 0 : rc;
            break;
        }
    }
done:
    return finish(rc, dict, build, out);
}

static int
array(Scan *s, int level, int build, PyObject **out)
{
    PyObject *list = NULL;
    int members = build && level > 0;
    if (build && (list = PyList_New(0)) == NULL) {
        return FAILED;
    }
    s->p++;
    int rc = 0;
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        goto done;
    }
    for (;;) {
        PyObject *item = NULL;
        if ((rc = value(s, level - 1, members, &item)) != 0) {
            goto done;
        }
        if (members) {
            int failed = PyList_Append(list, item);
            Py_DECREF(item);
            if (failed) {
                rc = FAILED;
                goto done;
            }
        }
        if ((rc = next_member(s, ']')) != 0) {
            rc = rc == 1 ? 0 : rc;
            break;
        }
    }
done:
    return finish(rc, list, build, out);
}

/* A value at s->p. `level`: how many levels of containers below this one are built (a
 * container at level 0 is checked and stands empty); `build`: whether to make it at all. */
static int
value(Scan *s, int level, int build, PyObject **out)
{
    if (s->p >= s->end) {
        return NOT_SURE;
    }
    int rc;
    switch (*s->p) {
    case '{':
    case '[':
        if (++s->depth > MAX_DEPTH) {
            return NOT_SURE;
        }
        rc = *s->p == '{' ? object(s, level, build, out) : array(s, level, build, out);
        s->depth--;
        return rc;
    case '"':
        return string(s, build, out);
    case 't':
        return literal(s, "true", Py_True, build, out);
    case 'f':
        return literal(s, "false", Py_False, build, out);
    case 'n':
        return literal(s, "null", Py_None, build, out);
    default:
        return number(s, build, out);
    }
}

PyDoc_STRVAR(scan_entry_doc,
"scan_entry(data) -> dict | None\n\n"
"The entry's top object and the objects in it (its filing) as dicts, the payload standing as\n"
"an empty dict, if `data` is beyond doubt the JCS canonical form of its value; None\n"
"otherwise (not canonical, not JSON, or a form this scan leaves to the exact path).");

static PyObject *
scan_entry(PyObject *Py_UNUSED(module), PyObject *data)
{
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "scan_entry takes bytes");
        return NULL;
    }
    Scan s = {(const unsigned char *)PyBytes_AS_STRING(data),
              (const unsigned char *)PyBytes_AS_STRING(data) + PyBytes_GET_SIZE(data), 0};
    if (s.p >= s.end || *s.p != '{') {
        Py_RETURN_NONE;
    }
    PyObject *out = NULL;
    int rc = value(&s, 2, 1, &out);
    if (rc == FAILED) {
        return NULL;
    }
    if (rc != 0 || s.p != s.end) {
        Py_XDECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

PyDoc_STRVAR(known_keys_doc,
"known_keys(keys)\n\n"
"The object keys to make once and hand out again (an entry's and its filing's: plain ASCII\n"
"strings, at most 32); replaces those given before.");

static PyObject *
known_keys(PyObject *Py_UNUSED(module), PyObject *keys)
{
    PyObject *items = PySequence_Fast(keys, "known_keys takes a sequence of str");
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(items, i);
        if (!PyUnicode_CheckExact(k) || !PyUnicode_IS_ASCII(k) || n > MAX_KNOWN) {
            Py_DECREF(items);
            PyErr_SetString(PyExc_ValueError, "known_keys: at most 32 ASCII str");
            return NULL;
        }
    }
    for (int i = 0; i < N_KNOWN; i++) {
        Py_CLEAR(KNOWN[i]);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(items, i);
        (void)PyObject_Hash(k); /* kept with the string: every dict insertion reuses it */
        KNOWN[i] = Py_NewRef(k);
    }
    N_KNOWN = (int)n;
    Py_DECREF(items);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan_entry", (PyCFunction)scan_entry, METH_O, scan_entry_doc},
    {"known_keys", (PyCFunction)known_keys, METH_O, known_keys_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ledger.log._canonical",
    .m_doc = "ledger verify's check that an entry's bytes are canonical JCS, in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__canonical(void)
{
    for (int c = 0x20; c <= 0x7F; c++) {
        PLAIN[c] = c != '"' && c != '\\';
    }
    return PyModule_Create(&module_def);
}
