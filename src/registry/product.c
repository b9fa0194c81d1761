/*
 * product.c
 *		Registering, documenting and moving data products through their
 *		lifecycle: draft -> published -> deprecated -> retired.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "meshpg/classify/classify.h"
#include "meshpg/contract/contract.h"
#include "meshpg/meshpg.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"
#include "meshpg/governance/governance.h"

PG_FUNCTION_INFO_V1(meshpg_register_product);
PG_FUNCTION_INFO_V1(meshpg_unregister_product);
PG_FUNCTION_INFO_V1(meshpg_document_product);
PG_FUNCTION_INFO_V1(meshpg_document_column);
PG_FUNCTION_INFO_V1(meshpg_publish);
PG_FUNCTION_INFO_V1(meshpg_deprecate);
PG_FUNCTION_INFO_V1(meshpg_retire);

static char *
date_text(DateADT d)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(d)));
}

/*
 * A product's relation must be one consumers can query, in the domain's own
 * schema, and registered only once.
 */
void
mesh_check_product_relation(Oid relid, const MeshDomain *domain)
{
	HeapTuple	tup;
	Form_pg_class form;
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			argtype = OIDOID;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tup);

	if (form->relkind != RELKIND_RELATION && form->relkind != RELKIND_PARTITIONED_TABLE &&
		form->relkind != RELKIND_VIEW && form->relkind != RELKIND_MATVIEW &&
		form->relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table, partitioned table, view, materialized view or foreign table",
						NameStr(form->relname)),
				 errdetail("Only those can be a data product's output port.")));
	if (form->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a partition", NameStr(form->relname)),
				 errhint("Register its partitioned table instead.")));
	if (form->relnamespace != domain->nsp)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("relation \"%s\" is not in the schema of domain \"%s\"",
						mesh_relation_name(relid), domain->name),
				 errhint("A data product's relation lives in its domain's schema \"%s\".",
						 domain->name)));
	ReleaseSysCache(tup);

	mesh_spi_exec("SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
				  "JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.relid = $1",
				  1, &argtype, &arg, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("relation \"%s\" is already registered as data product \"%s\"",
						mesh_relation_name(relid),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1))));
}

static void
check_product_name(const MeshDomain *domain, const char *name, const char *skeleton)
{
	Datum		args[3] = {Int64GetDatum(domain->id), CStringGetTextDatum(name),
	CStringGetTextDatum(skeleton)};
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};

	mesh_spi_exec("SELECT name, name = $2 FROM meshpg.cat_product "
				  " WHERE domain_id = $1 AND (name = $2 OR skeleton = $3) "
				  " ORDER BY name = $2 DESC, name LIMIT 1",
				  3, argtypes, args, NULL);
	if (SPI_processed > 0)
	{
		bool		isnull;
		char	   *existing = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		bool		same = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 2, &isnull));

		if (same)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("data product \"%s.%s\" already exists", domain->name, name)));
		if (meshpg_confusable_check)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("data product name \"%s\" is confusable with existing data product \"%s.%s\"",
							name, domain->name, existing),
					 errhint("Choose a name that cannot be mistaken for \"%s\".", existing)));
	}
}

/*
 * The fail-closed guard (see governance/guard.c): row security with a policy
 * that only a preloaded meshpg can satisfy.  Views and materialized views
 * have no row security; the hooks govern them.
 */
static bool
install_guard(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	char	   *rel = mesh_relation_name(relid);
	bool		enabled_rls = false;
	HeapTuple	tup;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return false;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	enabled_rls = !((Form_pg_class) GETSTRUCT(tup))->relrowsecurity;
	ReleaseSysCache(tup);

	/*
	 * As the table's owner: Citus propagates this DDL to the shards on a
	 * connection of the current user, and only the owner's connection sees
	 * a table it distributed in this same transaction.
	 */
	mesh_as_relation_owner(relid, true);
	if (enabled_rls)
		mesh_spi_exec(psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", rel),
					  0, NULL, NULL, NULL);
	/*
	 * No relation name in the text (1.3): Citus copies the policy onto the
	 * table's shards, on nodes where the table may not exist yet.
	 */
	if (OidIsValid(mesh_guard_oid()))
		mesh_spi_exec(psprintf("CREATE POLICY %s ON %s AS PERMISSIVE FOR ALL TO PUBLIC "
							   "USING (meshpg.guard()) WITH CHECK (meshpg.guard())",
							   MESH_GUARD_POLICY, rel),
					  0, NULL, NULL, NULL);
	else
		mesh_spi_exec(psprintf("CREATE POLICY %s ON %s AS PERMISSIVE FOR ALL TO PUBLIC "
							   "USING (meshpg.guard(%s::regclass)) WITH CHECK (meshpg.guard(%s::regclass))",
							   MESH_GUARD_POLICY, rel, quote_literal_cstr(rel), quote_literal_cstr(rel)),
					  0, NULL, NULL, NULL);
	mesh_as_relation_owner(relid, false);
	return enabled_rls;
}

