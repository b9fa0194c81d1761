/*
 * buffer.c
 *		The shared-memory ring that holds captured reads until a flush moves
 *		them into the catalog, its compact encoding of each read, and its
 *		persistence across a clean restart.
 *
 * A read is encoded as an entry: its time, rows and statement, then its
 * shape (who read which product, which columns, under which policies, for
 * what purpose) with the fields a workload rarely sets left out.
 *
 * Each backend first stages its entries in a buffer of its own in shared
 * memory (4 kB), under a spinlock that only a flusher ever contends: the
 * buffer's cache lines stay in the backend's core.  An entry of the same
 * shape as the one before it leaves its shape out, so a workload's
 * repeated reads take 26 bytes each and a stage holds about 150 of them.
 * When the stage is full, the backend moves it into the ring as one batch:
 * it reserves consecutive 128-byte slots under the ring's spinlock, then
 * copies the batch without any lock and publishes each slot by writing its
 * sequence number last.  Taking the ring's spinlock and writing slots for
 * every statement, with two clients at tens of thousands of statements a
 * second, was most of what recording a read cost; a slot per read was the
 * flusher's largest cost.  A flush first moves every backend's stage into
 * the ring, so a read is never held back longer than until the next flush,
 * and a backend that has gone leaves its staged reads behind for it.
 * When the ring is full, a reader never drops a read (meshpg.history_overflow
 * = wait, the default): the batch that does not fit is held back in the
 * backend's own memory, and before its next statement starts (or as its
 * statement ends) the reader waits for room, waking the worker of the
 * database whose batch is oldest and, if there is none or no flush frees
 * room within a second (the scheduler is off, or its worker is busy),
 * starting a background worker that flushes while the ring fills.  Waiting
 * happens only where it is safe (mesh_history_backpressure): never while
 * interrupts are held (commit, abort), never in the flusher's own
 * transaction, whose commit is what frees room, nor while the reader holds
 * a lock the flush would wait for; it is interrupted by a cancel or a
 * statement timeout like any wait, and the held-back reads stay for the next
 * statement.  A backend that exits while the ring is still full waits a few
 * seconds, then drops and counts what it held back, with a LOG message.
 * With meshpg.history_overflow = drop, and on a standby (which cannot flush
 * until it is promoted), what does not fit is dropped and counted.  One
 * flusher at a time claims the
 * complete batches of its database from the tail; the tail moves past them
 * only when its transaction commits (mesh_history_release), so a flush
 * that fails or is killed loses nothing and a committed one is never
 * replayed.  Batches of other databases that the claim passed over go back
 * in at the head.
 *
 * At a shutdown (smart, fast or immediate: the postmaster itself exits
 * normally) the postmaster writes what is left, in the ring and staged, to a
 * file, and the next start loads it (the pg_stat_statements pattern).  A
 * backend crash, which makes the postmaster reinitialise shared memory, or a
 * crash of the postmaster itself, loses at most the ring's and the staging
 * buffers' contents.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/backendid.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/history/history.h"

#define HISTORY_FILE	"pg_stat/meshpg_history.dat"
#define HISTORY_MAGIC	0x4d485333	/* "MHS3": batches as the ring holds them */
#define HISTORY_MAGIC_V2 0x4d485332 /* "MHS2": meshpg 1.2.0's records of one read */
#define HISTORY_MAGIC_V1 0x4d485331 /* "MHS1": meshpg 1.1's fixed entries */

#define FLUSH_BATCH		MESH_HISTORY_FLUSH_BATCH

/* Databases whose flusher the ring can wake up. */
#define WAKE_SLOTS		64

#define SLOT_DATA		120

/* A slot is complete when seq is its position + 1. */
typedef struct HistorySlot
{
	volatile uint64 seq;
	uint8		data[SLOT_DATA];
} HistorySlot;

/*
 * One read, as capture.c hands it over and as stages and batches hold it:
 * a head, packed (ENTRY_HEAD bytes), then its encoded shape.  In a stage or
 * a batch, an entry of the same shape as the entry before it leaves the
 * shape out (len 0): a workload's reads mostly repeat one shape.
 */
#define ENTRY_LEN		0		/* uint16: bytes of shape that follow */
#define ENTRY_READ_AT	2		/* TimestampTz */
#define ENTRY_ROWS		10		/* uint64 */
#define ENTRY_STATEMENT 18		/* uint64 */
#define ENTRY_HEAD		26

/*
 * What the ring holds: a batch of one backend's entries (its stage's, moved
 * in one go), in consecutive slots, claimed and flushed whole.
 */
typedef struct BatchHead
{
	Oid			dbid;

	/*
	 * Set only in a batch an immediate shutdown wrote to the file while a
	 * flush that had claimed it was committing: that flush's transaction.
	 * Whether it committed, and so whether the reads are recorded already,
	 * is known only once the server runs again (mesh_history_claim).
	 */
	TransactionId xid;
	uint16		nslots;
	uint16		nreads;
	uint32		len;			/* bytes of entries that follow */
} BatchHead;

/* The largest encoded shape (encode_shape), its entry and batch. */
#define MAX_SHAPE_BYTES (1 + 8 + 8 + 4 * 3 + 2 + 1 + 1 + 8 + 4 + 4 + \
						 MESH_HISTORY_MAX_POLICIES * 10 + \
						 1 + MESH_HISTORY_PURPOSE_LEN + 1 + MESH_HISTORY_VERSION_LEN + \
						 1 + MESH_HISTORY_MAX_ATTNO / 8)
#define MAX_ENTRY_BYTES (ENTRY_HEAD + MAX_SHAPE_BYTES)
#define RECORD_SLOTS(bytes) (((bytes) + SLOT_DATA - 1) / SLOT_DATA)

typedef struct HistoryShared
{
	slock_t		mutex;			/* head, tail, counters, flusher */
	int			capacity;		/* slots */
	uint64		head;			/* next slot to write */
	uint64		tail;			/* oldest slot not yet consumed */
	uint64		pending;		/* reads between tail and head */
	uint64		captured;
	uint64		dropped;
	uint64		flushed;
	int			flusher;		/* pid of the flush in progress, or 0 */
	/* the flush in progress: its database, transaction and end of its claim */
	Oid			claim_dbid;
	TransactionId claim_xid;
	uint64		claim_end;
	/* the latch of each database's worker: set when the ring is half full */
	Oid			wake_db[WAKE_SLOTS];
	Latch	   *wake_latch[WAKE_SLOTS];
	/* readers waiting for room sleep here; a flush that frees room wakes them */
	ConditionVariable room;
	TimestampTz helper_started; /* when a waiting reader last started a flush */
} HistoryShared;

/*
 * A backend's staged entries, one after another.  Only its backend appends;
 * a flusher empties it.
 */
#define STAGE_BYTES		4096
#define MAX_BATCH_BYTES (sizeof(BatchHead) + STAGE_BYTES)

typedef struct HistoryStage
{
	slock_t		mutex;
	Oid			dbid;
	int			used;			/* bytes */
	int			nreads;
	int			last_shape;		/* offset of the last entry with a shape */
	uint8		data[STAGE_BYTES];
} HistoryStage;

#define STAGE_STRIDE	CACHELINEALIGN(sizeof(HistoryStage))

static HistoryShared *shared = NULL;
static HistorySlot *slots = NULL;
static char *stages = NULL;		/* MaxBackends stages, STAGE_STRIDE apart */
static int	nstages = 0;
static int	stage_limit = 0;	/* bytes a stage holds before it is moved */

