/*
 * plugin.c
 *		meshpg's logical decoding output plugin (slot plugin "meshpg"): the
 *		stream of one product's row changes as one consumer may see them,
 *		one JSON document per change in Debezium's envelope (doc/ports.md).
 *
 * The plugin runs under a historic snapshot: it can read catalog tables
 * only, as they were when the decoded change committed.  Its port's row in
 * meshpg.cat_port (a user_catalog_table) holds the rules compiled for the
 * consumer (port.c), so each change is judged by the rules in force at its
 * commit, and a policy change is applied from exactly its transaction on.
 *
 * Per change: the row policies on the old and the new row decide the
 * operation (an UPDATE moving a row into the consumer's view arrives as an
 * insert, out of it as a delete); masked columns are replaced by the masks'
 * values, computed by the same expressions (and keys) as a SELECT; columns
 * the rules were not compiled for (added, dropped or retyped since) are
 * left out.  Whatever cannot be judged is not sent: a slot of this plugin
 * that is no active port of this database streams nothing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "optimizer/optimizer.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/reorderbuffer.h"
#include "replication/slot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/ports/ports.h"

PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

typedef enum JsonKind
{
	JK_STRING,
	JK_NUMBER,
	JK_BOOL,
	JK_JSON
} JsonKind;

typedef struct PortState
{
	MemoryContext change_cxt;	/* reset after each change */
	MemoryContext rules_cxt;	/* reset when the port's row is read again */
	char	   *slot_name;
	char	   *dbname;
	ExprContext *econtext;

	/* the port's row, read once per transaction (and after it changes) */
	bool		loaded;
	bool		stale;			/* memberships changed since compiled */
	bool		stale_reported;
	Oid			consumer;
	Oid			port_relid;		/* meshpg.cat_port */
	bool		found;
	bool		active;
	int64		id;
	char	   *name;
	Oid			relid;
	char	   *state;
	char	   *rules_text;
	bool		has_expiry;
	TimestampTz expires_at;
	char	   *source_tail;	/* ,"port":...,"product":...,"version":...} */
	char	   *schema;
	char	   *table;

	/* the rules */
	int			natts;
	Oid		   *types;
	int32	   *typmods;
	ExprState **masks;
	List	   *roles;			/* the memberships the rules rest on */
	List	   *held;
	bool		signed_rules;
	ItemPointerData tid;		/* the port's row version the rules came from */
	TransactionId xmin;
	bool	   *reusable;		/* the value's text depends on the column alone */
	ExprState  *qual;
	Bitmapset  *qual_attrs;		/* attnos the quals read */
	JsonKind   *kinds;
	FmgrInfo   *outfuncs;

	/* the columns usable under the relation's current descriptor */
	TupleDesc	checked_desc;
	char	  **keys;			/* "column": per column, for checked_desc */
	char	   *source_head;	/* ,"source":{"name":"meshpg","db":..,"table":.. */
	bool	   *usable;
	bool		quals_usable;
	bool		drift_reported;
	bool		expiry_reported;

	TupleTableSlot *slot;
	TupleDesc	slot_src;
} PortState;

/* ----------------------------------------------------------------------
 * The port's row
 * ---------------------------------------------------------------------- */

/*
 * Whether cat_port may have changed since a session last read its port's
 * row: set by relcache invalidations of cat_port (its trigger sends one,
 * and decoding replays a transaction's invalidations at the point it
 * committed), by the decoded change of the row itself, and at start.  Per
 * process: a relcache callback cannot be unregistered.
 */
static bool port_rows_dirty = true;
static Oid	port_rows_relid = InvalidOid;
static bool port_callback_registered = false;

static void
port_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == port_rows_relid)
		port_rows_dirty = true;
}

