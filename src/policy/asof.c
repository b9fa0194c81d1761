/*
 * asof.c
 *		The governance catalog as it was at a moment: the rows of grants,
 *		column tags, attributes and policies in force then, read from the
 *		governance history (meshpg.cat_governance_history, kept by triggers
 *		on those tables: sql/1.4/45-point-in-time.sql).
 *
 * explain_access(at => t) runs the very compiler it runs for now; only the
 * rows it compiles come from here.  While an "as of" moment is set, the
 * compiler's three readers of the catalog take their rows from this file:
 * mesh_load_policies (policies and the column tags binding tag policies),
 * mesh_role_attribute (attributes), and the product's grants (a copy of the
 * product carrying the grants in force then).  The expiry of a grant is
 * judged at that moment too (mesh_policy_now).  What the history does not
 * keep is read as it is now: the product, its relation and columns, role
 * membership, superuser status, and the session's purpose.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/policy/policy.h"

static bool asof_active = false;
static TimestampTz asof_at;
static List *asof_attributes = NIL;	/* of MeshAsofAttribute */

typedef struct MeshAsofAttribute
{
	Oid			role;
	char	   *key;
	List	   *values;			/* of char * */
} MeshAsofAttribute;

bool
mesh_asof_active(void)
{
	return asof_active;
}

/* The moment grants' expiries are judged at: "as of", or now. */
TimestampTz
mesh_policy_now(void)
{
	return asof_active ? asof_at : GetCurrentTransactionStartTimestamp();
}

/* Text of column col, or NULL; in the caller's context. */
static char *
spi_text(HeapTuple tup, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Sets the moment, and reads the attributes in force then (few rows, and
 * every policy's exemption may ask).  Roles are kept by name in the
 * history (so that it survives a dump and restore); a role dropped since
 * has no attributes.  Call mesh_asof_end on every path out (PG_FINALLY).
 */
void
mesh_asof_begin(TimestampTz at)
{
	MeshSpiState spi;

	asof_attributes = NIL;
	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT pg_catalog.to_regrole(h.row->>'role')::oid, h.row->>'key', "
				  "       ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.row->'values')) "
				  "  FROM meshpg.cat_governance_history h "
				  " WHERE h.catalog = 'attribute' AND h.valid @> $1 "
				  "   AND pg_catalog.to_regrole(h.row->>'role') IS NOT NULL",
				  1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(at)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		MeshAsofAttribute *attr = palloc0(sizeof(MeshAsofAttribute));
		bool		isnull;
		Datum		values;

		attr->role = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		attr->key = spi_text(tup, 2);
		values = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull);
		attr->values = mesh_text_array_list(values);
		asof_attributes = lappend(asof_attributes, attr);
	}
	mesh_spi_end(&spi);
	asof_at = at;
	asof_active = true;
}

void
mesh_asof_end(void)
{
	asof_active = false;
	asof_attributes = NIL;
}

/* identity.c: the values of key for role as of the moment (same union). */
List *
mesh_asof_role_attribute(Oid role, const char *key)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, asof_attributes)
	{
		MeshAsofAttribute *attr = lfirst(lc);
		ListCell   *vc;

		if (strcmp(attr->key, key) != 0 || !has_privs_of_role(role, attr->role))
			continue;
		foreach(vc, attr->values)
			if (!list_member(result, makeString(lfirst(vc))))
				result = lappend(result, makeString(pstrdup(lfirst(vc))));
	}
	return result;
}

/*
 * A copy of the product carrying the grants in force at the moment instead
 * of today's, for the compiler and explain_access.  Palloc'd.
 */
