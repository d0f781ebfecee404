"""A backend-neutral tamperer: one defect at a time, written straight into the ledger's tables.

The tamper corpus (``test_tamper.py``) plays an attacker with write access to the database but
not to the log's checkpoint key. Each method changes rows with raw SQL — ``sqlite3`` for SQLite,
``psycopg`` (with ``SET search_path`` to the test's schema) for PostgreSQL — bypassing the ledger
entirely, and recomputes nothing it is not told to: :meth:`Tamperer.resign` re-signs the edited
filing but leaves the chain, the leaf and the tree alone; :meth:`Tamperer.rechain` and
:meth:`Tamperer.rebuild_tree` are the extra steps of a more careful attacker.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import psycopg
from psycopg import sql

from ledger.crypto.suites import Profile, Signer
from ledger.log import merkle
from ledger.log.canonical import canonical_bytes
from ledger.log.checkpoint import Checkpoint, SignedNote, sign_checkpoint
from ledger.log.entries import Entry, Filing, b64encode
from ledger.log.headmap import StreamHead, checkpoint_extension, heads_root

_ASCII_SWAP = {**dict.fromkeys("0123456789acdef", "b"), "b": "c"}
"""A one-byte ASCII replacement for a character (hex stays hex, so shapes stay valid)."""


def _flip(data: bytes, position: int = 0) -> bytes:
    """``data`` with one bit of one byte flipped."""
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def edit_one_payload_character(entry_json: dict[str, Any]) -> str:
    """Change one ASCII character of a payload string in place; return the field's name.

    The entry stays well formed and canonical, and its canonical bytes change in exactly one
    byte (an ASCII character for another in a string value, so no length or order changes).
    """
    payload = entry_json["filing"]["payload"]
    for name in sorted(payload):
        value = payload[name]
        if not isinstance(value, str):
            continue
        for position in range(len(value) - 1, -1, -1):
            char = value[position].lower()
            if char in _ASCII_SWAP:
                payload[name] = value[:position] + _ASCII_SWAP[char] + value[position + 1:]
                return str(name)
    raise AssertionError(f"no ASCII character to edit in payload fields {sorted(payload)}")


class Tamperer:
    """Raw write access to one ledger database (SQLite file or PostgreSQL schema)."""

    def __init__(self, database_url: str, profile: Profile) -> None:
        self.database_url = database_url
        self.profile = profile
        self.postgres = database_url.startswith(("postgresql://", "postgres://"))
        if self.postgres:
            parts = urlsplit(database_url)
            self._dsn = parts._replace(query="").geturl()
            self._schema = parse_qs(parts.query)["schema"][0]
        else:
            self._path = database_url.removeprefix("sqlite:///")

    # --- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor in one committed transaction; SQL uses ``?`` placeholders on both."""
        if self.postgres:
            with psycopg.connect(self._dsn) as conn, conn.cursor() as curs:
                curs.execute(sql.SQL("SET search_path TO {}").format(
                    sql.Identifier(self._schema)))
                yield _PgCursor(curs)
            return
        lite = sqlite3.connect(self._path, timeout=30)
        try:
            with lite:
                yield lite.cursor()
        finally:
            lite.close()

    def _id(self, stream: UUID) -> UUID | str:
        """A stream id as the backend stores it (uuid in PostgreSQL, hex in SQLite)."""
        return stream if self.postgres else stream.hex

    def _execute(self, statement: str, params: Sequence[object] = ()) -> int:
        with self._cursor() as curs:
            curs.execute(statement, params)
            count = curs.rowcount
        assert count > 0, f"tampering touched no row: {statement} {params}"
        return int(count)

    def _one(self, statement: str, params: Sequence[object] = ()) -> tuple[Any, ...]:
        with self._cursor() as curs:
            curs.execute(statement, params)
            row = curs.fetchone()
        assert row is not None, f"no row for {statement} {params}"
        return tuple(row)

    # --- stored entries ------------------------------------------------------------------------

    def state(self, stream: UUID, seq: int) -> bytes:
        """The stored bytes of an entry."""
        return bytes(self._one(
            "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?",
            (self._id(stream), seq))[0])

    def set_state(self, stream: UUID, seq: int, state: bytes, topic: str | None = None) -> None:
        """Overwrite an entry's stored bytes (and topic)."""
        if topic is None:
            self._execute("UPDATE stored_events SET state = ? WHERE originator_id = ?"
                          " AND originator_version = ?", (state, self._id(stream), seq))
        else:
            self._execute("UPDATE stored_events SET state = ?, topic = ? WHERE originator_id = ?"
                          " AND originator_version = ?", (state, topic, self._id(stream), seq))

    def entry(self, stream: UUID, seq: int) -> Entry:
        """The stored entry, parsed."""
        return Entry.parse(self.state(stream, seq), stream=stream, seq=seq)

    def edit_payload_byte(self, stream: UUID, seq: int) -> int:
        """Change exactly one byte of an entry's payload in the database; return its offset."""
        before = self.state(stream, seq)
        entry_json = json.loads(before)
        edit_one_payload_character(entry_json)
        after = canonical_bytes(entry_json)
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert len(changed) == 1, changed
        self.set_state(stream, seq, after)
        return changed[0]

    def delete_entry(self, stream: UUID, seq: int, *, with_leaf: bool = False) -> None:
        """Delete an entry's row (and, for a careful attacker, its log leaf too)."""
        self._execute("DELETE FROM stored_events WHERE originator_id = ?"
                      " AND originator_version = ?", (self._id(stream), seq))
        if with_leaf:
            self._execute("DELETE FROM log_leaves WHERE originator_id = ?"
                          " AND originator_version = ?", (self._id(stream), seq))

    def truncate(self, stream: UUID, keep: int, *, with_leaves: bool = False) -> int:
        """Delete a stream's entries after seq ``keep`` (and their leaves); return how many."""
        deleted = self._execute("DELETE FROM stored_events WHERE originator_id = ?"
                                " AND originator_version > ?", (self._id(stream), keep))
        if with_leaves:
            self._execute("DELETE FROM log_leaves WHERE originator_id = ?"
                          " AND originator_version > ?", (self._id(stream), keep))
        return deleted

    def swap(self, stream: UUID, seq_a: int, seq_b: int) -> None:
        """Exchange two entries' stored bytes and topics, each keeping its row's position."""
        rows = {}
        for seq in (seq_a, seq_b):
            rows[seq] = self._one(
                "SELECT topic, state FROM stored_events WHERE originator_id = ?"
                " AND originator_version = ?", (self._id(stream), seq))
        self.set_state(stream, seq_a, bytes(rows[seq_b][1]), rows[seq_b][0])
        self.set_state(stream, seq_b, bytes(rows[seq_a][1]), rows[seq_a][0])

    def resign(self, stream: UUID, seq: int, signer: Signer, *, key_id: str | None = None,
               actor: str | None = None) -> Entry:
        """Tamper, then re-sign: edit the payload and sign the filing again with ``signer``.

        ``key_id``/``actor`` replace what the filing claims (default: unchanged, so the
        signature is by a key other than the one named). ``seq``, ``prev``, ``recorded_at``,
        the leaf and the tree are left as they were; the entry's hash changes.
        """
        entry_json = json.loads(self.state(stream, seq))
        edit_one_payload_character(entry_json)
        filing = Filing.from_json(entry_json["filing"])
        filing = replace(filing, key=key_id or filing.key, actor=actor or filing.actor)
        entry_json["filing"] = filing.to_json()
        entry_json["signature"] = b64encode(signer.sign(filing.signing_bytes()))
        forged = Entry.parse(canonical_bytes(entry_json), stream=stream, seq=seq)
        self.set_state(stream, seq, forged.canonical())
        return forged

    def rechain(self, stream: UUID, from_seq: int) -> None:
        """Relink every entry after ``from_seq`` and point each leaf at its entry's new hash.

        ``prev`` is not covered by the author's signature, so this needs no key: after it the
        stream's chain and leaves are consistent again, and only the tree and the signed
        checkpoints still remember the original entries.
        """
        head = self.profile.digest(self.state(stream, from_seq))
        self._set_leaf_hash(stream, from_seq, head)
        seq = from_seq + 1
        while True:
            with self._cursor() as curs:
                curs.execute("SELECT state FROM stored_events WHERE originator_id = ?"
                             " AND originator_version = ?", (self._id(stream), seq))
                row = curs.fetchone()
            if row is None:
                return
            entry = replace(Entry.parse(bytes(row[0]), stream=stream, seq=seq), prev=head.hex())
            state = entry.canonical()
            self.set_state(stream, seq, state)
            head = self.profile.digest(state)
            self._set_leaf_hash(stream, seq, head)
            seq += 1

    def _set_leaf_hash(self, stream: UUID, seq: int, entry_hash: bytes) -> None:
        self._execute("UPDATE log_leaves SET entry_hash = ? WHERE originator_id = ?"
                      " AND originator_version = ?", (entry_hash, self._id(stream), seq))

    # --- the log ---------------------------------------------------------------------------------

    def leaf_hash(self, leaf_index: int) -> bytes:
        """The entry hash a leaf holds."""
        return bytes(self._one("SELECT entry_hash FROM log_leaves WHERE leaf_index = ?",
                               (leaf_index,))[0])

    def alter_leaf(self, leaf_index: int) -> None:
        """Flip one bit of the entry hash a leaf holds."""
        self._execute("UPDATE log_leaves SET entry_hash = ? WHERE leaf_index = ?",
                      (_flip(self.leaf_hash(leaf_index)), leaf_index))

    def backdate_leaf(self, leaf_index: int, recorded_at: str) -> None:
        """Rewrite a leaf's ``recorded_at`` column (the entry's own time is left alone)."""
        self._execute("UPDATE log_leaves SET recorded_at = ? WHERE leaf_index = ?",
                      (recorded_at, leaf_index))

    def alter_node(self, level: int, idx: int) -> None:
        """Flip one bit of a stored Merkle node."""
        stored = bytes(self._one("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?",
                                 (level, idx))[0])
        self._execute("UPDATE log_nodes SET hash = ? WHERE level = ? AND idx = ?",
                      (_flip(stored), level, idx))

    def add_node(self, level: int, idx: int) -> None:
        """Insert a Merkle node row at any position, negative ones included (no CHECK)."""
        self._execute("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                      (level, idx, b"\x00" * 32))

    # --- any cell ------------------------------------------------------------------------

    def cells(self) -> list[tuple[str, str, tuple[str, ...], tuple[Any, ...]]]:
        """One cell per column of every table holding rows: (table, column, its primary key's
        columns, the key of the table's middle row)."""
        found = []
        with self._cursor() as curs:
            for table, columns, key in self._layout(curs):
                order = ", ".join(f'"{k}"' for k in key)
                curs.execute(f'SELECT {order} FROM "{table}" ORDER BY {order}')
                rows = curs.fetchall()
                if rows:
                    middle = tuple(rows[len(rows) // 2])
                    found += [(table, column, key, middle) for column in columns]
        return found

    def _layout(self, curs: Any) -> list[tuple[str, list[str], tuple[str, ...]]]:
        """Every table's columns and primary key (rowid where SQLite has none declared)."""
        if self.postgres:
            curs.execute("SELECT table_name FROM information_schema.tables"
                         " WHERE table_schema = ? ORDER BY table_name", (self._schema,))
            tables = [r[0] for r in curs.fetchall()]
            out = []
            for table in tables:
                curs.execute("SELECT column_name FROM information_schema.columns WHERE"
                             " table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                             (self._schema, table))
                columns = [r[0] for r in curs.fetchall()]
                curs.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON"
                             " a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE"
                             " i.indrelid = ?::regclass AND i.indisprimary",
                             (f'"{self._schema}"."{table}"',))
                key = tuple(r[0] for r in curs.fetchall())
                if key:
                    out.append((table, columns, key))
            return out
        curs.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        out = []
        for (table,) in curs.fetchall():
            curs.execute(f'PRAGMA table_info("{table}")')
            info = curs.fetchall()
            key = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0)
            out.append((table, [r[1] for r in info], key or ("rowid",)))
        return out

    def set_cell(self, table: str, column: str, key: tuple[str, ...],
                 values: tuple[Any, ...], value: Any) -> Any:
        """Write ``value`` into one cell (PostgreSQL: its NOT NULL dropped first, for a NULL);
        return what it held. False if the database refused the value."""
        where = " AND ".join(f'"{k}" = ?' if k != "rowid" else "rowid = ?" for k in key)
        with self._cursor() as curs:
            curs.execute(f'SELECT "{column}" FROM "{table}" WHERE {where}', values)
            old = curs.fetchone()[0]
        try:
            with self._cursor() as curs:
                if self.postgres and value is None:
                    curs.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP NOT NULL')
                curs.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE {where}',
                             (value, *values))
        except (sqlite3.Error, psycopg.Error):
            return False
        return (old,)

    def restore_cell(self, table: str, column: str, key: tuple[str, ...],
                     values: tuple[Any, ...], value: Any, was: tuple[Any]) -> None:
        """Undo :meth:`set_cell` of ``value`` (found by the key as edited, if it was part of
        it)."""
        same = "IS NOT DISTINCT FROM" if self.postgres else "IS"
        where = " AND ".join(f'"{k}" {same} ?' if k != "rowid" else "rowid = ?" for k in key)
        edited = tuple(value if k == column else v for k, v in zip(key, values, strict=True))
        with self._cursor() as curs:
            curs.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE {where}',
                         (was[0], *edited))

    def retype(self, table: str, column: str, where: str) -> None:
        """Store text where ``table`` keeps bytes: SQLite keeps any type in any column, so the
        rows ``where`` selects get their value's hex; PostgreSQL needs the column's type
        changed, so every row becomes text."""
        with self._cursor() as curs:
            if self.postgres:
                curs.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text"
                             f" USING encode({column}, 'hex')")
            else:
                curs.execute(f"UPDATE {table} SET {column} = hex({column}) WHERE {where}")

    def store_twice(self, table: str, key: dict[str, object], column: str) -> None:
        """Give ``table`` a second row at the position ``key`` names, its ``column`` flipped:
        an operator with the database drops the primary key first (PostgreSQL: the
        constraint; SQLite: the table copied without it), so that a proof reading the
        position may meet either row."""
        where = " AND ".join(f"{name} = ?" for name in key)
        with self._cursor() as curs:
            if self.postgres:
                curs.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
            else:
                curs.execute(f"CREATE TABLE {table}_copy AS SELECT * FROM {table}")
                curs.execute(f"DROP TABLE {table}")
                curs.execute(f"ALTER TABLE {table}_copy RENAME TO {table}")
            columns = [*key, column]  # the table's columns: its key, then what it stores
            curs.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}",
                         list(key.values()))
            row = dict(zip(columns, curs.fetchone(), strict=True))
            row[column] = _flip(bytes(row[column]))
            curs.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                         f" ({', '.join('?' * len(columns))})", list(row.values()))

    def rebuild_tree(self) -> None:
        """Recompute every stored Merkle node from the (possibly altered) leaves."""
        with self._cursor() as curs:
            curs.execute("SELECT entry_hash FROM log_leaves ORDER BY leaf_index")
            hashes = [bytes(row[0]) for row in curs.fetchall()]
        tree = merkle.MemoryTree(self.profile.hash, hashes)
        with self._cursor() as curs:
            for node, value in tree.nodes.items():
                curs.execute("UPDATE log_nodes SET hash = ? WHERE level = ? AND idx = ?",
                             (value, node.level, node.index))

    def checkpoint(self, size: int) -> tuple[bytes, str]:
        """A stored checkpoint's root and note text."""
        root, note = self._one("SELECT root, note FROM log_checkpoints WHERE size = ?", (size,))
        return bytes(root), str(note)

    def alter_checkpoint(self, size: int, *, root: bool = False, note: bool = False,
                         resign_with: Signer | None = None) -> None:
        """Alter a stored checkpoint: its root column, its note's text, or both.

        ``note`` changes the root written in the signed body (one base64 character), leaving
        the log's signature line as it was; with ``resign_with`` the altered body is signed
        again, under the log key's name, by another key (tamper, then re-sign).
        """
        stored_root, text = self.checkpoint(size)
        new_root = _flip(stored_root) if root else stored_root
        new_text = text
        if note or resign_with is not None:
            signed = SignedNote.parse(text)
            body = signed.checkpoint
            forged = replace(body, root=_flip(body.root))  # its heads line kept as it was
            if resign_with is None:
                new_text = text.replace(b64encode(body.root), b64encode(forged.root), 1)
            else:
                name = signed.signatures[0].name
                new_text = sign_checkpoint(forged, name, resign_with).text()
        assert (new_root, new_text) != (stored_root, text)
        self._execute("UPDATE log_checkpoints SET root = ?, note = ? WHERE size = ?",
                      (new_root, new_text, size))


    # --- the stream heads map ------------------------------------------------------------

    def head_nodes(self) -> list[tuple[int, bytes, int, bytes]]:
        """Every stored heads map node version: (depth, prefix, version, node)."""
        with self._cursor() as curs:
            curs.execute("SELECT depth, prefix, version, node FROM head_nodes"
                         " ORDER BY version, depth, prefix")
            return [(row[0], bytes(row[1]), row[2], bytes(row[3])) for row in curs.fetchall()]

    def alter_head_node(self, depth: int, prefix: bytes, version: int,
                        key: bytes | None = None) -> None:
        """Flip one bit of the last byte of a stored heads map row (a node group: its last
        node's leaf index or right child hash), or with ``key`` of the leaf of that key in
        the row (its leaf index): still well-formed, no longer the right one."""
        node = bytes(self._one("SELECT node FROM head_nodes WHERE depth = ? AND prefix = ?"
                               " AND version = ?", (depth, prefix, version))[0])
        at = len(node) - 1 if key is None else _leaf_at(node, key) + 80
        self._execute("UPDATE head_nodes SET node = ? WHERE depth = ? AND prefix = ?"
                      " AND version = ?", (_flip(node, at), depth, prefix, version))

    def set_head_node(self, depth: int, prefix: bytes, version: int, key: bytes,
                      head: StreamHead) -> None:
        """Set the head of ``key``'s leaf in a stored heads map row (a node group) to
        ``head``."""
        node = bytes(self._one("SELECT node FROM head_nodes WHERE depth = ? AND prefix = ?"
                               " AND version = ?", (depth, prefix, version))[0])
        at = _leaf_at(node, key)
        self._execute("UPDATE head_nodes SET node = ? WHERE depth = ? AND prefix = ?"
                      " AND version = ?", (node[:at + 33] + head.value() + node[at + 81:],
                                           depth, prefix, version))

    def resign_heads_line(self, size: int, resign_with: Signer, *,
                          root: bytes | None = None) -> bytes:
        """Re-sign a stored checkpoint, under the log key's name, with its heads root set to
        ``root`` (default: one bit of it flipped) — tamper, then re-sign: with the real log
        key, it is a log that signed a wrong heads line; return the root signed."""
        _, text = self.checkpoint(size)
        signed = SignedNote.parse(text)
        body = signed.checkpoint
        wrong = _flip(heads_root(body.extensions)) if root is None else root
        forged = Checkpoint(body.origin, body.size, body.root, (checkpoint_extension(wrong),))
        new_text = sign_checkpoint(forged, signed.signatures[0].name, resign_with).text()
        self._execute("UPDATE log_checkpoints SET note = ? WHERE size = ?", (new_text, size))
        return wrong


def _leaf_at(group: bytes, key: bytes) -> int:
    """Where the leaf of ``key`` (its tag byte 0x00, the key, the 48-byte value) starts in a
    stored heads map row."""
    at = group.find(b"\x00" + key)
    assert at > 0, "no leaf of that key in the row"
    return at


class _PgCursor:
    """A psycopg cursor that takes sqlite3's ``?`` placeholders."""

    def __init__(self, curs: psycopg.Cursor[Any]) -> None:
        self._curs = curs

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        self._curs.execute(statement.replace("?", "%s"), params)

    @property
    def rowcount(self) -> int:
        return self._curs.rowcount

    def fetchone(self) -> Any:
        return self._curs.fetchone()

    def fetchall(self) -> list[Any]:
        return self._curs.fetchall()
