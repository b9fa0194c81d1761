/*
 * changes.c
 *		The last committed change to each product's relation, tracked by
 *		meshpg itself so that freshness by last change scans nothing.
 *
 * Each backend notes the products a statement wrote (executor: INSERT,
 * UPDATE, DELETE, MERGE, writable CTEs; utility: COPY FROM, TRUNCATE,
 * REFRESH MATERIALIZED VIEW), per subtransaction, and publishes them to a
 * shared hash (database, product id) -> commit time when its transaction
 * commits; aborted work is dropped.  A write to a partition or child counts
 * for its product.  The table is saved at shutdown and loaded at start.
 * After a crash the last saved copy is loaded: its times are older than
 * the truth, so freshness can only look worse, never better, than it is.
 *
 * The same shared block holds the generation of SLO state that the read
 * gate compares against (gate.c).
 */
#include "postgres.h"

#include <unistd.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "meshpg/slo/slo.h"

PG_FUNCTION_INFO_V1(meshpg_last_change);

#define CHANGES_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/meshpg_changes.stat"
#define CHANGES_MAGIC 0x4d534833	/* "MSH3" */

/* No padding: every byte of the key is hashed and compared. */
typedef struct ChangeKey
{
	int64		product_id;
	Oid			dbid;
	uint32		unused;			/* always 0 */
} ChangeKey;

static inline ChangeKey
make_key(int64 product_id)
{
	ChangeKey	key;

	key.product_id = product_id;
	key.dbid = MyDatabaseId;
	key.unused = 0;
	return key;
}

StaticAssertDecl(sizeof(ChangeKey) == 16, "ChangeKey must have no padding");

/*
 * Entries are never removed, so a backend may keep a pointer to one and
 * read its time without the lock (the read gate does, on every read).
 */
typedef struct ChangeEntry
{
	ChangeKey	key;
	pg_atomic_uint64 at;		/* TimestampTz */
} ChangeEntry;

/* One entry in the file the table is saved to. */
typedef struct ChangeRecord
{
	ChangeKey	key;
	int64		at;
} ChangeRecord;

typedef struct PendingWrite
{
	int64		product_id;
	int			level;			/* subtransaction nesting level */
} PendingWrite;

static int	changes_max = 10000;
static MeshSloShared *shared = NULL;
static HTAB *changes = NULL;

static PendingWrite *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static bool state_dirty = false;


MeshSloShared *
mesh_slo_shared(void)
{
	return shared;
}

static void
note_write(Oid relid)
{
	const MeshProduct *product;
	int			level = GetCurrentTransactionNestLevel();

	if (!OidIsValid(relid) || IsParallelWorker() || mesh_catalog() == NULL)
		return;
	product = mesh_product_by_relid(relid);
	if (product == NULL)
		return;
	for (int i = 0; i < npending; i++)
		if (pending[i].product_id == product->id && pending[i].level == level)
			return;
	if (npending == maxpending)
	{
		maxpending = maxpending == 0 ? 8 : maxpending * 2;
		pending = pending == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxpending * sizeof(PendingWrite)) :
			repalloc(pending, maxpending * sizeof(PendingWrite));
	}
	pending[npending].product_id = product->id;
	pending[npending].level = level;
	npending++;
}

/* ExecutorEnd_hook step (src/hooks.c) */
void
slo_executor_end(QueryDesc *queryDesc, MeshHookStep next)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;
	EState	   *estate = queryDesc->estate;

	/* EXPLAIN without ANALYZE runs nothing; a write of no rows changes nothing. */
	if (estate != NULL && !(estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		((queryDesc->operation != CMD_SELECT && estate->es_processed > 0) ||
		 stmt->hasModifyingCTE))
	{
		ListCell   *lc;

		foreach(lc, stmt->resultRelations)
			note_write(rt_fetch(lfirst_int(lc), stmt->rtable)->relid);
	}
	mesh_next_executor_end(queryDesc, next);
}

static void
note_rangevar(RangeVar *rv)
{
	if (rv != NULL)
		note_write(RangeVarGetRelid(rv, NoLock, true));
}

/* ProcessUtility_hook step (src/hooks.c) */
void
slo_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
			MeshHookStep next)
{
	Node	   *parsetree = pstmt->utilityStmt;

	mesh_next_utility(pstmt, queryString, readOnlyTree, context, params,
					  queryEnv, dest, qc, next);

	/* Only statements that completed get here. */
	if (IsA(parsetree, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) parsetree;

		if (copy->is_from && (qc == NULL || qc->nprocessed > 0))
			note_rangevar(copy->relation);
	}
	else if (IsA(parsetree, TruncateStmt))
	{
		ListCell   *lc;

		foreach(lc, ((TruncateStmt *) parsetree)->relations)
			note_rangevar(lfirst(lc));
	}
	else if (IsA(parsetree, RefreshMatViewStmt))
		note_rangevar(((RefreshMatViewStmt *) parsetree)->relation);
}

static void
slo_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (npending > 0 && shared != NULL)
			{
				TimestampTz now = GetCurrentTimestamp();

				LWLockAcquire(shared->lock, LW_EXCLUSIVE);
				for (int i = 0; i < npending; i++)
				{
					ChangeKey	key = make_key(pending[i].product_id);
					bool		found;
					ChangeEntry *entry = hash_search(changes, &key, HASH_ENTER_NULL, &found);

					/* Full: the product stays unknown, which reads as not fresh. */
					if (entry == NULL)
						continue;
					if (found)
						pg_atomic_write_u64(&entry->at, (uint64) now);
					else
					{
						pg_atomic_init_u64(&entry->at, (uint64) now);
						pg_atomic_fetch_add_u32(&shared->entries, 1);
					}
				}
				LWLockRelease(shared->lock);
			}
			if (state_dirty && shared != NULL)
				pg_atomic_fetch_add_u64(&shared->state_generation, 1);
			npending = 0;
			state_dirty = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			/* A prepared transaction commits elsewhere: never claim it. */
			if (state_dirty)
				mesh_slo_gate_invalidate();
			npending = 0;
			state_dirty = false;
			break;
		default:
			break;
	}
}