#define SLOT(pos) (&slots[(pos) % shared->capacity])

/*
 * The flusher's claim, kept until its transaction ends: where the claimed
 * run of slots ends, and copies of the other databases' batches it passed
 * over (in TopTransactionContext), which go back in at the head so that a
 * database nobody flushes cannot hold the tail and fill the ring.
 */
static uint64 claim_end = 0;
static int	nclaimed = 0;
static char *passed = NULL;
static Size passed_len = 0;
static int	npassed = 0;			/* batches */
static uint64 passed_reads = 0;
static uint64 discarded_reads = 0;	/* of databases that are gone */
static bool claiming = false;
static bool skipped_recorded = false;	/* batches recorded before a restart */

/*
 * Batches this backend captured that the ring had no room for, oldest
 * first, held back until there is room (meshpg.history_overflow = wait).
 */
typedef struct HeldBatch
{
	struct HeldBatch *next;
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
} HeldBatch;

static HeldBatch *held_head = NULL;
static HeldBatch *held_tail = NULL;
static bool exit_callback_registered = false;

/* How append_batches treats batches it has no room for. */
typedef enum AppendKind
{
	APPEND_NEW,					/* just captured: held back, or dropped */
	APPEND_HELD,				/* held back before: left to the caller */
	APPEND_BACK,				/* passed over by a flush: room is certain */
	APPEND_LOAD					/* from the shutdown file: dropped */
} AppendKind;

/* A flush's release, applied in the same critical section as its re-append. */
typedef struct Release
{
	uint64		tail;
	uint64		consumed;		/* reads leaving the ring's pending count */
	uint64		flushed;
	uint64		discarded;
} Release;

static void hold_batches(const uint8 *buf, int n);

static Size
ring_size(void)
{
	return add_size(CACHELINEALIGN(sizeof(HistoryShared)),
					add_size(PG_CACHE_LINE_SIZE,
							 mul_size(mesh_history_buffer_size, sizeof(HistorySlot))));
}

static Size
history_shmem_size(void)
{
	return add_size(ring_size(), mul_size(MaxBackends, STAGE_STRIDE));
}

#define STAGE(i) ((HistoryStage *) (stages + (Size) (i) * STAGE_STRIDE))

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

/* ---- encoding ---- */

/* Fields a shape leaves out when they are zero or the usual value. */
#define HAS_QUERY_ID	0x01
#define HAS_TARGET		0x02
#define HAS_SESSION		0x04	/* session user differs from current user */
#define HAS_PURPOSE		0x08
#define HAS_VERSION		0x10

/*
 * Where encode_shape puts the fields a record is patched or read at: after
 * the presence byte come product_id, backend_start, relid, current_user,
 * pid, flags, command and npolicies, then the optional fields.
 */
#define SHAPE_RELID_OFFSET	(1 + 8 + 8)
#define SHAPE_FLAGS_OFFSET	(SHAPE_RELID_OFFSET + 4 + 4 + 4)
#define SHAPE_FIXED_BYTES	(SHAPE_FLAGS_OFFSET + 2 + 1 + 1)

#define PUT(p, v) (memcpy((p), &(v), sizeof(v)), (p) += sizeof(v))
#define GET(p, v) (memcpy(&(v), (p), sizeof(v)), (p) += sizeof(v))

/* Encodes s into out (MAX_SHAPE_BYTES at least); returns its length. */
static int
encode_shape(const HistoryShape *s, uint8 *out)
{
	uint8	   *p = out + 1;
	uint8		present = 0;
	uint8		ncol = MESH_HISTORY_MAX_ATTNO / 8;
	uint8		len;

	PUT(p, s->product_id);
	PUT(p, s->backend_start);
	Assert(p - out == SHAPE_RELID_OFFSET);
	PUT(p, s->relid);
	PUT(p, s->current_user);
	PUT(p, s->pid);
	Assert(p - out == SHAPE_FLAGS_OFFSET);
	PUT(p, s->flags);
	PUT(p, s->command);
	PUT(p, s->npolicies);
	Assert(p - out == SHAPE_FIXED_BYTES);
	if (s->query_id != 0)
	{
		present |= HAS_QUERY_ID;
		PUT(p, s->query_id);
	}
	if (OidIsValid(s->target))
	{
		present |= HAS_TARGET;
		PUT(p, s->target);
	}
	if (s->session_user != s->current_user)
	{
		present |= HAS_SESSION;
		PUT(p, s->session_user);
	}
	for (int i = 0; i < s->npolicies; i++)
	{
		PUT(p, s->policies[i]);
		PUT(p, s->policy_attnos[i]);
	}
	if (s->purpose[0] != '\0')
	{
		present |= HAS_PURPOSE;
		len = strnlen(s->purpose, MESH_HISTORY_PURPOSE_LEN - 1);
		PUT(p, len);
		memcpy(p, s->purpose, len);
		p += len;
	}
	if (s->version[0] != '\0')
	{
		present |= HAS_VERSION;
		len = strnlen(s->version, MESH_HISTORY_VERSION_LEN - 1);
		PUT(p, len);
		memcpy(p, s->version, len);
		p += len;
	}
	/* trailing zero bytes are left out, a word at a time */
	StaticAssertStmt(MESH_HISTORY_MAX_ATTNO / 8 % sizeof(uint64) == 0, "whole words");
	for (;;)
	{
		uint64		word;

		if (ncol == 0)
			break;
		memcpy(&word, s->columns + ncol - sizeof(uint64), sizeof(uint64));
		if (word != 0)
			break;
		ncol -= sizeof(uint64);
	}
	while (ncol > 0 && s->columns[ncol - 1] == 0)
		ncol--;
	PUT(p, ncol);
	memcpy(p, s->columns, ncol);
	p += ncol;
	out[0] = present;
	return p - out;
}

static void
decode_shape(const uint8 *shape, int shape_len, HistoryShape *s)
{
	const uint8 *p = shape + 1;
	uint8		present = shape[0];
	uint8		len;

	memset(s, 0, sizeof(HistoryShape));
	GET(p, s->product_id);
	GET(p, s->backend_start);
	GET(p, s->relid);
	GET(p, s->current_user);
	GET(p, s->pid);
	GET(p, s->flags);
	GET(p, s->command);
	GET(p, s->npolicies);
	if (present & HAS_QUERY_ID)
		GET(p, s->query_id);
	if (present & HAS_TARGET)
		GET(p, s->target);
	s->session_user = s->current_user;
	if (present & HAS_SESSION)
		GET(p, s->session_user);
	for (int i = 0; i < s->npolicies; i++)
	{
		GET(p, s->policies[i]);
		GET(p, s->policy_attnos[i]);
	}
	if (present & HAS_PURPOSE)
	{
		GET(p, len);
		memcpy(s->purpose, p, len);
		p += len;
	}
	if (present & HAS_VERSION)
	{
		GET(p, len);
		memcpy(s->version, p, len);
		p += len;
	}
	GET(p, len);
	memcpy(s->columns, p, len);
	p += len;
	Assert(p == shape + shape_len);
}

void
mesh_history_decode_shape(const HistoryRead *read, HistoryShape *s)
{
	decode_shape(read->shape, read->shape_len, s);
}

/*
 * A hash of an encoded shape, a word at a time: the flush hashes every read
 * it claims, and hash_bytes' byte-wise mixing was a quarter of its cost.
 */
