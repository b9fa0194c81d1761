/*
 * access.c
 *		grant_access and revoke_access: a consumer's read access to a product.
 *
 * A grant is a real SQL privilege (USAGE on the domain schema, SELECT on the
 * product's relation, never on anything else in the schema) plus a catalog
 * row with purpose and expiry.  The executor hook refuses reads that only
 * the SQL privilege would allow: expired grants, and privileges handed out
 * outside meshpg.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"

PG_FUNCTION_INFO_V1(meshpg_grant_access);
PG_FUNCTION_INFO_V1(meshpg_revoke_access);
PG_FUNCTION_INFO_V1(meshpg_grant_expiry);

/*
 * Tables get SQL SELECT: their row-security guard keeps them unreadable
 * without meshpg.  Views and materialized views have no row security, so
 * they get no SQL privilege at all: with meshpg loaded, the planner lets
 * the read through on the catalog grant (planner.c); without it, the read
 * is refused by PostgreSQL itself.
 */
static bool
grants_sql_select(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	return relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE;
}

/*
 * Takes back the SQL privileges of one grant whose catalog row is already
 * gone; USAGE on the schema goes once no grant in the domain is left.
 */
static void
revoke_privileges(const MeshProductRow *product, Oid grantee)
{
	const char *role = quote_identifier(GetUserNameFromId(grantee, false));

	if (grants_sql_select(product->relid))
	{
		mesh_as_relation_owner(product->relid, true);
		mesh_spi_exec(psprintf("REVOKE SELECT ON %s FROM %s",
							   mesh_relation_name(product->relid), role),
					  0, NULL, NULL, NULL);
		mesh_as_relation_owner(product->relid, false);
	}
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_grant g JOIN meshpg.cat_product p ON p.id = g.product_id "
				  " WHERE p.domain_id = $1 AND g.grantee::oid = $2",
				  2, (Oid[]) {INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(product->domain.id), ObjectIdGetDatum(grantee)},
				  NULL);
	if (SPI_processed == 0)
		mesh_spi_exec(psprintf("REVOKE USAGE ON SCHEMA %s FROM %s",
							   quote_identifier(product->domain.name), role),
					  0, NULL, NULL, NULL);
}

/* meshpg.grant.revoked, reason: "revoked", "retired", "unregistered" */
static void
emit_revoked(const MeshProductRow *product, Oid grantee, const char *reason)
{
	StringInfoData d;

	mesh_event_data_start(&d);
	mesh_event_data_text(&d, "product", product->qualname);
	mesh_event_data_text(&d, "grantee", GetUserNameFromId(grantee, false));
	mesh_event_data_text(&d, "reason", reason);
	mesh_event_emit("meshpg.grant.revoked", product->qualname, mesh_event_data_end(&d));
}

void
mesh_revoke_all_grants(const MeshProductRow *product, const char *reason)
{
	List	   *grantees = NIL;
	ListCell   *lc;

	mesh_spi_exec("DELETE FROM meshpg.cat_grant WHERE product_id = $1 RETURNING grantee::oid",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product->id)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		grantees = lappend_oid(grantees,
							   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull)));
	}
	foreach(lc, grantees)
	{
		revoke_privileges(product, lfirst_oid(lc));
		emit_revoked(product, lfirst_oid(lc), reason);
	}
}

static void
require_servable(const MeshProductRow *product)
{
	if (product->state != MESH_PUBLISHED && product->state != MESH_DEPRECATED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot grant access to data product \"%s\" because it is %s",
						product->qualname, product->state_name),
				 errhint("Only published and deprecated data products have consumers.")));
}

/*
 * The grant itself, once the caller's rights were checked: the SQL
 * privileges and the catalog row.  grant_access and the approval of an
 * access request (requests.c) both come here, so a grant is the same
 * whichever way it was made.  In SPI, as the catalog owner; product locked
 * FOR UPDATE by the caller.
 */
void
mesh_grant_to(const MeshProductRow *product, Oid grantee, const char *purpose,
			  bool has_expiry, TimestampTz expires, const char *granted_by)
{
	const char *role;
	Datum		args[5];
	char		nulls[5] = "     ";

	require_servable(product);

	role = quote_identifier(GetUserNameFromId(grantee, false));
	mesh_spi_exec(psprintf("GRANT USAGE ON SCHEMA %s TO %s",
						   quote_identifier(product->domain.name), role),
				  0, NULL, NULL, NULL);
	if (grants_sql_select(product->relid))
	{
		mesh_as_relation_owner(product->relid, true);
		mesh_spi_exec(psprintf("GRANT SELECT ON %s TO %s", mesh_relation_name(product->relid), role),
					  0, NULL, NULL, NULL);
		mesh_as_relation_owner(product->relid, false);
	}

	args[0] = Int64GetDatum(product->id);
	args[1] = ObjectIdGetDatum(grantee);
	if (purpose == NULL)
		nulls[2] = 'n';
	else
		args[2] = CStringGetTextDatum(purpose);
	if (!has_expiry)
		nulls[3] = 'n';
	else
		args[3] = TimestampTzGetDatum(expires);
	args[4] = CStringGetTextDatum(granted_by);
	mesh_spi_exec("INSERT INTO meshpg.cat_grant (product_id, grantee, purpose, expires_at, granted_by) "
				  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id, grantee) DO UPDATE "
				  "   SET purpose = EXCLUDED.purpose, expires_at = EXCLUDED.expires_at, "
				  "       granted_by = EXCLUDED.granted_by, granted_at = now() "
				  "RETURNING xmax <> 0",
				  5, (Oid[]) {INT8OID, REGROLEOID, TEXTOID, TIMESTAMPTZOID, TEXTOID},
				  args, nulls);
	/* every grant is announced, whether typed or an approved request */
	{
		bool		isnull;
		bool		renewed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", product->qualname);
		mesh_event_data_text(&d, "grantee", GetUserNameFromId(grantee, false));
		mesh_event_data_text(&d, "purpose", purpose);
		if (!has_expiry)
			mesh_event_data_text(&d, "expires_at", NULL);
		else
			mesh_event_data_time(&d, "expires_at", expires);
		mesh_event_data_text(&d, "granted_by", granted_by);
		mesh_event_data_bool(&d, "renewed", renewed);
		mesh_event_emit("meshpg.grant.given", product->qualname, mesh_event_data_end(&d));
	}
	/* A grant's purpose can lift a policy: plans depend on grants. */
	mesh_invalidate_products(PRODUCT_BY_ID, product->id);
}

