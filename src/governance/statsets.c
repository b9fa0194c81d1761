/*
 * statsets.c
 *		Governed statistics: what the planner may know of a filtered or
 *		masked product, computed only from what the reader may see.
 *
 * stats.c withholds pg_statistic from a reader whose rows are filtered or
 * whose columns are masked: its most common values, histogram bounds and
 * distinct counts describe every row, raw.  Without them the planner falls
 * back to default selectivities and plans scans and joins blind.  Here,
 * meshpg computes statistics of its own per product and per row-policy
 * *specialisation*: the readers whose filters and masks compile to the same
 * expressions (policy/compile.c, MeshRules.spec_key) see the same rows and
 * values, and share one set.  A set is computed from a sample of the table,
 * keeping the rows that specialisation's filter leaves and, for a masked
 * column, the masked values: its estimates tell a reader nothing it could
 * not learn by querying the product.  PostgreSQL's own machinery computes
 * them (each type's typanalyze and compute_stats, as ANALYZE runs them),
 * and they are kept in meshpg.cat_stat_set / cat_stat_column.
 *
 * Who computes: the background worker (its task "stats_refresh") after
 * PostgreSQL analyses the product or when a specialisation appears or
 * changes, and meshpg.refresh_statistics(); never the reader's query.  The
 * specialisations are those of the roles that may read the product (one
 * compile per role, alone, without a purpose); at most
 * meshpg.max_stat_specialisations are kept per product, the most shared
 * first.  The filter and masks are evaluated as the catalog owner, and only
 * when they call nothing but PostgreSQL's and meshpg's functions (a team's
 * function would run there with the owner's rights); otherwise that
 * specialisation, or that masked column, stays withheld.
 *
 * What is served (stats.c): the columns' statistics, the relation's row
 * count scaled to the rows the specialisation sees, the columns' average
 * widths.  Extended statistics and expression indexes' statistics stay
 * withheld.  The indexes of a served relation are marked hypothetical for
 * the planner, which then never reads their actual end values (raw, of
 * every row) to refine a histogram's ends.  Partitioned and inheritance
 * products, views and Citus tables stay withheld.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/xlog.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"

PG_FUNCTION_INFO_V1(meshpg_refresh_statistics);

int			mesh_max_stat_specialisations = 8;

/*
 * Sets served to planner calls under way (stats.c counts them): while any
 * is, the cache is not reset under them (a function run while planning may
 * plan a query of its own), and a stale cache serves nothing new.
 */
int			mesh_stat_sets_pinned = 0;

/* ----------------------------------------------------------------------
 * The backend's cache of sets, by (relation, specialisation)
 * ---------------------------------------------------------------------- */

typedef struct SetKey
{
	Oid			relid;
	uint64		spec_key;
} SetKey;

typedef struct CachedSet
{
	SetKey		key;
	MeshStatSet set;			/* set.id == 0: none kept (negative entry) */
} CachedSet;

static HTAB *set_cache = NULL;
static MemoryContext set_cxt = NULL;
static bool set_cache_stale = false;
static uint64 set_cache_generation = 0;

/* OIDs of the tables, looked up again with every catalog generation */
static uint64 oids_generation = (uint64) -1;
static Oid	set_rel = InvalidOid;
static Oid	set_key_idx = InvalidOid;
static Oid	column_rel = InvalidOid;
static Oid	column_pkey = InvalidOid;

static TupleDesc statistic_desc = NULL;

static void
lookup_oids(void)
{
	const MeshCatalog *cat = mesh_catalog();

	if (oids_generation == mesh_catalog_generation() && cat != NULL)
		return;
	set_rel = set_key_idx = column_rel = column_pkey = InvalidOid;
	if (cat != NULL)
	{
		set_rel = get_relname_relid("cat_stat_set", cat->nsp);
		set_key_idx = get_relname_relid("cat_stat_set_relid_spec_key_key", cat->nsp);
		column_rel = get_relname_relid("cat_stat_column", cat->nsp);
		column_pkey = get_relname_relid("cat_stat_column_pkey", cat->nsp);
	}
	oids_generation = mesh_catalog_generation();
}

/* A refresh anywhere (or DROP EXTENSION) makes every backend read again. */
static void
statsets_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CachedSet  *entry;

	if (set_cache == NULL || set_cache_stale)
		return;
	if (!OidIsValid(relid) || relid == set_rel || relid == column_rel)
	{
		set_cache_stale = true;
		return;
	}
	/* a product's relation changed (a column's type): read its sets again */
	hash_seq_init(&status, set_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->key.relid == relid)
		{
			set_cache_stale = true;
			hash_seq_term(&status);
			break;
		}
}

