/*
 * worker.c
 *		The launcher and the per-database task loop (see worker.h).
 *
 * The launcher is a static background worker, registered at preload and
 * restarted by the postmaster after a crash.  It holds no database
 * connection: it starts a dynamic worker for each database named in
 * meshpg.databases while meshpg.scheduler is on, at most
 * meshpg.max_workers at a time.  When there are more databases than that,
 * each worker runs one tick and exits, and the launcher rotates through the
 * databases; otherwise workers stay.  Workers it started are not restarted
 * by the postmaster: the launcher does it, so a crash restart cannot leave
 * two workers on one database.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "meshpg/governance/privacy.h"
#include "meshpg/events/events.h"
#include "meshpg/governance/governance.h"
#include "meshpg/history/history.h"
#include "meshpg/meshpg.h"
#include "meshpg/registry/registry.h"
#include "meshpg/retention/retention.h"
#include "meshpg/ports/ports.h"
#include "meshpg/slo/slo.h"
#include "meshpg/worker/worker.h"

PGDLLEXPORT void mesh_launcher_main(Datum arg);
PGDLLEXPORT void mesh_database_worker_main(Datum arg);

PG_FUNCTION_INFO_V1(meshpg_worker_tasks);

/*
 * The task table: SLO scheduling, the access history, grant expiry, the
 * privacy ledger, the events outbox, retention, output ports, governed
 * statistics.
 */
static const MeshTask mesh_worker_tasks[] = {
	{"slo_schedule", mesh_slo_schedule_task, false},
	{"history_flush", mesh_history_flush_task, true},
	{"grant_expiry", mesh_grant_expiry_task, false},
	/* privacy spends from shared memory to meshpg.cat_privacy_ledger */
	{"privacy_ledger", mesh_privacy_flush_task, false},
	{"events_prune", mesh_events_prune_task, false},
	{"retention", mesh_retention_task, false},
	/* output ports: suspend those past meshpg.port_max_lag, drop orphaned slots */
	{"ports_watch", mesh_ports_watch_task, false},
	/* one product's governed statistics per round (governance/statsets.c) */
	{"stats_refresh", mesh_stats_refresh_task, false},
	{"access_requests", mesh_access_requests_task, false},	/* expiry of unanswered requests */
	{"governance_history", mesh_governance_history_task, false},	/* retention */
	{NULL, NULL, false}
};

/* Each task has a status slot in shared memory (DatabaseStatus.tasks). */
StaticAssertDecl(lengthof(mesh_worker_tasks) - 1 <= MESH_MAX_TASKS,
				 "more worker tasks than MESH_MAX_TASKS status slots");

/* settings */
static bool scheduler_on = false;
static char *databases = NULL;
static int	max_workers = 2;
static int	naptime = 10;

typedef struct TaskStatus
{
	int64		runs;
	int64		failures;
	TimestampTz last_run;
	char		last_error[256];
} TaskStatus;

typedef struct DatabaseStatus
{
	NameData	dbname;			/* empty: free slot */
	TaskStatus	tasks[MESH_MAX_TASKS];
} DatabaseStatus;

typedef struct WorkerShared
{
	LWLock	   *lock;
	DatabaseStatus dbs[MESH_MAX_DATABASES];
} WorkerShared;

static WorkerShared *wshared = NULL;
/* shmem_request_hook step (src/hooks.c) */
void
worker_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
	RequestNamedLWLockTranche("meshpg_worker", 1);
}