/* meshpg.grant_access(product, grantee, purpose, expires) */
Datum
meshpg_grant_access(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	Oid			grantee = mesh_arg_role(fcinfo, 1, "grantee");
	char	   *purpose = mesh_arg_text_opt(fcinfo, 2);
	MeshSpiState spi;
	MeshProductRow product;

	if (purpose != NULL && purpose[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must not be empty"),
				 errhint("Pass NULL for a grant without a stated purpose.")));
	if (!PG_ARGISNULL(3) &&
		(TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(3)) ||
		 PG_GETARG_TIMESTAMPTZ(3) <= GetCurrentTransactionStartTimestamp()))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expiry must be a finite time in the future"),
				 errhint("Pass NULL for a grant that does not expire.")));

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_domain_member(spi.userid, &product.domain);
	mesh_grant_to(&product, grantee, purpose, !PG_ARGISNULL(3),
				  PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3),
				  GetUserNameFromId(spi.userid, false));

	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.revoke_access(product, grantee) */
Datum
meshpg_revoke_access(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	Oid			grantee = mesh_arg_role(fcinfo, 1, "grantee");
	MeshSpiState spi;
	MeshProductRow product;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_domain_member(spi.userid, &product.domain);

	mesh_spi_exec("DELETE FROM meshpg.cat_grant WHERE product_id = $1 AND grantee::oid = $2",
				  2, (Oid[]) {INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(product.id), ObjectIdGetDatum(grantee)},
				  NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no access grant on data product \"%s\"",
						GetUserNameFromId(grantee, false), product.qualname)));
	revoke_privileges(&product, grantee);
	emit_revoked(&product, grantee, "revoked");
	mesh_invalidate_products(PRODUCT_BY_ID, product.id);

	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * The worker's task: a grant whose expiry has passed is announced once
 * (meshpg.grant.expired).  Expiry itself is enforced on every read; this
 * only tells.  meshpg.cat_grant_expired remembers the expiry announced, so
 * a grant renewed and expiring again is announced again; its rows go with
 * the grant.  Announced within a worker tick of the expiry.
 */
bool
mesh_grant_expiry_task(void)
{
	MeshSpiState spi;
	const MeshCatalog *cat = mesh_catalog();
	List	   *products = NIL;
	List	   *grantees = NIL;
	List	   *expiries = NIL;
	ListCell   *lp,
			   *lg,
			   *le;

	/* nothing to do before CREATE EXTENSION or ALTER EXTENSION UPDATE to 1.4 */
	if (cat == NULL || !OidIsValid(get_relname_relid("cat_grant_expired", cat->nsp)))
		return false;
	mesh_spi_begin(&spi);
	mesh_spi_exec("INSERT INTO meshpg.cat_grant_expired AS x (product_id, grantee, expires_at) "
				  "SELECT g.product_id, g.grantee, g.expires_at FROM meshpg.cat_grant g "
				  " WHERE g.expires_at <= now() "
				  "ON CONFLICT (product_id, grantee) DO UPDATE SET expires_at = EXCLUDED.expires_at "
				  " WHERE x.expires_at IS DISTINCT FROM EXCLUDED.expires_at "
				  "RETURNING (SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
				  "             JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = x.product_id), "
				  "          pg_catalog.pg_get_userbyid(x.grantee::oid)::text, x.expires_at",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		TimestampTz *at = palloc(sizeof(TimestampTz));

		products = lappend(products, SPI_getvalue(tup, SPI_tuptable->tupdesc, 1));
		grantees = lappend(grantees, SPI_getvalue(tup, SPI_tuptable->tupdesc, 2));
		*at = DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
		expiries = lappend(expiries, at);
	}
	forthree(lp, products, lg, grantees, le, expiries)
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", lfirst(lp));
		mesh_event_data_text(&d, "grantee", lfirst(lg));
		mesh_event_data_time(&d, "expires_at", *(TimestampTz *) lfirst(le));
		mesh_event_emit("meshpg.grant.expired", lfirst(lp), mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	return false;
}

/* meshpg._grant_expiry(): the worker's task, now (superusers; tests). */
Datum
meshpg_grant_expiry(PG_FUNCTION_ARGS)
{
	(void) mesh_grant_expiry_task();
	PG_RETURN_VOID();
}
