/*
 * gate.c
 *		SLO-gated reads: with meshpg.slo_gate = warn or error, a read of a
 *		product that currently breaches a freshness or completeness SLO
 *		warns or is refused.  Also: who may see a product's SLO state.
 *
 * mesh_slo_gate() is a read check (governance.h): the executor's permission
 * hook runs it for every product read it allows.  With the gate off that is one comparison.  With it on,
 * the breach state comes from a backend-local cache, rebuilt only when SLO
 * state committed anywhere (a shared generation counter) or the catalog
 * changed.  Freshness by last change is judged live, from the shared change
 * table, so a product that went stale since its last evaluation is caught.
 *
 * On a Citus worker the SLOs are the coordinator's copy, sent with the
 * catalog whenever a measurement changes a status (sql/1.4/15-citus.sql):
 * a reader connecting to the worker is gated by the last measurement, live
 * freshness included (the worker's change table sees its shards only).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/datum.h"
#include "utils/tuplestore.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "meshpg/citus/citus.h"
#include "meshpg/governance/governance.h"
#include "meshpg/meshpg.h"
#include "meshpg/slo/slo.h"

PG_FUNCTION_INFO_V1(meshpg_slo_changed);
PG_FUNCTION_INFO_V1(meshpg_citus_slo_changed);
PG_FUNCTION_INFO_V1(meshpg_may_read_product);

typedef enum
{
	GATE_OFF,
	GATE_WARN,
	GATE_ERROR
} GateMode;

static const struct config_enum_entry gate_options[] = {
	{"off", GATE_OFF, false},
	{"warn", GATE_WARN, false},
	{"error", GATE_ERROR, false},
	{NULL, 0, false}
};

static int	gate_mode = GATE_OFF;

/* > 0 while meshpg itself measures a product: its reads are not gated. */
int			mesh_slo_gate_suspended = 0;

/* Column numbers of meshpg.cat_slo (sql/1.1/10-slo.sql). */
#define Anum_slo_product_id 2
#define Anum_slo_name		3
#define Anum_slo_kind		4
#define Anum_slo_spec		5
#define Anum_slo_last_value 12
#define Anum_slo_last_met	13

typedef struct GateCheck
{
	char	   *slo;
	char	   *kind;
	bool		live;			/* freshness by last change */
	int64		max_age_us;
	pg_atomic_uint64 *slot;		/* its last change, read without a lock */
	uint32		probed;			/* change-table size when slot was looked up */
	bool		breached;		/* as last measured */
	char	   *value;
	char	   *target;
} GateCheck;

typedef struct GateEntry
{
	int64		product_id;
	List	   *checks;			/* of GateCheck */
} GateEntry;

static HTAB *gate_cache = NULL;
static MemoryContext gate_cxt = NULL;
static uint64 gate_generation = 0;
static uint64 gate_catalog_generation = 0;
static bool gate_stale = true;

static char *
spec_text(Jsonb *spec, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&spec->root, key, strlen(key), &v) == NULL)
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	return NULL;
}

