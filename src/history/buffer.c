/*
 * buffer.c
 *		The shared-memory ring that holds captured reads until a flush moves
 *		them into the catalog, and its persistence across a clean restart.
 *
 * A reader reserves its slots under a spinlock held for a few instructions,
 * then copies its entries without any lock and publishes each by writing
 * the slot's sequence number last: with two clients at tens of thousands of
 * statements a second, a lock held during the copy (or a sleeping LWLock
 * waiter) costs far more than the copy.  Readers never wait for a flush:
 * when the ring is full the entry is dropped and counted.  One flusher at a
 * time claims the complete entries of its database; they leave the ring
 * only when its transaction commits (mesh_history_release), so a flush that
 * fails or is killed loses nothing and a committed one is never replayed.
 * Entries of other databases stay where they are; the tail advances over
 * the consumed ones.
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
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "history/history.h"

#define HISTORY_FILE	"pg_stat/meshpg_history.dat"
#define HISTORY_MAGIC	0x4d485331	/* "MHS1" */

#define FLUSH_BATCH		MESH_HISTORY_FLUSH_BATCH

/* Databases whose flusher the ring can wake up. */
#define WAKE_SLOTS		64

/* A slot is complete when seq is its position + 1. */
typedef struct HistorySlot
{
	volatile uint64 seq;
	HistoryEntry entry;
} HistorySlot;

typedef struct HistoryShared
{
	slock_t		mutex;			/* head, tail, counters, flusher */
	int			capacity;
	uint64		head;			/* next position to write */
	uint64		tail;			/* oldest position not yet consumed */
	uint64		captured;
	uint64		dropped;
	uint64		flushed;
	int			flusher;		/* pid of the flush in progress, or 0 */
	/* the latch of each database's worker: set when the ring is half full */
	Oid			wake_db[WAKE_SLOTS];
	Latch	   *wake_latch[WAKE_SLOTS];
	HistorySlot slots[FLEXIBLE_ARRAY_MEMBER];
} HistoryShared;

#define SLOT(pos) (&shared->slots[(pos) % shared->capacity])

static HistoryShared *shared = NULL;

/*
 * The flusher's claim, kept until its transaction ends: the ring positions
 * of its database's entries, and copies of the other databases' entries it
 * passed over (in TopTransactionContext), which go back in at the head so
 * that a database nobody flushes cannot hold the tail and fill the ring.
 */
static uint64 *claimed = NULL;
static int	nclaimed = 0;
static uint64 *passed = NULL;
static HistoryEntry *passed_entries = NULL;
static int	npassed = 0;
static bool claiming = false;

static Size
history_shmem_size(void)
{
	return add_size(offsetof(HistoryShared, slots),
					mul_size(mesh_history_buffer_size, sizeof(HistorySlot)));
}

void
mesh_history_shmem_request(void)
{
	RequestAddinShmemSpace(history_shmem_size());
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
		if (SLOT(pos)->seq == pos + 1 && OidIsValid(SLOT(pos)->entry.dbid))
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
		HistorySlot *slot = SLOT(pos);

		/* a slot a killed backend left half-written is not complete */
		if (slot->seq == pos + 1 && OidIsValid(slot->entry.dbid) &&
			fwrite(&slot->entry, sizeof(HistoryEntry), 1, file) != 1)
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
		SLOT(shared->head)->entry = e;
		SLOT(shared->head)->seq = shared->head + 1;
		shared->head++;
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
		SpinLockInit(&shared->mutex);
		shared->capacity = mesh_history_buffer_size;
		for (int i = 0; i < shared->capacity; i++)
			shared->slots[i].seq = 0;
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(history_shmem_shutdown, (Datum) 0);
		if (!found)
			history_load();
	}
}

static void
append_entries(const HistoryEntry *entries, int n, bool count)
{
	uint64		first;
	int			reserved;
	Latch	   *wake = NULL;

	SpinLockAcquire(&shared->mutex);
	if (count)
		shared->captured += n;
	reserved = Min((uint64) n, shared->capacity - (shared->head - shared->tail));
	shared->dropped += n - reserved;
	first = shared->head;
	shared->head += reserved;

	/*
	 * Half full: wake this database's worker now rather than at its next
	 * tick, so that a burst of reads is flushed before the ring drops any.
	 */
	if (count && 2 * (shared->head - shared->tail) >= (uint64) shared->capacity)
		for (int i = 0; i < WAKE_SLOTS && wake == NULL; i++)
			if (shared->wake_db[i] == entries[0].dbid)
				wake = shared->wake_latch[i];
	SpinLockRelease(&shared->mutex);
	if (wake != NULL)
		SetLatch(wake);

	for (int i = 0; i < reserved; i++)
	{
		HistorySlot *slot = SLOT(first + i);

		memcpy(&slot->entry, &entries[i], sizeof(HistoryEntry));
		pg_write_barrier();
		slot->seq = first + i + 1;
	}
}

/*
 * The latch to set when the ring fills up with dbid's entries: the
 * database's worker leaves its own at every flush.  A latch left by a worker
 * that has gone belongs to a PGPROC that lives on: setting it is harmless.
 */
