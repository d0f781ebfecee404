/* The two loops of ledger.log.verify_heads.ReplayedMap that run once a node, in C, for the
 * SHA-256 profile: hashing a version's changed leaves into place, and hashing the internal
 * nodes above them level by level.
 *
 * They work on ReplayedMap's own dictionaries, lists and sets and change nothing else, so the
 * map's layout (where a node is stored, the shortcut rule for a new stream) keeps its one
 * definition in Python; this module only removes the interpreter's cost per node, which is
 * most of ledger verify's cost for the map (docs/performance.md). Every function here is the
 * Python loop of the same name in verify_heads.py, step for step; tests/ledger/log/
 * test_verify_heads.py holds the two to the same roots and rows.
 *
 * Optional: where it cannot be built (no compiler, no OpenSSL headers) the Python loops run.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10100000L /* the low-level SHA-256 calls: no provider lookup */
#include <Python.h>
#include <openssl/sha.h>
#include <string.h>

#define HASH_SIZE 32
#define VALUE_SIZE 48
#define MAX_PART 64 /* a child's hash as stored: 32 bytes, or b"" while pending */

static PyObject *ONE;

/* H(tag ‖ a ‖ b) into out: the map's leaf (0x11) and internal node (0x12) hashes. */
static void
tagged_hash(unsigned char tag, const char *a, Py_ssize_t alen, const char *b, Py_ssize_t blen,
            unsigned char *out)
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &tag, 1);
    SHA256_Update(&ctx, a, (size_t)alen);
    SHA256_Update(&ctx, b, (size_t)blen);
    SHA256_Final(out, &ctx);
}

/* A new bytes object: prefix ‖ a ‖ b. */
static PyObject *
joined(PyObject *prefix, const char *a, Py_ssize_t alen, const char *b, Py_ssize_t blen)
{
    Py_ssize_t plen = PyBytes_GET_SIZE(prefix);
    PyObject *out = PyBytes_FromStringAndSize(NULL, plen + alen + blen);
    if (out == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(out);
    memcpy(p, PyBytes_AS_STRING(prefix), (size_t)plen);
    memcpy(p + plen, a, (size_t)alen);
    memcpy(p + plen + alen, b, (size_t)blen);
    return out;
}

/* levels[depth].add(position), making the set if there is none. */
static int
add_at(PyObject *levels, PyObject *depth, PyObject *position)
{
    PyObject *found = PyDict_GetItemWithError(levels, depth);
    if (found == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *made = PySet_New(NULL);
        if (made == NULL) {
            return -1;
        }
        int failed = PyDict_SetItem(levels, depth, made);
        Py_DECREF(made);
        if (failed) {
            return -1;
        }
        found = made; /* the dict holds it */
    }
    return PySet_Add(found, position);
}

/* group[slot] = node, for a list and an index that Python placed (checked, not trusted). */
static int
store_slot(PyObject *group, PyObject *slot_obj, PyObject *node)
{
    if (!PyList_Check(group)) {
        PyErr_SetString(PyExc_TypeError, "a group's slots must be a list");
        return -1;
    }
    Py_ssize_t slot = PyLong_AsSsize_t(slot_obj);
    if (slot == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (slot < 0 || slot >= PyList_GET_SIZE(group)) {
        PyErr_SetString(PyExc_IndexError, "a slot beyond its group");
        return -1;
    }
    Py_INCREF(node);
    PyObject *old = PyList_GET_ITEM(group, slot);
    PyList_SET_ITEM(group, slot, node);
    Py_XDECREF(old);
    return 0;
}

/* A bytes object of at most MAX_PART bytes (a stored hash, or the pending b""). */
static int
part_of(PyObject *value, const char **data, Py_ssize_t *size)
{
    if (!PyBytes_Check(value) || PyBytes_GET_SIZE(value) > MAX_PART) {
        PyErr_SetString(PyExc_TypeError, "a node's hash must be bytes of at most 64");
        return -1;
    }
    *data = PyBytes_AS_STRING(value);
    *size = PyBytes_GET_SIZE(value);
    return 0;
}

PyDoc_STRVAR(set_leaves_doc,
"set_leaves(changes, leaf_of, hashes, levels, tags)\n\n"
"ReplayedMap._set_leaves for SHA-256, every key already placed: for each (key, value), its\n"
"leaf H(0x11 ‖ key ‖ H(value)) at its position, tags[slot] ‖ key ‖ value in its slot, and\n"
"its parent added to levels at its depth.");

static PyObject *
set_leaves(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "set_leaves takes 5 arguments");
        return NULL;
    }
    PyObject *changes = args[0], *leaf_of = args[1], *hashes = args[2], *levels = args[3];
    PyObject *tags = args[4];
    if (!PyList_Check(changes) || !PyDict_Check(leaf_of) || !PyDict_Check(hashes)
        || !PyDict_Check(levels) || !PyTuple_Check(tags)) {
        PyErr_SetString(PyExc_TypeError, "set_leaves: a list, three dicts and a tuple");
        return NULL;
    }
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(changes); n++) {
        PyObject *change = PyList_GET_ITEM(changes, n);
        if (!PyTuple_Check(change) || PyTuple_GET_SIZE(change) != 2) {
            PyErr_SetString(PyExc_TypeError, "a change must be a (key, value) tuple");
            return NULL;
        }
        PyObject *key = PyTuple_GET_ITEM(change, 0), *value = PyTuple_GET_ITEM(change, 1);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != HASH_SIZE || !PyBytes_Check(value)
            || PyBytes_GET_SIZE(value) != VALUE_SIZE) {
            PyErr_SetString(PyExc_ValueError, "a change is a 32-byte key and a 48-byte value");
            return NULL;
        }
        PyObject *place = PyDict_GetItemWithError(leaf_of, key);
        if (place == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, key);
            }
            return NULL;
        }
        if (!PyTuple_Check(place) || PyTuple_GET_SIZE(place) != 4) {
            PyErr_SetString(PyExc_TypeError, "a leaf's place is (position, depth, group, slot)");
            return NULL;
        }
        PyObject *position = PyTuple_GET_ITEM(place, 0), *above = PyTuple_GET_ITEM(place, 1);
        PyObject *slot = PyTuple_GET_ITEM(place, 3);
        Py_ssize_t slot_index = PyLong_AsSsize_t(slot);
        if (slot_index == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (slot_index < 0 || slot_index >= PyTuple_GET_SIZE(tags)
            || !PyBytes_Check(PyTuple_GET_ITEM(tags, slot_index))) {
            PyErr_SetString(PyExc_IndexError, "a leaf's slot has no tag");
            return NULL;
        }
        const char *k = PyBytes_AS_STRING(key), *v = PyBytes_AS_STRING(value);
        unsigned char value_hash[HASH_SIZE], leaf[HASH_SIZE];
        SHA256((const unsigned char *)v, VALUE_SIZE, value_hash);
        tagged_hash(0x11, k, HASH_SIZE, (const char *)value_hash, HASH_SIZE, leaf);
        PyObject *digest = PyBytes_FromStringAndSize((const char *)leaf, HASH_SIZE);
        if (digest == NULL) {
            return NULL;
        }
        int failed = PyDict_SetItem(hashes, position, digest);
        Py_DECREF(digest);
        if (failed) {
            return NULL;
        }
        PyObject *node = joined(PyTuple_GET_ITEM(tags, slot_index), k, HASH_SIZE, v, VALUE_SIZE);
        if (node == NULL) {
            return NULL;
        }
        failed = store_slot(PyTuple_GET_ITEM(place, 2), slot, node);
        Py_DECREF(node);
        if (failed) {
            return NULL;
        }
        long depth = PyLong_AsLong(above);
        if (depth == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (depth >= 0) {
            PyObject *parent = PyNumber_Rshift(position, ONE);
            if (parent == NULL) {
                return NULL;
            }
            failed = add_at(levels, above, parent);
            Py_DECREF(parent);
            if (failed) {
                return NULL;
            }
        }
    }
    Py_RETURN_NONE;
}