static void
remove_guard(const MeshProductRow *product)
{
	char		relkind = get_rel_relkind(product->relid);
	char	   *rel;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return;
	rel = mesh_relation_name(product->relid);
	mesh_as_relation_owner(product->relid, true);
	mesh_spi_exec(psprintf("DROP POLICY IF EXISTS %s ON %s", MESH_GUARD_POLICY, rel),
				  0, NULL, NULL, NULL);
	if (product->guard_enabled_rls)
		mesh_spi_exec(psprintf("ALTER TABLE %s DISABLE ROW LEVEL SECURITY", rel),
					  0, NULL, NULL, NULL);
	mesh_as_relation_owner(product->relid, false);
}

/*
 * Removes a product from the catalog: grants revoked, guard removed, rows
 * deleted.  relation_exists is false when called while its relation is
 * being dropped, and there is nothing left to revoke or unguard.
 */
void
mesh_unregister(const MeshProductRow *product, bool relation_exists)
{
	Datum		arg = Int64GetDatum(product->id);
	Oid			argtype = INT8OID;

	if (relation_exists)
	{
		mesh_revoke_all_grants(product);
		mesh_invalidate_products(PRODUCT_BY_ID, product->id);
	}
	/* Delete first: the DDL guard then lets the policy go. */
	mesh_spi_exec("DELETE FROM meshpg.cat_product WHERE id = $1",
				  1, &argtype, &arg, NULL);
	if (relation_exists)
		remove_guard(product);
}

/*
 * Registers relid as product name of domain (rights, name and version
 * already checked by the caller): the row, the guard, the search document.
 * Call inside mesh_spi_begin/end.  Also used for major versions
 * (contract/versions.c).
 */
int64
mesh_register_relation(const MeshDomain *domain, const char *name, const char *skeleton,
					   Oid relid, const char *version, const char *description,
					   Datum contacts, bool contacts_null)
{
	Datum		args[7];
	char		nulls[7] = "       ";
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, REGCLASSOID, TEXTOID,
	TEXTOID, TEXTARRAYOID};
	int64		product_id;
	bool		isnull;

	args[0] = Int64GetDatum(domain->id);
	args[1] = CStringGetTextDatum(name);
	args[2] = CStringGetTextDatum(skeleton);
	args[3] = ObjectIdGetDatum(relid);
	args[4] = CStringGetTextDatum(version);
	if (description == NULL || description[0] == '\0')
		nulls[5] = 'n';
	else
		args[5] = CStringGetTextDatum(description);
	if (contacts_null)
		nulls[6] = 'n';
	else
		args[6] = contacts;
	mesh_spi_exec("INSERT INTO meshpg.cat_product "
				  "  (domain_id, name, skeleton, relid, version, description, contacts) "
				  "VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, '{}')) RETURNING id",
				  7, argtypes, args, nulls);
	product_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));

	if (install_guard(relid))
		mesh_spi_exec("UPDATE meshpg.cat_product SET guard_enabled_rls = true WHERE id = $1",
					  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)}, NULL);
	mesh_refresh_search_product(product_id);
	/* plans cached before it was governed must not outlive that */
	mesh_invalidate_products(PRODUCT_BY_ID, product_id);
	return product_id;
}

/*
 * meshpg.register_product(domain, name, relation, description, version,
 * contacts)
 */