void
mesh_define_stat_settings(void)
{
	DefineCustomIntVariable("meshpg.max_stat_specialisations",
							"Governed statistics kept per data product: one set per row-policy specialisation, at most this many.",
							"The specialisations shared by the most readers are kept; a reader of another one plans without statistics (withheld). 0 turns governed statistics off.",
							&mesh_max_stat_specialisations,
							8, 0, 64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(statsets_relcache_callback, (Datum) 0);
}

static void
reset_cache(void)
{
	HASHCTL		ctl;

	if (set_cxt == NULL)
		set_cxt = AllocSetContextCreate(CacheMemoryContext, "meshpg statistic sets",
										ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(set_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(SetKey);
	ctl.entrysize = sizeof(CachedSet);
	ctl.hcxt = set_cxt;
	set_cache = hash_create("meshpg statistic sets", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	set_cache_stale = false;
	set_cache_generation = mesh_catalog_generation();
}

static TupleDesc
pg_statistic_desc(void)
{
	if (statistic_desc == NULL)
	{
		Relation	rel = table_open(StatisticRelationId, AccessShareLock);
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		statistic_desc = CreateTupleDescCopy(RelationGetDescr(rel));
		MemoryContextSwitchTo(old);
		table_close(rel, AccessShareLock);
	}
	return statistic_desc;
}

/*
 * An array kept in its send format, received again; NULL when its element
 * type is gone or cannot be received (a set restored into another cluster).
 */
static Datum
receive_array(bytea *data, bool *ok)
{
	StringInfoData buf;
	Oid			elemtype;

	*ok = false;
	if (VARSIZE_ANY_EXHDR(data) < 12)
		return (Datum) 0;
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 8;
	elemtype = (Oid) pq_getmsgint(&buf, 4);
	buf.cursor = 0;
	{
		HeapTuple	typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(elemtype));
		bool		receivable;

		if (!HeapTupleIsValid(typtup))
			return (Datum) 0;
		receivable = OidIsValid(((Form_pg_type) GETSTRUCT(typtup))->typreceive);
		ReleaseSysCache(typtup);
		if (!receivable)
			return (Datum) 0;
	}
	*ok = true;
	return OidFunctionCall3(F_ARRAY_RECV, PointerGetDatum(&buf),
							ObjectIdGetDatum(elemtype), Int32GetDatum(-1));
}

/*
 * A column row of a set as a pg_statistic tuple of relid; NULL when it no
 * longer fits the column (its type changed) or cannot be read back.
 */
static HeapTuple
column_tuple(Oid relid, TupleDesc setdesc, HeapTuple row, Relation rel)
{
	Datum		cv[Natts_pg_statistic];
	bool		cn[Natts_pg_statistic];
	bool		isnull;
	int16		attnum = DatumGetInt16(heap_getattr(row, 2, setdesc, &isnull));
	Oid			atttypid = DatumGetObjectId(heap_getattr(row, 3, setdesc, &isnull));
	ArrayType  *kinds;
	ArrayType  *ops;
	ArrayType  *colls;
	Datum	   *kindv;
	Datum	   *opv;
	Datum	   *collv;
	int			n;

	if (attnum < 1 || attnum > RelationGetNumberOfAttributes(rel))
		return NULL;
	if (TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attisdropped ||
		TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != atttypid)
		return NULL;

	memset(cn, false, sizeof(cn));
	cv[Anum_pg_statistic_starelid - 1] = ObjectIdGetDatum(relid);
	cv[Anum_pg_statistic_staattnum - 1] = Int16GetDatum(attnum);
	cv[Anum_pg_statistic_stainherit - 1] = BoolGetDatum(false);
	cv[Anum_pg_statistic_stanullfrac - 1] = heap_getattr(row, 5, setdesc, &isnull);
	cv[Anum_pg_statistic_stawidth - 1] = heap_getattr(row, 6, setdesc, &isnull);
	cv[Anum_pg_statistic_stadistinct - 1] = heap_getattr(row, 7, setdesc, &isnull);
	kinds = DatumGetArrayTypeP(heap_getattr(row, 8, setdesc, &isnull));
	ops = DatumGetArrayTypeP(heap_getattr(row, 9, setdesc, &isnull));
	colls = DatumGetArrayTypeP(heap_getattr(row, 10, setdesc, &isnull));
	deconstruct_array(kinds, INT2OID, 2, true, TYPALIGN_SHORT, &kindv, NULL, &n);
	if (n != STATISTIC_NUM_SLOTS)
		return NULL;
	deconstruct_array(ops, OIDOID, 4, true, TYPALIGN_INT, &opv, NULL, &n);
	if (n != STATISTIC_NUM_SLOTS)
		return NULL;
	deconstruct_array(colls, OIDOID, 4, true, TYPALIGN_INT, &collv, NULL, &n);
	if (n != STATISTIC_NUM_SLOTS)
		return NULL;
	for (int k = 0; k < STATISTIC_NUM_SLOTS; k++)
	{
		Datum		d;

		cv[Anum_pg_statistic_stakind1 - 1 + k] = kindv[k];
		cv[Anum_pg_statistic_staop1 - 1 + k] = opv[k];
		cv[Anum_pg_statistic_stacoll1 - 1 + k] = collv[k];
		d = heap_getattr(row, 11 + k, setdesc, &isnull);
		cv[Anum_pg_statistic_stanumbers1 - 1 + k] = isnull ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
		cn[Anum_pg_statistic_stanumbers1 - 1 + k] = isnull;
		d = heap_getattr(row, 16 + k, setdesc, &isnull);
		if (isnull)
		{
			cv[Anum_pg_statistic_stavalues1 - 1 + k] = (Datum) 0;
			cn[Anum_pg_statistic_stavalues1 - 1 + k] = true;
		}
		else
		{
			bool		ok;

			cv[Anum_pg_statistic_stavalues1 - 1 + k] =
				receive_array(DatumGetByteaPP(d), &ok);
			if (!ok)
				return NULL;
		}
	}
	return heap_form_tuple(pg_statistic_desc(), cv, cn);
}

/* Reads one set from the catalog into the cache's context. */
static void
load_set(Oid relid, uint64 spec_key, MeshStatSet *out)
{
	Relation	srel;
	Relation	crel;
	Relation	rel;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;

	memset(out, 0, sizeof(MeshStatSet));
	lookup_oids();
	if (!OidIsValid(set_rel) || !OidIsValid(set_key_idx) ||
		!OidIsValid(column_rel) || !OidIsValid(column_pkey))
		return;

	srel = table_open(set_rel, AccessShareLock);
	/* heap attribute numbers: relid, spec_key */
	ScanKeyInit(&keys[0], 3, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], 4, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum((int64) spec_key));
	scan = systable_beginscan(srel, set_key_idx, true, NULL, 2, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		TupleDesc	d = RelationGetDescr(srel);

		out->id = DatumGetInt64(heap_getattr(tup, 1, d, &isnull));
		out->readers = DatumGetInt32(heap_getattr(tup, 5, d, &isnull));
		out->sample_rows = DatumGetInt32(heap_getattr(tup, 7, d, &isnull));
		out->visible_rows = DatumGetInt32(heap_getattr(tup, 8, d, &isnull));
		out->tuples = DatumGetFloat8(heap_getattr(tup, 9, d, &isnull));
		out->computed_at = DatumGetTimestampTz(heap_getattr(tup, 10, d, &isnull));
	}
	systable_endscan(scan);
	table_close(srel, AccessShareLock);
	if (out->id == 0)
		return;

	rel = relation_open(relid, AccessShareLock);
	out->natts = RelationGetNumberOfAttributes(rel);
	old = MemoryContextSwitchTo(set_cxt);
	out->columns = palloc0(sizeof(HeapTuple) * (out->natts + 1));
	out->widths = palloc0(sizeof(int32) * (out->natts + 1));
	MemoryContextSwitchTo(old);

	crel = table_open(column_rel, AccessShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(out->id));
	scan = systable_beginscan(crel, column_pkey, true, NULL, 1, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		HeapTuple	st = column_tuple(relid, RelationGetDescr(crel), tup, rel);

		if (st != NULL)
		{
			Form_pg_statistic s = (Form_pg_statistic) GETSTRUCT(st);

			old = MemoryContextSwitchTo(set_cxt);
			out->columns[s->staattnum] = heap_copytuple(st);
			out->widths[s->staattnum] = s->stawidth;
			MemoryContextSwitchTo(old);
		}
	}
	systable_endscan(scan);
	table_close(crel, AccessShareLock);
	relation_close(rel, AccessShareLock);
}

/*
 * Whether relid's product can have governed statistics at all: a plain
 * table or materialized view, itself the product, not a Citus table, with
 * no children (the children would be planned from their own statistics).
 */
static bool
eligible(const MeshProduct *product, Oid relid, const char **why)
{
	char		relkind = get_rel_relkind(relid);

	if (product->relid != relid || product->inherited)
		*why = "a partition or child of a data product";
	else if (product->citus_table)
		*why = "a Citus table";
	else if (relkind == RELKIND_VIEW)
		*why = "a view";
	else if (relkind == RELKIND_PARTITIONED_TABLE)
		*why = "a partitioned table";
	else if (relkind == RELKIND_FOREIGN_TABLE)
		*why = "a foreign table";
	else if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW)
		*why = "this kind of relation";
	else if (has_subclass(relid))
		*why = "a table with inheritance children";
	else
	{
		*why = NULL;
		return true;
	}
	return false;
}

/*
 * The set kept for the reader's rules on relid, or NULL: then the planner
 * gets no statistics (stats.c withholds them).
 */
const MeshStatSet *
mesh_stat_set_lookup(Oid relid, const MeshRules *rules)
{
	const MeshProduct *product;
	const char *why;
	SetKey		key;
	CachedSet  *entry;
	bool		found;

	if (!rules->any || !rules->spec_ok || mesh_max_stat_specialisations <= 0)
		return NULL;
	if (set_cache == NULL || set_cache_stale ||
		set_cache_generation != mesh_catalog_generation())
	{
		if (set_cache != NULL && mesh_stat_sets_pinned > 0)
			return NULL;
		reset_cache();
	}
	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.spec_key = rules->spec_key;
	entry = hash_search(set_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		MeshStatSet loaded;

		product = mesh_product_by_relid(relid);
		if (product == NULL || !eligible(product, relid, &why))
			memset(&loaded, 0, sizeof(loaded));
		else
			load_set(relid, rules->spec_key, &loaded);
		/* loading takes locks, which accept invalidations */
		if (set_cache_stale || set_cache_generation != mesh_catalog_generation())
			return NULL;
		entry = hash_search(set_cache, &key, HASH_ENTER, &found);
		entry->set = loaded;
	}
	return entry->set.id != 0 ? &entry->set : NULL;
}

/* ----------------------------------------------------------------------
 * Computing sets
 * ---------------------------------------------------------------------- */

/* One specialisation found among the roles that may read the product. */
typedef struct Spec
{
	uint64		key;
	MeshRules	rules;
	int			readers;
} Spec;

static int
spec_cmp(const ListCell *a, const ListCell *b)
{
	const Spec *x = lfirst(a);
	const Spec *y = lfirst(b);

	if (x->readers != y->readers)
		return x->readers > y->readers ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key ? 1 : 0;
}

static bool
may_read(const MeshProduct *product, Oid role)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (has_privs_of_role(role, product->domain_owner))
		return true;
	for (int i = 0; i < product->ngrants; i++)
	{
		const MeshGrant *g = &product->grants[i];

		if ((!g->has_expiry || g->expires_at > now) && has_privs_of_role(role, g->grantee))
			return true;
	}
	return false;
}

