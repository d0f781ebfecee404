/* What ledger verify recomputes, in C, under SHA-256: the stream heads map version by version
 * (ledger.log.verify_heads.ReplayedMap's state and its apply(), with the nodes in flat arrays
 * instead of Python dictionaries of ints and bytes), and the log's Merkle tree grown leaf by
 * leaf (ledger.log.merkle.extend_nodes, at the end of this file).
 *
 * Why: verify recomputes every version of the map (one per checkpoint) and compares each
 * version's rewritten node groups with the stored ones. In Python every node costs a few
 * dictionary operations and allocations, and in a verify run, where the workers checking
 * signatures share the cores, those run about half again slower than alone (cache misses).
 * Here a node is a record in one array, found through an open-addressing table by its heap
 * position, and a group's row is written from its 31 slot indexes.
 *
 * The rules are the Python ones, step for step (docs/evidence-format.md, Stream heads map):
 * a node's heap position is 2^depth + prefix; a leaf is H(0x11 ‖ key ‖ H(value)) and sits
 * one level below the deepest prefix its key shares with another key (the shortcut rule); an
 * internal node is H(0x12 ‖ left ‖ right), an empty child being 32 zero bytes; a group's top
 * is an internal node at a depth that is a multiple of four (or the root), holding the
 * internal nodes of its first four levels and the leaves of its first five; a group's row is
 * its slots in order, each slot ‖ kind (0x00 leaf, 0x01 internal) ‖ key ‖ value or left ‖
 * right. tests/ledger/log/test_verify_heads.py holds this to the writer's map at every version.
 *
 * Positions are kept in 128 bits, so a leaf may be at most MAX_DEPTH deep: two stream keys
 * (SHA-256 outputs) sharing 120 leading bits. Before it changes anything, apply() checks the
 * version's new keys against that and returns None if one would go deeper; the Python side
 * then takes the state over (export()) and goes on in Python.
 *
 * Optional: where it cannot be built (no compiler, no OpenSSL headers) the Python map runs.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10100000L /* the low-level SHA-256 calls: no provider lookup */
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

#define HASH_SIZE 32
#define KEY_SIZE 32
#define VALUE_SIZE 48
#define LEAF_BODY (KEY_SIZE + VALUE_SIZE)
#define INNER_BODY (2 * HASH_SIZE)
#define GROUP_LEVELS 4
#define GROUP_SLOTS 31
#define MAX_DEPTH 120

enum { NONE = 0, LEAF = 1, PENDING = 2, INNER = 3 };

typedef struct {
    u128 pos;
    unsigned char hash[HASH_SIZE];
    unsigned char body[LEAF_BODY]; /* a leaf's key ‖ value; an internal node's left ‖ right */
    uint32_t epoch;                /* the last version that queued it for hashing */
    int32_t group;                 /* the group its slot is in (-1: none yet) */
    int32_t own_group;             /* the group whose top is this position (-1: none) */
    uint8_t kind;
    uint8_t slot;
} Node;

typedef struct {
    u128 top;
    int depth;
    int32_t slots[GROUP_SLOTS]; /* node indexes, -1 where empty */
} Group;

typedef struct {
    int32_t *items;
    Py_ssize_t size, cap;
} Vec;

typedef struct {
    PyObject_HEAD
    Node *nodes;
    Py_ssize_t n_nodes, cap_nodes;
    int32_t *by_pos; /* open addressing: node indexes by position, -1 empty */
    Py_ssize_t pos_mask;
    int32_t *by_key; /* open addressing: leaf node indexes by key, -1 empty */
    Py_ssize_t key_mask, n_keys;
    Group *groups;
    Py_ssize_t n_groups, cap_groups;
    Vec queue[MAX_DEPTH + 1];
    Vec tops;
    Vec changed; /* the groups the last version changed */
    uint32_t epoch;
} Replay;

static const unsigned char EMPTY[HASH_SIZE];

/* --- small helpers ------------------------------------------------------------------------ */

static int
depth_of(u128 pos)
{
    uint64_t hi = (uint64_t)(pos >> 64);
    return hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll((uint64_t)pos);
}