MeshProduct *
mesh_asof_product(const MeshProduct *live)
{
	MeshProduct *product = palloc(sizeof(MeshProduct));
	MeshSpiState spi;

	memcpy(product, live, sizeof(MeshProduct));
	product->policies_loaded = false;
	product->policies = NIL;
	product->compiled = NIL;
	product->ngrants = 0;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT pg_catalog.to_regrole(h.row->>'grantee')::oid, h.row->>'purpose', "
				  "       (h.row->>'expires_at')::timestamptz "
				  "  FROM meshpg.cat_governance_history h "
				  " WHERE h.catalog = 'grant' AND h.valid @> $2 "
				  "   AND (h.row->>'product_id')::bigint = $1 "
				  "   AND pg_catalog.to_regrole(h.row->>'grantee') IS NOT NULL",
				  2, (Oid[]) {INT8OID, TIMESTAMPTZOID},
				  (Datum[]) {Int64GetDatum(live->id), TimestampTzGetDatum(asof_at)}, NULL);
	product->grants = palloc0(sizeof(MeshGrant) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		MeshGrant  *g = &product->grants[product->ngrants++];
		bool		isnull;
		Datum		d;

		g->grantee = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		g->purpose = spi_text(tup, 2);
		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull);
		g->has_expiry = !isnull;
		g->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	}
	mesh_spi_end(&spi);
	return product;
}

/*
 * compile.c: the rows of meshpg.cat_policy in force at the moment that
 * govern the product (bound to it, or to a tag its columns carried then),
 * as tuples of cat_policy's own row type, so that the compiler reads them
 * exactly as it reads the table.  *subjects gets the tagged column of each
 * (NULL for a policy bound to the product).  Exempt roles dropped since
 * exempt no one; the functions a policy depends on are not needed here.
 */
List *
mesh_asof_policy_rows(int64 product_id, List **subjects)
{
	MeshSpiState spi;
	List	   *rows = NIL;

	*subjects = NIL;
	mesh_spi_begin(&spi);
	mesh_spi_exec("WITH pol AS ("
				  "  SELECT h.row || pg_catalog.jsonb_build_object("
				  "           'exempt_roles', COALESCE((SELECT pg_catalog.jsonb_agg(e) "
				  "              FROM pg_catalog.jsonb_array_elements_text(h.row->'exempt_roles') e "
				  "             WHERE pg_catalog.to_regrole(e) IS NOT NULL), '[]'), "
				  "           'depends_functions', '[]'::jsonb) AS row "
				  "    FROM meshpg.cat_governance_history h "
				  "   WHERE h.catalog = 'policy' AND h.valid @> $2) "
				  "SELECT pg_catalog.jsonb_populate_record(NULL::meshpg.cat_policy, pol.row), NULL::text "
				  "  FROM pol WHERE (pol.row->>'product_id')::bigint = $1 "
				  "UNION ALL "
				  "SELECT pg_catalog.jsonb_populate_record(NULL::meshpg.cat_policy, pol.row), "
				  "       ct.row->>'column_name' "
				  "  FROM pol JOIN meshpg.cat_governance_history ct "
				  "    ON ct.catalog = 'column_tag' AND ct.valid @> $2 "
				  "   AND (ct.row->>'product_id')::bigint = $1 "
				  "   AND ct.row->'tag_id' = pol.row->'tag_id' "
				  " WHERE pol.row->'tag_id' <> 'null'::jsonb",
				  2, (Oid[]) {INT8OID, TIMESTAMPTZOID},
				  (Datum[]) {Int64GetDatum(product_id), TimestampTzGetDatum(asof_at)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		HeapTupleHeader header;
		HeapTuple	row = palloc0(sizeof(HeapTupleData));

		header = DatumGetHeapTupleHeader(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		row->t_len = HeapTupleHeaderGetDatumLength(header);
		row->t_data = palloc(row->t_len);
		memcpy(row->t_data, header, row->t_len);
		ItemPointerSetInvalid(&row->t_self);
		row->t_tableOid = InvalidOid;
		rows = lappend(rows, row);
		*subjects = lappend(*subjects, spi_text(tup, 2));
	}
	mesh_spi_end(&spi);
	return rows;
}