/*
 * The specialisations of the roles that may read relid (each compiled
 * alone, without a purpose), the most shared first, all of them; and how
 * many roles read it with no policy applying.
 */
static List *
enumerate_specs(Oid relid, int natts)
{
	Relation	authrel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *roles = NIL;
	List	   *specs = NIL;
	ListCell   *lc;

	authrel = table_open(AuthIdRelationId, AccessShareLock);
	scan = systable_beginscan(authrel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_authid a = (Form_pg_authid) GETSTRUCT(tup);

		if (!a->rolsuper)
			roles = lappend_oid(roles, a->oid);
	}
	systable_endscan(scan);
	table_close(authrel, AccessShareLock);

	foreach(lc, roles)
	{
		Oid			role = lfirst_oid(lc);
		const MeshProduct *product = mesh_product_by_relid(relid);
		MeshRules	rules;
		ListCell   *sc;
		bool		found = false;

		if (product == NULL)
			break;
		if (!may_read(product, role))
			continue;
		if (!mesh_compile_rules_for_role(product, relid, natts, role, &rules) ||
			!rules.spec_ok)
			continue;
		foreach(sc, specs)
		{
			Spec	   *s = lfirst(sc);

			if (s->key == rules.spec_key)
			{
				s->readers++;
				found = true;
				break;
			}
		}
		if (!found)
		{
			Spec	   *s = palloc0(sizeof(Spec));

			s->key = rules.spec_key;
			s->rules = rules;
			s->readers = 1;
			specs = lappend(specs, s);
		}
	}
	list_sort(specs, spec_cmp);
	return specs;
}

