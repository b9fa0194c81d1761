/*
 * propagate.c
 *		Tag propagation: a column of a registered product derived from a
 *		tagged column (through views, materialized views or recorded writes,
 *		via any number of relations that are not products) inherits the tag,
 *		and with it the tag's masks and row policies, until the governance
 *		team declassifies it, saying why.
 *
 * Propagated tags are ordinary rows of meshpg.cat_column_tag, so the
 * enforcement path (governance/compile.c) reads them like any other; a
 * record in meshpg.cat_tag_propagation says where each came from, and a
 * guard trigger refuses to delete such a tag unless meshpg.declassify is
 * doing it.  Propagation runs, in the transaction that makes it necessary,
 * after a column is tagged, a product registered, a lineage edge recorded
 * or a view created or replaced.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/lineage/lineage.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_propagate_trigger);
PG_FUNCTION_INFO_V1(meshpg_propagate_event);
PG_FUNCTION_INFO_V1(meshpg_propagate_tags);
PG_FUNCTION_INFO_V1(meshpg_column_tag_guard);
PG_FUNCTION_INFO_V1(meshpg_declassify);

static bool propagating = false;
static bool declassifying = false;
static bool callback_registered = false;

/* Both flags are set only for the length of one call: an abort ends it. */
static void
propagate_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		propagating = false;
		declassifying = false;
	}
}

static void
propagate_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		propagating = false;
		declassifying = false;
	}
}

static void
register_callbacks(void)
{
	if (callback_registered)
		return;
	RegisterXactCallback(propagate_xact_callback, NULL);
	RegisterSubXactCallback(propagate_subxact_callback, NULL);
	callback_registered = true;
}

/*
 * One step: from every tagged product column, along column derivations
 * through relations that are not products, to the next products' columns.
 * A partition's or inheritance child's rows are its parent's too: each of
 * its columns derives the parent's column of that name, so a write recorded
 * on the partition (INSERT INTO a partition directly, or a table loaded and
 * then attached) reaches a partitioned product.
 * Returns the products given a tag or a propagation record.
 */
#define PROPAGATE_STEP \
"WITH RECURSIVE e AS (" \
"  SELECT source::oid AS source, source_column, target::oid AS target, target_column" \
"    FROM meshpg._static_lineage(true) WHERE source_column IS NOT NULL" \
"  UNION SELECT source::oid, source_column, target::oid, target_column FROM meshpg.cat_lineage_column" \
"  UNION SELECT i.inhrelid, a.attname::text COLLATE \"default\", i.inhparent, a.attname::text COLLATE \"default\"" \
"    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute a" \
"      ON a.attrelid = i.inhparent AND a.attnum > 0 AND NOT a.attisdropped" \
"), products AS (SELECT id, relid::oid AS relid FROM meshpg.cat_product" \
"), reach (origin, origin_column, tag_id, value, rel, col, depth) AS (" \
"  SELECT ct.product_id, ct.column_name, ct.tag_id, ct.value, p.relid, ct.column_name, 0" \
"    FROM meshpg.cat_column_tag ct JOIN products p ON p.id = ct.product_id" \
"  UNION" \
"  SELECT r.origin, r.origin_column, r.tag_id, r.value, e.target, e.target_column, r.depth + 1" \
"    FROM reach r JOIN e ON e.source = r.rel AND e.source_column = r.col" \
"   WHERE r.depth < 32 AND (r.depth = 0 OR NOT EXISTS (SELECT 1 FROM products p WHERE p.relid = r.rel))" \
"), cand AS (" \
"  SELECT DISTINCT ON (p.id, r.col, r.tag_id) p.id AS product_id, r.col AS column_name, r.tag_id, r.value," \
"         sd.name || '.' || sp.name || '.' || r.origin_column AS source" \
"    FROM reach r JOIN products p ON p.relid = r.rel" \
"    JOIN meshpg.cat_product sp ON sp.id = r.origin JOIN meshpg.cat_domain sd ON sd.id = sp.domain_id" \
"   WHERE r.depth > 0 AND p.id <> r.origin" \
"     AND NOT EXISTS (SELECT 1 FROM meshpg.cat_declassification dc" \
"                      WHERE dc.product_id = p.id AND dc.column_name = r.col AND dc.tag_id = r.tag_id)" \
"   ORDER BY p.id, r.col, r.tag_id, r.depth, source" \
"), tagged AS (" \
"  INSERT INTO meshpg.cat_column_tag (product_id, column_name, tag_id, value, tagged_by)" \
"  SELECT product_id, column_name, tag_id, value, 'meshpg (propagated from ' || source || ')' FROM cand" \
"  ON CONFLICT DO NOTHING RETURNING product_id" \
"), noted AS (" \
"  INSERT INTO meshpg.cat_tag_propagation (product_id, column_name, tag_id, source)" \
"  SELECT product_id, column_name, tag_id, source FROM cand" \
"  ON CONFLICT DO NOTHING RETURNING product_id" \
") SELECT product_id FROM tagged UNION SELECT product_id FROM noted"