static void
load_gate(void)
{
	const MeshCatalog *cat = mesh_catalog();
	MeshSloShared *sh = mesh_slo_shared();
	Oid			relid;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	HASHCTL		ctl;
	uint64		generation;
	bool		on_worker = mesh_citus_is_worker();

	generation = sh ? pg_atomic_read_u64(&sh->state_generation) : 0;
	if (gate_cxt == NULL)
		gate_cxt = AllocSetContextCreate(CacheMemoryContext, "meshpg slo gate",
										 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(gate_cxt);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(GateEntry);
	ctl.hcxt = gate_cxt;
	gate_cache = hash_create("meshpg slo gate", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	gate_stale = false;
	gate_generation = generation;
	gate_catalog_generation = mesh_catalog_generation();

	relid = cat ? get_relname_relid("cat_slo", cat->nsp) : InvalidOid;
	if (!OidIsValid(relid))
		return;					/* meshpg 1.0: no SLOs */

	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		bool		met_null;
		char	   *kind = TextDatumGetCString(heap_getattr(tup, Anum_slo_kind, desc, &isnull));
		Jsonb	   *spec;
		Datum		met;
		GateCheck  *check;
		GateEntry  *entry;
		int64		product_id;
		bool		found;
		MemoryContext old;
		char	   *column;

		if (strcmp(kind, "freshness") != 0 && strcmp(kind, "completeness") != 0)
			continue;
		met = heap_getattr(tup, Anum_slo_last_met, desc, &met_null);
		spec = DatumGetJsonbP(heap_getattr(tup, Anum_slo_spec, desc, &isnull));
		column = strcmp(kind, "freshness") == 0 ? spec_text(spec, "column") : NULL;
		/* Only a breach, or a live check, needs remembering. */
		if ((met_null || DatumGetBool(met)) &&
			!(strcmp(kind, "freshness") == 0 && column == NULL && !on_worker))
			continue;

		old = MemoryContextSwitchTo(gate_cxt);
		check = palloc0(sizeof(GateCheck));
		check->slo = TextDatumGetCString(heap_getattr(tup, Anum_slo_name, desc, &isnull));
		check->kind = pstrdup(kind);
		check->breached = !met_null && !DatumGetBool(met);
		{
			Datum		v = heap_getattr(tup, Anum_slo_last_value, desc, &isnull);

			check->value = isnull ? "unknown" :
				DatumGetCString(DirectFunctionCall1(numeric_out, v));
		}
		if (strcmp(kind, "freshness") == 0)
		{
			char	   *age = spec_text(spec, "max_age");
			Interval   *iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(age),
																   ObjectIdGetDatum(InvalidOid),
																   Int32GetDatum(-1)));

			/*
			 * A Citus worker judges by the coordinator's last measurement:
			 * its own change table sees only the writes to its shards.
			 */
			check->live = column == NULL && !on_worker;
			check->max_age_us = iv->time + (int64) iv->day * USECS_PER_DAY +
				(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
			check->target = psprintf("age at most %s", age);
		}
		else
			check->target = psprintf("non-null ratio at least %s", spec_text(spec, "min_ratio"));
		product_id = DatumGetInt64(heap_getattr(tup, Anum_slo_product_id, desc, &isnull));
		entry = hash_search(gate_cache, &product_id, HASH_ENTER, &found);
		if (!found)
			entry->checks = NIL;
		entry->checks = lappend(entry->checks, check);
		MemoryContextSwitchTo(old);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

void
mesh_slo_gate(const MeshProduct *product, Oid userid)
{
	MeshSloShared *sh;
	GateEntry  *entry;
	ListCell   *lc;

	if (gate_mode == GATE_OFF || mesh_slo_gate_suspended > 0)
		return;

	sh = mesh_slo_shared();
	if (gate_cache == NULL || gate_stale ||
		(sh != NULL && pg_atomic_read_u64(&sh->state_generation) != gate_generation) ||
		mesh_catalog_generation() != gate_catalog_generation)
		load_gate();

	entry = hash_search(gate_cache, &product->id, HASH_FIND, NULL);
	if (entry == NULL)
		return;
	foreach(lc, entry->checks)
	{
		GateCheck  *check = lfirst(lc);
		bool		breached = check->breached;
		char	   *value = check->value;
		TimestampTz at;

		if (check->live && check->slot == NULL && check->probed != mesh_change_entries())
		{
			check->probed = mesh_change_entries();
			check->slot = mesh_last_change_slot(product->id);
		}
		if (check->live && check->slot != NULL)
		{
			int64		age;

			at = (TimestampTz) pg_atomic_read_u64(check->slot);
			age = GetCurrentTimestamp() - at;

			breached = age > check->max_age_us;
			value = psprintf("%.0f s", (double) age / USECS_PER_SEC);
		}
		else if (strcmp(check->kind, "freshness") == 0 && strcmp(value, "unknown") != 0)
			value = psprintf("%s s", value);
		if (!breached)
			continue;
		ereport(gate_mode == GATE_ERROR ? ERROR : WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product \"%s\" breaches its %s SLO \"%s\"",
						product->qualname, check->kind, check->slo),
				 errdetail("Measured %s; the target is %s.", value, check->target),
				 errhint("meshpg.slo_gate is \"%s\"; see meshpg.slo_status.",
						 gate_mode == GATE_ERROR ? "error" : "warn")));
	}
}