static int
compare_rows(const void *a, const void *b)
{
	HeapTuple	ha = *(const HeapTuple *) a;
	HeapTuple	hb = *(const HeapTuple *) b;

	return ItemPointerCompare(&ha->t_self, &hb->t_self);
}

/*
 * A random sample of up to targrows live rows of rel, in physical order
 * (the correlation is computed from it): blocks chosen at random, then a
 * reservoir over their rows, with PostgreSQL's samplers (utils/sampling.h)
 * and the table access method's analyze scan.  *totalrows: the table's
 * live rows, estimated from the blocks read.
 */
static int
sample_rows(Relation rel, int targrows, HeapTuple *rows, double *totalrows)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BlockSamplerData bs;
	ReservoirStateData rs;
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_VACUUM);
	TransactionId oldest = GetOldestNonRemovableTransactionId(rel);
	TableScanDesc scan;
	TupleTableSlot *slot;
	double		live = 0;
	double		dead = 0;
	double		seen = 0;
	double		skip = -1;
	BlockNumber read = 0;
	int			n = 0;

	*totalrows = 0;
	if (nblocks == 0)
		return 0;
	(void) BlockSampler_Init(&bs, nblocks, targrows, pg_prng_uint32(&pg_global_prng_state));
	reservoir_init_selection_state(&rs, targrows);
	scan = table_beginscan_analyze(rel);
	slot = table_slot_create(rel, NULL);
	while (BlockSampler_HasMore(&bs))
	{
		BlockNumber block = BlockSampler_Next(&bs);

		vacuum_delay_point();
		read++;
		if (!table_scan_analyze_next_block(scan, block, strategy))
			continue;
		while (table_scan_analyze_next_tuple(scan, oldest, &live, &dead, slot))
		{
			if (n < targrows)
				rows[n++] = ExecCopySlotHeapTuple(slot);
			else
			{
				/* Vitter's algorithm Z: how many rows to pass over next */
				if (skip < 0)
					skip = reservoir_get_next_S(&rs, seen, targrows);
				if (skip <= 0)
				{
					int			k = (int) (targrows * sampler_random_fract(&rs.randstate));

					heap_freetuple(rows[k]);
					rows[k] = ExecCopySlotHeapTuple(slot);
				}
				skip -= 1;
			}
			seen += 1;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	FreeAccessStrategy(strategy);
	if (n == targrows)
		qsort(rows, n, sizeof(HeapTuple), compare_rows);
	if (read > 0)
		*totalrows = floor(live / read * nblocks + 0.5);
	return n;
}

/* The values of one column over the visible sample, for compute_stats. */
static Datum
fetch_value(VacAttrStatsP stats, int rownum, bool *isNull)
{
	*isNull = stats->exprnulls[rownum];
	return stats->exprvals[rownum];
}

static bool
mask_evaluable(Expr *mask, Oid atttypid)
{
	return exprType((Node *) mask) == atttypid;
}

static bool
refused_function(Oid funcid, void *context)
{
	return !mesh_spec_function_ok(funcid);
}

static bool
expr_functions_refused(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink) || IsA(node, Query) || IsA(node, Param))
		return true;
	if (check_functions_in_node(node, refused_function, context))
		return true;
	return expression_tree_walker(node, expr_functions_refused, context);
}