static size_t
mix(u128 pos)
{
    uint64_t x = (uint64_t)pos ^ ((uint64_t)(pos >> 64) * 0x9E3779B97F4A7C15ULL);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t
key_hash(const unsigned char *key)
{
    uint64_t x;
    memcpy(&x, key, sizeof x); /* keys are hash outputs: their bytes are already uniform */
    return (size_t)x;
}

/* The key's bit at depth d (the first bit is depth 0's: the root's choice). */
static int
bit_at(const unsigned char *key, int d)
{
    return (key[d >> 3] >> (7 - (d & 7))) & 1;
}

/* The first `depth` bits of a key as an integer. */
static u128
prefix_of(const unsigned char *key, int depth)
{
    u128 p = 0;
    for (int i = 0; i < depth; i++) {
        p = (p << 1) | (u128)bit_at(key, i);
    }
    return p;
}

/* Leading bits two keys share (256 if equal). */
static int
shared_bits(const unsigned char *a, const unsigned char *b)
{
    for (int i = 0; i < KEY_SIZE; i++) {
        unsigned char x = a[i] ^ b[i];
        if (x) {
            return i * 8 + __builtin_clz((unsigned)x) - 24;
        }
    }
    return KEY_SIZE * 8;
}

static void
tagged_hash(unsigned char tag, const unsigned char *data, size_t size, unsigned char *out)
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &tag, 1);
    SHA256_Update(&ctx, data, size);
    SHA256_Final(out, &ctx);
}

/* Room for one more item in an array that doubles (`first`: its first capacity). */
static int
reserve(void **items, Py_ssize_t size, Py_ssize_t *cap, size_t item_size, Py_ssize_t first)
{
    if (size < *cap) {
        return 0;
    }
    Py_ssize_t want = *cap ? *cap * 2 : first;
    void *grown = PyMem_Realloc(*items, (size_t)want * item_size);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = grown;
    *cap = want;
    return 0;
}

static int
vec_push(Vec *v, int32_t item)
{
    if (reserve((void **)&v->items, v->size, &v->cap, sizeof *v->items, 16)) {
        return -1;
    }
    v->items[v->size++] = item;
    return 0;
}

/* --- the tables ----------------------------------------------------------------------------- */

static int32_t
find_pos(Replay *r, u128 pos)
{
    for (size_t i = mix(pos) & (size_t)r->pos_mask;; i = (i + 1) & (size_t)r->pos_mask) {
        int32_t at = r->by_pos[i];
        if (at < 0 || r->nodes[at].pos == pos) {
            return at;
        }
    }
}

static int32_t
find_key(Replay *r, const unsigned char *key)
{
    for (size_t i = key_hash(key) & (size_t)r->key_mask;; i = (i + 1) & (size_t)r->key_mask) {
        int32_t at = r->by_key[i];
        if (at < 0 || memcmp(r->nodes[at].body, key, KEY_SIZE) == 0) {
            return at;
        }
    }
}

/* Put `at` in the first free slot from `hash` on (linear probing). */
static void
place_in(int32_t *table, Py_ssize_t mask, size_t hash, int32_t at)
{
    size_t i = hash & (size_t)mask;
    while (table[i] >= 0) {
        i = (i + 1) & (size_t)mask;
    }
    table[i] = at;
}

