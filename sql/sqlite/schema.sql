-- jobs: schema for SQLite, the embedded default.
--
-- Load it with:   sqlite3 jobs.db < sql/sqlite/schema.sql
-- The programs run this same file (it is compiled in) when the tables are missing.
--
-- Times are UTC text 'YYYY-MM-DD HH:MM:SS.SSS', the format of SQLite's own
-- strftime('%Y-%m-%d %H:%M:%f', 'now'), so that text order is time order and the
-- (RunAt, State) index serves range queries. Insert a job by hand, due in 30 s:
--
--   INSERT INTO Jobs (RunAt) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now', '+30 seconds'));
--   INSERT INTO Jobs (RunAt, Payload) VALUES ('2026-11-21 12:00:00.000', '{"report": 7}');
--
-- A RunAt in another form SQLite understands ('2026-11-21T12:00:00Z', '2026-11-21 20:00+08:00')
-- is normalized to that format by a trigger; one it cannot read is refused.

-- Write-ahead logging lets several scheduler processes share the file: readers never block the
-- writer. The setting is stored in the file.
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS Jobs (
    Id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: an id is never reused
    RunAt      TEXT    NOT NULL,                   -- when the job is due (UTC, written by the user)
    CreateAt   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    LockAt     TEXT    NULL,                       -- database clock when an instance locked it
    ExecuteAt  TEXT    NULL,                       -- database clock when its task completed
    State      INTEGER NOT NULL DEFAULT 0,         -- 0 created, 1 locked, 2 completed,
                                                   -- 3 failed (the task reported an error),
                                                   -- 4 interrupted (started, outcome unknown)
    LockedBy   TEXT    NULL,                       -- ClientId of the instance holding the lock
    LockToken  INTEGER NULL,                       -- fencing token, new at each lock: only its
                                                   -- holder may start or complete the job
    LeaseUntil TEXT    NULL,                       -- the lock expires then unless the task started
    StartedAt  TEXT    NULL,                       -- database clock when the task was handed to a
                                                   -- worker; once set the job never starts again
    Attempts   INTEGER NOT NULL DEFAULT 0,         -- how many times it was locked (re-locks after
                                                   -- an expired lease make this exceed 1)
    Payload    TEXT    NULL,                       -- optional data for the task, passed as data only
    Result     TEXT    NULL                        -- the task's result, or the error it reported
);

-- The exercise's index: due jobs by time.
CREATE INDEX IF NOT EXISTS IX_Jobs_RunAt_State ON Jobs (RunAt, State);
-- The jobs still to run, by time: what every list reads, however long the history grows.
CREATE INDEX IF NOT EXISTS IX_Jobs_Pending ON Jobs (RunAt) WHERE State < 2;

CREATE TABLE IF NOT EXISTS WorkerLogs (
    Sn       INTEGER PRIMARY KEY AUTOINCREMENT,
    JobId    INTEGER NULL,
    LogDate  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    Action   TEXT    NOT NULL,                     -- QUERYLIST, QUERYJOB, ACQUIRE_SUCCESS, ...
    ClientId TEXT    NULL,                         -- the instance that sent the statement
    Results  INTEGER NULL                          -- rows returned or changed
);

-- Instances read the lists made lately (QUERYLIST rows) to space their polls and share jobs.
CREATE INDEX IF NOT EXISTS IX_WorkerLogs_Action_LogDate ON WorkerLogs (Action, LogDate);

-- SQLite compares text, so a RunAt in another format would sort wrongly: refuse what
-- strftime cannot read, and rewrite the rest into the canonical format.
CREATE TRIGGER IF NOT EXISTS Jobs_RunAt_Check BEFORE INSERT ON Jobs
WHEN typeof(NEW.RunAt) <> 'text' OR strftime('%Y-%m-%d %H:%M:%f', NEW.RunAt) IS NULL
BEGIN
    SELECT RAISE(ABORT, 'Jobs.RunAt must be UTC text like 2026-11-21 12:00:00.000');
END;

CREATE TRIGGER IF NOT EXISTS Jobs_RunAt_Normalize AFTER INSERT ON Jobs
WHEN NEW.RunAt <> strftime('%Y-%m-%d %H:%M:%f', NEW.RunAt)
BEGIN
    UPDATE Jobs SET RunAt = strftime('%Y-%m-%d %H:%M:%f', NEW.RunAt) WHERE Id = NEW.Id;
END;