/* A column's statistics as a row of cat_stat_column (values, nulls). */
#define COLUMN_NATTS 20

static bool
compute_column(Form_pg_attribute att, bool masked, Datum *values, bool *nulls, int nvisible,
			   double tuples, MemoryContext cxt, Datum *row, bool *rownulls)
{
	VacAttrStats *st = palloc0(sizeof(VacAttrStats));
	HeapTuple	typtup;
	Form_pg_type typ;
	bool		ok;
	Datum		kinds[STATISTIC_NUM_SLOTS];
	Datum		ops[STATISTIC_NUM_SLOTS];
	Datum		colls[STATISTIC_NUM_SLOTS];

	if (att->attstattarget == 0)
		return false;
	typtup = SearchSysCacheCopy1(TYPEOID, ObjectIdGetDatum(att->atttypid));
	if (!HeapTupleIsValid(typtup))
		return false;
	typ = (Form_pg_type) GETSTRUCT(typtup);
	st->attr = palloc(ATTRIBUTE_FIXED_PART_SIZE);
	memcpy(st->attr, att, ATTRIBUTE_FIXED_PART_SIZE);
	st->attrtypid = att->atttypid;
	st->attrtypmod = att->atttypmod;
	st->attrtype = typ;
	st->attrcollid = att->attcollation;
	st->anl_context = cxt;
	for (int k = 0; k < STATISTIC_NUM_SLOTS; k++)
	{
		st->statypid[k] = att->atttypid;
		st->statyplen[k] = typ->typlen;
		st->statypbyval[k] = typ->typbyval;
		st->statypalign[k] = typ->typalign;
	}
	st->tupattnum = att->attnum;
	st->exprvals = values;
	st->exprnulls = nulls;
	st->rowstride = 1;
	if (OidIsValid(typ->typanalyze))
		ok = DatumGetBool(OidFunctionCall1(typ->typanalyze, PointerGetDatum(st)));
	else
		ok = std_typanalyze(st);
	if (!ok || st->compute_stats == NULL || st->minrows <= 0)
		return false;
	st->compute_stats(st, fetch_value, nvisible, tuples);
	if (!st->stats_valid)
		return false;

	memset(rownulls, false, sizeof(bool) * COLUMN_NATTS);
	row[1] = Int16GetDatum(att->attnum);
	row[2] = ObjectIdGetDatum(att->atttypid);
	row[3] = BoolGetDatum(masked);
	row[4] = Float4GetDatum(st->stanullfrac);
	row[5] = Int32GetDatum(st->stawidth);
	row[6] = Float4GetDatum(st->stadistinct);
	for (int k = 0; k < STATISTIC_NUM_SLOTS; k++)
	{
		kinds[k] = Int16GetDatum(st->stakind[k]);
		ops[k] = ObjectIdGetDatum(st->staop[k]);
		colls[k] = ObjectIdGetDatum(st->stacoll[k]);
	}
	row[7] = PointerGetDatum(construct_array(kinds, STATISTIC_NUM_SLOTS, INT2OID, 2, true, TYPALIGN_SHORT));
	row[8] = PointerGetDatum(construct_array(ops, STATISTIC_NUM_SLOTS, OIDOID, 4, true, TYPALIGN_INT));
	row[9] = PointerGetDatum(construct_array(colls, STATISTIC_NUM_SLOTS, OIDOID, 4, true, TYPALIGN_INT));
	for (int k = 0; k < STATISTIC_NUM_SLOTS; k++)
	{
		if (st->numnumbers[k] > 0)
		{
			Datum	   *nums = palloc(sizeof(Datum) * st->numnumbers[k]);

			for (int i = 0; i < st->numnumbers[k]; i++)
				nums[i] = Float4GetDatum(st->stanumbers[k][i]);
			row[10 + k] = PointerGetDatum(construct_array(nums, st->numnumbers[k], FLOAT4OID,
														  sizeof(float4), true, TYPALIGN_INT));
		}
		else
			rownulls[10 + k] = true;
		if (st->numvalues[k] > 0)
		{
			Oid			send;
			bool		isvarlena;
			ArrayType  *arr;

			getTypeBinaryOutputInfo(st->statypid[k], &send, &isvarlena);
			arr = construct_array(st->stavalues[k], st->numvalues[k], st->statypid[k],
								  st->statyplen[k], st->statypbyval[k], st->statypalign[k]);
			row[15 + k] = OidFunctionCall1(F_ARRAY_SEND, PointerGetDatum(arr));
		}
		else
			rownulls[15 + k] = true;
	}
	return true;
}

static const char *insert_set_sql =
"INSERT INTO meshpg.cat_stat_set (product_id, relid, spec_key, readers, filtered,"
" sample_rows, visible_rows, tuples) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

static const char *insert_column_sql =
"INSERT INTO meshpg.cat_stat_column VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
" $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

static const Oid column_types[COLUMN_NATTS] = {
	INT8OID, INT2OID, OIDOID, BOOLOID, FLOAT4OID, INT4OID, FLOAT4OID,
	INT2ARRAYOID, OIDARRAYOID, OIDARRAYOID,
	FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID,
	BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID
};

