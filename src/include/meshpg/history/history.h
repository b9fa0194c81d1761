/*
 * history.h
 *		Access history: what the executor hooks capture, the shared-memory
 *		buffer that holds it, and the flush that moves it into the catalog.
 */
#ifndef MESHPG_HISTORY_H
#define MESHPG_HISTORY_H

#include "access/attnum.h"
#include "datatype/timestamp.h"

#include "meshpg/hooks.h"

/* Columns are recorded as a bitmap of attribute numbers 1 .. this. */
#define MESH_HISTORY_MAX_ATTNO	1600
#define MESH_HISTORY_MAX_POLICIES 16
#define MESH_HISTORY_PURPOSE_LEN 64
#define MESH_HISTORY_VERSION_LEN 32

/* HistoryEntry.flags */
#define MESH_HISTORY_WHOLE_ROW	0x01	/* t.*: every column was read */
#define MESH_HISTORY_INCOMPLETE 0x02	/* the statement failed after starting */
#define MESH_HISTORY_MORE_POLICIES 0x04 /* more than MAX_POLICIES applied */

/*
 * What a workload repeats from read to read: who read which product, which
 * columns, under which policies, for what purpose, with which statement.
 * The flush stores one row per shape and batch, the reads as arrays.  Fixed
 * size and no pointers; unused bytes are zero, so shapes compare as bytes.
 */
typedef struct HistoryShape
{
	uint64		query_id;
	int64		product_id;
	TimestampTz backend_start;
	Oid			relid;			/* the relation read (a partition, maybe) */
	Oid			current_user;
	Oid			session_user;
	Oid			target;			/* the relation the statement wrote, if any */
	int			pid;
	uint16		flags;
	uint8		npolicies;
	char		command;		/* 's'elect, 'i'nsert, 'u'pdate, 'd'elete, 'm'erge, 'c'reate table as, 'r'efresh */
	int64		policies[MESH_HISTORY_MAX_POLICIES];
	AttrNumber	policy_attnos[MESH_HISTORY_MAX_POLICIES];	/* 0: row policy */
	char		purpose[MESH_HISTORY_PURPOSE_LEN];
	char		version[MESH_HISTORY_VERSION_LEN];
	uint8		columns[MESH_HISTORY_MAX_ATTNO / 8];
} HistoryShape;

/* One read of one product by one statement. */
typedef struct HistoryEntry
{
	TimestampTz read_at;
	uint64		rows;
	uint64		statement;		/* per-backend statement counter */
	HistoryShape shape;
} HistoryEntry;

/*
 * A read as a flush claims it: the per-read values, and its shape as the
 * ring encodes it (a few dozen bytes, equal for equal shapes; reads of one
 * shape in a row point to the same bytes), to group by before decoding each
 * shape once (mesh_history_decode_shape).
 */
typedef struct HistoryRead
{
	TimestampTz read_at;
	uint64		rows;
	uint64		statement;
	uint32		shape_hash;
	uint16		shape_len;
	const uint8 *shape;
} HistoryRead;

/* The most bytes mesh_history_encode writes for one read. */
#define MESH_HISTORY_MAX_RECORD 1024

/*
 * Plan items that carry a plan's serial number, low and high halves, from
 * the planner to the capture (capture.c).  Negative cache ids, apart from
 * governance.h's and lineage.h's, so no syscache callback ever matches them.
 */
#define MESH_MARK_SERIAL_LO		(-1020)
#define MESH_MARK_SERIAL_HI		(-1021)

/* settings */
typedef enum MeshHistoryOverflow
{
	MESH_HISTORY_OVERFLOW_WAIT,	/* a reader waits for room: nothing is lost */
	MESH_HISTORY_OVERFLOW_DROP	/* what does not fit is dropped and counted */
} MeshHistoryOverflow;

/* mesh_history_enabled (meshpg.history) is in meshpg/meshpg.h: lineage reads it */
extern int	mesh_history_overflow;
extern int	mesh_history_buffer_size;
extern int	mesh_history_retention;

/* buffer.c: the shared ring */
extern void mesh_history_shmem_request(void);
extern void mesh_history_shmem_startup(void);
extern bool mesh_history_ready(void);
extern int	mesh_history_encode(const HistoryEntry *entry, uint8 *out);
extern int	mesh_history_record_len(const uint8 *record);
extern Oid	mesh_history_record_relid(const uint8 *record);
extern void mesh_history_record_start(uint8 *record, TimestampTz read_at, uint64 statement);
extern void mesh_history_record_end(uint8 *record, uint64 rows, bool incomplete);
extern int	mesh_history_record_rewrite(const uint8 *record, char command, Oid target,
										uint8 *out);
extern void mesh_history_append(const uint8 *records, int len, int n);
extern HistoryRead *mesh_history_claim(Oid dbid, int *n);
extern void mesh_history_decode_shape(const HistoryRead *read, HistoryShape *shape);
extern void mesh_history_set_flusher(Oid dbid, struct Latch *latch);
extern void mesh_history_release(bool consumed);
extern bool mesh_history_claimed(void);
extern void mesh_history_backpressure(void);

/* capture.c: hook steps (src/hooks.c) */
extern PlannedStmt *history_planner(Query *parse, const char *query_string,
									int cursorOptions, ParamListInfo boundParams,
									MeshHookStep next);
extern void history_executor_start(QueryDesc *query, int eflags, MeshHookStep next);
extern void history_executor_run(QueryDesc *query, ScanDirection direction,
								 uint64 count, bool execute_once, MeshHookStep next);
extern void history_executor_end(QueryDesc *query, MeshHookStep next);

/* At most this many entries per flush: the rest wait for the next one. */
#define MESH_HISTORY_FLUSH_BATCH 65536

/*
 * flush.c: the background worker's task (worker/worker.h).  In a
 * transaction, connected to a database: moves this database's captured
 * entries from shared memory into meshpg.cat_access_history, then purges
 * rows older than meshpg.history_retention.  True when a full batch was
 * moved (more may wait).  Does nothing during recovery.  It also leaves the
 * worker's latch with the ring, which sets it when the ring is half full.
 */
extern bool mesh_history_flush_task(void);

/* flush.c: the one-shot flush a waiting reader starts (buffer.c) */
extern PGDLLEXPORT void mesh_history_helper_main(Datum arg);

/* meshpg.c calls this from _PG_init: settings before the prefix is reserved */
extern void mesh_define_history_settings(void);

#endif							/* MESHPG_HISTORY_H */