static int32_t *
new_table(Py_ssize_t size)
{
    int32_t *table = PyMem_Malloc((size_t)size * sizeof *table);
    if (table == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memset(table, 0xff, (size_t)size * sizeof *table);
    return table;
}

/* The position table rebuilt at twice its size (kept under half full). */
static int
grow_pos(Replay *r)
{
    Py_ssize_t size = (r->pos_mask + 1) * 2;
    int32_t *table = new_table(size);
    if (table == NULL) {
        return -1;
    }
    PyMem_Free(r->by_pos);
    r->by_pos = table;
    r->pos_mask = size - 1;
    for (Py_ssize_t n = 0; n < r->n_nodes; n++) {
        place_in(table, r->pos_mask, mix(r->nodes[n].pos), (int32_t)n);
    }
    return 0;
}

/* A new node record at pos (not yet in the table); its index, or -1. */
static int32_t
add_node(Replay *r, u128 pos, uint8_t kind)
{
    if (r->n_nodes >= INT32_MAX - 1) {
        PyErr_SetString(PyExc_OverflowError, "too many map nodes for the C replay");
        return -1;
    }
    if (reserve((void **)&r->nodes, r->n_nodes, &r->cap_nodes, sizeof *r->nodes, 1024)) {
        return -1;
    }
    if ((r->n_nodes + 1) * 2 > r->pos_mask + 1 && grow_pos(r)) {
        return -1;
    }
    int32_t at = (int32_t)r->n_nodes++;
    Node *n = &r->nodes[at];
    memset(n, 0, sizeof *n);
    n->pos = pos;
    n->kind = kind;
    n->group = -1;
    n->own_group = -1;
    place_in(r->by_pos, r->pos_mask, mix(pos), at);
    return at;
}

static int
index_key(Replay *r, int32_t at)
{
    if ((r->n_keys + 1) * 2 > r->key_mask + 1) {
        Py_ssize_t size = (r->key_mask + 1) * 2;
        int32_t *table = new_table(size);
        if (table == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 0; i <= r->key_mask; i++) {
            int32_t old = r->by_key[i];
            if (old >= 0) {
                place_in(table, size - 1, key_hash(r->nodes[old].body), old);
            }
        }
        PyMem_Free(r->by_key);
        r->by_key = table;
        r->key_mask = size - 1;
    }
    place_in(r->by_key, r->key_mask, key_hash(r->nodes[at].body), at);
    r->n_keys++;
    return 0;
}

/* Re-point a leaf's key at its node's new index (a moved leaf). */
static void
reindex_key(Replay *r, const unsigned char *key, int32_t from, int32_t to)
{
    for (size_t i = key_hash(key) & (size_t)r->key_mask;; i = (i + 1) & (size_t)r->key_mask) {
        if (r->by_key[i] == from) {
            r->by_key[i] = to;
            return;
        }
    }
}

/* --- groups and slots ----------------------------------------------------------------------- */

/* The group whose top is at `top` (the node there exists: a top is an ancestor or the root). */
static int32_t
group_at(Replay *r, u128 top)
{
    int32_t t = find_pos(r, top);
    if (t < 0) {
        PyErr_SetString(PyExc_RuntimeError, "a group's top has no node (a bug)");
        return -1;
    }
    if (r->nodes[t].own_group >= 0) {
        return r->nodes[t].own_group;
    }
    if (reserve((void **)&r->groups, r->n_groups, &r->cap_groups, sizeof *r->groups, 256)) {
        return -1;
    }
    int32_t g = (int32_t)r->n_groups++;
    r->groups[g].top = top;
    r->groups[g].depth = depth_of(top);
    for (int s = 0; s < GROUP_SLOTS; s++) {
        r->groups[g].slots[s] = -1;
    }
    r->nodes[t].own_group = g;
    return g;
}

/* Put node `at` into the slot its position and kind give (heads.group_of's rule). */
static int
place_slot(Replay *r, int32_t at, int leaf)
{
    u128 pos = r->nodes[at].pos;
    int depth = depth_of(pos);
    int above = leaf && depth ? depth - 1 : depth;
    int level = depth - (above - above % GROUP_LEVELS);
    int32_t g = group_at(r, pos >> level);
    if (g < 0) {
        return -1;
    }
    int slot = (1 << level) - 1 + (int)(pos & (((u128)1 << level) - 1));
    Node *n = &r->nodes[at];
    n->group = g;
    n->slot = (uint8_t)slot;
    r->groups[g].slots[slot] = at;
    return 0;
}

static void
clear_slot(Replay *r, int32_t at)
{
    Node *n = &r->nodes[at];
    if (n->group >= 0 && r->groups[n->group].slots[n->slot] == at) {
        r->groups[n->group].slots[n->slot] = -1;
    }
    n->group = -1;
}

static int
queue_parent(Replay *r, u128 pos)
{
    int32_t p = find_pos(r, pos >> 1);
    if (p < 0) {
        PyErr_SetString(PyExc_RuntimeError, "a node's parent has no node (a bug)");
        return -1;
    }
    if (r->nodes[p].epoch == r->epoch) {
        return 0;
    }
    r->nodes[p].epoch = r->epoch;
    return vec_push(&r->queue[depth_of(pos) - 1], p);
}

/* --- placing a new stream's leaf ------------------------------------------------------------ */

/* Where the walk down `key`'s bits ends: a leaf's node index (*hit), or an empty position. */
static u128
walk(Replay *r, const unsigned char *key, int32_t *hit, int *depth)
{
    u128 pos = 1;
    int d = 0;
    for (;;) {
        int32_t at = find_pos(r, pos);
        if (at < 0 || r->nodes[at].kind == LEAF) {
            *hit = at;
            *depth = d;
            return pos;
        }
        pos = (pos << 1) | (u128)bit_at(key, d);
        d++;
    }
}

/* Insert a new key's leaf (ReplayedMap._insert): its node index, or -1. */
static int32_t
insert(Replay *r, const unsigned char *key)
{
    int32_t hit;
    int depth;
    u128 pos = walk(r, key, &hit, &depth);
    if (hit >= 0) { /* another stream's leaf: both go below the first bit their keys differ in */
        unsigned char other[KEY_SIZE];
        memcpy(other, r->nodes[hit].body, KEY_SIZE);
        int below = shared_bits(key, other) + 1;
        u128 moved = ((u128)1 << below) | prefix_of(other, below);
        int32_t m = add_node(r, moved, LEAF);
        if (m < 0) {
            return -1;
        }
        Node *old = &r->nodes[hit], *leaf = &r->nodes[m];
        memcpy(leaf->hash, old->hash, HASH_SIZE);
        memcpy(leaf->body, old->body, LEAF_BODY);
        clear_slot(r, hit);
        old->kind = PENDING; /* the leaf's old position: internal from now on */
        reindex_key(r, other, hit, m);
        for (int up = 1; up < below - depth; up++) { /* the positions between: internal */
            if (add_node(r, moved >> up, PENDING) < 0) {
                return -1;
            }
        }
        if (place_slot(r, m, 1) || queue_parent(r, moved)) {
            return -1;
        }
        pos = ((u128)1 << below) | prefix_of(key, below);
    }
    int32_t at = add_node(r, pos, LEAF);
    if (at < 0) {
        return -1;
    }
    memcpy(r->nodes[at].body, key, KEY_SIZE);
    if (index_key(r, at) || place_slot(r, at, 1)) {
        return -1;
    }
    return at;
}

/* Whether every new key of `changes` stays within MAX_DEPTH: the deepest a leaf can go is one
 * below the longest prefix its key shares with any other, which is with the leaf its walk
 * ends at, or with a new key next to it in sorted order. */
static int
cmp_keys(const void *a, const void *b)
{
    return memcmp(*(const unsigned char *const *)a, *(const unsigned char *const *)b, KEY_SIZE);
}

static int
fits(Replay *r, PyObject *changes, int *ok)
{
    Py_ssize_t count = PyList_GET_SIZE(changes), fresh = 0;
    const unsigned char **keys = PyMem_Malloc((size_t)(count ? count : 1) * sizeof *keys);
    if (keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *ok = 1;
    for (Py_ssize_t n = 0; n < count && *ok; n++) {
        const unsigned char *key =
            (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(PyList_GET_ITEM(changes, n), 0));
        if (find_key(r, key) >= 0) {
            continue;
        }
        keys[fresh++] = key;
        int32_t hit;
        int depth;
        walk(r, key, &hit, &depth);
        if (hit >= 0 && shared_bits(key, r->nodes[hit].body) + 1 > MAX_DEPTH) {
            *ok = 0;
        }
    }
    if (*ok && fresh > 1) {
        qsort(keys, (size_t)fresh, sizeof *keys, cmp_keys);
        for (Py_ssize_t n = 1; n < fresh && *ok; n++) {
            if (shared_bits(keys[n - 1], keys[n]) + 1 > MAX_DEPTH) {
                *ok = 0;
            }
        }
    }
    PyMem_Free(keys);
    return 0;
}

/* --- a version -------------------------------------------------------------------------------- */

/* The size of a group's row: its slots in order, each slot ‖ kind ‖ key ‖ value (a leaf) or
 * slot ‖ kind ‖ left ‖ right (an internal node). */
static Py_ssize_t
row_size(Replay *r, const Group *group)
{
    Py_ssize_t size = 0;
    for (int s = 0; s < GROUP_SLOTS; s++) {
        int32_t at = group->slots[s];
        if (at >= 0) {
            size += 2 + (r->nodes[at].kind == LEAF ? LEAF_BODY : INNER_BODY);
        }
    }
    return size;
}

/* Write a group's row (row_size bytes) at out; return where it ends. */
static unsigned char *
write_row(Replay *r, const Group *group, unsigned char *out)
{
    for (int s = 0; s < GROUP_SLOTS; s++) {
        int32_t at = group->slots[s];
        if (at < 0) {
            continue;
        }
        const Node *n = &r->nodes[at];
        int leaf = n->kind == LEAF;
        *out++ = (unsigned char)s;
        *out++ = leaf ? 0x00 : 0x01;
        memcpy(out, n->body, leaf ? LEAF_BODY : INNER_BODY);
        out += leaf ? LEAF_BODY : INNER_BODY;
    }
    return out;
}

/* Write a group's stored prefix at out (heads.encode_prefix: its top's bits below the first,
 * left-aligned in ceil(depth / 8) bytes); return its size. */
static int
write_prefix(const Group *group, unsigned char *out)
{
    int depth = group->depth, size = (depth + 7) / 8;
    u128 prefix = (group->top ^ ((u128)1 << depth)) << (size * 8 - depth);
    for (int i = size - 1; i >= 0; i--) {
        out[i] = (unsigned char)prefix;
        prefix >>= 8;
    }
    return size;
}

static PyObject *
group_row(Replay *r, int32_t g)
{
    const Group *group = &r->groups[g];
    PyObject *row = PyBytes_FromStringAndSize(NULL, row_size(r, group));
    if (row != NULL) {
        write_row(r, group, (unsigned char *)PyBytes_AS_STRING(row));
    }
    return row;
}

/* A group's stored position: (depth, prefix). */
static PyObject *
group_key(const Group *group)
{
    unsigned char bytes[16];
    int size = write_prefix(group, bytes);
    return Py_BuildValue("(iy#)", group->depth, (const char *)bytes, (Py_ssize_t)size);
}

static int
add_row(Replay *r, PyObject *rows, int32_t g)
{
    PyObject *key = group_key(&r->groups[g]);
    PyObject *row = key == NULL ? NULL : group_row(r, g);
    int failed = row == NULL || PyDict_SetItem(rows, key, row);
    Py_XDECREF(key);
    Py_XDECREF(row);
    return failed ? -1 : 0;
}

/* Hash every queued internal node, the deepest first; note the group tops among them. */
static int
hash_queued(Replay *r)
{
    r->tops.size = 0;
    for (int depth = MAX_DEPTH; depth >= 0; depth--) {
        Vec *q = &r->queue[depth];
        for (Py_ssize_t k = 0; k < q->size; k++) { /* (the queue above grows meanwhile) */
            int32_t at = q->items[k];
            u128 pos = r->nodes[at].pos;
            int32_t left = find_pos(r, pos << 1), right = find_pos(r, (pos << 1) | 1);
            Node *n = &r->nodes[at];
            memcpy(n->body, left >= 0 ? r->nodes[left].hash : EMPTY, HASH_SIZE);
            memcpy(n->body + HASH_SIZE, right >= 0 ? r->nodes[right].hash : EMPTY, HASH_SIZE);
            tagged_hash(0x12, n->body, INNER_BODY, n->hash);
            if (n->kind != INNER) { /* the position's first time as an internal node */
                n->kind = INNER;
                if (place_slot(r, at, 0)) {
                    return -1;
                }
            }
            if (depth > 0 && queue_parent(r, pos)) {
                return -1;
            }
            if (depth % GROUP_LEVELS == 0 && vec_push(&r->tops, at)) {
                return -1;
            }
        }
        q->size = 0;
    }
    return 0;
}

static PyObject *
root_of(Replay *r)
{
    int32_t at = find_pos(r, 1);
    return PyBytes_FromStringAndSize((const char *)(at >= 0 ? r->nodes[at].hash : EMPTY),
                                     HASH_SIZE);
}

/* Move the map forward by one version: 1 done (the groups it changed in r->changed), 0 not
 * done and nothing changed (a leaf would be deeper than MAX_DEPTH), -1 a Python error. */
static int
advance(Replay *r, PyObject *changes)
{
    if (!PyList_Check(changes)) {
        PyErr_SetString(PyExc_TypeError, "changes must be a list");
        return -1;
    }
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(changes); n++) {
        PyObject *change = PyList_GET_ITEM(changes, n);
        if (!PyTuple_Check(change) || PyTuple_GET_SIZE(change) != 2
            || !PyBytes_Check(PyTuple_GET_ITEM(change, 0))
            || PyBytes_GET_SIZE(PyTuple_GET_ITEM(change, 0)) != KEY_SIZE
            || !PyBytes_Check(PyTuple_GET_ITEM(change, 1))
            || PyBytes_GET_SIZE(PyTuple_GET_ITEM(change, 1)) != VALUE_SIZE) {
            PyErr_SetString(PyExc_ValueError,
                            "a change is a (32-byte key, 48-byte value) tuple");
            return -1;
        }
    }
    int ok;
    if (fits(r, changes, &ok)) {
        return -1;
    }
    if (!ok) {
        return 0;
    }
    if (++r->epoch == 0) { /* wrapped: no node may look queued already */
        for (Py_ssize_t n = 0; n < r->n_nodes; n++) {
            r->nodes[n].epoch = 0;
        }
        r->epoch = 1;
    }
    r->changed.size = 0;
    Py_ssize_t count = PyList_GET_SIZE(changes);
    int queued = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        PyObject *change = PyList_GET_ITEM(changes, n);
        const unsigned char *key =
            (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(change, 0));
        const unsigned char *value =
            (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(change, 1));
        int32_t at = find_key(r, key);
        if (at < 0 && (at = insert(r, key)) < 0) {
            goto fail;
        }
        Node *leaf = &r->nodes[at];
        unsigned char leaf_input[KEY_SIZE + HASH_SIZE];
        memcpy(leaf_input, key, KEY_SIZE);
        SHA256(value, VALUE_SIZE, leaf_input + KEY_SIZE);
        tagged_hash(0x11, leaf_input, sizeof leaf_input, leaf->hash);
        memcpy(leaf->body + KEY_SIZE, value, VALUE_SIZE);
        if (leaf->pos > 1) {
            if (queue_parent(r, leaf->pos)) {
                goto fail;
            }
            queued = 1;
        }
    }
    for (int d = 0; d <= MAX_DEPTH && !queued; d++) {
        queued = r->queue[d].size > 0; /* a move's parent, queued by insert */
    }
    if (queued) {
        if (hash_queued(r)) {
            goto fail;
        }
        for (Py_ssize_t k = 0; k < r->tops.size; k++) {
            Node *top = &r->nodes[r->tops.items[k]];
            if (top->own_group >= 0 && vec_push(&r->changed, top->own_group)) {
                goto fail;
            }
        }
    } else if (count) { /* one stream, its leaf the root */
        int32_t g = group_at(r, 1);
        if (g < 0 || vec_push(&r->changed, g)) {
            goto fail;
        }
    }
    return 1;
fail:
    /* The state is part-way through a version: unusable (ledger verify reports the error). */
    for (int d = 0; d <= MAX_DEPTH; d++) {
        r->queue[d].size = 0;
    }
    return -1;
}