/*
 * Computes and stores the set of one specialisation from the sample.  Runs
 * as the catalog owner, in a restricted security context: the filter and
 * masks call only PostgreSQL's and meshpg's functions (checked by the
 * compiler and here).
 */
static void
compute_set(const MeshProduct *product, Relation rel, Spec *spec, HeapTuple *rows, int nrows,
			double totalrows)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = desc->natts;
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	ExprState  *qual = ExecPrepareQual(spec->rules.quals, estate);
	ExprState **masks = palloc0(sizeof(ExprState *) * (natts + 1));
	bool	   *skip = palloc0(sizeof(bool) * (natts + 1));
	Datum	  **values = palloc0(sizeof(Datum *) * (natts + 1));
	bool	  **nulls = palloc0(sizeof(bool *) * (natts + 1));
	int16	   *typlen = palloc0(sizeof(int16) * (natts + 1));
	bool	   *typbyval = palloc0(sizeof(bool) * (natts + 1));
	int			nvisible = 0;
	double		tuples;
	int64		set_id;
	MeshSpiState spi;
	Datum		args[COLUMN_NATTS];
	bool		argnulls[COLUMN_NATTS];
	char		nullchars[COLUMN_NATTS + 1];
	Oid			settypes[8] = {INT8OID, OIDOID, INT8OID, INT4OID, BOOLOID, INT4OID, INT4OID, FLOAT8OID};
	Datum		setargs[8];
	char	   *id;
	MemoryContext cxt = CurrentMemoryContext;

	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Expr	   *mask = spec->rules.masks[i];

		get_typlenbyval(att->atttypid, &typlen[i], &typbyval[i]);
		if (att->attisdropped)
			skip[i] = true;
		else if (mask != NULL)
		{
			/* a mask that cannot be evaluated here leaves its column withheld */
			if (!mask_evaluable(mask, att->atttypid) || expr_functions_refused((Node *) mask, NULL))
				skip[i] = true;
			else
				masks[i] = ExecPrepareExpr(mask, estate);
		}
		if (!skip[i])
		{
			values[i] = palloc(sizeof(Datum) * (nrows + 1));
			nulls[i] = palloc(sizeof(bool) * (nrows + 1));
		}
	}

	for (int r = 0; r < nrows; r++)
	{
		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		ExecStoreHeapTuple(rows[r], slot, false);
		econtext->ecxt_scantuple = slot;
		if (qual != NULL && !ExecQual(qual, econtext))
			continue;
		for (int i = 0; i < natts; i++)
		{
			Datum		v;
			bool		isnull;

			if (skip[i])
				continue;
			if (masks[i] != NULL)
			{
				v = ExecEvalExprSwitchContext(masks[i], econtext, &isnull);
				if (!isnull)
					v = datumCopy(v, typbyval[i], typlen[i]);
			}
			else
				v = slot_getattr(slot, i + 1, &isnull);
			values[i][nvisible] = isnull ? (Datum) 0 : v;
			nulls[i][nvisible] = isnull;
		}
		nvisible++;
	}
	ExecDropSingleTupleTableSlot(slot);

	tuples = nrows > 0 ? floor(totalrows * nvisible / nrows + 0.5) : 0;

	/* the set itself */
	mesh_spi_begin(&spi);
	setargs[0] = Int64GetDatum(product->id);
	setargs[1] = ObjectIdGetDatum(RelationGetRelid(rel));
	setargs[2] = Int64GetDatum((int64) spec->key);
	setargs[3] = Int32GetDatum(spec->readers);
	setargs[4] = BoolGetDatum(spec->rules.quals != NIL);
	setargs[5] = Int32GetDatum(nrows);
	setargs[6] = Int32GetDatum(nvisible);
	setargs[7] = Float8GetDatum(tuples);
	mesh_spi_exec("DELETE FROM meshpg.cat_stat_set WHERE relid::oid = $1 AND spec_key = $2",
				  2, (Oid[]) {OIDOID, INT8OID}, (Datum[]) {setargs[1], setargs[2]}, NULL);
	id = mesh_spi_first_value(insert_set_sql, 8, settypes, setargs);
	set_id = pg_strtoint64(id);
	mesh_spi_end(&spi);

	/* compute_stats needs rows; a set without any keeps no column rows */
	for (int i = 0; i < natts && nvisible > 0; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (skip[i])
			continue;
		if (!compute_column(att, masks[i] != NULL, values[i], nulls[i], nvisible, tuples,
							cxt, args, argnulls))
			continue;
		args[0] = Int64GetDatum(set_id);
		for (int k = 0; k < COLUMN_NATTS; k++)
			nullchars[k] = argnulls[k] ? 'n' : ' ';
		nullchars[COLUMN_NATTS] = '\0';
		mesh_spi_begin(&spi);
		mesh_spi_exec(insert_column_sql, COLUMN_NATTS, (Oid *) column_types, args, nullchars);
		mesh_spi_end(&spi);
	}
	FreeExecutorState(estate);
}