/* shmem_startup_hook step (src/hooks.c) */
void
worker_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wshared = ShmemInitStruct("meshpg worker", sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(wshared, 0, sizeof(WorkerShared));
		wshared->lock = &(GetNamedLWLockTranche("meshpg_worker"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
record_task(const char *dbname, int task, bool ok, const char *error)
{
	DatabaseStatus *slot = NULL;

	if (wshared == NULL)
		return;
	LWLockAcquire(wshared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < MESH_MAX_DATABASES && slot == NULL; i++)
		if (strcmp(NameStr(wshared->dbs[i].dbname), dbname) == 0)
			slot = &wshared->dbs[i];
	for (int i = 0; i < MESH_MAX_DATABASES && slot == NULL; i++)
		if (NameStr(wshared->dbs[i].dbname)[0] == '\0')
		{
			slot = &wshared->dbs[i];
			namestrcpy(&slot->dbname, dbname);
		}
	if (slot != NULL)
	{
		TaskStatus *t = &slot->tasks[task];

		t->runs++;
		t->last_run = GetCurrentTimestamp();
		if (!ok)
		{
			t->failures++;
			strlcpy(t->last_error, error ? error : "", sizeof(t->last_error));
		}
	}
	LWLockRelease(wshared->lock);
}

/* ---- the per-database worker ---- */

static bool
run_task(const char *dbname, int i)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool more = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, mesh_worker_tasks[i].name);
	PG_TRY();
	{
		more = mesh_worker_tasks[i].fn();
		PopActiveSnapshot();
		CommitTransactionCommand();
		record_task(dbname, i, true, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Logged and recorded; the next task still runs. */
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		record_task(dbname, i, false, edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(true);
	return more;
}

/*
 * A tick runs every task; a wake-up before the tick is due (the history ring
 * filling up, many times a second under load) runs only the on_wake ones.
 */
static void
run_tasks(const char *dbname, bool tick)
{
	for (int i = 0; mesh_worker_tasks[i].name != NULL; i++)
		for (int round = 0; round < MESH_TASK_MAX_ROUNDS &&
			 (tick || mesh_worker_tasks[i].on_wake); round++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!run_task(dbname, i))
				break;
		}
}

void
mesh_database_worker_main(Datum arg)
{
	bool		oneshot = DatumGetBool(arg);
	char		dbname[NAMEDATALEN];
	TimestampTz last_tick = 0;
	bool		tick;

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	pgstat_report_appname("meshpg worker");

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!scheduler_on)
			break;
		tick = TimestampDifferenceExceeds(last_tick, GetCurrentTimestamp(),
										  naptime * 1000 - 10);
		if (tick)
			last_tick = GetCurrentTimestamp();
		run_tasks(dbname, tick);
		if (oneshot)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

/* ---- the launcher ---- */

typedef struct LaunchedWorker
{
	char		dbname[NAMEDATALEN];
	BackgroundWorkerHandle *handle;
	bool		oneshot;
	bool		stopping;		/* asked to terminate */
	TimestampTz started_at;
} LaunchedWorker;

static LaunchedWorker launched[MESH_MAX_DATABASES];
static int	rotation = 0;

/*
 * A database whose worker stopped before running a task (it does not
 * exist, refuses connections, ...) is retried after a delay that doubles
 * up to ten minutes, so that its error is not logged every tick.
 */
typedef struct Backoff
{
	char		dbname[NAMEDATALEN];
	int			failures;
	TimestampTz retry_at;
} Backoff;

static Backoff backoff[MESH_MAX_DATABASES];

static Backoff *
backoff_for(const char *dbname, bool create)
{
	Backoff    *free_slot = NULL;

	for (int i = 0; i < MESH_MAX_DATABASES; i++)
	{
		if (strcmp(backoff[i].dbname, dbname) == 0)
			return &backoff[i];
		if (backoff[i].dbname[0] == '\0' && free_slot == NULL)
			free_slot = &backoff[i];
	}
	if (create && free_slot != NULL)
	{
		strlcpy(free_slot->dbname, dbname, NAMEDATALEN);
		free_slot->failures = 0;
		free_slot->retry_at = 0;
		return free_slot;
	}
	return NULL;
}

/* When a task last ran in dbname (0: never). */
static TimestampTz
last_task_run(const char *dbname)
{
	TimestampTz last = 0;

	if (wshared == NULL)
		return 0;
	LWLockAcquire(wshared->lock, LW_SHARED);
	for (int i = 0; i < MESH_MAX_DATABASES; i++)
		if (strcmp(NameStr(wshared->dbs[i].dbname), dbname) == 0)
			for (int t = 0; t < MESH_MAX_TASKS; t++)
				last = Max(last, wshared->dbs[i].tasks[t].last_run);
	LWLockRelease(wshared->lock);
	return last;
}

/* A worker of ours stopped: did it get as far as running its tasks? */
static void
worker_stopped(const LaunchedWorker *w)
{
	Backoff    *b;
	int			delay;

	if (w->stopping || last_task_run(w->dbname) >= w->started_at)
	{
		b = backoff_for(w->dbname, false);
		if (b != NULL)
			b->dbname[0] = '\0';
		return;
	}
	b = backoff_for(w->dbname, true);
	if (b == NULL)
		return;
	b->failures++;
	delay = Min(600, naptime * (1 << Min(b->failures, 10)));
	b->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay * 1000L);
	ereport(LOG,
			(errmsg("meshpg worker for database \"%s\" stopped before running its tasks; retrying in %d s",
					w->dbname, delay),
			 errhint("Check that the database exists and accepts connections, or remove it from meshpg.databases.")));
}

static List *
wanted_databases(void)
{
	char	   *raw;
	List	   *names = NIL;

	if (!scheduler_on || databases == NULL || databases[0] == '\0')
		return NIL;
	raw = pstrdup(databases);
	if (!SplitIdentifierString(raw, ',', &names))
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("meshpg.databases is not a list of database names: \"%s\"", databases)));
		return NIL;
	}
	return names;
}