PyDoc_STRVAR(apply_doc,
"apply(changes) -> (root, rows) | None\n\n"
"ReplayedMap.apply: set each (key, value) (a list of distinct 32-byte keys and 48-byte\n"
"values); return the new root and the stored bytes of every node group that changed, by\n"
"(depth, prefix). None, with nothing changed, if a new key would place a leaf deeper than\n"
"this replay's positions reach (see export).");

static PyObject *
Replay_apply(Replay *r, PyObject *changes)
{
    int done = advance(r, changes);
    if (done <= 0) {
        return done < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *rows = PyDict_New();
    if (rows == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < r->changed.size; k++) {
        if (add_row(r, rows, r->changed.items[k])) {
            Py_DECREF(rows);
            return NULL;
        }
    }
    PyObject *root = root_of(r);
    PyObject *result = root == NULL ? NULL : PyTuple_Pack(2, root, rows);
    Py_XDECREF(root);
    Py_DECREF(rows);
    return result;
}

static int
by_position(const void *a, const void *b)
{
    const Group *x = *(const Group *const *)a, *y = *(const Group *const *)b;
    if (x->depth != y->depth) {
        return x->depth < y->depth ? -1 : 1;
    }
    return x->top < y->top ? -1 : x->top > y->top;
}

static unsigned char *
put_u32(unsigned char *out, uint32_t v)
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
    return out + 4;
}