static char *
text_attr(HeapTuple tup, TupleDesc desc, int attno)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attno, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
load_rules(PortState *st)
{
	List	   *rules = (List *) stringToNode(st->rules_text);
	List	   *types = list_nth(rules, MESH_PORT_RULES_TYPES);
	List	   *typmods = list_nth(rules, MESH_PORT_RULES_TYPMODS);
	List	   *masks = list_nth(rules, MESH_PORT_RULES_MASKS);
	List	   *quals = list_nth(rules, MESH_PORT_RULES_QUALS);
	int			i = 0;
	ListCell   *lc;

	st->natts = list_length(types);
	st->types = palloc0(sizeof(Oid) * (st->natts + 1));
	st->typmods = palloc0(sizeof(int32) * (st->natts + 1));
	st->masks = palloc0(sizeof(ExprState *) * (st->natts + 1));
	st->reusable = palloc0(sizeof(bool) * (st->natts + 1));
	st->kinds = palloc0(sizeof(JsonKind) * (st->natts + 1));
	st->outfuncs = palloc0(sizeof(FmgrInfo) * (st->natts + 1));
	st->usable = palloc0(sizeof(bool) * (st->natts + 1));
	st->keys = palloc0(sizeof(char *) * (st->natts + 1));
	foreach(lc, types)
	{
		Oid			typid = lfirst_oid(lc);

		st->types[i] = typid;
		st->typmods[i] = list_nth_int(typmods, i);
		st->reusable[i] = true;
		if (list_nth(masks, i) != NULL)
		{
			Bitmapset  *reads = NULL;

			st->masks[i] = ExecInitExpr((Expr *) list_nth(masks, i), NULL);
			pull_varattnos((Node *) list_nth(masks, i), 1, &reads);
			st->reusable[i] = bms_num_members(reads) <= 1 &&
				(reads == NULL ||
				 bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, reads));
		}
		if (OidIsValid(typid))
		{
			Oid			outfunc;
			bool		varlena;

			getTypeOutputInfo(typid, &outfunc, &varlena);
			fmgr_info_cxt(outfunc, &st->outfuncs[i], st->rules_cxt);
			switch (typid)
			{
				case BOOLOID:
					st->kinds[i] = JK_BOOL;
					break;
				case INT2OID:
				case INT4OID:
				case INT8OID:
				case OIDOID:
				case FLOAT4OID:
				case FLOAT8OID:
				case NUMERICOID:
					st->kinds[i] = JK_NUMBER;
					break;
				case JSONOID:
				case JSONBOID:
					st->kinds[i] = JK_JSON;
					break;
				default:
					st->kinds[i] = JK_STRING;
			}
		}
		i++;
	}
	st->qual = ExecInitQual(quals, NULL);

	/*
	 * The memberships the rules rest on, as they were when this change
	 * committed: changed since (a role revoked, a superuser demoted), the
	 * rules may be too loose, so nothing is streamed until recompiled.
	 */
	st->roles = list_length(rules) >= 6 ? list_nth(rules, MESH_PORT_RULES_ROLES) : NIL;
	st->held = list_length(rules) >= 6 ? list_nth(rules, MESH_PORT_RULES_HELD) : NIL;
	st->signed_rules = list_length(rules) >= 6;
	st->qual_attrs = NULL;
	pull_varattnos((Node *) quals, 1, &st->qual_attrs);
	st->checked_desc = NULL;
}

/*
 * The memberships the rules rest on, as they were when the change being
 * decoded committed: changed since (a role revoked, a superuser demoted),
 * the rules may be too loose, so nothing is streamed until recompiled.
 */
static void
check_memberships(PortState *st)
{
	ListCell   *rc;
	int			k = 0;

	st->stale = !st->signed_rules;
	foreach(rc, st->roles)
	{
		Oid			role = lfirst_oid(rc);
		bool		now = OidIsValid(role) ? has_privs_of_role(st->consumer, role) :
			superuser_arg(st->consumer);

		if (now != (list_nth_int(st->held, k++) != 0))
			st->stale = true;
	}
}

/*
 * Reads this slot's port under the current (historic) snapshot.  Not found,
 * not active, or compiled elsewhere (a restored copy): nothing is streamed.
 */
