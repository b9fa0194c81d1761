/*
 * versions.c
 *		Major versions side by side.
 *
 * Major version N >= 2 of product domain.name is its own catalog row named
 * name@N, over its own relation: the contract of a relation never changes
 * incompatibly, so a new major needs a new relation.  '@' is no name
 * character, so no one can register such a name by hand, and every
 * reference (domain.name for the first major, domain.name@2 for the
 * second) always names one version.  Grants, tags, policies and the cache
 * work per row, unchanged.
 *
 * Reads of a deprecated version warn once per session and product; after
 * the sunset date they stop, with a hint naming the successor.  Products
 * that are not deprecated pay one comparison per read.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/contract/contract.h"
#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_register_version);

/* What reads of one deprecated product need; keyed by product id. */
typedef struct Deprecation
{
	int64		product_id;
	uint64		generation;		/* of the catalog when loaded */
	bool		has_sunset;
	DateADT		sunset;
	char		successor[2 * NAMEDATALEN + 16];
	bool		warned;			/* this session was told */
} Deprecation;

static HTAB *deprecations = NULL;

static Deprecation *
deprecation(const MeshProduct *product)
{
	Deprecation *entry;
	bool		found;
	MeshSpiState spi;

	if (deprecations == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(Deprecation);
		deprecations = hash_create("meshpg deprecations", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(deprecations, &product->id, HASH_ENTER, &found);
	if (!found)
		entry->warned = false;
	else if (entry->generation == mesh_catalog_generation())
		return entry;

	entry->generation = mesh_catalog_generation();
	entry->has_sunset = false;
	entry->successor[0] = '\0';
	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT p.sunset, sd.name || '.' || s.name FROM meshpg.cat_product p "
				  "  LEFT JOIN meshpg.cat_product s ON s.id = p.successor_id "
				  "  LEFT JOIN meshpg.cat_domain sd ON sd.id = s.domain_id WHERE p.id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product->id)}, NULL);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *successor = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		entry->has_sunset = !isnull;
		entry->sunset = isnull ? 0 : DatumGetDateADT(d);
		if (successor != NULL)
			strlcpy(entry->successor, successor, sizeof(entry->successor));
	}
	mesh_spi_end(&spi);
	/* the lookup may have processed invalidations: keep what we read */
	entry->generation = mesh_catalog_generation();
	return entry;
}

/*
 * Today's date in UTC, at the start of the transaction.  Not
 * GetSQLCurrentDate(): that is the date in the session's TimeZone, which
 * the reader sets, and a reader in a zone far west of UTC would keep
 * reading for up to a day after the sunset.
 */
static DateADT
utc_today(void)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		days = now / USECS_PER_DAY;

	if (now < 0 && now % USECS_PER_DAY != 0)
		days--;
	return (DateADT) days;
}

static char *
date_text(DateADT d)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(d)));
}

/*
 * A read of a deprecated product was allowed.  Until its sunset date it
 * warns (once per session); after it, consumers are refused as if it were
 * retired.  The owning team and superusers still read it, as they may read
 * retired products.
 */
void
mesh_contract_deprecated_read(const MeshProduct *product, Oid userid)
{
	Deprecation *dep;
	const char *qualname = product->qualname;

	/* a read check (governance.h): called for every allowed read */
	if (product->state != MESH_DEPRECATED)
		return;
	dep = deprecation(product);

	if (dep->has_sunset && utc_today() > dep->sunset &&
		!superuser_arg(userid) && !has_privs_of_role(userid, product->domain_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for data product \"%s\"", qualname),
				 errdetail("The data product was deprecated and its sunset date %s has passed.",
						   date_text(dep->sunset)),
				 dep->successor[0] ?
				 errhint("Read its successor \"%s\" instead.", dep->successor) :
				 errhint("Ask the owning domain team which data product replaces it.")));
	if (dep->warned)
		return;
	dep->warned = true;
	ereport(WARNING,
			(errmsg("data product \"%s\" is deprecated", qualname),
			 dep->has_sunset ?
			 errdetail("It is served until %s.", date_text(dep->sunset)) : 0,
			 dep->successor[0] ?
			 errhint("Move to its successor \"%s\".", dep->successor) : 0));
}

/* The successor of a product, for the hint when a read is refused. */
char *
mesh_contract_successor(const MeshProduct *product)
{
	Deprecation *dep = deprecation(product);

	return dep->successor[0] ? pstrdup(dep->successor) : NULL;
}