static uint32
shape_hash(const uint8 *p, int len)
{
	uint64		h = len;
	uint64		w;

	for (; len >= (int) sizeof(uint64); p += sizeof(uint64), len -= sizeof(uint64))
	{
		memcpy(&w, p, sizeof(uint64));
		h = (h ^ w) * UINT64CONST(0x9E3779B97F4A7C15);
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, len);
	h = (h ^ w) * UINT64CONST(0x9E3779B97F4A7C15);
	return (uint32) (h ^ (h >> 32));
}

/*
 * Whether len bytes are a shape encode_shape could have written: a file
 * read back at startup is checked before its records enter the ring, where
 * they are trusted.
 */
static bool
shape_valid(const uint8 *shape, int len)
{
	const uint8 *p = shape + 1;
	const uint8 *end = shape + len;
	uint8		present;
	uint8		npolicies;
	uint8		n;
	TimestampTz backend_start;

	if (len < SHAPE_FIXED_BYTES + 1)
		return false;
	present = shape[0];
	/* out of range, it would make the history unreadable: the view prints it */
	memcpy(&backend_start, shape + 1 + sizeof(int64), sizeof(backend_start));
	if (!IS_VALID_TIMESTAMP(backend_start))
		return false;
	p = shape + SHAPE_FIXED_BYTES - 1;
	npolicies = *p++;
	if (npolicies > MESH_HISTORY_MAX_POLICIES)
		return false;
	p += ((present & HAS_QUERY_ID) ? 8 : 0) + ((present & HAS_TARGET) ? 4 : 0) +
		((present & HAS_SESSION) ? 4 : 0) + npolicies * 10;
	if ((present & HAS_PURPOSE) && p < end)
	{
		n = *p++;
		if (n >= MESH_HISTORY_PURPOSE_LEN)
			return false;
		p += n;
	}
	if ((present & HAS_VERSION) && p < end)
	{
		n = *p++;
		if (n >= MESH_HISTORY_VERSION_LEN)
			return false;
		p += n;
	}
	if (p >= end)
		return false;
	n = *p++;
	return n <= MESH_HISTORY_MAX_ATTNO / 8 && p + n == end;
}

static inline uint16
entry_shape_len(const uint8 *entry)
{
	uint16		len;

	memcpy(&len, entry + ENTRY_LEN, sizeof(len));
	return len;
}

/* Builds the entry of read e in out (MAX_ENTRY_BYTES); returns its length. */
int
mesh_history_encode(const HistoryEntry *e, uint8 *out)
{
	uint16		len = encode_shape(&e->shape, out + ENTRY_HEAD);

	StaticAssertStmt(MAX_ENTRY_BYTES <= MESH_HISTORY_MAX_RECORD, "entries fit the callers' buffers");
	memcpy(out + ENTRY_LEN, &len, sizeof(len));
	memcpy(out + ENTRY_READ_AT, &e->read_at, sizeof(TimestampTz));
	memcpy(out + ENTRY_ROWS, &e->rows, sizeof(uint64));
	memcpy(out + ENTRY_STATEMENT, &e->statement, sizeof(uint64));
	return ENTRY_HEAD + len;
}

/*
 * Reading and patching an entry in place: a statement's entries are encoded
 * once per plan and reused (capture.c), only these change.
 */
int
mesh_history_record_len(const uint8 *record)
{
	return ENTRY_HEAD + entry_shape_len(record);
}

Oid
mesh_history_record_relid(const uint8 *record)
{
	Oid			relid;

	memcpy(&relid, record + ENTRY_HEAD + SHAPE_RELID_OFFSET, sizeof(Oid));
	return relid;
}

void
mesh_history_record_start(uint8 *record, TimestampTz read_at, uint64 statement)
{
	memcpy(record + ENTRY_READ_AT, &read_at, sizeof(read_at));
	memcpy(record + ENTRY_STATEMENT, &statement, sizeof(statement));
}

void
mesh_history_record_end(uint8 *record, uint64 rows, bool incomplete)
{
	memcpy(record + ENTRY_ROWS, &rows, sizeof(rows));
	if (incomplete)
	{
		uint8	   *at = record + ENTRY_HEAD + SHAPE_FLAGS_OFFSET;
		uint16		flags;

		memcpy(&flags, at, sizeof(flags));
		flags |= MESH_HISTORY_INCOMPLETE;
		memcpy(at, &flags, sizeof(flags));
	}
}

/* Decodes the entry at entry, whose shape is shape (its own or a previous one's). */
static void
decode_entry(const uint8 *entry, const uint8 *shape, int shape_len, HistoryEntry *e)
{
	decode_shape(shape, shape_len, &e->shape);
	memcpy(&e->read_at, entry + ENTRY_READ_AT, sizeof(TimestampTz));
	memcpy(&e->rows, entry + ENTRY_ROWS, sizeof(uint64));
	memcpy(&e->statement, entry + ENTRY_STATEMENT, sizeof(uint64));
}

/*
 * Encodes record again with another command and target, into out: what a
 * statement writes may be known only once it has run (CREATE TABLE AS).
 */
int
mesh_history_record_rewrite(const uint8 *record, char command, Oid target, uint8 *out)
{
	HistoryEntry e;

	decode_entry(record, record + ENTRY_HEAD, entry_shape_len(record), &e);
	e.shape.command = command;
	e.shape.target = target;
	return mesh_history_encode(&e, out);
}

/* Copies the batch at pos (complete, nslots long) into out. */
static void
read_batch(uint64 pos, int nslots, uint8 *out)
{
	for (int i = 0; i < nslots; i++)
		memcpy(out + i * SLOT_DATA, SLOT(pos + i)->data, SLOT_DATA);
}

/*
 * The head of the batch at pos, if all its slots are written: false for a
 * batch still being copied in (or left half-written by a killed backend).
 */
static bool
batch_complete(uint64 pos, uint64 head_pos, BatchHead *head)
{
	if (pos >= head_pos || SLOT(pos)->seq != pos + 1)
		return false;
	pg_read_barrier();
	memcpy(head, SLOT(pos)->data, sizeof(BatchHead));
	if (head->nslots < 1 || head->nslots > RECORD_SLOTS(MAX_BATCH_BYTES) ||
		pos + head->nslots > head_pos)
		return false;
	for (int i = 1; i < head->nslots; i++)
		if (SLOT(pos + i)->seq != pos + i + 1)
			return false;
	pg_read_barrier();
	return true;
}

/* The bytes of a batch, head included, one after another in a buffer. */
static int
batch_bytes(const uint8 *batch)
{
	BatchHead	head;

	memcpy(&head, batch, sizeof(head));
	return sizeof(BatchHead) + head.len;
}

/*
 * Whether a batch the ring has no room for is held back for later rather
 * than dropped: meshpg.history_overflow = wait, and a server that can flush
 * (a standby cannot until it is promoted).
 */
static bool
holds_back(void)
{
	return mesh_history_overflow == MESH_HISTORY_OVERFLOW_WAIT && !RecoveryInProgress();
}

/*
 * Appends n batches, one after another in buf, as many as fit in order;
 * returns how many.  What happens to the rest depends on kind (AppendKind).
 * A flush's release (rel) moves the tail in the same critical section, so
 * that the batches it passed over go back in before any reader can take the
 * room they leave.
 */