static void
load_port(PortState *st)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	HeapTuple	found = NULL;
	MemoryContext old;

	st->loaded = true;

	/* nothing changed in cat_port since: the rules stand, memberships aside */
	if (!port_rows_dirty && st->found && OidIsValid(st->port_relid))
	{
		if (st->active)
			check_memberships(st);
		return;
	}
	port_rows_dirty = false;
	if (cat == NULL || !OidIsValid(st->port_relid = get_relname_relid("cat_port", cat->nsp)))
	{
		st->found = st->active = false;
		return;
	}
	port_rows_relid = st->port_relid;

	old = MemoryContextSwitchTo(st->change_cxt);
	rel = table_open(st->port_relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		char	   *slot = text_attr(tup, RelationGetDescr(rel), Anum_cat_port_slot_name);

		if (slot != NULL && strcmp(slot, st->slot_name) == 0)
		{
			found = heap_copytuple(tup);
			break;
		}
	}
	systable_endscan(scan);

	/*
	 * The same version of the row as for the last transaction (the common
	 * case): the rules stand, only the memberships are checked again.
	 */
	if (found != NULL && st->found && ItemPointerEquals(&found->t_self, &st->tid) &&
		HeapTupleHeaderGetXmin(found->t_data) == st->xmin)
	{
		if (st->active)
			check_memberships(st);
		table_close(rel, AccessShareLock);
		MemoryContextSwitchTo(old);
		MemoryContextReset(st->change_cxt);
		return;
	}

	MemoryContextReset(st->rules_cxt);
	st->source_head = NULL;
	st->found = false;
	st->active = false;
	st->stale = false;
	st->slot = NULL;
	st->slot_src = NULL;
	st->checked_desc = NULL;
	MemoryContextSwitchTo(st->rules_cxt);
	if (found != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		char	   *compiled_in;
		bool		isnull;
		Datum		d;
		StringInfoData tail;

		tup = found;
		st->found = true;
		st->tid = tup->t_self;
		st->xmin = HeapTupleHeaderGetXmin(tup->t_data);
		st->id = DatumGetInt64(heap_getattr(tup, Anum_cat_port_id, desc, &isnull));
		st->name = text_attr(tup, desc, Anum_cat_port_name);
		st->relid = DatumGetObjectId(heap_getattr(tup, Anum_cat_port_relid, desc, &isnull));
		st->consumer = DatumGetObjectId(heap_getattr(tup, Anum_cat_port_consumer, desc, &isnull));
		st->state = text_attr(tup, desc, Anum_cat_port_state);
		st->rules_text = text_attr(tup, desc, Anum_cat_port_rules);
		compiled_in = text_attr(tup, desc, Anum_cat_port_compiled_in);
		d = heap_getattr(tup, Anum_cat_port_grant_expires_at, desc, &isnull);
		st->has_expiry = !isnull;
		st->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
		st->active = strcmp(st->state, "active") == 0 && st->rules_text != NULL &&
			compiled_in != NULL && strcmp(compiled_in, mesh_port_compiled_here()) == 0;

		initStringInfo(&tail);
		appendStringInfoString(&tail, ",\"port\":");
		escape_json(&tail, st->name);
		appendStringInfoString(&tail, ",\"product\":");
		escape_json(&tail, text_attr(tup, desc, Anum_cat_port_product_name));
		appendStringInfoString(&tail, ",\"version\":");
		escape_json(&tail, text_attr(tup, desc, Anum_cat_port_product_version));
		appendStringInfoChar(&tail, '}');
		st->source_tail = tail.data;
		st->table = get_rel_name(st->relid);
		st->schema = st->table ? get_namespace_name(get_rel_namespace(st->relid)) : NULL;
		if (st->table == NULL)
			st->active = false;
	}
	table_close(rel, AccessShareLock);
	if (st->active)
	{
		Oid			save_userid;
		int			save_sec;

		/* as the consumer, as its reads are: its EXECUTE rights count */
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(st->consumer, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		load_rules(st);
		SetUserIdAndSecContext(save_userid, save_sec);
		check_memberships(st);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->change_cxt);
}

/* ----------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------- */