static void
compute_sets(const MeshProduct *product, Relation rel, List *kept, HeapTuple *rows,
			 int nrows, double totalrows)
{
	ListCell   *lc;

	foreach(lc, kept)
	{
		MemoryContext spec_cxt = AllocSetContextCreate(CurrentMemoryContext,
													   "meshpg statistic set",
													   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(spec_cxt);

		compute_set(product, rel, lfirst(lc), rows, nrows, totalrows);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(spec_cxt);
	}
}

/*
 * Samples rel once and computes each kept specialisation's set from the
 * sample.  The filter and masks run as the catalog owner, restricted.
 */
static void
sample_and_compute(const MeshProduct *product, Relation rel, List *kept)
{
	const MeshCatalog *cat = mesh_catalog();
	int			targrows = 0;
	HeapTuple  *rows;
	int			nrows;
	double		totalrows;
	Oid			save_userid;
	int			save_sec;

	for (int i = 0; i < RelationGetNumberOfAttributes(rel); i++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), i);
		int			target = att->attstattarget < 0 ? default_statistics_target : att->attstattarget;

		if (!att->attisdropped)
			targrows = Max(targrows, 300 * target);
	}
	targrows = Max(targrows, 300);
	rows = palloc(sizeof(HeapTuple) * targrows);
	nrows = sample_rows(rel, targrows, rows, &totalrows);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(cat->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		compute_sets(product, rel, kept, rows, nrows, totalrows);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

/*
 * Computes the governed statistics of relid's product: one set per
 * specialisation kept, and none for the ones no reader has any more.
 * Returns the number of sets kept.
 */
int
mesh_refresh_stat_sets(Oid relid)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	const MeshCatalog *cat = mesh_catalog();
	MeshProduct copy;
	Relation	rel;
	List	   *specs;
	List	   *kept = NIL;
	const char *why;
	MeshSpiState spi;
	ListCell   *lc;
	StringInfoData keys;

	lookup_oids();
	if (product == NULL || cat == NULL || !OidIsValid(set_rel))
		return 0;
	copy = *product;
	copy.qualname = pstrdup(product->qualname);

	/*
	 * As ANALYZE does: one refresh of a relation at a time (the worker's
	 * and refresh_statistics()'s would both write the same sets), writes
	 * and reads go on.
	 */
	rel = relation_open(relid, ShareUpdateExclusiveLock);
	if (eligible(&copy, relid, &why) && mesh_max_stat_specialisations > 0)
	{
		specs = enumerate_specs(relid, RelationGetNumberOfAttributes(rel));
		foreach(lc, specs)
			if (list_length(kept) < mesh_max_stat_specialisations)
				kept = lappend(kept, lfirst(lc));
	}

	initStringInfo(&keys);
	appendStringInfoChar(&keys, '{');
	foreach(lc, kept)
		appendStringInfo(&keys, "%s" INT64_FORMAT, foreach_current_index(lc) > 0 ? "," : "",
						 (int64) ((Spec *) lfirst(lc))->key);
	appendStringInfoChar(&keys, '}');

	/* the sets no reader has any more, or past the bound, go */
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_stat_set WHERE product_id = $1 AND "
				  "NOT (relid::oid = $2 AND spec_key = ANY ($3::bigint[]))",
				  3, (Oid[]) {INT8OID, OIDOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(copy.id), ObjectIdGetDatum(relid),
		CStringGetTextDatum(keys.data)}, NULL);
	mesh_spi_end(&spi);

	if (kept != NIL)
		sample_and_compute(&copy, rel, kept);
	relation_close(rel, NoLock);

	/* every backend reads the sets again */
	CacheInvalidateRelcacheByRelid(set_rel);
	return list_length(kept);
}

/*
 * meshpg.refresh_statistics(product): now, in this session, for the
 * governance team and the owning domain's team.
 */
Datum
meshpg_refresh_statistics(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;
	MeshProductRow row;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &row);
	mesh_spi_end(&spi);
	mesh_require_admin_or_member(GetUserId(), &row.domain);
	PG_RETURN_INT32(mesh_refresh_stat_sets(row.relid));
}

/*
 * The worker's task: refreshes one product whose sets are due, and says
 * whether there may be more.  Due: PostgreSQL analysed it (by hand or
 * autovacuum) since its sets were computed, or the specialisations of its
 * readers are not those kept (a policy, an attribute, a grant changed), or
 * a column's type changed.
 */