static int
append_batches(const uint8 *buf, int n, AppendKind kind, const Release *rel)
{
	uint64		first;
	uint64		room;
	int			reserved = 0;
	uint64		nslots = 0;
	uint64		reads = 0;
	uint64		kept = 0;
	Latch	   *wake = NULL;
	Oid			dbid;
	const uint8 *p = buf;
	bool		hold = kind == APPEND_NEW && holds_back();

	memcpy(&dbid, buf, sizeof(Oid));
	for (int i = 0; i < n; i++)
	{
		BatchHead	head;

		memcpy(&head, p, sizeof(head));
		reads += head.nreads;
		p += sizeof(BatchHead) + head.len;
	}

	SpinLockAcquire(&shared->mutex);
	if (rel != NULL)
	{
		shared->tail = rel->tail;
		shared->pending -= rel->consumed;
		shared->flushed += rel->flushed;
		shared->dropped += rel->discarded;
		shared->flusher = 0;
		shared->claim_xid = InvalidTransactionId;
	}
	room = shared->capacity - (shared->head - shared->tail);
	p = buf;
	while (reserved < n)
	{
		BatchHead	head;

		memcpy(&head, p, sizeof(head));
		if (nslots + head.nslots > room)
			break;
		nslots += head.nslots;
		kept += head.nreads;
		p += sizeof(BatchHead) + head.len;
		reserved++;
	}
	if (kind == APPEND_NEW)
		shared->captured += reads;
	/* held back, or left with the caller: not dropped */
	if (!hold && kind != APPEND_HELD)
		shared->dropped += reads - kept;
	shared->pending += kept;
	first = shared->head;
	shared->head += nslots;

	/*
	 * Half full: wake this database's worker now rather than at its next
	 * tick, so that a burst of reads is flushed before readers have to wait.
	 */
	if ((kind == APPEND_NEW || kind == APPEND_HELD) &&
		2 * (shared->head - shared->tail) >= (uint64) shared->capacity)
		for (int i = 0; i < WAKE_SLOTS && wake == NULL; i++)
			if (shared->wake_db[i] == dbid)
				wake = shared->wake_latch[i];
	SpinLockRelease(&shared->mutex);
	if (wake != NULL)
		SetLatch(wake);

	for (int r = 0; r < reserved; r++)
	{
		int			len = batch_bytes(buf);
		int			k = RECORD_SLOTS(len);

		for (int i = 0; i < k; i++)
		{
			HistorySlot *slot = SLOT(first + i);

			memcpy(slot->data, buf + i * SLOT_DATA, Min(SLOT_DATA, len - i * SLOT_DATA));
			pg_write_barrier();
			slot->seq = first + i + 1;
		}
		first += k;
		buf += len;
	}
	if (hold && reserved < n)
		hold_batches(buf, n - reserved);
	return reserved;
}

/* Counts reads as dropped. */
static void
count_dropped(uint64 reads)
{
	SpinLockAcquire(&shared->mutex);
	shared->dropped += reads;
	SpinLockRelease(&shared->mutex);
}

static void history_exit_callback(int code, Datum arg);

/*
 * Keeps n batches (one after another in buf) in this backend's memory until
 * the ring has room.  Memory that cannot be had (this may run in an abort)
 * drops them, counted.
 */
static void
hold_batches(const uint8 *buf, int n)
{
	for (int i = 0; i < n; i++)
	{
		int			len = batch_bytes(buf);
		HeldBatch  *b = MemoryContextAllocExtended(TopMemoryContext,
												   offsetof(HeldBatch, data) + len,
												   MCXT_ALLOC_NO_OOM);

		if (b == NULL)
		{
			BatchHead	head;

			memcpy(&head, buf, sizeof(head));
			count_dropped(head.nreads);
		}
		else
		{
			memcpy(b->data, buf, len);
			b->next = NULL;
			if (held_tail != NULL)
				held_tail->next = b;
			else
				held_head = b;
			held_tail = b;
		}
		buf += len;
	}
	if (held_head != NULL && !exit_callback_registered && IsUnderPostmaster)
	{
		before_shmem_exit(history_exit_callback, (Datum) 0);
		exit_callback_registered = true;
	}
}

/*
 * Appends the batches this backend held back, oldest first, as far as the
 * ring has room; true if none is left.  With meshpg.history_overflow now
 * drop (or on a standby) they are dropped and counted instead.
 */
static bool
append_held(void)
{
	while (held_head != NULL)
	{
		HeldBatch  *b = held_head;

		if (holds_back() && append_batches(b->data, 1, APPEND_HELD, NULL) == 0)
			return false;
		if (!holds_back())
		{
			BatchHead	head;

			memcpy(&head, b->data, sizeof(head));
			count_dropped(head.nreads);
		}
		held_head = b->next;
		if (held_head == NULL)
			held_tail = NULL;
		pfree(b);
	}
	return true;
}

/*
 * Starts a background worker that flushes dbid's reads while readers fill
 * the ring (mesh_history_helper_main): readers are waiting and no flusher
 * is known for the database, or none freed room for a second (the
 * scheduler is off, or its worker is busy or gone).  At most one a second
 * across the server, and none while a flush is under way.
 */
static void
start_helper(Oid dbid)
{
	BackgroundWorker worker = {0};
	BackgroundWorkerHandle *handle;
	TimestampTz now = GetCurrentTimestamp();
	bool		due;

	SpinLockAcquire(&shared->mutex);
	due = shared->flusher == 0 &&
		TimestampDifferenceExceeds(shared->helper_started, now, 1000);
	if (due)
		shared->helper_started = now;
	SpinLockRelease(&shared->mutex);
	if (!due)
		return;

	snprintf(worker.bgw_name, BGW_MAXLEN, "meshpg history flush");
	snprintf(worker.bgw_type, BGW_MAXLEN, "meshpg history flush");
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "meshpg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mesh_history_helper_main");
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	worker.bgw_notify_pid = 0;
	/* no free slot: the next second's waiter tries again */
	(void) RegisterDynamicBackgroundWorker(&worker, &handle);
}

/*
 * Wakes the flusher of the database whose batch is oldest in the ring (its
 * flush is the one that frees room: a flush passes other databases' batches
 * over), or of dbid if that cannot be told: the scheduler's worker, or a
 * helper.  Starts a helper if that database has no flusher known, or if
 * nothing freed room since since.
 */
static void
wake_flusher(Oid dbid, uint64 tail_then, TimestampTz since)
{
	Latch	   *wake = NULL;
	uint64		tail;
	uint64		head_pos;
	BatchHead	head;
	Oid			target = dbid;

	SpinLockAcquire(&shared->mutex);
	tail = shared->tail;
	head_pos = shared->head;
	SpinLockRelease(&shared->mutex);
	if (batch_complete(tail, head_pos, &head) && OidIsValid(head.dbid))
		target = head.dbid;
	/* a database that is gone is discarded by any flush: ours, then */
	if (target != dbid &&
		(!IsTransactionState() ||
		 !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(target))))
		target = dbid;
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < WAKE_SLOTS && wake == NULL; i++)
		if (shared->wake_db[i] == target)
			wake = shared->wake_latch[i];
	SpinLockRelease(&shared->mutex);
	if (wake != NULL)
		SetLatch(wake);
	if (wake == NULL ||
		(tail == tail_then && TimestampDifferenceExceeds(since, GetCurrentTimestamp(), 1000)))
		start_helper(target);
}

/*
 * Whether this backend holds a lock that a flush of its database would wait
 * for: waiting for that flush would never end.  The flush writes
 * meshpg.cat_access_batch (and purges meshpg.cat_access_history), which a
 * SHARE lock or stronger blocks, and reads the names of policies, products
 * and domains, which only ACCESS EXCLUSIVE blocks.  Only the catalog's
 * owner and superusers can take such locks.
 */