static int64
unix_ms(TimestampTz t)
{
	return t / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

static void
append_source(StringInfo out, PortState *st, ReorderBufferTXN *txn, XLogRecPtr lsn)
{
	if (st->source_head == NULL)
	{
		StringInfoData head;
		MemoryContext old = MemoryContextSwitchTo(st->rules_cxt);

		initStringInfo(&head);
		appendStringInfoString(&head, ",\"source\":{\"name\":\"meshpg\",\"db\":");
		escape_json(&head, st->dbname);
		appendStringInfoString(&head, ",\"schema\":");
		escape_json(&head, st->schema ? st->schema : "");
		appendStringInfoString(&head, ",\"table\":");
		escape_json(&head, st->table ? st->table : "");
		appendStringInfoString(&head, ",\"lsn\":");
		st->source_head = head.data;
		MemoryContextSwitchTo(old);
	}
	appendStringInfo(out, ",\"ts_ms\":" INT64_FORMAT, unix_ms(txn->xact_time.commit_time));
	appendStringInfoString(out, st->source_head);
	appendStringInfo(out, UINT64_FORMAT ",\"txId\":%u", (uint64) lsn, txn->xid);
	if (st->source_tail)
		appendStringInfoString(out, st->source_tail);
	else
		appendStringInfoChar(out, '}');
}

/* A record about the stream itself: op "m", with the event's type. */
static void
emit_message(LogicalDecodingContext *ctx, PortState *st, ReorderBufferTXN *txn,
			 XLogRecPtr lsn, const char *type, const char *reason)
{
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoString(ctx->out, "{\"before\":null,\"after\":null,\"op\":\"m\"");
	append_source(ctx->out, st, txn, lsn);
	appendStringInfoString(ctx->out, ",\"message\":{\"type\":");
	escape_json(ctx->out, type);
	if (reason)
	{
		appendStringInfoString(ctx->out, ",\"reason\":");
		escape_json(ctx->out, reason);
	}
	appendStringInfoString(ctx->out, "}}");
	OutputPluginWrite(ctx, true);
}

static void
append_value(StringInfo out, PortState *st, int i, Datum value, bool isnull)
{
	char	   *text;

	if (isnull)
	{
		appendStringInfoString(out, "null");
		return;
	}
	switch (st->kinds[i])
	{
		case JK_BOOL:
			appendStringInfoString(out, DatumGetBool(value) ? "true" : "false");
			return;
		case JK_NUMBER:
			text = OutputFunctionCall(&st->outfuncs[i], value);
			/* NaN and the infinities are not JSON numbers */
			if (strpbrk(text, "NI") != NULL)
				escape_json(out, text);
			else
				appendStringInfoString(out, text);
			return;
		case JK_JSON:
			appendStringInfoString(out, OutputFunctionCall(&st->outfuncs[i], value));
			return;
		case JK_STRING:
			escape_json(out, OutputFunctionCall(&st->outfuncs[i], value));
			return;
	}
}

/*
 * The columns the rules hold for, under the relation's current descriptor:
 * checked at every change (a few comparisons), so that no column whose
 * type changed since compiling is ever evaluated or printed; the printed
 * keys are made again when the descriptor changes.
 */
static void
check_descriptor(PortState *st, TupleDesc desc)
{
	int			x = -1;
	bool		new_desc = st->checked_desc != desc;

	for (int i = 0; i < st->natts; i++)
	{
		Form_pg_attribute att = i < desc->natts ? TupleDescAttr(desc, i) : NULL;

		st->usable[i] = att != NULL && !att->attisdropped && OidIsValid(st->types[i]) &&
			att->atttypid == st->types[i] && att->atttypmod == st->typmods[i];
		if (st->usable[i] && (new_desc || st->keys[i] == NULL))
		{
			StringInfoData key;
			MemoryContext old = MemoryContextSwitchTo(st->rules_cxt);

			initStringInfo(&key);
			escape_json(&key, NameStr(att->attname));
			appendStringInfoChar(&key, ':');
			st->keys[i] = key.data;
			MemoryContextSwitchTo(old);
		}
	}
	st->quals_usable = true;
	while ((x = bms_next_member(st->qual_attrs, x)) >= 0)
	{
		int			attno = x + FirstLowInvalidHeapAttributeNumber;

		if (attno <= 0 || attno > st->natts || !st->usable[attno - 1])
			st->quals_usable = false;
	}
	st->checked_desc = desc;
}

typedef struct Image
{
	Datum	   *values;
	bool	   *nulls;
	bool	   *unavailable;	/* an unchanged TOAST value not in the WAL */
} Image;

static void
deform(HeapTuple tup, TupleDesc desc, Image *img, const Image *old)
{
	img->values = palloc(sizeof(Datum) * desc->natts);
	img->nulls = palloc(sizeof(bool) * desc->natts);
	img->unavailable = palloc0(sizeof(bool) * desc->natts);
	heap_deform_tuple(tup, desc, img->values, img->nulls);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attlen != -1 || img->nulls[i] ||
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(img->values[i])))
			continue;
		/* the whole old row (replica identity full) has it */
		if (old != NULL && !old->nulls[i] && !old->unavailable[i])
			img->values[i] = old->values[i];
		else
		{
			img->unavailable[i] = true;
			img->nulls[i] = true;
			img->values[i] = (Datum) 0;
		}
	}
}