static void
slo_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].level >= level)
		{
			if (event == SUBXACT_EVENT_ABORT_SUB)
				continue;
			pending[i].level = level - 1;
		}
		pending[kept++] = pending[i];
	}
	npending = kept;
}

/* The read gate's state changed in this transaction: tell every backend at commit. */
void
mesh_slo_state_changed(void)
{
	state_dirty = true;
}

bool
mesh_last_change(int64 product_id, TimestampTz *at)
{
	ChangeKey	key = make_key(product_id);
	ChangeEntry *entry;
	bool		found = false;

	if (shared == NULL)
		return false;
	LWLockAcquire(shared->lock, LW_SHARED);
	entry = hash_search(changes, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*at = (TimestampTz) pg_atomic_read_u64(&entry->at);
		found = true;
	}
	LWLockRelease(shared->lock);
	return found;
}

/* The product's entry, to read without the lock later; NULL if none yet. */
pg_atomic_uint64 *
mesh_last_change_slot(int64 product_id)
{
	ChangeKey	key = make_key(product_id);
	ChangeEntry *entry;

	if (shared == NULL)
		return NULL;
	LWLockAcquire(shared->lock, LW_SHARED);
	entry = hash_search(changes, &key, HASH_FIND, NULL);
	LWLockRelease(shared->lock);
	return entry ? &entry->at : NULL;
}

/* Grows when an entry is added: a product without one may have one now. */
uint32
mesh_change_entries(void)
{
	return shared ? pg_atomic_read_u32(&shared->entries) : 0;
}

static Size
changes_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(MeshSloShared)),
					hash_estimate_size(changes_max, sizeof(ChangeEntry)));
}

/* shmem_request_hook step (src/hooks.c) */
void
slo_shmem_request(void)
{
	RequestAddinShmemSpace(changes_shmem_size());
	RequestNamedLWLockTranche("meshpg_slo", 1);
}

static void
save_changes(int code, Datum arg)
{
	FILE	   *file;
	HASH_SEQ_STATUS seq;
	ChangeEntry *entry;
	uint32		header[2] = {CHANGES_MAGIC, 0};

	/* Not after a crash: shared memory cannot be trusted then. */
	if (code != 0 || shared == NULL)
		return;
	file = AllocateFile(CHANGES_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;
	header[1] = (uint32) hash_get_num_entries(changes);
	if (fwrite(header, sizeof(header), 1, file) != 1)
		goto error;
	hash_seq_init(&seq, changes);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		ChangeRecord rec;

		rec.key = entry->key;
		rec.at = (int64) pg_atomic_read_u64(&entry->at);
		if (fwrite(&rec, sizeof(rec), 1, file) != 1)
		{
			hash_seq_term(&seq);
			goto error;
		}
	}
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(CHANGES_FILE ".tmp", CHANGES_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", CHANGES_FILE ".tmp")));
	if (file)
		FreeFile(file);
	unlink(CHANGES_FILE ".tmp");
}

static void
load_changes(void)
{
	FILE	   *file = AllocateFile(CHANGES_FILE, PG_BINARY_R);
	uint32		header[2];
	ChangeRecord entry;

	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", CHANGES_FILE)));
		return;
	}
	if (fread(header, sizeof(header), 1, file) != 1 || header[0] != CHANGES_MAGIC)
	{
		ereport(LOG,
				(errmsg("ignoring file \"%s\": not written by this version of meshpg",
						CHANGES_FILE)));
		FreeFile(file);
		return;
	}
	for (uint32 i = 0; i < header[1]; i++)
	{
		ChangeEntry *e;
		bool		found;

		if (fread(&entry, sizeof(entry), 1, file) != 1)
			break;
		e = hash_search(changes, &entry.key, HASH_ENTER_NULL, &found);
		if (e == NULL)
			break;
		if (!found)
			pg_atomic_fetch_add_u32(&shared->entries, 1);
		pg_atomic_init_u64(&e->at, (uint64) entry.at);
	}
	FreeFile(file);
}

/* shmem_startup_hook step (src/hooks.c) */
void
slo_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("meshpg slo", sizeof(MeshSloShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("meshpg_slo"))->lock;
		pg_atomic_init_u64(&shared->state_generation, 1);
		pg_atomic_init_u32(&shared->entries, 0);
	}
	info.keysize = sizeof(ChangeKey);
	info.entrysize = sizeof(ChangeEntry);
	changes = ShmemInitHash("meshpg last changes", changes_max, changes_max, &info,
							HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);

	/* The postmaster loads the table, and saves it when it shuts down. */
	if (!IsUnderPostmaster)
	{
		if (!found)
			load_changes();
		on_shmem_exit(save_changes, (Datum) 0);
	}
}

void
mesh_changes_init(void)
{
	DefineCustomIntVariable("meshpg.change_tracking_max",
							"Products whose last change meshpg tracks, at most (all databases).",
							"Freshness by last change is unknown for products beyond it.",
							&changes_max,
							10000, 100, 10000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	RegisterXactCallback(slo_xact_callback, NULL);
	RegisterSubXactCallback(slo_subxact_callback, NULL);
}

/* meshpg.last_change(product): metadata, like the product itself. */
Datum
meshpg_last_change(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	MeshSpiState spi;
	MeshProductRow product;
	TimestampTz at;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	mesh_spi_end(&spi);
	if (!mesh_last_change(product.id, &at))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(at);
}