PyDoc_STRVAR(apply_packed_doc,
"apply_packed(changes) -> (root, packed, groups) | None\n\n"
"apply, with the changed node groups as one bytes value instead of a dict: for each group\n"
"by (depth, prefix), depth (2 bytes) ‖ the prefix's length (4) ‖ prefix ‖ the row's length\n"
"(4) ‖ row, big-endian (verify_heads.pack_groups); and how many groups there are.");

static PyObject *
Replay_apply_packed(Replay *r, PyObject *changes)
{
    int done = advance(r, changes);
    if (done <= 0) {
        return done < 0 ? NULL : Py_NewRef(Py_None);
    }
    Py_ssize_t n = r->changed.size, size = 0;
    Group **order = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *order);
    if (order == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Group *group = order[k] = &r->groups[r->changed.items[k]];
        size += 2 + 4 + (group->depth + 7) / 8 + 4 + row_size(r, group);
    }
    qsort(order, (size_t)n, sizeof *order, by_position);
    PyObject *packed = PyBytes_FromStringAndSize(NULL, size);
    if (packed == NULL) {
        PyMem_Free(order);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(packed);
    for (Py_ssize_t k = 0; k < n; k++) {
        const Group *group = order[k];
        *out++ = (unsigned char)(group->depth >> 8);
        *out++ = (unsigned char)group->depth;
        int prefix_size = write_prefix(group, out + 4);
        out = put_u32(out, (uint32_t)prefix_size) + prefix_size;
        unsigned char *row = write_row(r, group, out + 4);
        put_u32(out, (uint32_t)(row - out - 4));
        out = row;
    }
    PyMem_Free(order);
    PyObject *root = root_of(r);
    PyObject *groups = root == NULL ? NULL : PyLong_FromSsize_t(n);
    PyObject *result = groups == NULL ? NULL : PyTuple_Pack(3, root, packed, groups);
    Py_XDECREF(root);
    Py_XDECREF(groups);
    Py_DECREF(packed);
    return result;
}