Datum
meshpg_register_product(PG_FUNCTION_ARGS)
{
	char	   *domain_in = mesh_arg_text(fcinfo, 0, "domain");
	char	   *name_in = mesh_arg_text(fcinfo, 1, "data product name");
	Oid			relid;
	char	   *description = mesh_arg_text_opt(fcinfo, 3);
	char	   *version = mesh_arg_text(fcinfo, 4, "version");
	bool		contacts_null;
	Datum		contacts = mesh_arg_text_array(fcinfo, 5, "contacts", &contacts_null);
	char	   *name;
	char	   *skeleton;
	char	   *qualname;
	MeshSpiState spi;
	MeshDomain	domain;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be null")));
	relid = PG_GETARG_OID(2);
	name = mesh_normalize_name(name_in, "data product", false);
	skeleton = mesh_name_skeleton(name);
	mesh_check_version(version);

	mesh_spi_begin(&spi);
	/* Locking the domain row serialises registrations within a domain. */
	mesh_resolve_domain(domain_in, true, &domain);
	mesh_require_domain_member(spi.userid, &domain);
	mesh_check_product_relation(relid, &domain);
	check_product_name(&domain, name, skeleton);
	(void) mesh_register_relation(&domain, name, skeleton, relid, version, description,
								  contacts, contacts_null);

	mesh_spi_end(&spi);
	qualname = psprintf("%s.%s", domain.name, name);
	PG_RETURN_TEXT_P(cstring_to_text(qualname));
}

/*
 * Resolves the product named by argument 0 for a change by its domain team.
 */
static void
product_for_change(FunctionCallInfo fcinfo, MeshSpiState *spi, MeshProductRow *product)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");

	mesh_spi_begin(spi);
	mesh_resolve_product(ref, true, product);
	mesh_require_domain_member(spi->userid, &product->domain);
}

/* meshpg.unregister_product(product): drafts and retired products only. */
Datum
meshpg_unregister_product(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;

	product_for_change(fcinfo, &spi, &product);
	if (product.state != MESH_DRAFT && product.state != MESH_RETIRED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot unregister data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Deprecate it with meshpg.deprecate() and retire it with meshpg.retire() first.")));
	mesh_unregister(&product, true);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.document_product(product, description, contacts): NULL leaves a
 * field as it is; an empty description clears it.
 */
Datum
meshpg_document_product(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;
	char	   *description = mesh_arg_text_opt(fcinfo, 1);
	bool		contacts_null;
	Datum		contacts = mesh_arg_text_array(fcinfo, 2, "contacts", &contacts_null);
	Datum		args[3];
	char		nulls[3] = "   ";

	product_for_change(fcinfo, &spi, &product);
	args[0] = Int64GetDatum(product.id);
	if (description == NULL)
		nulls[1] = 'n';
	else
		args[1] = CStringGetTextDatum(description);
	if (contacts_null)
		nulls[2] = 'n';
	else
		args[2] = contacts;
	mesh_spi_exec("UPDATE meshpg.cat_product "
				  "   SET description = CASE WHEN $2 IS NULL THEN description ELSE NULLIF($2, '') END, "
				  "       contacts = COALESCE($3, contacts) WHERE id = $1",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTARRAYOID}, args, nulls);
	mesh_refresh_search_product(product.id);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.document_column(product, column_name, description) */
Datum
meshpg_document_column(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;
	char	   *column = mesh_arg_text(fcinfo, 1, "column name");
	char	   *description = mesh_arg_text_opt(fcinfo, 2);
	Datum		args[3];
	char		nulls[3] = "   ";

	product_for_change(fcinfo, &spi, &product);
	if (get_attnum(product.relid, column) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of data product \"%s\" does not exist",
						column, product.qualname)));

	args[0] = Int64GetDatum(product.id);
	args[1] = CStringGetTextDatum(column);
	if (description == NULL || description[0] == '\0')
		nulls[2] = 'n';
	else
		args[2] = CStringGetTextDatum(description);
	mesh_spi_exec("INSERT INTO meshpg.cat_column (product_id, name, description) "
				  "VALUES ($1, $2, $3) ON CONFLICT (product_id, name) "
				  "DO UPDATE SET description = EXCLUDED.description",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID}, args, nulls);
	mesh_refresh_search_product(product.id);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* Parses MAJOR.MINOR.PATCH (already validated) into numbers. */