bool
mesh_stats_refresh_task(void)
{
	MeshSpiState spi;
	List	   *candidates = NIL;
	ListCell   *lc;

	static uint64 checked_generation = (uint64) -1;
	static uint64 checked_membership = (uint64) -1;
	uint64		generation;
	uint64		membership;
	bool		recheck;

	/* a standby's sets come from its primary */
	if (RecoveryInProgress() || mesh_catalog() == NULL)
		return false;
	lookup_oids();
	if (!OidIsValid(set_rel) || mesh_max_stat_specialisations <= 0)
		return false;

	/*
	 * The readers' specialisations change only with the catalog (policies,
	 * attributes, grants) or role memberships: compiled again for every
	 * role only after such a change, not every tick.
	 */
	generation = mesh_catalog_generation();
	membership = mesh_membership_generation();
	recheck = checked_generation != generation || checked_membership != membership;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT p.relid::oid, "
				  "       greatest(pg_catalog.pg_stat_get_last_analyze_time(p.relid),"
				  "                pg_catalog.pg_stat_get_last_autoanalyze_time(p.relid))"
				  "         > coalesce((SELECT pg_catalog.min(s.computed_at) FROM meshpg.cat_stat_set s"
				  "                      WHERE s.product_id = p.id), '-infinity'),"
				  "       coalesce((SELECT pg_catalog.array_agg(s.spec_key ORDER BY s.spec_key)::text"
				  "                   FROM meshpg.cat_stat_set s WHERE s.product_id = p.id), '{}'),"
				  "       EXISTS (SELECT 1 FROM meshpg.cat_stat_set s JOIN meshpg.cat_stat_column c ON c.set_id = s.id"
				  "                 JOIN pg_catalog.pg_attribute a ON a.attrelid = s.relid AND a.attnum = c.attnum"
				  "                WHERE s.product_id = p.id AND a.atttypid <> c.atttypid)"
				  "  FROM meshpg.cat_product p JOIN pg_catalog.pg_class c ON c.oid = p.relid"
				  " WHERE c.relkind IN ('r', 'm') ORDER BY p.id",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		analyzed;
		bool		retyped;
		Datum	   *c = palloc(sizeof(Datum) * 4);

		c[0] = SPI_getbinval(t, d, 1, &isnull);
		analyzed = DatumGetBool(SPI_getbinval(t, d, 2, &isnull)) && !isnull;
		c[1] = BoolGetDatum(analyzed);
		c[2] = CStringGetTextDatum(SPI_getvalue(t, d, 3));
		retyped = DatumGetBool(SPI_getbinval(t, d, 4, &isnull));
		c[3] = BoolGetDatum(retyped);
		candidates = lappend(candidates, c);
	}
	mesh_spi_end(&spi);

	foreach(lc, candidates)
	{
		Datum	   *c = lfirst(lc);
		Oid			relid = DatumGetObjectId(c[0]);
		const MeshProduct *product = mesh_product_by_relid(relid);
		bool		due = DatumGetBool(c[1]) || DatumGetBool(c[3]);
		const char *why;

		if (product == NULL || !eligible(product, relid, &why))
			continue;
		if (!due && recheck)
		{
			/* the specialisations kept against those of the readers now */
			Relation	rel = relation_open(relid, AccessShareLock);
			List	   *specs = enumerate_specs(relid, RelationGetNumberOfAttributes(rel));
			StringInfoData keys;
			List	   *sorted = NIL;
			ListCell   *sc;

			relation_close(rel, AccessShareLock);
			foreach(sc, specs)
				if (list_length(sorted) < mesh_max_stat_specialisations)
					sorted = lappend(sorted, lfirst(sc));
			/* as array_agg(... ORDER BY spec_key) prints them */
			{
				int			n = list_length(sorted);
				int64	   *k = palloc(sizeof(int64) * (n + 1));

				for (int j = 0; j < n; j++)
					k[j] = (int64) ((Spec *) list_nth(sorted, j))->key;
				for (int a = 1; a < n; a++)
					for (int b = a; b > 0 && k[b - 1] > k[b]; b--)
					{
						int64		x = k[b];

						k[b] = k[b - 1];
						k[b - 1] = x;
					}
				initStringInfo(&keys);
				appendStringInfoChar(&keys, '{');
				for (int j = 0; j < n; j++)
					appendStringInfo(&keys, "%s" INT64_FORMAT, j > 0 ? "," : "", k[j]);
				appendStringInfoChar(&keys, '}');
			}
			due = strcmp(keys.data, TextDatumGetCString(c[2])) != 0;
		}
		if (due)
		{
			(void) mesh_refresh_stat_sets(relid);
			return true;
		}
	}
	/* as they were when the pass began: a change during it is seen next time */
	checked_generation = generation;
	checked_membership = membership;
	return false;
}

/*
 * For explain_access (policy/explain.c, through its registration): which
 * statistics role's plans of relid use.
 */
void
mesh_describe_stats(const MeshProduct *product, Oid relid, Oid role,
					const char **effect, char **reason)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	int			natts = RelationGetNumberOfAttributes(rel);
	MeshRules	rules;
	const char *why;
	const MeshStatSet *set;

	relation_close(rel, AccessShareLock);
	if (!mesh_compile_rules_for_role(product, relid, natts, role, &rules))
	{
		*effect = "postgresql";
		*reason = pstrdup("no policy applies to the role");
		return;
	}
	product = mesh_product_by_relid(relid);
	if (product == NULL)
		elog(ERROR, "data product of relation %u vanished", relid);
	*effect = "withheld";
	if (!eligible(product, relid, &why))
		*reason = psprintf("not kept for %s", why);
	else if (!rules.spec_ok && rules.agg_rules != NIL)
		*reason = pstrdup("an aggregation or privacy policy applies");
	else if (!rules.spec_ok && rules.projected != NULL)
		*reason = pstrdup("a projection policy applies");
	else if (!rules.spec_ok)
		*reason = pstrdup("row filter with a subquery or a non-immutable call");
	else if (mesh_max_stat_specialisations <= 0)
		*reason = pstrdup("meshpg.max_stat_specialisations is 0");
	else if ((set = mesh_stat_set_lookup(relid, &rules)) == NULL)
		*reason = pstrdup("no set kept for the role's specialisation");
	else
	{
		*effect = "governed";
		/*
		 * The set and the rows it counts, which is what EXPLAIN shows the
		 * reader anyway; not the sample's size (with the visible rows in
		 * it, it would tell how many rows are hidden).
		 */
		*reason = psprintf("set %lld: %.0f rows", (long long) set->id, set->tuples);
	}
}