PyDoc_STRVAR(root_doc, "root() -> bytes\n\nThe current root (32 zero bytes for the empty map).");

static PyObject *
Replay_root(Replay *r, PyObject *Py_UNUSED(unused))
{
    return root_of(r);
}

static PyObject *
position(u128 pos)
{
    PyObject *hi = PyLong_FromUnsignedLongLong((unsigned long long)(pos >> 64));
    PyObject *shift = hi == NULL ? NULL : PyLong_FromLong(64);
    PyObject *high = shift == NULL ? NULL : PyNumber_Lshift(hi, shift);
    PyObject *lo = high == NULL ? NULL : PyLong_FromUnsignedLongLong((unsigned long long)pos);
    PyObject *out = lo == NULL ? NULL : PyNumber_Or(high, lo);
    Py_XDECREF(hi);
    Py_XDECREF(shift);
    Py_XDECREF(high);
    Py_XDECREF(lo);
    return out;
}

PyDoc_STRVAR(export_doc,
"export() -> (leaves, inner)\n\n"
"The map as it stands, for ReplayedMap to go on in Python: every leaf as (position, hash,\n"
"key, value) and every internal node as (position, hash, left, right).");

static PyObject *
Replay_export(Replay *r, PyObject *Py_UNUSED(unused))
{
    PyObject *leaves = PyList_New(0), *inner = PyList_New(0);
    if (leaves == NULL || inner == NULL) {
        goto fail;
    }
    for (Py_ssize_t k = 0; k < r->n_nodes; k++) {
        Node *n = &r->nodes[k];
        if (n->kind != LEAF && n->kind != INNER) {
            continue;
        }
        int leaf = n->kind == LEAF;
        PyObject *pos = position(n->pos);
        PyObject *item = pos == NULL ? NULL : Py_BuildValue(
            "(Ny#y#y#)", pos, (const char *)n->hash, (Py_ssize_t)HASH_SIZE,
            (const char *)n->body, (Py_ssize_t)(leaf ? KEY_SIZE : HASH_SIZE),
            (const char *)n->body + (leaf ? KEY_SIZE : HASH_SIZE),
            (Py_ssize_t)(leaf ? VALUE_SIZE : HASH_SIZE));
        if (item == NULL || PyList_Append(leaf ? leaves : inner, item)) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    return Py_BuildValue("(NN)", leaves, inner);
fail:
    Py_XDECREF(leaves);
    Py_XDECREF(inner);
    return NULL;
}

/* --- the log's Merkle tree ------------------------------------------------------------------ */

PyDoc_STRVAR(merkle_extend_doc,
"merkle_extend(size, edge, entry_hashes, levels) -> int\n\n"
"ledger.log.merkle.extend_nodes for SHA-256: append the leaves of entry_hashes (bytes) to the\n"
"tree of `size` leaves whose right edge is `edge` (a list of (level, hash), largest subtree\n"
"first, updated in place), appending every completed node to its level's list in `levels`;\n"
"return the new size. Leaves are H(0x00 ‖ entry hash), nodes H(0x01 ‖ left ‖ right)\n"
"(RFC 9162).");

/* levels[level].append(hash), adding the level's list if it is the next one. */
static int
put_node(PyObject *levels, Py_ssize_t level, const unsigned char *hash)
{
    if (level == PyList_GET_SIZE(levels)) {
        PyObject *made = PyList_New(0);
        int failed = made == NULL || PyList_Append(levels, made);
        Py_XDECREF(made);
        if (failed) {
            return -1;
        }
    }
    PyObject *nodes = level < PyList_GET_SIZE(levels) ? PyList_GET_ITEM(levels, level) : NULL;
    if (nodes == NULL || !PyList_Check(nodes)) {
        PyErr_SetString(PyExc_ValueError, "the levels do not fit the tree");
        return -1;
    }
    PyObject *value = PyBytes_FromStringAndSize((const char *)hash, HASH_SIZE);
    int failed = value == NULL || PyList_Append(nodes, value);
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

static PyObject *
merkle_extend(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "merkle_extend takes 4 arguments");
        return NULL;
    }
    long long size = PyLong_AsLongLong(args[0]);
    if (size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *edge = args[1], *levels = args[3];
    if (size < 0 || !PyList_Check(edge) || !PyList_Check(levels)) {
        PyErr_SetString(PyExc_TypeError, "merkle_extend: a size, a list, leaves and a list");
        return NULL;
    }
    PyObject *leaves = PySequence_Fast(args[2], "entry hashes must be a sequence");
    if (leaves == NULL) {
        return NULL;
    }
    for (Py_ssize_t n = 0; n < PySequence_Fast_GET_SIZE(leaves); n++) {
        PyObject *data = PySequence_Fast_GET_ITEM(leaves, n);
        if (!PyBytes_Check(data)) {
            PyErr_Format(PyExc_TypeError, "can't concat %.100s to bytes", Py_TYPE(data)->tp_name);
            goto fail;
        }
        unsigned char value[HASH_SIZE];
        tagged_hash(0x00, (const unsigned char *)PyBytes_AS_STRING(data),
                    (size_t)PyBytes_GET_SIZE(data), value);
        long long index = size;
        Py_ssize_t level = 0;
        if (put_node(levels, 0, value)) {
            goto fail;
        }
        while (index & 1) { /* a right child completes its parent with the edge's last node */
            Py_ssize_t last = PyList_GET_SIZE(edge) - 1;
            PyObject *top = last >= 0 ? PyList_GET_ITEM(edge, last) : NULL;
            if (top == NULL || !PyTuple_Check(top) || PyTuple_GET_SIZE(top) != 2
                || !PyBytes_Check(PyTuple_GET_ITEM(top, 1))
                || PyBytes_GET_SIZE(PyTuple_GET_ITEM(top, 1)) != HASH_SIZE) {
                PyErr_SetString(PyExc_ValueError, "the right edge does not fit the size");
                goto fail;
            }
            unsigned char pair[2 * HASH_SIZE];
            memcpy(pair, PyBytes_AS_STRING(PyTuple_GET_ITEM(top, 1)), HASH_SIZE);
            memcpy(pair + HASH_SIZE, value, HASH_SIZE);
            if (PyList_SetSlice(edge, last, last + 1, NULL)) {
                goto fail;
            }
            tagged_hash(0x01, pair, sizeof pair, value);
            index >>= 1;
            level += 1;
            if (put_node(levels, level, value)) {
                goto fail;
            }
        }
        PyObject *item = Py_BuildValue("(ny#)", level, (const char *)value, (Py_ssize_t)HASH_SIZE);
        if (item == NULL || PyList_Append(edge, item)) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
        size += 1;
    }
    Py_DECREF(leaves);
    return PyLong_FromLongLong(size);
fail:
    Py_DECREF(leaves);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"merkle_extend", (PyCFunction)(void (*)(void))merkle_extend, METH_FASTCALL,
     merkle_extend_doc},
    {NULL, NULL, 0, NULL},
};