static void
store_slot(PortState *st, TupleDesc desc, const Image *img)
{
	if (st->slot == NULL || st->slot_src != desc ||
		st->slot->tts_tupleDescriptor->natts != desc->natts)
	{
		MemoryContext old = MemoryContextSwitchTo(st->rules_cxt);

		st->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(desc), &TTSOpsVirtual);
		st->slot_src = desc;
		MemoryContextSwitchTo(old);
	}
	ExecClearTuple(st->slot);
	memcpy(st->slot->tts_values, img->values, sizeof(Datum) * desc->natts);
	memcpy(st->slot->tts_isnull, img->nulls, sizeof(bool) * desc->natts);
	ExecStoreVirtualTuple(st->slot);
	st->econtext->ecxt_scantuple = st->slot;
}

/* Whether the row is in the consumer's view (the slot holds it). */
static bool
row_visible(PortState *st, const Image *img)
{
	if (st->qual == NULL)
		return true;
	/* a value the filter reads is not in the WAL: not judged, not sent */
	for (int x = bms_next_member(st->qual_attrs, -1); x >= 0; x = bms_next_member(st->qual_attrs, x))
	{
		int			attno = x + FirstLowInvalidHeapAttributeNumber;

		if (attno > 0 && img->unavailable[attno - 1])
			return false;
	}
	return ExecQual(st->qual, st->econtext);
}

/*
 * Where each column's value text went in the output: an update's new row
 * reuses the old row's text of every column whose value did not change
 * (most of them, usually), rather than masking and printing it again.
 */
typedef struct Printed
{
	int		   *start;			/* -1: not printed */
	int		   *len;
} Printed;

static bool
same_value(TupleDesc desc, int i, const Image *a, const Image *b)
{
	Form_pg_attribute att = TupleDescAttr(desc, i);

	if (a->unavailable[i] || b->unavailable[i] || a->nulls[i] != b->nulls[i])
		return false;
	return a->nulls[i] || datumIsEqual(a->values[i], b->values[i], att->attbyval, att->attlen);
}

/*
 * One row image as the consumer sees it; only: the key columns, or NULL.
 * prev/prev_printed: the image printed before in the same document, whose
 * text may be reused; printed: where this one's values go, or NULL.
 */