static bool
holds_flush_lock(void)
{
	static const struct
	{
		const char *table;
		bool		written;
	}			tables[] = {
		{"cat_access_batch", true},
		{"cat_access_history", true},
		{"cat_policy", false},
		{"cat_product", false},
		{"cat_domain", false},
	};
	static const LOCKMODE blocking_writes[] = {ShareLock, ShareRowExclusiveLock,
	ExclusiveLock, AccessExclusiveLock};
	const MeshCatalog *cat = mesh_catalog();

	if (cat == NULL)
		return false;
	for (int t = 0; t < (int) lengthof(tables); t++)
	{
		Oid			relid = get_relname_relid(tables[t].table, cat->nsp);
		LOCKTAG		tag;

		if (!OidIsValid(relid))
			continue;
		SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
		if (LockHeldByMe(&tag, AccessExclusiveLock))
			return true;
		if (tables[t].written)
			for (int i = 0; i < (int) lengthof(blocking_writes); i++)
				if (LockHeldByMe(&tag, blocking_writes[i]))
					return true;
	}
	return false;
}

/*
 * Backpressure: if this backend holds back reads the ring had no room for,
 * waits until they are in, where waiting is safe; elsewhere it leaves them
 * for the next time.  Called by the capture before a statement starts and
 * after one ends.  The wait sleeps on a condition variable that every flush
 * that frees room broadcasts, wakes the database's worker, and starts a
 * one-shot flush if no room comes within a second.  A cancel or statement
 * timeout ends it with an error; the reads stay held.
 */
void
mesh_history_backpressure(void)
{
	TimestampTz since;
	uint64		tail_then;

	if (held_head == NULL || shared == NULL)
		return;
	if (append_held())
		return;
	/* interrupts held (commit, abort), or the flush that frees room is ours */
	if (!INTERRUPTS_CAN_BE_PROCESSED() || claiming || !IsUnderPostmaster ||
		!IsTransactionState() || holds_flush_lock())
		return;

	since = GetCurrentTimestamp();
	SpinLockAcquire(&shared->mutex);
	tail_then = shared->tail;
	SpinLockRelease(&shared->mutex);
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	for (;;)
	{
		wake_flusher(MyDatabaseId, tail_then, since);
		(void) ConditionVariableTimedSleep(&shared->room, 100, PG_WAIT_EXTENSION);
		if (append_held())
			break;
		/* room came and went: a helper is due only after a second of none */
		SpinLockAcquire(&shared->mutex);
		if (shared->tail != tail_then)
		{
			tail_then = shared->tail;
			since = GetCurrentTimestamp();
		}
		SpinLockRelease(&shared->mutex);
	}
	ConditionVariableCancelSleep();
	pgstat_report_wait_end();
}

/*
 * A backend exiting with reads held back: waits up to five seconds for
 * room (interrupts are held by now, so a helper flush is started at once),
 * then drops and counts what is left, saying so.
 */
static void
history_exit_callback(int code, Datum arg)
{
	uint64		lost = 0;

	if (shared == NULL || held_head == NULL)
		return;
	for (int i = 0; i < 50 && !append_held(); i++)
	{
		uint64		tail;

		SpinLockAcquire(&shared->mutex);
		tail = shared->tail;
		SpinLockRelease(&shared->mutex);
		wake_flusher(MyDatabaseId, tail, 0);
		pg_usleep(100 * 1000L);
	}
	while (held_head != NULL)
	{
		BatchHead	head;
		HeldBatch  *b = held_head;

		memcpy(&head, b->data, sizeof(head));
		lost += head.nreads;
		held_head = b->next;
		pfree(b);
	}
	held_tail = NULL;
	if (lost > 0)
	{
		count_dropped(lost);
		ereport(LOG,
				(errmsg("meshpg dropped %llu access history reads at backend exit: the buffer stayed full",
						(unsigned long long) lost),
				 errhint("Check that meshpg's worker flushes the access history, or raise meshpg.history_buffer_size.")));
	}
}

/*
 * Checks the entries of a batch or stage (len bytes at p) as they come back
 * from a file or from a stage a killed backend may have been writing: the
 * bytes of the whole entries before the first damaged one, and how many.
 */
static int
valid_entries(const uint8 *p, int len, int *nreads)
{
	int			off = 0;
	bool		have_shape = false;

	*nreads = 0;
	while (off + ENTRY_HEAD <= len)
	{
		int			shape_len = entry_shape_len(p + off);
		TimestampTz read_at;

		/* capture stamps a statement's start: never out of range */
		memcpy(&read_at, p + off + ENTRY_READ_AT, sizeof(read_at));
		if (!IS_VALID_TIMESTAMP(read_at) ||
			off + ENTRY_HEAD + shape_len > len ||
			(shape_len == 0 && !have_shape) ||
			(shape_len > 0 && !shape_valid(p + off + ENTRY_HEAD, shape_len)))
			break;
		have_shape = true;
		off += ENTRY_HEAD + shape_len;
		(*nreads)++;
	}
	return off;
}

/* Puts a batch head before len bytes of entries at out + sizeof(BatchHead). */
static int
seal_batch(uint8 *out, Oid dbid, int len, int nreads)
{
	BatchHead	head;

	head.dbid = dbid;
	head.xid = InvalidTransactionId;
	head.nreads = nreads;
	head.len = len;
	head.nslots = RECORD_SLOTS(sizeof(BatchHead) + len);
	memcpy(out, &head, sizeof(head));
	return sizeof(BatchHead) + len;
}

/* ---- persistence across a clean restart ---- */

