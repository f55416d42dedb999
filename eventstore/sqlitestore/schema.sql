-- Casebook event store, SQLite schema version 1 (PRAGMA user_version = 1).
--
-- One row per event. Rows are only ever inserted: the triggers below refuse
-- UPDATE and DELETE, and a correction is a new event. Positions are dense
-- (1, 2, 3, ...) and never reused, so count(*) = max(position) on an intact
-- log. All text is UTF-8; data and metadata are JSON text, readable with
-- the sqlite3 tool and queryable with its json functions.

CREATE TABLE IF NOT EXISTS events (
    position     INTEGER PRIMARY KEY,      -- place in the global log, 1, 2, 3, ...
    stream       TEXT    NOT NULL,         -- stream name, e.g. 'case-6f1c2a...'
    revision     INTEGER NOT NULL,         -- 0-based index of the event in its stream
    event_id     TEXT    NOT NULL UNIQUE,  -- client-chosen UUID, canonical lower-case text
    type         TEXT    NOT NULL,         -- event type name, e.g. 'ArrestMade'
    data         TEXT    NOT NULL,         -- event body, JSON text
    metadata     TEXT,                     -- event metadata, JSON text, or NULL
    recorded_at  TEXT    NOT NULL,         -- commit time, UTC, RFC 3339 with 9 fraction digits
    append_first INTEGER NOT NULL,         -- position of the first event written by the same
                                           -- append; rows sharing it were committed atomically
                                           -- together (used to recognise a retried append)
    UNIQUE (stream, revision)
) STRICT;

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Streams, for reading only: one row per stream, computed from events.
CREATE VIEW IF NOT EXISTS streams AS
SELECT stream        AS name,
       max(revision) AS last_revision,
       max(position) AS last_position,
       count(*)      AS event_count
FROM events
GROUP BY stream;