static void
append_image(StringInfo out, PortState *st, TupleDesc desc, const Image *img,
			 Bitmapset *only, const Image *prev, const Printed *prev_printed,
			 Printed *printed)
{
	bool		first = true;

	appendStringInfoChar(out, '{');
	for (int i = 0; i < st->natts; i++)
	{
		int			start;

		if (printed)
			printed->start[i] = -1;
		if (!st->usable[i])
			continue;
		if (only != NULL &&
			!bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, only))
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		appendStringInfoString(out, st->keys[i]);
		start = out->len;
		if (prev != NULL && prev_printed->start[i] >= 0 && st->reusable[i] &&
			same_value(desc, i, prev, img))
		{
			int			len = prev_printed->len[i];

			/* from the buffer itself: enlarge first, it may move */
			enlargeStringInfo(out, len);
			memcpy(out->data + out->len, out->data + prev_printed->start[i], len);
			out->len += len;
			out->data[out->len] = '\0';
		}
		else if (img->unavailable[i])
			appendStringInfoString(out, "\"__meshpg_unavailable_value\"");
		else if (st->masks[i] != NULL)
		{
			bool		isnull;
			Datum		v = ExecEvalExprSwitchContext(st->masks[i], st->econtext, &isnull);

			append_value(out, st, i, v, isnull);
		}
		else
			append_value(out, st, i, img->values[i], img->nulls[i]);
		if (printed)
		{
			printed->start[i] = start;
			printed->len[i] = out->len - start;
		}
	}
	appendStringInfoChar(out, '}');
}

/* A change of cat_port: its own row's changes are records of the stream. */
static void
port_row_changed(LogicalDecodingContext *ctx, PortState *st, ReorderBufferTXN *txn,
				 Relation relation, ReorderBufferChange *change)
{
	TupleDesc	desc = RelationGetDescr(relation);
	HeapTuple	newt = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : NULL;
	HeapTuple	oldt = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : NULL;
	const char *type = NULL;
	char	   *reason = NULL;

	if (change->action == REORDER_BUFFER_CHANGE_DELETE)
	{
		bool		isnull;

		if (oldt == NULL || !st->found ||
			DatumGetInt64(heap_getattr(oldt, Anum_cat_port_id, desc, &isnull)) != st->id)
			return;
		type = "meshpg.port.dropped";
	}
	else
	{
		char	   *slot = newt ? text_attr(newt, desc, Anum_cat_port_slot_name) : NULL;
		char	   *state;
		char	   *rules;
		char	   *was_state = st->found ? st->state : NULL;
		char	   *was_rules = st->found ? st->rules_text : NULL;

		if (slot == NULL || strcmp(slot, st->slot_name) != 0)
			return;
		state = text_attr(newt, desc, Anum_cat_port_state);
		rules = text_attr(newt, desc, Anum_cat_port_rules);
		reason = text_attr(newt, desc, Anum_cat_port_reason);
		/* the old row (cat_port logs it whole) says what changed */
		if (oldt != NULL)
		{
			was_state = text_attr(oldt, desc, Anum_cat_port_state);
			was_rules = text_attr(oldt, desc, Anum_cat_port_rules);
		}
		if (change->action == REORDER_BUFFER_CHANGE_INSERT)
			type = "meshpg.port.created";
		else if (was_state != NULL && strcmp(was_state, state) == 0)
		{
			if (strcmp(state, "active") == 0 &&
				(was_rules == NULL || rules == NULL || strcmp(was_rules, rules) != 0))
				type = "meshpg.port.rules_changed";
		}
		else if (strcmp(state, "suspended") == 0)
			type = "meshpg.port.suspended";
		else if (strcmp(state, "ended") == 0)
			type = "meshpg.port.ended";
		else if (strcmp(state, "active") == 0)
			type = "meshpg.port.resumed";
	}
	if (type != NULL)
		emit_message(ctx, st, txn, change->lsn, type, reason);
	/* read again at the next change, under its snapshot */
	st->loaded = false;
	port_rows_dirty = true;
}

/* ----------------------------------------------------------------------
 * Callbacks
 * ---------------------------------------------------------------------- */