/*
 * meshpg._register_version(product, relation, version): registers relation
 * as the next major version of product, as a draft, with the product's
 * description, contacts, column documentation and column tags.  Grants and
 * product-bound policies are not carried over: the team grants the new
 * version once its policies are in place (meshpg.publish_version).
 */
Datum
meshpg_register_version(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *version = mesh_arg_text_opt(fcinfo, 2);
	Oid			relid;
	MeshSpiState spi;
	MeshProductRow product;
	char	   *base;
	char	   *at;
	long		major;
	char	   *name;
	char	   *skeleton;
	int64		id;
	char	   *result;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be null")));
	relid = PG_GETARG_OID(1);

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_domain_member(spi.userid, &product.domain);
	if (product.state != MESH_PUBLISHED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot publish a new major version of data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Only the published version of a data product gets a successor.")));

	base = pstrdup(product.name);
	if ((at = strchr(base, '@')) != NULL)
		*at = '\0';
	/* the next major after every version of the family */
	mesh_spi_exec("SELECT max(split_part(version, '.', 1)::int) FROM meshpg.cat_product "
				  " WHERE domain_id = $1 AND (name = $2 OR name LIKE $2 || '@%')",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product.domain.id), CStringGetTextDatum(base)}, NULL);
	major = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										&(bool) {false})) + 1;
	if (version == NULL)
		version = psprintf("%ld.0.0", major);
	mesh_check_version(version);
	if (strtol(version, NULL, 10) < major)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version %s is not a new major version of data product \"%s\"",
						version, product.qualname),
				 errdetail("Its versions go up to major version %ld.", major - 1)));
	major = strtol(version, NULL, 10);
	name = psprintf("%s@%ld", base, major);
	skeleton = psprintf("%s@%ld", mesh_name_skeleton(base), major);

	mesh_check_product_relation(relid, &product.domain);
	id = mesh_register_relation(&product.domain, name, skeleton, relid, version,
								product.description, (Datum) 0, true);
	mesh_spi_exec("UPDATE meshpg.cat_product n SET contacts = o.contacts "
				  "  FROM meshpg.cat_product o WHERE n.id = $1 AND o.id = $2",
				  2, (Oid[]) {INT8OID, INT8OID},
				  (Datum[]) {Int64GetDatum(id), Int64GetDatum(product.id)}, NULL);
	/* documentation and tags of the columns the new relation keeps */
	mesh_spi_exec("INSERT INTO meshpg.cat_column (product_id, name, description) "
				  "SELECT $1, c.name, c.description FROM meshpg.cat_column c "
				  " WHERE c.product_id = $2 AND c.description IS NOT NULL "
				  "   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = $3 "
				  "                  AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped) "
				  "ON CONFLICT (product_id, name) DO UPDATE SET description = "
				  "  coalesce(meshpg.cat_column.description, excluded.description)",
				  3, (Oid[]) {INT8OID, INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(id), Int64GetDatum(product.id), ObjectIdGetDatum(relid)},
				  NULL);
	mesh_spi_exec("INSERT INTO meshpg.cat_column_tag (product_id, column_name, tag_id, value, tagged_by) "
				  "SELECT $1, t.column_name, t.tag_id, t.value, $4 FROM meshpg.cat_column_tag t "
				  " WHERE t.product_id = $2 "
				  "   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = $3 "
				  "                  AND a.attname = t.column_name AND a.attnum > 0 AND NOT a.attisdropped) "
				  "ON CONFLICT DO NOTHING",
				  4, (Oid[]) {INT8OID, INT8OID, OIDOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), Int64GetDatum(product.id), ObjectIdGetDatum(relid),
				  CStringGetTextDatum(GetUserNameFromId(spi.userid, false))}, NULL);
	mesh_refresh_search_product(id);
	mesh_invalidate_products(PRODUCT_BY_ID, id);
	result = psprintf("%s.%s", product.domain.name, name);
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", result);
		mesh_event_data_text(&d, "predecessor", product.qualname);
		mesh_event_data_int(&d, "major", major);
		mesh_event_data_text(&d, "version", version);
		mesh_event_data_text(&d, "relation", mesh_relation_name(relid));
		mesh_event_emit("meshpg.product.major_version", result, mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