/* Postmaster, at a clean shutdown only: keep what was not flushed. */
static void
history_shmem_shutdown(int code, Datum arg)
{
	FILE	   *file;
	uint32		header[2];
	uint64		n = 0;
	uint64		pos;
	BatchHead	head;
	uint8		batch[RECORD_SLOTS(MAX_BATCH_BYTES) * SLOT_DATA];
	int			nreads;

	if (code != 0 || shared == NULL)
		return;
	for (pos = shared->tail; batch_complete(pos, shared->head, &head); pos += head.nslots)
		if (head.nreads > 0)
			n++;
	/*
	 * Every backend has exited: the stages need no lock.  Their entries are
	 * checked, since a backend killed by an immediate shutdown may have
	 * been writing one.
	 */
	for (int i = 0; i < nstages; i++)
		if (valid_entries(STAGE(i)->data, Min(STAGE(i)->used, STAGE_BYTES), &nreads) > 0)
			n++;

	file = AllocateFile(HISTORY_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;
	header[0] = HISTORY_MAGIC;
	header[1] = sizeof(BatchHead);
	if (fwrite(header, sizeof(header), 1, file) != 1 ||
		fwrite(&n, sizeof(n), 1, file) != 1 ||
		fwrite(&shared->dropped, sizeof(uint64), 1, file) != 1)
		goto error;
	/* a batch a killed backend left half-written ends what is kept */
	for (pos = shared->tail; batch_complete(pos, shared->head, &head); pos += head.nslots)
	{
		if (head.nreads == 0)
			continue;			/* recorded already (mesh_history_claim) */
		read_batch(pos, head.nslots, batch);

		/*
		 * An immediate shutdown may have killed a flush between its commit
		 * and its release of the reads it claimed: the next start decides
		 * by that transaction's fate whether they are recorded already.
		 */
		if (shared->flusher != 0 && TransactionIdIsValid(shared->claim_xid) &&
			pos < shared->claim_end && head.dbid == shared->claim_dbid)
		{
			head.xid = shared->claim_xid;
			memcpy(batch, &head, sizeof(head));
		}
		if (fwrite(batch, sizeof(BatchHead) + head.len, 1, file) != 1)
			goto error;
	}
	/* a stage's entries become a batch, as a move into the ring would make */
	for (int i = 0; i < nstages; i++)
	{
		HistoryStage *stage = STAGE(i);
		int			len = valid_entries(stage->data, Min(stage->used, STAGE_BYTES), &nreads);

		if (len == 0)
			continue;
		seal_batch(batch, stage->dbid, len, nreads);
		memcpy(batch + sizeof(BatchHead), stage->data, len);
		if (fwrite(batch, sizeof(BatchHead) + len, 1, file) != 1)
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

/* meshpg 1.1 kept one fixed-size entry per read. */
typedef struct HistoryEntryV1
{
	TimestampTz read_at;
	uint64		query_id;
	uint64		rows;
	uint64		statement;
	int64		product_id;
	int64		policies[16];
	TimestampTz backend_start;
	Oid			dbid;
	Oid			relid;
	Oid			current_user;
	Oid			session_user;
	Oid			target;
	int			pid;
	uint16		flags;
	uint8		npolicies;
	char		command;
	AttrNumber	policy_attnos[16];
	char		purpose[64];
	char		version[32];
	uint8		columns[200];
} HistoryEntryV1;

/* meshpg 1.2.0 kept a record per read: this head, then its encoded shape. */
typedef struct RecordHeadV2
{
	Oid			dbid;
	uint16		len;
	uint16		nslots;
	TimestampTz read_at;
	uint64		rows;
	uint64		statement;
} RecordHeadV2;

/*
 * The next batch of a file in any of its formats, in out (MAX_BATCH_BYTES):
 * the older formats' reads each become a batch of one.  False where the
 * file is damaged or ends early; out then holds the whole entries before
 * the damage, if any.
 */
static bool
load_batch(FILE *file, uint32 magic, uint8 *out)
{
	uint8	   *entry = out + sizeof(BatchHead);
	int			len;
	int			nreads;

	seal_batch(out, InvalidOid, 0, 0);
	if (magic == HISTORY_MAGIC_V1)
	{
		HistoryEntryV1 v1;
		HistoryEntry e;

		if (fread(&v1, sizeof(v1), 1, file) != 1)
			return false;

		/*
		 * The file is checked, not trusted: a damaged entry may have no NUL
		 * in purpose or version, and strlcpy would read past them (and past
		 * v1) looking for one.
		 */
		v1.purpose[sizeof(v1.purpose) - 1] = '\0';
		v1.version[sizeof(v1.version) - 1] = '\0';
		memset(&e, 0, sizeof(e));
		e.read_at = v1.read_at;
		e.rows = v1.rows;
		e.statement = v1.statement;
		e.shape.query_id = v1.query_id;
		e.shape.product_id = v1.product_id;
		e.shape.backend_start = v1.backend_start;
		e.shape.relid = v1.relid;
		e.shape.current_user = v1.current_user;
		e.shape.session_user = v1.session_user;
		e.shape.target = v1.target;
		e.shape.pid = v1.pid;
		e.shape.flags = v1.flags;
		e.shape.npolicies = Min(v1.npolicies, MESH_HISTORY_MAX_POLICIES);
		e.shape.command = v1.command;
		memcpy(e.shape.policies, v1.policies, sizeof(int64) * e.shape.npolicies);
		memcpy(e.shape.policy_attnos, v1.policy_attnos, sizeof(AttrNumber) * e.shape.npolicies);
		strlcpy(e.shape.purpose, v1.purpose, sizeof(e.shape.purpose));
		strlcpy(e.shape.version, v1.version, sizeof(e.shape.version));
		memcpy(e.shape.columns, v1.columns, sizeof(e.shape.columns));
		/* its times are checked as the other formats' are */
		len = mesh_history_encode(&e, entry);
		if (valid_entries(entry, len, &nreads) != len)
			return false;
		seal_batch(out, v1.dbid, len, 1);
	}
	else if (magic == HISTORY_MAGIC_V2)
	{
		RecordHeadV2 head;
		uint16		len;

		if (fread(&head, sizeof(head), 1, file) != 1 || head.len > MAX_SHAPE_BYTES ||
			fread(entry + ENTRY_HEAD, head.len, 1, file) != 1)
			return false;
		len = head.len;
		memcpy(entry + ENTRY_LEN, &len, sizeof(len));
		memcpy(entry + ENTRY_READ_AT, &head.read_at, sizeof(TimestampTz));
		memcpy(entry + ENTRY_ROWS, &head.rows, sizeof(uint64));
		memcpy(entry + ENTRY_STATEMENT, &head.statement, sizeof(uint64));
		if (valid_entries(entry, ENTRY_HEAD + len, &nreads) != ENTRY_HEAD + len)
			return false;
		seal_batch(out, head.dbid, ENTRY_HEAD + len, 1);
	}
	else
	{
		BatchHead	head;

		if (fread(&head, sizeof(head), 1, file) != 1 || head.len > STAGE_BYTES)
			return false;
		/* the whole entries before a damaged or missing one are kept */
		len = fread(entry, 1, head.len, file);
		len = valid_entries(entry, len, &nreads);
		seal_batch(out, head.dbid, len, nreads);
		memcpy(out + offsetof(BatchHead, xid), &head.xid, sizeof(TransactionId));
		return len == (int) head.len && nreads == head.nreads;
	}
	return true;
}

/* Postmaster startup: reads a clean shutdown kept come back. */
static void
history_load(void)
{
	FILE	   *file = AllocateFile(HISTORY_FILE, PG_BINARY_R);
	uint32		header[2];
	uint64		n;
	uint64		dropped;
	uint64		loaded;
	uint8		batch[MAX_BATCH_BYTES];

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
		!((header[0] == HISTORY_MAGIC && header[1] == sizeof(BatchHead)) ||
		  (header[0] == HISTORY_MAGIC_V2 && header[1] == sizeof(RecordHeadV2)) ||
		  (header[0] == HISTORY_MAGIC_V1 && header[1] == sizeof(HistoryEntryV1))) ||
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
		BatchHead	head;
		bool		whole = load_batch(file, header[0], batch);

		/* a smaller ring now: keep the oldest, count the rest as dropped */
		memcpy(&head, batch, sizeof(head));
		if (head.nreads > 0 && OidIsValid(head.dbid))
			append_batches(batch, 1, APPEND_LOAD, NULL);
		if (!whole)
		{
			ereport(LOG,
					(errmsg("meshpg access history file \"%s\" is truncated or damaged; the entries before the damage are kept", HISTORY_FILE)));
			break;
		}
	}
	loaded = shared->pending;
	ereport(LOG,
			(errmsg("meshpg: reloaded %llu unflushed access history entries",
					(unsigned long long) loaded)));
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
	/* slots on a cache-line boundary: a slot spans two lines */
	slots = (HistorySlot *) TYPEALIGN(PG_CACHE_LINE_SIZE,
									  (char *) shared + sizeof(HistoryShared));
	stages = (char *) (slots + mesh_history_buffer_size);
	nstages = MaxBackends;

	/*
	 * A stage moves an eighth of the ring at most, so that a small ring is
	 * not filled by one move; it holds the largest entry at least.
	 */
	stage_limit = Max((int) MAX_ENTRY_BYTES,
					  Min(STAGE_BYTES, mesh_history_buffer_size * SLOT_DATA / 8));
	StaticAssertStmt(MAX_ENTRY_BYTES <= STAGE_BYTES, "a stage holds any entry");
	if (!found)
	{
		memset(shared, 0, sizeof(HistoryShared));
		SpinLockInit(&shared->mutex);
		ConditionVariableInit(&shared->room);
		shared->capacity = mesh_history_buffer_size;
		for (int i = 0; i < shared->capacity; i++)
			slots[i].seq = 0;
		for (int i = 0; i < nstages; i++)
		{
			SpinLockInit(&STAGE(i)->mutex);
			STAGE(i)->dbid = InvalidOid;
			STAGE(i)->used = 0;
			STAGE(i)->nreads = 0;
			STAGE(i)->last_shape = -1;
		}
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(history_shmem_shutdown, (Datum) 0);
		if (!found)
			history_load();
	}
}

/* ---- readers and flushers ---- */

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

/*
 * Moves what stage holds into the ring, as one batch.  The stage is copied
 * out under its lock and appended after, so that no spinlock is held across
 * the other or across the copy into the ring.
 */
static void
move_stage(HistoryStage *stage)
{
	uint8		batch[MAX_BATCH_BYTES];
	Oid			dbid;
	int			len;
	int			nreads;

	SpinLockAcquire(&stage->mutex);
	dbid = stage->dbid;
	len = stage->used;
	nreads = stage->nreads;
	memcpy(batch + sizeof(BatchHead), stage->data, len);
	stage->used = 0;
	stage->nreads = 0;
	stage->last_shape = -1;
	SpinLockRelease(&stage->mutex);
	if (nreads == 0)
		return;
	seal_batch(batch, dbid, len, nreads);
	append_batches(batch, 1, APPEND_NEW, NULL);
}

/* Every stage into the ring: a flush sees every read captured before it. */
static void
move_stages(void)
{
	bool		hold = holds_back();

	pg_memory_barrier();
	for (int i = 0; i < nstages; i++)
	{
		HistoryStage *stage = STAGE(i);
		uint64		room;

		if (stage->nreads == 0)
			continue;

		/*
		 * Readers wait rather than drop: a stage the ring has no room for
		 * stays where it is, for the next flush (its backend waits when it
		 * next fills it), rather than being held back by the flusher.
		 */
		if (hold)
		{
			SpinLockAcquire(&shared->mutex);
			room = shared->capacity - (shared->head - shared->tail);
			SpinLockRelease(&shared->mutex);
			if (room < (uint64) RECORD_SLOTS(sizeof(BatchHead) + stage->used))
				continue;
		}
		move_stage(stage);
	}
}

/* This backend's stage, or NULL (an auxiliary process, or no room). */
static HistoryStage *
my_stage(void)
{
	if (stage_limit == 0 || MyBackendId == InvalidBackendId ||
		MyBackendId < 1 || MyBackendId > nstages)
		return NULL;
	return STAGE(MyBackendId - 1);
}

/*
 * Adds entry (len bytes, with its shape) to stage, leaving the shape out if
 * it is the previous entry's; false if the stage has no room for it.
 * Caller holds the stage's lock.
 */
static bool
stage_entry(HistoryStage *stage, const uint8 *entry, int len)
{
	int			shape_len = len - ENTRY_HEAD;
	uint8	   *to = stage->data + stage->used;

	if (stage->last_shape >= 0 &&
		entry_shape_len(stage->data + stage->last_shape) == shape_len &&
		memcmp(stage->data + stage->last_shape + ENTRY_HEAD, entry + ENTRY_HEAD, shape_len) == 0)
	{
		uint16		none = 0;

		if (stage->used + ENTRY_HEAD > stage_limit)
			return false;
		memcpy(to, entry, ENTRY_HEAD);
		memcpy(to + ENTRY_LEN, &none, sizeof(none));
		stage->used += ENTRY_HEAD;
	}
	else
	{
		if (stage->used + len > stage_limit)
			return false;
		memcpy(to, entry, len);
		stage->last_shape = stage->used;
		stage->used += len;
	}
	stage->nreads++;
	return true;
}

/*
 * Appends n entries, len bytes in all, as mesh_history_encode wrote them.
 * Never waits for a flush and never fails: a batch a full ring has no room
 * for is held back (mesh_history_backpressure waits for room later) or,
 * with meshpg.history_overflow = drop, dropped and counted.  The entries go into this backend's stage, as many
 * at a time as fit, or straight into the ring, a batch each, from a process
 * that has no stage.
 */
void
mesh_history_append(const uint8 *records, int len, int n)
{
	HistoryStage *stage;

	if (shared == NULL)
		return;
	stage = my_stage();
	/* a batch is one database's: a gone backend may have left another's */
	if (stage != NULL && stage->dbid != MyDatabaseId)
	{
		move_stage(stage);
		SpinLockAcquire(&stage->mutex);
		stage->dbid = MyDatabaseId;
		SpinLockRelease(&stage->mutex);
	}
	while (n > 0)
	{
		int			fit = 0;
		int			bytes = 0;

		if (stage == NULL)
		{
			uint8		batch[sizeof(BatchHead) + MAX_ENTRY_BYTES];

			bytes = mesh_history_record_len(records);
			memcpy(batch + sizeof(BatchHead), records, bytes);
			seal_batch(batch, MyDatabaseId, bytes, 1);
			append_batches(batch, 1, APPEND_NEW, NULL);
			fit = 1;
		}
		else
		{
			SpinLockAcquire(&stage->mutex);
			while (fit < n)
			{
				int			l = mesh_history_record_len(records + bytes);

				if (!stage_entry(stage, records + bytes, l))
					break;
				bytes += l;
				fit++;
			}
			SpinLockRelease(&stage->mutex);
			/* full: it holds any one entry once emptied */
			if (fit == 0)
				move_stage(stage);
		}
		records += bytes;
		len -= bytes;
		n -= fit;
	}
	Assert(len == 0);
}

/*
 * Whether xid, from a shutdown file, committed.  An id the clog no longer
 * (or not yet) covers can come only from a damaged file: not committed, so
 * its reads are flushed rather than lost.
 */
static bool
xid_committed(TransactionId xid)
{
	bool		committed = false;

	if (!TransactionIdIsNormal(xid))
		return false;
	LWLockAcquire(XactTruncationLock, LW_SHARED);
	if (TransactionIdPrecedes(xid, ReadNextTransactionId()) &&
		!TransactionIdPrecedes(xid, ShmemVariableCache->oldestClogXid))
		committed = TransactionIdDidCommit(xid);
	LWLockRelease(XactTruncationLock);
	return committed;
}

/*
 * Claims the complete batches of dbid for this backend's flush, from the
 * tail on: an array of reads whose shapes point into memory allocated with
 * it (reads of one shape in a row share it).  NULL with *n = 0 when another
 * flush is in progress.  The claim ends with mesh_history_release at the
 * end of the transaction.
 */
HistoryRead *
mesh_history_claim(Oid dbid, int *n)
{
	uint64		head_pos;
	uint64		pos;
	uint64		pending;
	HistoryRead *result;
	uint8	   *shapes;
	Size		shapes_len = 0;
	int			count = 0;
	BatchHead	head;
	uint8		batch[RECORD_SLOTS(MAX_BATCH_BYTES) * SLOT_DATA];
	uint64		nslots;
	Size		room;
	Oid			live = InvalidOid;	/* the last database found, and gone */
	Oid			gone = InvalidOid;

	*n = 0;
	if (shared == NULL || claiming)
		return NULL;
	/* what this process held back first: it cannot wait for its own flush */
	(void) append_held();
	move_stages();
	SpinLockAcquire(&shared->mutex);
	if (shared->flusher != 0)
	{
		SpinLockRelease(&shared->mutex);
		return NULL;
	}
	shared->flusher = MyProcPid;
	head_pos = shared->head;
	pos = shared->tail;
	pending = shared->pending;
	SpinLockRelease(&shared->mutex);
	claiming = true;

	/*
	 * Readers write only slots they reserved past the tail, and publish them
	 * by their sequence numbers; only the flusher moves the tail.  A batch
	 * still being written ends the claim: the next flush takes it and what
	 * follows.  What the claim copies fits in the slots it may pass.
	 */
	nslots = Min(head_pos - pos, (uint64) FLUSH_BATCH);
	result = palloc(sizeof(HistoryRead) * Max(1, Min(FLUSH_BATCH, pending)));
	room = Max(1, nslots * SLOT_DATA);
	shapes = palloc(room);
	npassed = 0;
	passed_reads = 0;
	discarded_reads = 0;
	skipped_recorded = false;
	passed = NULL;
	passed_len = 0;
	while (batch_complete(pos, head_pos, &head) &&
		   count + passed_reads + discarded_reads + head.nreads <= Min(FLUSH_BATCH, pending))
	{
		int			len = sizeof(BatchHead) + head.len;

		/*
		 * A batch an immediate shutdown caught in a flush's commit: recorded
		 * already if that flush committed; else this claim's as any other.
		 * Decided once, in the ring itself: only the flusher reads a slot
		 * past the tail, and the next shutdown writes it as it now is.
		 */
		if (head.dbid == dbid && TransactionIdIsValid(head.xid))
		{
			bool		recorded = xid_committed(head.xid);

			if (recorded)
			{
				SpinLockAcquire(&shared->mutex);
				shared->pending -= head.nreads;
				SpinLockRelease(&shared->mutex);
				head.nreads = 0;
			}
			head.xid = InvalidTransactionId;
			memcpy(SLOT(pos)->data, &head, sizeof(head));
		}
		if (head.nreads == 0)
		{
			skipped_recorded = true;
			pos += head.nslots;
			continue;
		}
		if (head.dbid == dbid)
		{
			const uint8 *p;
			const uint8 *end;
			const uint8 *shape = NULL;
			uint16		shape_len = 0;
			uint32		hash = 0;

			/* a long batch may not fit what a run of short ones would */
			if (shapes_len + head.len > room)
				break;
			read_batch(pos, head.nslots, batch);
			p = batch + sizeof(BatchHead);
			end = p + head.len;
			while (p < end)
			{
				HistoryRead *r = &result[count++];
				uint16		l = entry_shape_len(p);

				if (l > 0)
				{
					memcpy(shapes + shapes_len, p + ENTRY_HEAD, l);
					shape = shapes + shapes_len;
					shape_len = l;
					hash = shape_hash(shape, l);
					shapes_len += l;
				}
				memcpy(&r->read_at, p + ENTRY_READ_AT, sizeof(TimestampTz));
				memcpy(&r->rows, p + ENTRY_ROWS, sizeof(uint64));
				memcpy(&r->statement, p + ENTRY_STATEMENT, sizeof(uint64));
				r->shape = shape;
				r->shape_len = shape_len;
				r->shape_hash = hash;
				p += ENTRY_HEAD + l;
			}
		}
		else if (head.dbid == gone ||
				 (head.dbid != live &&
				  !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(head.dbid))))
		{
			/*
			 * A database that is gone (dropped, or named by a damaged
			 * shutdown file): nobody will ever flush its reads, and put back
			 * by every flush they would take room in the ring for good.
			 * They leave with this claim, counted as dropped.
			 */
			gone = head.dbid;
			discarded_reads += head.nreads;
		}
		else
		{
			live = head.dbid;
			if (passed == NULL)
				passed = MemoryContextAlloc(TopTransactionContext, room);
			if (passed_len + len > room)
				break;
			read_batch(pos, head.nslots, batch);
			memcpy(passed + passed_len, batch, len);
			passed_len += len;
			npassed++;
			passed_reads += head.nreads;
		}
		pos += head.nslots;
	}
	/* passing over others' batches is worth it only to free the tail */
	if (count == 0 && discarded_reads == 0 && !skipped_recorded)
	{
		npassed = 0;
		passed_reads = 0;
	}
	claim_end = pos;
	nclaimed = count;
	*n = count;
	/* what an immediate shutdown before the release writes as in doubt */
	if (count > 0)
	{
		TransactionId xid = GetCurrentTransactionId();

		SpinLockAcquire(&shared->mutex);
		shared->claim_dbid = dbid;
		shared->claim_xid = xid;
		shared->claim_end = pos;
		SpinLockRelease(&shared->mutex);
	}
	return result;
}

/* Whether this backend's flush holds reads that only its commit consumes. */
bool
mesh_history_claimed(void)
{
	return claiming && nclaimed > 0;
}

/*
 * End of the flush's transaction: consumed only if it committed.  The room
 * it frees wakes the readers waiting for it.
 */
void
mesh_history_release(bool consumed)
{
	if (!claiming)
		return;
	consumed = consumed && (nclaimed > 0 || discarded_reads > 0 || skipped_recorded);
	if (consumed)
	{
		/* every batch before claim_end was claimed, passed over or discarded */
		Release		rel;

		rel.tail = claim_end;
		rel.consumed = nclaimed + passed_reads + discarded_reads;
		rel.flushed = nclaimed;
		rel.discarded = discarded_reads;
		/* the other databases' batches go back in, behind the new ones */
		if (npassed > 0)
			(void) append_batches((uint8 *) passed, npassed, APPEND_BACK, &rel);
		else
		{
			SpinLockAcquire(&shared->mutex);
			shared->tail = rel.tail;
			shared->pending -= rel.consumed;
			shared->flushed += rel.flushed;
			shared->dropped += rel.discarded;
			shared->flusher = 0;
			shared->claim_xid = InvalidTransactionId;
			SpinLockRelease(&shared->mutex);
		}
		ConditionVariableBroadcast(&shared->room);
	}
	else
	{
		SpinLockAcquire(&shared->mutex);
		shared->flusher = 0;
		shared->claim_xid = InvalidTransactionId;
		SpinLockRelease(&shared->mutex);
	}
	nclaimed = 0;
	npassed = 0;
	passed_reads = 0;
	discarded_reads = 0;
	skipped_recorded = false;
	passed = NULL;
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
	uint64		staged = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the meshpg access history buffer is not available")));
	/* staged reads are pending, and captured, too */
	for (int i = 0; i < nstages; i++)
	{
		SpinLockAcquire(&STAGE(i)->mutex);
		staged += STAGE(i)->nreads;
		SpinLockRelease(&STAGE(i)->mutex);
	}
	SpinLockAcquire(&shared->mutex);
	values[0] = Int32GetDatum(shared->capacity);
	values[1] = Int64GetDatum((int64) (shared->pending + staged));
	values[2] = Int64GetDatum((int64) (shared->captured + staged));
	values[3] = Int64GetDatum((int64) shared->dropped);
	values[4] = Int64GetDatum((int64) shared->flushed);
	nulls[5] = shared->flusher == 0;
	values[5] = Int32GetDatum(shared->flusher);
	SpinLockRelease(&shared->mutex);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