/* Runs propagation to a fixed point, as the catalog owner. */
int
mesh_propagate_tags(void)
{
	MeshSpiState spi;
	int			changed = 0;

	/* the extension's own script creates views: nothing to propagate yet */
	if (propagating || creating_extension || mesh_catalog() == NULL)
		return 0;
	register_callbacks();
	propagating = true;
	mesh_spi_begin(&spi);

	/* nothing tagged, nothing to propagate: the common case stays cheap */
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_column_tag LIMIT 1", 0, NULL, NULL, NULL);
	if (SPI_processed == 0)
	{
		mesh_spi_end(&spi);
		propagating = false;
		return 0;
	}

	/* each step reaches one product further; cycles end at ON CONFLICT */
	for (int step = 0; step < 64; step++)
	{
		uint64		n;
		int64	   *ids;

		mesh_spi_exec(PROPAGATE_STEP, 0, NULL, NULL, NULL);
		n = SPI_processed;
		if (n == 0)
			break;
		ids = palloc(sizeof(int64) * n);
		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												 SPI_tuptable->tupdesc, 1, &isnull));
		}
		for (uint64 i = 0; i < n; i++)
			mesh_invalidate_products(PRODUCT_BY_ID, ids[i]);
		changed += n;
	}
	mesh_spi_end(&spi);
	propagating = false;
	return changed;
}

/* AFTER ... FOR EACH STATEMENT on the tables propagation reads. */
Datum
meshpg_propagate_trigger(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "meshpg._propagate_trigger() must be called as a trigger");

	/*
	 * Only meshpg's own writes (made as the catalog owner by mesh_spi_begin)
	 * propagate.  pg_restore loads the catalog, propagation records
	 * included, as it was dumped: propagating then would collide with the
	 * rows still to come.
	 */
	if (InLocalUserIdChange())
		(void) mesh_propagate_tags();
	return PointerGetDatum(NULL);
}

/* ddl_command_end for views: a new or replaced definition. */
Datum
meshpg_propagate_event(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "meshpg._propagate_event() must be called as an event trigger");
	(void) mesh_propagate_tags();
	PG_RETURN_VOID();
}

/*
 * sql_drop: a dropped relation leaves the runtime lineage, whose regclass
 * columns must name live relations (pg_dump writes them as names).
 */
PG_FUNCTION_INFO_V1(meshpg_lineage_dropped);