void
mesh_slo_gate_init(void)
{
	DefineCustomEnumVariable("meshpg.slo_gate",
							 "Warns about or refuses reads of products that breach a freshness or completeness SLO.",
							 "off, warn or error.",
							 &gate_mode,
							 GATE_OFF,
							 gate_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/* The transaction that changed SLO state aborted: what we loaded is void. */
void
mesh_slo_gate_invalidate(void)
{
	gate_stale = true;
}

/* Statement trigger on meshpg.cat_slo: gate caches drop at commit. */
Datum
meshpg_slo_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._slo_changed() must be called as a trigger")));
	gate_stale = true;
	mesh_slo_state_changed();
	PG_RETURN_POINTER(NULL);
}

/*
 * Whether the rows of an UPDATE's transition tables differ in what a
 * worker's gate decides on: which SLO, of which product and kind, met or
 * not.  A measurement that leaves every status as it was changes nothing.
 */
static bool
gate_state_changed(TriggerData *trigdata)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	TupleTableSlot *o = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	TupleTableSlot *n = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	bool		changed = false;

	/*
	 * The tables hold the updated rows in the same order (one entry per
	 * row updated, old and new side by side).
	 */
	tuplestore_rescan(trigdata->tg_oldtable);
	tuplestore_rescan(trigdata->tg_newtable);
	while (!changed)
	{
		bool		have_o = tuplestore_gettupleslot(trigdata->tg_oldtable, true, false, o);
		bool		have_n = tuplestore_gettupleslot(trigdata->tg_newtable, true, false, n);
		static const AttrNumber keys[] = {1, Anum_slo_product_id, Anum_slo_kind,
		Anum_slo_spec, Anum_slo_last_met};

		if (have_o != have_n)
			changed = true;
		if (!have_o || !have_n)
			break;
		for (int k = 0; k < (int) lengthof(keys) && !changed; k++)
		{
			bool		onull;
			bool		nnull;
			Datum		ov = slot_getattr(o, keys[k], &onull);
			Datum		nv = slot_getattr(n, keys[k], &nnull);
			Form_pg_attribute att = TupleDescAttr(desc, keys[k] - 1);

			changed = onull != nnull ||
				(!onull && !datumIsEqual(ov, nv, att->attbyval, att->attlen));
		}
	}
	ExecDropSingleTupleTableSlot(o);
	ExecDropSingleTupleTableSlot(n);
	return changed;
}

/*
 * Statement triggers on meshpg.cat_slo (sql/1.4/15-citus.sql): on a Citus
 * coordinator, the workers' read gates learn a status that changed (or an
 * SLO dropped) in the transaction that changed it, with the catalog.
 */
Datum
meshpg_citus_slo_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const MeshCatalog *cat = mesh_catalog();

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._citus_slo_changed() must be called as a trigger")));
	if (cat == NULL || !mesh_citus_active() || mesh_citus_is_worker())
		PG_RETURN_POINTER(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) &&
		trigdata->tg_oldtable != NULL && trigdata->tg_newtable != NULL &&
		!gate_state_changed(trigdata))
		PG_RETURN_POINTER(NULL);
	mesh_citus_catalog_changed(cat->product_rel);
	PG_RETURN_POINTER(NULL);
}

/* SLO measurements are visible to whoever may read the product. */
Datum
meshpg_may_read_product(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	const MeshProduct *product = mesh_product_by_relid(relid);
	Oid			user = GetUserId();

	if (product == NULL)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(mesh_is_admin(user) || mesh_may_read(product, user, false));
}