/* Hash one internal node at position i: its hash into hashes, tag ‖ pair into its slot, its
 * parent into parents, and (at a group's top) i into tops. */
static int
hash_node(PyObject *i, PyObject *hashes, PyObject *inner, PyObject *inner_slot,
          PyObject *empty, PyObject *parents, PyObject *tops)
{
    PyObject *left = PyNumber_Add(i, i);
    if (left == NULL) {
        return -1;
    }
    PyObject *right = PyNumber_Add(left, ONE);
    if (right == NULL) {
        Py_DECREF(left);
        return -1;
    }
    PyObject *lh = PyDict_GetItemWithError(hashes, left);
    PyObject *rh = lh == NULL && PyErr_Occurred() ? NULL : PyDict_GetItemWithError(hashes, right);
    Py_DECREF(left);
    Py_DECREF(right);
    if (PyErr_Occurred()) {
        return -1;
    }
    const char *a, *b;
    Py_ssize_t alen, blen;
    if (part_of(lh == NULL ? empty : lh, &a, &alen) || part_of(rh == NULL ? empty : rh, &b, &blen)) {
        return -1;
    }
    char pair[2 * MAX_PART]; /* copied: the dict may move its values when it is set below */
    memcpy(pair, a, (size_t)alen);
    memcpy(pair + alen, b, (size_t)blen);
    unsigned char node_hash[HASH_SIZE];
    tagged_hash(0x12, pair, alen + blen, "", 0, node_hash);
    PyObject *digest = PyBytes_FromStringAndSize((const char *)node_hash, HASH_SIZE);
    if (digest == NULL) {
        return -1;
    }
    int failed = PyDict_SetItem(hashes, i, digest);
    Py_DECREF(digest);
    if (failed) {
        return -1;
    }
    PyObject *place = PyDict_GetItemWithError(inner, i);
    if (place != NULL) {
        Py_INCREF(place);
    } else if (PyErr_Occurred()) {
        return -1;
    } else { /* the position's first time as an internal node */
        place = PyObject_CallOneArg(inner_slot, i);
        if (place == NULL) {
            return -1;
        }
    }
    if (!PyTuple_Check(place) || PyTuple_GET_SIZE(place) != 3
        || !PyBytes_Check(PyTuple_GET_ITEM(place, 2))) {
        Py_DECREF(place);
        PyErr_SetString(PyExc_TypeError, "an internal node's place is (group, slot, tag)");
        return -1;
    }
    PyObject *node = joined(PyTuple_GET_ITEM(place, 2), pair, alen + blen, "", 0);
    failed = node == NULL || store_slot(PyTuple_GET_ITEM(place, 0), PyTuple_GET_ITEM(place, 1),
                                        node);
    Py_XDECREF(node);
    Py_DECREF(place);
    if (failed) {
        return -1;
    }
    PyObject *parent = PyNumber_Rshift(i, ONE);
    if (parent == NULL) {
        return -1;
    }
    failed = PySet_Add(parents, parent);
    Py_DECREF(parent);
    if (failed) {
        return -1;
    }
    return tops == NULL ? 0 : PyList_Append(tops, i);
}