static void
port_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	PortState  *st;
	MemoryContext old;
	ListCell   *lc;

	foreach(lc, ctx->output_plugin_options)
	{
		DefElem    *elem = lfirst(lc);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("meshpg's output plugin takes no option \"%s\"", elem->defname),
				 errdetail("What a port streams is set by its consumer's rules, not by the reader.")));
	}
	old = MemoryContextSwitchTo(ctx->context);
	st = palloc0(sizeof(PortState));
	st->change_cxt = AllocSetContextCreate(ctx->context, "meshpg port change",
										   ALLOCSET_DEFAULT_SIZES);
	st->rules_cxt = AllocSetContextCreate(ctx->context, "meshpg port rules",
										  ALLOCSET_DEFAULT_SIZES);
	st->slot_name = pstrdup(NameStr(ctx->slot->data.name));
	st->econtext = CreateStandaloneExprContext();
	MemoryContextSwitchTo(old);
	if (!port_callback_registered)
	{
		CacheRegisterRelcacheCallback(port_relcache_callback, (Datum) 0);
		port_callback_registered = true;
	}
	/* a new session reads its port's row afresh */
	port_rows_dirty = true;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;
	ctx->output_plugin_private = st;

	/*
	 * Only the slots of ports: refused up front where a transaction lets
	 * the catalog be read now (SQL functions); elsewhere (a walsender) a
	 * slot that is no active port gets nothing, change by change.  At
	 * creation the port's row comes after its slot.
	 */
	if (!is_init && IsTransactionState())
	{
		const MeshCatalog *cat = mesh_catalog();
		bool		known = false;

		if (cat != NULL && OidIsValid(get_relname_relid("cat_port", cat->nsp)))
		{
			Relation	rel = table_open(get_relname_relid("cat_port", cat->nsp), AccessShareLock);
			SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
			HeapTuple	tup;

			while (!known && HeapTupleIsValid(tup = systable_getnext(scan)))
			{
				char	   *slot = text_attr(tup, RelationGetDescr(rel), Anum_cat_port_slot_name);

				known = slot != NULL && strcmp(slot, st->slot_name) == 0;
			}
			systable_endscan(scan);
			table_close(rel, AccessShareLock);
		}
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("replication slot \"%s\" is not a meshpg output port", st->slot_name),
					 errdetail("meshpg's output plugin decodes only the slots of output ports."),
					 errhint("Create a port with meshpg.create_output_port().")));
	}
}

static void
port_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PortState  *st = ctx->output_plugin_private;

	st->loaded = false;
}

static void
port_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
}