void
mesh_history_set_flusher(Oid dbid, Latch *latch)
{
	int			slot = -1;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < WAKE_SLOTS; i++)
	{
		if (shared->wake_db[i] == dbid)
		{
			slot = i;
			break;
		}
		if (slot < 0 && !OidIsValid(shared->wake_db[i]))
			slot = i;
	}
	if (slot >= 0)
	{
		shared->wake_db[slot] = dbid;
		shared->wake_latch[slot] = latch;
	}
	SpinLockRelease(&shared->mutex);
}

/* Never waits for a flush and never fails: a full ring drops and counts. */
void
mesh_history_append(const HistoryEntry *entries, int n)
{
	if (shared == NULL || n == 0)
		return;
	append_entries(entries, n, true);
}

/*
 * Claims the complete entries of dbid for this backend's flush, copied into
 * a palloc'd array; NULL with *n = 0 when another flush is in progress.  The
 * claim ends with mesh_history_release at the end of the transaction.
 */
HistoryEntry *
mesh_history_claim(Oid dbid, int *n)
{
	uint64		head;
	uint64		tail;
	HistoryEntry *result;
	int			count = 0;

	*n = 0;
	if (shared == NULL || claiming)
		return NULL;
	SpinLockAcquire(&shared->mutex);
	if (shared->flusher != 0)
	{
		SpinLockRelease(&shared->mutex);
		return NULL;
	}
	shared->flusher = MyProcPid;
	head = shared->head;
	tail = shared->tail;
	SpinLockRelease(&shared->mutex);
	claiming = true;

	/*
	 * Readers write only slots they reserved past the tail, and publish them
	 * by their sequence number; only the flusher changes a published slot or
	 * moves the tail.  A slot still being written ends the claim: the next
	 * flush takes it and what follows.
	 */
	if (claimed == NULL)
	{
		claimed = MemoryContextAlloc(TopMemoryContext, sizeof(uint64) * FLUSH_BATCH);
		passed = MemoryContextAlloc(TopMemoryContext, sizeof(uint64) * FLUSH_BATCH);
	}
	result = palloc(sizeof(HistoryEntry) * Min(FLUSH_BATCH, Max(1, head - tail)));
	npassed = 0;
	passed_entries = NULL;
	for (uint64 pos = tail; pos < head && count + npassed < FLUSH_BATCH; pos++)
	{
		HistorySlot *slot = SLOT(pos);

		if (slot->seq != pos + 1)
			break;
		pg_read_barrier();
		if (!OidIsValid(slot->entry.dbid))
			continue;			/* consumed already */
		if (slot->entry.dbid == dbid)
		{
			memcpy(&result[count], &slot->entry, sizeof(HistoryEntry));
			claimed[count++] = pos;
		}
		else
		{
			if (passed_entries == NULL)
				passed_entries = MemoryContextAlloc(TopTransactionContext,
													sizeof(HistoryEntry) * FLUSH_BATCH);
			memcpy(&passed_entries[npassed], &slot->entry, sizeof(HistoryEntry));
			passed[npassed++] = pos;
		}
	}
	/* passing over others' entries is worth it only to free the tail */
	if (count == 0)
		npassed = 0;
	nclaimed = count;
	*n = count;
	return result;
}

/* End of the flush's transaction: consumed only if it committed. */
void
mesh_history_release(bool consumed)
{
	uint64		tail;
	uint64		head;

	if (!claiming)
		return;
	if (consumed)
	{
		/* only this flusher touches published slots: no lock to mark them */
		for (int i = 0; i < nclaimed; i++)
			SLOT(claimed[i])->entry.dbid = InvalidOid;
		for (int i = 0; i < npassed; i++)
			SLOT(passed[i])->entry.dbid = InvalidOid;
		SpinLockAcquire(&shared->mutex);
		tail = shared->tail;
		head = shared->head;
		SpinLockRelease(&shared->mutex);
		while (tail < head && SLOT(tail)->seq == tail + 1 &&
			   !OidIsValid(SLOT(tail)->entry.dbid))
			tail++;
		pg_memory_barrier();
	}
	SpinLockAcquire(&shared->mutex);
	if (consumed)
	{
		shared->tail = tail;
		shared->flushed += nclaimed;
	}
	shared->flusher = 0;
	SpinLockRelease(&shared->mutex);
	/* the other databases' entries go back in, behind the new ones */
	if (consumed && npassed > 0)
		append_entries(passed_entries, npassed, false);
	nclaimed = 0;
	npassed = 0;
	passed_entries = NULL;
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
	SpinLockAcquire(&shared->mutex);
	values[0] = Int32GetDatum(shared->capacity);
	values[1] = Int64GetDatum((int64) (shared->head - shared->tail));
	values[2] = Int64GetDatum((int64) shared->captured);
	values[3] = Int64GetDatum((int64) shared->dropped);
	values[4] = Int64GetDatum((int64) shared->flushed);
	nulls[5] = shared->flusher == 0;
	values[5] = Int32GetDatum(shared->flusher);
	SpinLockRelease(&shared->mutex);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