static void
version_parts(const char *version, long parts[3])
{
	char	   *end;

	parts[0] = strtol(version, &end, 10);
	parts[1] = strtol(end + 1, &end, 10);
	parts[2] = strtol(end + 1, &end, 10);
}

/* The pre-release part of a validated version, without build metadata. */
static char *
prerelease(const char *version)
{
	const char *dash = strchr(version, '-');
	const char *plus = strchr(version, '+');

	if (dash == NULL || (plus != NULL && plus < dash))
		return NULL;
	return plus ? pnstrdup(dash + 1, plus - dash - 1) : pstrdup(dash + 1);
}

static bool
is_numeric_identifier(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * Semantic-version precedence (semver.org, item 11): numbers first; a
 * pre-release comes before its release; pre-release identifiers compare
 * numerically when numeric, which rank below alphanumeric ones; build
 * metadata does not count.
 */
static int
version_cmp(const char *a, const char *b)
{
	long		pa[3],
				pb[3];
	char	   *ra = prerelease(a);
	char	   *rb = prerelease(b);
	char	   *sa,
			   *sb,
			   *ta,
			   *tb;

	version_parts(a, pa);
	version_parts(b, pb);
	for (int i = 0; i < 3; i++)
		if (pa[i] != pb[i])
			return pa[i] < pb[i] ? -1 : 1;
	if (ra == NULL || rb == NULL)
		return (ra == NULL) - (rb == NULL);

	ta = strtok_r(ra, ".", &sa);
	tb = strtok_r(rb, ".", &sb);
	for (; ta && tb; ta = strtok_r(NULL, ".", &sa), tb = strtok_r(NULL, ".", &sb))
	{
		bool		na = is_numeric_identifier(ta);
		bool		nb = is_numeric_identifier(tb);
		int			c;

		if (na && nb)
			c = strlen(ta) != strlen(tb) ? (strlen(ta) < strlen(tb) ? -1 : 1) : strcmp(ta, tb);
		else if (na != nb)
			c = na ? -1 : 1;
		else
			c = strcmp(ta, tb);
		if (c != 0)
			return c < 0 ? -1 : 1;
	}
	return (ta != NULL) - (tb != NULL);
}

/*
 * meshpg.publish(product, version): records the column interface and the
 * version, and makes the product published.  Republishing needs a greater
 * version; without one, a pre-release becomes its release and a release
 * bumps the minor version.
 */
Datum
meshpg_publish(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;
	char	   *version = mesh_arg_text_opt(fcinfo, 1);
	Datum		args[2];
	char	   *result;

	if (version != NULL)
		mesh_check_version(version);

	product_for_change(fcinfo, &spi, &product);
	if (product.state != MESH_DRAFT && product.state != MESH_PUBLISHED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot publish data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Publish a new data product as its successor instead.")));
	if (product.description == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product \"%s\" has no description", product.qualname),
				 errhint("Document it with meshpg.document_product() before publishing.")));
	mesh_classify_check_publish(&product);

	if (product.state == MESH_PUBLISHED)
	{
		if (version == NULL)
		{
			long		parts[3];

			/* A pre-release becomes its release; a release, the next minor. */
			version_parts(product.version, parts);
			if (prerelease(product.version) != NULL)
				version = psprintf("%ld.%ld.%ld", parts[0], parts[1], parts[2]);
			else
				version = psprintf("%ld.%ld.0", parts[0], parts[1] + 1);
		}
		else if (version_cmp(version, product.version) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version %s of data product \"%s\" is not greater than its published version %s",
							version, product.qualname, product.version)));
	}
	else if (version == NULL)
		version = product.version;

	/* The relation is the contract: a new major version is a new relation. */
	{
		long		pv[3],
					nv[3];

		version_parts(product.version, pv);
		version_parts(version, nv);
		if ((product.state == MESH_PUBLISHED && pv[0] != nv[0]) ||
			(strchr(product.name, '@') != NULL &&
			 nv[0] != strtol(strchr(product.name, '@') + 1, NULL, 10)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot publish data product \"%s\" as version %s",
							product.qualname, version),
					 errdetail("Its relation carries major version %ld.", pv[0]),
					 errhint("Publish a new major version as a new relation with meshpg.publish_version().")));
	}

	args[0] = Int64GetDatum(product.id);
	args[1] = ObjectIdGetDatum(product.relid);
	/* The interface: every live column; documentation of vanished ones goes. */
	mesh_spi_exec("DELETE FROM meshpg.cat_column c WHERE c.product_id = $1 "
				  "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "
				  "                    WHERE a.attrelid = $2 AND a.attname = c.name "
				  "                      AND a.attnum > 0 AND NOT a.attisdropped)",
				  2, (Oid[]) {INT8OID, OIDOID}, args, NULL);
	mesh_spi_exec("INSERT INTO meshpg.cat_column "
				  "  (product_id, name, published_type, published_nullable, published_position) "
				  "SELECT $1, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
				  "       NOT a.attnotnull, a.attnum "
				  "  FROM pg_catalog.pg_attribute a "
				  " WHERE a.attrelid = $2 AND a.attnum > 0 AND NOT a.attisdropped "
				  "ON CONFLICT (product_id, name) DO UPDATE "
				  "   SET published_type = EXCLUDED.published_type, "
				  "       published_nullable = EXCLUDED.published_nullable, "
				  "       published_position = EXCLUDED.published_position",
				  2, (Oid[]) {INT8OID, OIDOID}, args, NULL);
	args[1] = CStringGetTextDatum(version);
	mesh_spi_exec("UPDATE meshpg.cat_product SET state = 'published', version = $2, "
				  "       published_at = now() WHERE id = $1",
				  2, (Oid[]) {INT8OID, TEXTOID}, args, NULL);
	mesh_refresh_search_product(product.id);
	mesh_contract_record(product.id, version, "publish", NULL);

	result = pstrdup(version);
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/* meshpg.deprecate(product, sunset, successor) */
Datum
meshpg_deprecate(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;
	MeshProductRow successor;
	char	   *successor_ref = mesh_arg_text_opt(fcinfo, 2);
	DateADT		sunset;
	Datum		args[3];
	char		nulls[3] = "   ";

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sunset must not be null"),
				 errhint("Consumers need the date after which the product stops serving.")));
	sunset = PG_GETARG_DATEADT(1);
	if (DATE_NOT_FINITE(sunset) || sunset < GetSQLCurrentDate())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sunset date %s is not a finite date from today on", date_text(sunset))));

	product_for_change(fcinfo, &spi, &product);
	if (product.state != MESH_PUBLISHED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot deprecate data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errdetail("Only published data products can be deprecated.")));

	args[0] = Int64GetDatum(product.id);
	args[1] = DateADTGetDatum(sunset);
	nulls[2] = 'n';
	if (successor_ref != NULL)
	{
		mesh_resolve_product(successor_ref, false, &successor);
		if (successor.id == product.id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("data product \"%s\" cannot succeed itself", product.qualname)));
		if (successor.state != MESH_PUBLISHED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("successor \"%s\" is %s, not published",
							successor.qualname, successor.state_name)));
		args[2] = Int64GetDatum(successor.id);
		nulls[2] = ' ';
	}
	mesh_spi_exec("UPDATE meshpg.cat_product SET state = 'deprecated', sunset = $2, "
				  "       successor_id = $3, updated_at = now() WHERE id = $1",
				  3, (Oid[]) {INT8OID, DATEOID, INT8OID}, args, nulls);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.retire(product, force): stops all reads.  Before the announced
 * sunset date only with force, since consumers were promised until then.
 */
Datum
meshpg_retire(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;
	MeshProductRow product;
	bool		force = mesh_arg_bool(fcinfo, 1, "force");

	product_for_change(fcinfo, &spi, &product);
	if (product.state != MESH_DEPRECATED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot retire data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Deprecate it first with meshpg.deprecate().")));
	if (product.has_sunset && product.sunset > GetSQLCurrentDate() && !force)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product \"%s\" was promised to consumers until %s",
						product.qualname, date_text(product.sunset)),
				 errhint("Retire it after its sunset date, or pass force => true.")));

	mesh_revoke_all_grants(&product);
	mesh_spi_exec("UPDATE meshpg.cat_product SET state = 'retired', updated_at = now() WHERE id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product.id)}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}