static void
port_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
			ReorderBufferChange *change)
{
	PortState  *st = ctx->output_plugin_private;
	Oid			relid = RelationGetRelid(relation);
	TupleDesc	desc = RelationGetDescr(relation);
	HeapTuple	newt;
	HeapTuple	oldt;
	bool		full;
	Image		newimg;
	Image		oldimg;
	bool		has_old;
	bool		old_vis = false;
	bool		new_vis = false;
	char		op;
	Bitmapset  *key_only = NULL;
	Printed		printed;
	bool		before_printed = false;
	MemoryContext old;
	Oid			save_userid;
	int			save_sec;

	if (!st->loaded)
	{
		if (st->dbname == NULL)
			st->dbname = MemoryContextStrdup(ctx->context, get_database_name(MyDatabaseId));
		load_port(st);
	}
	if (relid == st->port_relid && OidIsValid(relid))
	{
		old = MemoryContextSwitchTo(st->change_cxt);
		port_row_changed(ctx, st, txn, relation, change);
		MemoryContextSwitchTo(old);
		MemoryContextReset(st->change_cxt);
		return;
	}
	if (!st->active || relid != st->relid)
		return;
	if (st->stale)
	{
		if (!st->stale_reported)
			emit_message(ctx, st, txn, change->lsn, "meshpg.port.rules_stale",
						 "the consumer's role memberships changed since the rules were compiled; nothing is streamed until the port is recompiled");
		st->stale_reported = true;
		return;
	}
	if (st->has_expiry && txn->xact_time.commit_time >= st->expires_at)
	{
		if (!st->expiry_reported)
			emit_message(ctx, st, txn, change->lsn, "meshpg.port.grant_expired", NULL);
		st->expiry_reported = true;
		return;
	}

	check_descriptor(st, desc);
	if (!st->quals_usable)
	{
		/* the filter reads a column that changed since: judged by no one */
		if (!st->drift_reported)
			emit_message(ctx, st, txn, change->lsn, "meshpg.port.schema_changed",
						 "a column the consumer's row policies read changed; its changes are not streamed until the port is recompiled");
		st->drift_reported = true;
		return;
	}

	/*
	 * The policies' functions run as the consumer, as in its reads, and in
	 * a restricted operation: never as the role that decodes (the catalog
	 * owner, or a replication role), which a policy's author could
	 * otherwise borrow.  An error aborts the decoding transaction, which
	 * restores the user.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(st->consumer, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	old = MemoryContextSwitchTo(st->change_cxt);
	newt = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : NULL;
	oldt = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : NULL;
	full = relation->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
	has_old = oldt != NULL;
	if (has_old)
		deform(oldt, desc, &oldimg, NULL);
	if (newt != NULL)
		deform(newt, desc, &newimg, has_old && full ? &oldimg : NULL);
	if (has_old && !full)
		key_only = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_IDENTITY_KEY);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			if (newt == NULL)
				goto done;
			store_slot(st, desc, &newimg);
			new_vis = row_visible(st, &newimg);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			if (newt == NULL)
				goto done;
			store_slot(st, desc, &newimg);
			new_vis = row_visible(st, &newimg);
			if (has_old && full)
			{
				store_slot(st, desc, &oldimg);
				old_vis = row_visible(st, &oldimg);
			}
			else
			{
				/*
				 * No whole old row: whether it was in view is unknown, so an
				 * update is sent only with a new row in view, as an update
				 * (PostgreSQL's row filters do the same).
				 */
				old_vis = new_vis;
			}
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			if (!has_old)
				goto done;
			/* a filtered product's delete is judged on the whole old row only */
			if (st->qual != NULL && !full)
				goto done;
			store_slot(st, desc, &oldimg);
			old_vis = row_visible(st, &oldimg);
			break;
		default:
			goto done;
	}

	if (old_vis && new_vis)
		op = 'u';
	else if (new_vis)
		op = 'c';
	else if (old_vis)
		op = 'd';
	else
		goto done;

	printed.start = palloc(sizeof(int) * (st->natts + 1));
	printed.len = palloc(sizeof(int) * (st->natts + 1));
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoString(ctx->out, "{\"before\":");
	if ((op == 'u' || op == 'd') && has_old)
	{
		store_slot(st, desc, &oldimg);
		append_image(ctx->out, st, desc, &oldimg, key_only, NULL, NULL, &printed);
		before_printed = true;
	}
	else
		appendStringInfoString(ctx->out, "null");
	appendStringInfoString(ctx->out, ",\"after\":");
	if (op == 'c' || op == 'u')
	{
		store_slot(st, desc, &newimg);
		append_image(ctx->out, st, desc, &newimg, NULL,
					 before_printed ? &oldimg : NULL, &printed, NULL);
	}
	else
		appendStringInfoString(ctx->out, "null");
	appendStringInfo(ctx->out, ",\"op\":\"%c\"", op);
	append_source(ctx->out, st, txn, change->lsn);
	appendStringInfoChar(ctx->out, '}');
	OutputPluginWrite(ctx, true);

done:
	ResetExprContext(st->econtext);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->change_cxt);
	SetUserIdAndSecContext(save_userid, save_sec);
}

static void
port_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
			  Relation relations[], ReorderBufferChange *change)
{
	PortState  *st = ctx->output_plugin_private;

	if (!st->loaded)
	{
		if (st->dbname == NULL)
			st->dbname = MemoryContextStrdup(ctx->context, get_database_name(MyDatabaseId));
		load_port(st);
	}
	if (!st->active || st->stale)
		return;
	for (int i = 0; i < nrelations; i++)
	{
		if (RelationGetRelid(relations[i]) != st->relid)
			continue;
		OutputPluginPrepareWrite(ctx, true);
		appendStringInfoString(ctx->out, "{\"before\":null,\"after\":null,\"op\":\"t\"");
		append_source(ctx->out, st, txn, change->lsn);
		appendStringInfoChar(ctx->out, '}');
		OutputPluginWrite(ctx, true);
	}
}

static void
port_shutdown(LogicalDecodingContext *ctx)
{
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = port_startup;
	cb->begin_cb = port_begin;
	cb->change_cb = port_change;
	cb->truncate_cb = port_truncate;
	cb->commit_cb = port_commit;
	cb->shutdown_cb = port_shutdown;
}