PyDoc_STRVAR(hash_levels_doc,
"hash_levels(levels, hashes, inner, inner_slot, empty, group_levels) -> (root, tops)\n\n"
"ReplayedMap._hash_levels' loop for SHA-256: the internal nodes of levels (depth -> set of\n"
"positions) and their ancestors hashed the deepest first, H(0x12 ‖ left ‖ right) with empty\n"
"for a missing child, each node's tag ‖ left ‖ right stored in the slot inner (or\n"
"inner_slot(position), the first time) names; returns the root and the positions hashed at\n"
"depths that are multiples of group_levels.");

static PyObject *
hash_levels(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "hash_levels takes 6 arguments");
        return NULL;
    }
    PyObject *levels = args[0], *hashes = args[1], *inner = args[2], *inner_slot = args[3];
    PyObject *empty = args[4];
    if (!PyDict_Check(levels) || !PyDict_Check(hashes) || !PyDict_Check(inner)
        || !PyBytes_Check(empty)) {
        PyErr_SetString(PyExc_TypeError, "hash_levels: three dicts, a callable and bytes");
        return NULL;
    }
    long group_levels = PyLong_AsLong(args[5]);
    if (group_levels <= 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "group_levels must be positive");
        }
        return NULL;
    }
    long depth = -1;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(levels, &pos, &k, &v)) {
        long d = PyLong_AsLong(k);
        if (d == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (d > depth) {
            depth = d;
        }
    }
    if (depth < 0) {
        PyErr_SetString(PyExc_ValueError, "hash_levels needs a level at depth 0 or below it");
        return NULL;
    }
    PyObject *tops = PyList_New(0);
    if (tops == NULL) {
        return NULL;
    }
    PyObject *key = PyLong_FromLong(depth);
    PyObject *nodes = key == NULL ? NULL : PyDict_GetItemWithError(levels, key);
    Py_XDECREF(key);
    Py_XINCREF(nodes);
    while (nodes != NULL) {
        PyObject *parents = NULL;
        if (depth) {
            key = PyLong_FromLong(depth - 1);
            if (key == NULL) {
                goto fail;
            }
            parents = PyDict_GetItemWithError(levels, key);
            Py_DECREF(key);
            Py_XINCREF(parents);
            if (parents == NULL && PyErr_Occurred()) {
                goto fail;
            }
        }
        if (parents == NULL && (parents = PySet_New(NULL)) == NULL) {
            goto fail;
        }
        PyObject *at_top = depth % group_levels == 0 ? tops : NULL;
        PyObject *iterator = PyObject_GetIter(nodes);
        if (iterator == NULL) {
            Py_DECREF(parents);
            goto fail;
        }
        PyObject *i;
        int failed = 0;
        while (!failed && (i = PyIter_Next(iterator)) != NULL) {
            failed = hash_node(i, hashes, inner, inner_slot, empty, parents, at_top);
            Py_DECREF(i);
        }
        Py_DECREF(iterator);
        if (failed || PyErr_Occurred()) {
            Py_DECREF(parents);
            goto fail;
        }
        Py_DECREF(nodes);
        nodes = NULL;
        if (depth == 0) {
            Py_DECREF(parents);
            break;
        }
        depth -= 1;
        nodes = parents;
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    PyObject *root_key = PyLong_FromLong(1);
    PyObject *root = root_key == NULL ? NULL : PyDict_GetItemWithError(hashes, root_key);
    Py_XDECREF(root_key);
    if (root == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_KeyError, "the map has no root after hashing its levels");
        }
        Py_DECREF(tops);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, root, tops);
    Py_DECREF(tops);
    return result;
fail:
    Py_XDECREF(nodes);
    Py_DECREF(tops);
    return NULL;
}

static PyMethodDef methods[] = {
    {"set_leaves", (PyCFunction)(void (*)(void))set_leaves, METH_FASTCALL, set_leaves_doc},
    {"hash_levels", (PyCFunction)(void (*)(void))hash_levels, METH_FASTCALL, hash_levels_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ledger.log._replay",
    "The stream heads map's replay loops in C, for ledger verify (SHA-256 profile).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__replay(void)
{
    ONE = PyLong_FromLong(1);
    if (ONE == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
