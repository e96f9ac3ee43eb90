-- Movie reservations: the catalog (movies, theaters, screenings), reservations with their seats,
-- and the record of confirmation notifications sent.

CREATE TABLE movies (
  id            TEXT PRIMARY KEY,                    -- UUIDv7
  title         TEXT NOT NULL,
  title_key     TEXT NOT NULL,                       -- lower-cased title: contains-match is case-insensitive
  grade         TEXT NOT NULL,                       -- age rating: ALL, 12, 15, 18
  genre         TEXT NOT NULL,                       -- one of the fixed list in model.ts
  release_date  TEXT NOT NULL,                       -- YYYY-MM-DD (UTC)
  thumbnail_url TEXT NOT NULL,
  running_time  INTEGER NOT NULL CHECK (running_time BETWEEN 1 AND 600), -- minutes
  created_at    INTEGER NOT NULL
);
-- Now-showing walks movies newest release first, for all genres or one (EXPLAIN QUERY PLAN in
-- reservations.test.ts keeps these in use).
CREATE INDEX movies_release ON movies (release_date);
CREATE INDEX movies_genre_release ON movies (genre, release_date);

CREATE TABLE theaters (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  name_key   TEXT NOT NULL UNIQUE,                   -- lower-cased name: unique case-insensitively
  created_at INTEGER NOT NULL
);

-- Every theater has the same 5 x 5 grid, A1-E5 (model.ts), so seats are not stored per theater.
CREATE TABLE screenings (
  id         TEXT PRIMARY KEY,
  movie_id   TEXT NOT NULL REFERENCES movies (id),
  theater_id TEXT NOT NULL REFERENCES theaters (id),
  start_time INTEGER NOT NULL,                       -- epoch ms
  end_time   INTEGER NOT NULL,                       -- start + running time
  created_at INTEGER NOT NULL,
  CHECK (end_time > start_time)
);
-- A movie's upcoming screenings (the now-showing join), and a theater's timeline (overlap check).
CREATE INDEX screenings_movie_start ON screenings (movie_id, start_time);
CREATE INDEX screenings_theater_start ON screenings (theater_id, start_time);

CREATE TABLE reservations (
  id           TEXT PRIMARY KEY,                     -- UUIDv7
  user_id      TEXT NOT NULL,
  screening_id TEXT NOT NULL REFERENCES screenings (id),
  seats        TEXT NOT NULL,                        -- "A1,A2": the booked seats, kept after a cancel
  seat_count   INTEGER NOT NULL CHECK (seat_count BETWEEN 1 AND 5),
  status       TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
  created_at   INTEGER NOT NULL,
  cancelled_at INTEGER
);
CREATE INDEX reservations_user ON reservations (user_id, created_at DESC, id DESC);
CREATE INDEX reservations_user_screening ON reservations (user_id, screening_id, status);

-- The never-double-book guard: one row per held seat. A cancel deletes its rows.
CREATE TABLE reservation_seats (
  screening_id   TEXT NOT NULL,
  seat           TEXT NOT NULL,                      -- A1..E5
  reservation_id TEXT NOT NULL REFERENCES reservations (id),
  PRIMARY KEY (screening_id, seat)
) WITHOUT ROWID;

-- One row per confirmation the notifier delivered (recorded by the consumer, exactly once per event).
CREATE TABLE reservation_notifications (
  event_id       TEXT PRIMARY KEY,
  reservation_id TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  channel        TEXT NOT NULL,
  message        TEXT NOT NULL,
  sent_at        INTEGER NOT NULL
);
CREATE INDEX reservation_notifications_reservation ON reservation_notifications (reservation_id);
