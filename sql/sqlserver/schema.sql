-- jobs: schema for Microsoft SQL Server, the exercise's original database.
--
-- UNTESTED: no SQL Server can be had on the project's machines. It mirrors
-- sql/postgresql/schema.sql column for column; the programs do not support this dialect yet.
--
-- Times are datetime2(3) in UTC (SYSUTCDATETIME(), not GETDATE(), which is local time).
-- Insert a job by hand, due in 30 s:
--
--   INSERT INTO Jobs (RunAt) VALUES (DATEADD(second, 30, SYSUTCDATETIME()));

IF OBJECT_ID(N'dbo.Jobs', N'U') IS NULL
CREATE TABLE dbo.Jobs (
    Id         bigint IDENTITY (1, 1) NOT NULL PRIMARY KEY CLUSTERED,
    RunAt      datetime2(3)   NOT NULL,
    CreateAt   datetime2(3)   NOT NULL DEFAULT (SYSUTCDATETIME()),
    LockAt     datetime2(3)   NULL,
    ExecuteAt  datetime2(3)   NULL,
    State      int            NOT NULL DEFAULT (0),  -- 0 created, 1 locked, 2 completed,
                                                     -- 3 failed, 4 interrupted
    LockedBy   nvarchar(200)  NULL,                  -- ClientId of the lock holder
    LockToken  bigint         NULL,                  -- fencing token, new at each lock
    LeaseUntil datetime2(3)   NULL,                  -- the lock expires then unless started
    StartedAt  datetime2(3)   NULL,                  -- when the task was handed to a worker
    Attempts   int            NOT NULL DEFAULT (0),
    Payload    nvarchar(max)  NULL,
    Result     nvarchar(max)  NULL
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_Jobs_RunAt_State')
CREATE NONCLUSTERED INDEX IX_Jobs_RunAt_State ON dbo.Jobs (RunAt ASC, State ASC);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'IX_Jobs_Pending')
CREATE NONCLUSTERED INDEX IX_Jobs_Pending ON dbo.Jobs (RunAt ASC) WHERE State < 2;
GO
IF OBJECT_ID(N'dbo.WorkerLogs', N'U') IS NULL
CREATE TABLE dbo.WorkerLogs (
    Sn       bigint IDENTITY (1, 1) NOT NULL PRIMARY KEY CLUSTERED,
    JobId    bigint        NULL,
    LogDate  datetime2(3)  NOT NULL DEFAULT (SYSUTCDATETIME()),
    Action   nvarchar(50)  NOT NULL,
    ClientId nvarchar(200) NULL,
    Results  int           NULL
);
GO
