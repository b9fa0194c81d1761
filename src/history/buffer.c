/*
 * buffer.c
 *		The shared-memory ring that holds captured reads until a flush moves
 *		them into the catalog, and its persistence across a clean restart.
 *
 * Readers append under a short exclusive LWLock and never wait for anything
 * else: when the ring is full the entry is dropped and counted.  One flusher
 * at a time claims the entries of its database; they leave the ring only
 * when its transaction commits (mesh_history_release), so a flush that fails
 * or is killed loses nothing and a committed one is never replayed.  Entries
 * of other databases stay where they are; the tail advances over the
 * consumed ones.
 *
 * At a shutdown (smart, fast or immediate: the postmaster itself exits
 * normally) the postmaster writes what is left to a file, and the next start
 * loads it (the pg_stat_statements pattern).  A backend crash, which makes
 * the postmaster reinitialise shared memory, or a crash of the postmaster
 * itself, loses at most the ring's contents.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "history/history.h"

#define HISTORY_FILE	"pg_stat/meshpg_history.dat"
#define HISTORY_MAGIC	0x4d485331	/* "MHS1" */

/* At most this many entries per flush: the rest wait for the next one. */
#define FLUSH_BATCH		65536

typedef struct HistoryShared
{
	LWLock	   *lock;
	int			capacity;
	uint64		head;			/* next position to write */
	uint64		tail;			/* oldest position not yet consumed */
	uint64		captured;
	uint64		dropped;
	uint64		flushed;
	int			flusher;		/* pid of the flush in progress, or 0 */
	HistoryEntry slots[FLEXIBLE_ARRAY_MEMBER];
} HistoryShared;

static HistoryShared *shared = NULL;

/* The flusher's claim: ring positions, kept until its transaction ends. */
static uint64 *claimed = NULL;
static int	nclaimed = 0;
static bool claiming = false;

static Size
history_shmem_size(void)
{
	return add_size(offsetof(HistoryShared, slots),
					mul_size(mesh_history_buffer_size, sizeof(HistoryEntry)));
}

void
mesh_history_shmem_request(void)
{
	RequestAddinShmemSpace(history_shmem_size());
	RequestNamedLWLockTranche("meshpg_history", 1);
}

bool
mesh_history_ready(void)
{
	return shared != NULL;
}

/* Postmaster, at a clean shutdown only: keep what was not flushed. */
static void
history_shmem_shutdown(int code, Datum arg)
{
	FILE	   *file;
	uint32		header[2];
	uint64		n = 0;

	if (code != 0 || shared == NULL)
		return;
	for (uint64 pos = shared->tail; pos < shared->head; pos++)
		if (OidIsValid(shared->slots[pos % shared->capacity].dbid))
			n++;

	file = AllocateFile(HISTORY_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;
	header[0] = HISTORY_MAGIC;
	header[1] = sizeof(HistoryEntry);
	if (fwrite(header, sizeof(header), 1, file) != 1 ||
		fwrite(&n, sizeof(n), 1, file) != 1 ||
		fwrite(&shared->dropped, sizeof(uint64), 1, file) != 1)
		goto error;
	for (uint64 pos = shared->tail; pos < shared->head; pos++)
	{
		HistoryEntry *e = &shared->slots[pos % shared->capacity];

		if (OidIsValid(e->dbid) && fwrite(e, sizeof(HistoryEntry), 1, file) != 1)
			goto error;
	}
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(HISTORY_FILE ".tmp", HISTORY_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write meshpg access history file \"%s\": %m",
					HISTORY_FILE ".tmp")));
	if (file)
		FreeFile(file);
	unlink(HISTORY_FILE ".tmp");
}

/* Postmaster startup: entries a clean shutdown kept come back. */
static void
history_load(void)
{
	FILE	   *file = AllocateFile(HISTORY_FILE, PG_BINARY_R);
	uint32		header[2];
	uint64		n;
	uint64		dropped;

	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read meshpg access history file \"%s\": %m",
							HISTORY_FILE)));
		return;
	}
	if (fread(header, sizeof(header), 1, file) != 1 ||
		header[0] != HISTORY_MAGIC || header[1] != sizeof(HistoryEntry) ||
		fread(&n, sizeof(n), 1, file) != 1 ||
		fread(&dropped, sizeof(dropped), 1, file) != 1)
	{
		ereport(LOG,
				(errmsg("ignoring meshpg access history file \"%s\": unrecognised format",
						HISTORY_FILE)));
		goto done;
	}
	shared->dropped = dropped;
	for (uint64 i = 0; i < n; i++)
	{
		HistoryEntry e;

		if (fread(&e, sizeof(e), 1, file) != 1)
		{
			ereport(LOG,
					(errmsg("meshpg access history file \"%s\" is truncated", HISTORY_FILE)));
			break;
		}
		/* a smaller ring now: keep the oldest, count the rest as dropped */
		if (shared->head - shared->tail >= (uint64) shared->capacity)
		{
			shared->dropped++;
			continue;
		}
		shared->slots[shared->head++ % shared->capacity] = e;
	}
	ereport(LOG,
			(errmsg("meshpg: reloaded %llu unflushed access history entries",
					(unsigned long long) (shared->head - shared->tail))));