static bool
name_in(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

static void
start_worker(const char *dbname, bool oneshot, LaunchedWorker *slot)
{
	BackgroundWorker worker = {0};

	snprintf(worker.bgw_name, BGW_MAXLEN, "meshpg worker %s", dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, "meshpg worker");
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "meshpg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mesh_database_worker_main");
	worker.bgw_main_arg = BoolGetDatum(oneshot);
	strlcpy(worker.bgw_extra, dbname, BGW_EXTRALEN);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &slot->handle))
	{
		ereport(LOG,
				(errmsg("meshpg could not start a worker for database \"%s\"", dbname),
				 errhint("Raise max_worker_processes.")));
		slot->handle = NULL;
		return;
	}
	strlcpy(slot->dbname, dbname, NAMEDATALEN);
	slot->oneshot = oneshot;
	slot->stopping = false;
	slot->started_at = GetCurrentTimestamp();
}

static void
reconcile(void)
{
	List	   *wanted = wanted_databases();
	int			running = 0;
	int			nwanted = list_length(wanted);
	bool		oneshot = nwanted > max_workers;

	for (int i = 0; i < MESH_MAX_DATABASES; i++)
	{
		LaunchedWorker *w = &launched[i];
		pid_t		pid;

		if (w->handle == NULL)
			continue;
		if (GetBackgroundWorkerPid(w->handle, &pid) == BGWH_STOPPED)
		{
			worker_stopped(w);
			pfree(w->handle);
			w->handle = NULL;
			w->dbname[0] = '\0';
			continue;
		}
		/*
		 * Not wanted any more, or started for the other mode (staying vs
		 * taking turns): stop it; it is started again as needed.  Over the
		 * limit (lowered by SIGHUP): stop the extras.
		 */
		if (!w->stopping &&
			(!name_in(wanted, w->dbname) || w->oneshot != oneshot || running >= max_workers))
		{
			TerminateBackgroundWorker(w->handle);
			w->stopping = true;
		}
		running++;
	}

	for (int k = 0; k < nwanted && running < max_workers; k++)
	{
		const char *db = list_nth(wanted, (rotation + k) % nwanted);
		LaunchedWorker *free_slot = NULL;
		bool		busy = false;
		Backoff    *b = backoff_for(db, false);

		if (b != NULL && GetCurrentTimestamp() < b->retry_at)
			continue;

		for (int i = 0; i < MESH_MAX_DATABASES; i++)
		{
			if (launched[i].handle != NULL && strcmp(launched[i].dbname, db) == 0)
				busy = true;
			else if (launched[i].handle == NULL && free_slot == NULL)
				free_slot = &launched[i];
		}
		if (busy || free_slot == NULL)
			continue;
		start_worker(db, oneshot, free_slot);
		if (free_slot->handle != NULL)
			running++;
	}
	if (nwanted > 0)
		rotation = (rotation + 1) % nwanted;
}

void
mesh_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	pgstat_report_appname("meshpg launcher");

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
mesh_worker_init(void)
{
	BackgroundWorker worker = {0};

	DefineCustomBoolVariable("meshpg.scheduler",
							 "Runs meshpg's background tasks (scheduled SLO evaluation).",
							 "The databases are named in meshpg.databases.",
							 &scheduler_on, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("meshpg.databases",
							   "Databases the meshpg scheduler covers, comma-separated.",
							   NULL,
							   &databases, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.max_workers",
							"Per-database meshpg workers running at once.",
							"Beyond it, workers take turns, one tick each.",
							&max_workers, 2, 1, MESH_MAX_DATABASES, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.worker_naptime",
							"Seconds between two ticks of the meshpg workers.",
							"Tasks decide themselves what is due; SLO schedules are at least a minute.",
							&naptime, 10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;


	snprintf(worker.bgw_name, BGW_MAXLEN, "meshpg launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "meshpg launcher");
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* Back after a crash restart, or if it ever exits. */
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "meshpg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mesh_launcher_main");
	RegisterBackgroundWorker(&worker);
}

/* meshpg.worker_tasks(): one row per database and task. */
Datum
meshpg_worker_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (wshared == NULL)
		return (Datum) 0;
	LWLockAcquire(wshared->lock, LW_SHARED);
	for (int i = 0; i < MESH_MAX_DATABASES; i++)
	{
		DatabaseStatus *db = &wshared->dbs[i];

		if (NameStr(db->dbname)[0] == '\0')
			continue;
		for (int t = 0; mesh_worker_tasks[t].name != NULL; t++)
		{
			TaskStatus *ts = &db->tasks[t];
			Datum		values[6];
			bool		nulls[6] = {0};

			values[0] = NameGetDatum(&db->dbname);
			values[1] = CStringGetTextDatum(mesh_worker_tasks[t].name);
			values[2] = Int64GetDatum(ts->runs);
			values[3] = Int64GetDatum(ts->failures);
			values[4] = TimestampTzGetDatum(ts->last_run);
			nulls[4] = ts->runs == 0;
			values[5] = CStringGetTextDatum(ts->last_error);
			nulls[5] = ts->last_error[0] == '\0';
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	LWLockRelease(wshared->lock);
	return (Datum) 0;
}