Datum
meshpg_lineage_dropped(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "meshpg._lineage_dropped() must be called as an event trigger");
	if (mesh_catalog() == NULL)
		PG_RETURN_VOID();
	mesh_spi_begin(&spi);
	mesh_spi_exec("WITH dropped AS (SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
				  "                  WHERE classid = 'pg_catalog.pg_class'::regclass AND objsubid = 0), "
				  "c AS (DELETE FROM meshpg.cat_lineage_column "
				  "       WHERE source::oid IN (SELECT objid FROM dropped) "
				  "          OR target::oid IN (SELECT objid FROM dropped)) "
				  "DELETE FROM meshpg.cat_lineage "
				  " WHERE source::oid IN (SELECT objid FROM dropped) "
				  "    OR target::oid IN (SELECT objid FROM dropped)",
				  0, NULL, NULL, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.propagate_tags(): the governance team runs it by hand. */
Datum
meshpg_propagate_tags(PG_FUNCTION_ARGS)
{
	mesh_require_admin(GetUserId(), "propagate tags");
	PG_RETURN_INT32(mesh_propagate_tags());
}

/*
 * BEFORE DELETE ON cat_column_tag FOR EACH ROW: a propagated tag goes only
 * through meshpg.declassify, or with its product.
 */
Datum
meshpg_column_tag_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	bool		isnull;
	Datum		product;
	Datum		column;
	Datum		tag;
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "meshpg._column_tag_guard() must be called as a delete trigger");
	tup = trigdata->tg_trigtuple;
	if (declassifying)
		return PointerGetDatum(tup);

	product = heap_getattr(tup, Anum_cat_column_tag_product_id, trigdata->tg_relation->rd_att, &isnull);
	column = heap_getattr(tup, Anum_cat_column_tag_column, trigdata->tg_relation->rd_att, &isnull);
	tag = heap_getattr(tup, Anum_cat_column_tag_tag_id, trigdata->tg_relation->rd_att, &isnull);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the product itself going (cascade) takes its tags along */
	ret = SPI_execute_with_args("SELECT d.name || '.' || p.name, t.name, tp.source "
								"  FROM meshpg.cat_tag_propagation tp "
								"  JOIN meshpg.cat_product p ON p.id = tp.product_id "
								"  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
								"  JOIN meshpg.cat_tag t ON t.id = tp.tag_id "
								" WHERE tp.product_id = $1 AND tp.column_name = $2 AND tp.tag_id = $3",
								3, (Oid[]) {INT8OID, TEXTOID, INT8OID},
								(Datum[]) {product, column, tag}, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "meshpg catalog statement failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tag \"%s\" on column \"%s\" of data product \"%s\" was propagated and cannot be removed",
						SPI_getvalue(row, desc, 2), TextDatumGetCString(column),
						SPI_getvalue(row, desc, 1)),
				 errdetail("The column is derived from %s, which carries the tag.",
						   SPI_getvalue(row, desc, 3)),
				 errhint("Only the governance team can declassify it, with meshpg.declassify().")));
	}
	SPI_finish();
	return PointerGetDatum(tup);
}


/* meshpg.declassify(product, column_name, tag, reason) */
Datum
meshpg_declassify(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *column = mesh_arg_text(fcinfo, 1, "column name");
	char	   *tag_in = mesh_arg_text(fcinfo, 2, "tag");
	char	   *reason = mesh_arg_text(fcinfo, 3, "reason");
	char	   *tag_name;
	MeshSpiState spi;
	MeshProductRow product;
	int64		tag;
	uint64		removed;

	mesh_spi_begin(&spi);
	mesh_require_admin(spi.userid, "declassify a column");
	mesh_resolve_product(ref, true, &product);
	if (get_attnum(product.relid, column) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of data product \"%s\" does not exist",
						column, product.qualname)));
	tag = mesh_resolve_tag(tag_in, &tag_name);
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a declassification needs a reason"),
				 errhint("Say why the column no longer carries what the tag classifies.")));

	mesh_spi_exec("INSERT INTO meshpg.cat_declassification (product_id, column_name, tag_id, reason, declassified_by) "
				  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id, column_name, tag_id) "
				  "DO UPDATE SET reason = EXCLUDED.reason, declassified_by = EXCLUDED.declassified_by, "
				  "declassified_at = now()",
				  5, (Oid[]) {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(column),
				  Int64GetDatum(tag), CStringGetTextDatum(reason),
				  CStringGetTextDatum(GetUserNameFromId(spi.userid, false))},
				  NULL);

	/* only a propagated tag: one the domain team set stays its own */
	mesh_spi_exec("DELETE FROM meshpg.cat_tag_propagation WHERE product_id = $1 AND column_name = $2 AND tag_id = $3",
				  3, (Oid[]) {INT8OID, TEXTOID, INT8OID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(column), Int64GetDatum(tag)},
				  NULL);
	removed = SPI_processed;
	if (removed > 0)
	{
		register_callbacks();
		declassifying = true;
		mesh_spi_exec("DELETE FROM meshpg.cat_column_tag WHERE product_id = $1 AND column_name = $2 AND tag_id = $3",
					  3, (Oid[]) {INT8OID, TEXTOID, INT8OID},
					  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(column), Int64GetDatum(tag)},
					  NULL);
		declassifying = false;
	}
	mesh_invalidate_products(PRODUCT_BY_ID, product.id);
	mesh_spi_end(&spi);
	PG_RETURN_BOOL(removed > 0);
}