done:
	FreeFile(file);
	unlink(HISTORY_FILE);
}

void
mesh_history_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("meshpg access history", history_shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, offsetof(HistoryShared, slots));
		shared->lock = &(GetNamedLWLockTranche("meshpg_history"))->lock;
		shared->capacity = mesh_history_buffer_size;
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(history_shmem_shutdown, (Datum) 0);
		if (!found)
			history_load();
	}
}

/* Never waits for a flush and never fails: a full ring drops and counts. */
void
mesh_history_append(const HistoryEntry *entries, int n)
{
	if (shared == NULL || n == 0)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		shared->captured++;
		if (shared->head - shared->tail >= (uint64) shared->capacity)
			shared->dropped++;
		else
		{
			/*
			 * The slot counts only once written whole: a backend killed in
			 * the middle (immediate shutdown) leaves the head where it was.
			 */
			memcpy(&shared->slots[shared->head % shared->capacity], &entries[i],
				   sizeof(HistoryEntry));
			pg_write_barrier();
			shared->head++;
		}
	}
	LWLockRelease(shared->lock);
}

/*
 * Claims the entries of dbid for this backend's flush, copied into a
 * palloc'd array; NULL with *n = 0 when another flush is in progress.  The
 * claim ends with mesh_history_release at the end of the transaction.
 */
HistoryEntry *
mesh_history_claim(Oid dbid, int *n)
{
	uint64		head;
	HistoryEntry *result;
	int			count = 0;

	*n = 0;
	if (shared == NULL || claiming)
		return NULL;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (shared->flusher != 0)
	{
		LWLockRelease(shared->lock);
		return NULL;
	}
	shared->flusher = MyProcPid;
	head = shared->head;
	LWLockRelease(shared->lock);
	claiming = true;

	/*
	 * Slots before head are complete and only the flusher changes them; the
	 * tail moves only at release.  So they can be read without the lock.
	 */
	if (claimed == NULL)
		claimed = MemoryContextAlloc(TopMemoryContext, sizeof(uint64) * FLUSH_BATCH);
	result = palloc(sizeof(HistoryEntry) * Min(FLUSH_BATCH, Max(1, head - shared->tail)));
	for (uint64 pos = shared->tail; pos < head && count < FLUSH_BATCH; pos++)
	{
		HistoryEntry *e = &shared->slots[pos % shared->capacity];

		if (e->dbid != dbid)
			continue;
		memcpy(&result[count], e, sizeof(HistoryEntry));
		claimed[count++] = pos;
	}
	nclaimed = count;
	*n = count;
	return result;
}

/* End of the flush's transaction: consumed only if it committed. */
void
mesh_history_release(bool consumed)
{
	if (!claiming)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (consumed)
	{
		for (int i = 0; i < nclaimed; i++)
			shared->slots[claimed[i] % shared->capacity].dbid = InvalidOid;
		while (shared->tail < shared->head &&
			   !OidIsValid(shared->slots[shared->tail % shared->capacity].dbid))
			shared->tail++;
		shared->flushed += nclaimed;
	}
	shared->flusher = 0;
	LWLockRelease(shared->lock);
	nclaimed = 0;
	claiming = false;
}

PG_FUNCTION_INFO_V1(meshpg_access_history_stats);

/* meshpg._access_history_stats(): the ring's counters */
Datum
meshpg_access_history_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the meshpg access history buffer is not available")));
	LWLockAcquire(shared->lock, LW_SHARED);
	values[0] = Int32GetDatum(shared->capacity);
	values[1] = Int64GetDatum((int64) (shared->head - shared->tail));
	values[2] = Int64GetDatum((int64) shared->captured);
	values[3] = Int64GetDatum((int64) shared->dropped);
	values[4] = Int64GetDatum((int64) shared->flushed);
	nulls[5] = shared->flusher == 0;
	values[5] = Int32GetDatum(shared->flusher);
	LWLockRelease(shared->lock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