/* --- the type ------------------------------------------------------------------------------- */

static int
Replay_init(Replay *r, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":Replay", kwlist)) {
        return -1;
    }
    if (r->by_pos != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Replay is set up once");
        return -1;
    }
    r->by_pos = new_table(1024);
    r->by_key = new_table(1024);
    if (r->by_pos == NULL || r->by_key == NULL) {
        return -1;
    }
    r->pos_mask = r->key_mask = 1023;
    return 0;
}

static void
Replay_dealloc(Replay *r)
{
    PyMem_Free(r->nodes);
    PyMem_Free(r->by_pos);
    PyMem_Free(r->by_key);
    PyMem_Free(r->groups);
    for (int d = 0; d <= MAX_DEPTH; d++) {
        PyMem_Free(r->queue[d].items);
    }
    PyMem_Free(r->tops.items);
    PyMem_Free(r->changed.items);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef Replay_methods[] = {
    {"apply", (PyCFunction)Replay_apply, METH_O, apply_doc},
    {"apply_packed", (PyCFunction)Replay_apply_packed, METH_O, apply_packed_doc},
    {"root", (PyCFunction)Replay_root, METH_NOARGS, root_doc},
    {"export", (PyCFunction)Replay_export, METH_NOARGS, export_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReplayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ledger.log._replay.Replay",
    .tp_doc = PyDoc_STR("The stream heads map, version by version, for ledger verify (SHA-256)."),
    .tp_basicsize = sizeof(Replay),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Replay_init,
    .tp_dealloc = (destructor)Replay_dealloc,
    .tp_methods = Replay_methods,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ledger.log._replay",
    .m_doc = "What ledger verify recomputes, in C (SHA-256 profile): the stream heads map, the Merkle tree.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__replay(void)
{
    if (PyType_Ready(&ReplayType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Replay", (PyObject *)&ReplayType) < 0
        || PyModule_AddIntConstant(module, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
